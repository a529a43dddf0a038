"""Writing files so that a reader never sees a half-written one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "atomic_write_bytes"]

#: Suffix of the temporary files; a killed process may leave ``.<name>.<random>.tmp``.
TEMP_SUFFIX = ".tmp"
# mkstemp creates 0600 files; products should be readable like any other file.
_MODE = 0o644


def atomic_write_bytes(path: Path, payload: bytes, *, fsync: bool = False) -> Path:
    """Write ``payload`` to ``path`` through a temporary file in the same directory.

    The bytes go to ``.<name>.<random>.tmp`` next to ``path``, which then replaces
    ``path`` with :func:`os.replace` (atomic on POSIX and Windows). On any failure the
    temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path
        Final location; missing parent directories are created.
    payload
        The complete file content.
    fsync
        Flush the file to the storage device before the rename (survives a power cut,
        at a cost on network file systems).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
