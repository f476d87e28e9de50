"""Durable-file helpers every writer shares: atomic replace, directory fsync, free names."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "free_name", "fsync_dir", "utc_now"]


def utc_now(timespec: str = "microseconds") -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (the form every file uses)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable.

    Raises OSError: a caller that promises durability must learn that it could not keep
    the promise. (Opening a directory read-only works on Linux and macOS, the platforms
    we support.)
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never half.

    The temp file is a dot name beside ``path`` (watchers and spools ignore dot names).
    ``durable`` fsyncs the file before the rename and the directory after it: set it for
    anything a crash must not lose; status-like files rewritten every few seconds skip it.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; the caller may want another mode
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # a failed write or fsync: say which file it was for
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = 0o600, durable: bool = True) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, durable=durable)


def free_name(directory: Path, name: str, *, taken: tuple[str, ...] = ("",)) -> str:
    """``name``, or ``name.1``, ``name.2``, … : the first for which no ``name + suffix`` exists.

    ``taken`` lists suffixes that also block a name (e.g. ``("", ".error.json")`` keeps a
    file and its sidecar together).
    """
    candidate, n = name, 0
    while any(os.path.lexists(directory / f"{candidate}{suffix}") for suffix in taken):
        n += 1
        candidate = f"{name}.{n}"
    return candidate
