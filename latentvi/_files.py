"""Writing files so that a crash never leaves half of one behind."""

import contextlib
import os
import pathlib
import shutil
import tempfile

__all__ = ["atomic_write", "staged_file", "staged_folder"]


@contextlib.contextmanager
def staged_file(path):
    """Yields a temporary path in `path`'s folder (made if missing); when the block ends
    without an error the file there is renamed over `path`, else removed."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".partial")
    os.close(handle)
    try:
        yield pathlib.Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it the owner's only
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def atomic_write(path, content):
    """Writes `content` (bytes, or str as UTF-8) to `path` through `staged_file`."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with staged_file(path) as temporary:
        temporary.write_bytes(data)


@contextlib.contextmanager
def staged_folder(out, replaced=()):
    """Yields a temporary folder beside `out`; when the block ends without an error its files
    move into `out` (made if missing), each by an atomic rename, and the files named in
    `replaced` that this run did not write are removed from `out` (results of an earlier run
    that would otherwise mix with these); other files in `out` are left alone. On an error
    the temporary folder is removed and `out` is untouched."""
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.",
                                              suffix=".partial"))
    try:
        yield temporary
        if not out.exists():
            os.chmod(temporary, 0o777 & ~_umask())  # mkdtemp makes it the owner's only
            os.replace(temporary, out)
            return
        written = {path.name for path in temporary.iterdir()}
        for path in temporary.iterdir():
            os.replace(path, out / path.name)
        for name in set(replaced) - written:
            if (out / name).is_file():
                (out / name).unlink()
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _umask():
    """The process's umask (read by setting it, then put back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
