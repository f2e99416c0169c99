"""What the command line says on stderr: errors, warnings, notes and progress, in its flags.

The library's messages name its keyword arguments ("use item_type='graded'"); `in_flags`
rewrites them as the flags that set the same thing ("use --item-type graded"), so a user of the
command line is never told about an argument it cannot type.
"""

import contextlib
import re
import sys
import warnings

__all__ = ["InputError", "ignore", "in_flags", "notes", "progress", "reported_warnings"]

# The library's errors name its keyword arguments; the command line shows the flag instead.
# Plain words ("items", "epochs") are only flags when written as keyword=value.
_FLAGS = {"item_type": "--item-type", "n_factors": "--factors", "missing_codes": "--missing-codes",
          "max_categories": "--max-categories", "max_steps": "--max-steps",
          "iw_samples": "--iw-samples", "batch_size": "--batch-size",
          "num_samples": "--loglik-samples", "tol": "--tol", "items=": "--items",
          "epochs=": "--epochs", "seed=": "--seed", "rotation=": "--rotation"}
_KEYWORD = re.compile(
    r"\b(" + "|".join(re.escape(name.rstrip("=")) + ("(?==)" if name.endswith("=") else r"\b")
                      for name in _FLAGS) + r")"
    r"(?:=(\[[^\]]*\]|'[^']*'|\"[^\"]*\"|[^\s,;)]+))?")


class InputError(ValueError):
    """A problem with the user's files or options: reported in one line, exit code 2."""


def in_flags(message):
    """`message` on one line, with the library's keyword arguments written as the CLI's flags:
    "use item_type='graded'" -> "use --item-type graded"."""
    def flag(match):
        name, value = match.group(1), match.group(2)
        option = _FLAGS.get(name) or _FLAGS[name + "="]
        if value is None:
            return option
        parts = value.strip("[]").split(",") if value.startswith("[") else [value]
        return f"{option} {','.join(part.strip().strip(chr(39) + chr(34)) for part in parts)}"
    return _KEYWORD.sub(flag, " ".join(str(message).split()))


@contextlib.contextmanager
def reported_warnings():
    """The library's warnings (persons dropped, codes that look like missing, no convergence)
    as 'latentvi: warning:' lines in flags, shown even with --quiet."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            yield
    finally:
        # shown once the recording has ended: a warning shown while it records is recorded
        # again, and the loop over the record never ends (it filled the memory)
        for found in caught:
            if issubclass(found.category, UserWarning):
                print(f"latentvi: warning: {in_flags(found.message)}", file=sys.stderr)
            else:
                warnings.showwarning(found.message, found.category, found.filename,
                                     found.lineno)


def notes(quiet):
    """A function printing 'latentvi: note: ...' lines on stderr, or ignoring them if quiet."""
    return ignore if quiet else (lambda text: print(f"latentvi: note: {text}", file=sys.stderr))


def ignore(text):
    pass


def progress(what, quiet):
    """One `latentvi.Progress` line on stderr: redrawn in place on a terminal, written once at
    the end in a log; None if quiet."""
    if quiet:
        return None
    from latentvi.progress import Progress
    return [Progress(f"fitting {what}", stream=sys.stderr, epoch_name="check")]
