"""The versions a result was computed with, recorded beside it (fit.json, the HTML report)."""

import platform
from importlib import metadata

__all__ = ["DEPENDENCIES", "versions"]

DEPENDENCIES = ("latentvi", "tensorflow", "tensorflow-probability", "keras", "numpy", "pandas",
                "matplotlib")


def versions(packages=DEPENDENCIES):
    """Python's version and those of `packages` (None where one is not installed)."""
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found
