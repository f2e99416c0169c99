"""Writing files so that a crash never leaves half of one behind."""

import os
import tempfile

__all__ = ["atomic_write"]


def atomic_write(path, content):
    """Writes `content` (bytes, or str as UTF-8) to a temporary file in `path`'s folder (made if
    missing), then renames it over `path`; on any error the temporary file is removed."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                         suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
