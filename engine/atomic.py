"""Atomic file replacement: a reader sees the old file or the new one, never half of either.

The new contents go to a temporary file in the destination's own directory (so the final
``os.replace`` is a rename within one file system, which POSIX and Windows make atomic), are
flushed and fsynced, then renamed over the destination; the directory is fsynced so the rename
itself survives a power cut. On any failure the temporary file is removed and the previous file
is left exactly as it was.

Standard library only.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import os
import stat
import tempfile

__all__ = ["AtomicWriteError", "atomic_write_bytes", "atomic_write_text"]


class AtomicWriteError(OSError):
    """Writing a file failed; ``str()`` is one line naming the file and the reason.

    Keeps ``errno`` (and ``filename``) of the underlying OSError so callers can still tell
    "disk full" from "permission denied".
    """

    def __init__(self, path: str, reason: OSError | str) -> None:
        code = reason.errno if isinstance(reason, OSError) else None
        if isinstance(reason, OSError):
            text = reason.strerror or str(reason) or type(reason).__name__
        else:
            text = reason
        super().__init__(code, text)
        self.filename = path
        self.message = f"cannot write {path}: {text}"

    def __str__(self) -> str:
        return self.message


def _new_file_mode(target: str) -> int:
    """Permissions for the new file: the old file's, or what open() would give a new file."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    # Makes the rename durable. Not every platform can open a directory (Windows cannot),
    # and there the rename is already as durable as it gets: best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file at ``path`` with ``data``, atomically.

    A symbolic link is followed: its target is replaced and the link stays. Raises
    :class:`AtomicWriteError` (an OSError) with a one-line message on failure, after removing
    the temporary file; the previous contents of ``path`` are then untouched.
    """
    display = os.fspath(path)
    if "\0" in display:  # the OS would refuse it with a ValueError, not an OSError
        raise AtomicWriteError(display.replace("\0", "\\0"), "the file name contains a NUL character")
    target = os.path.realpath(display)
    directory, base = os.path.split(target)
    if os.path.isdir(target):
        raise AtomicWriteError(display, OSError(_errno.EISDIR, "it is a directory"))
    mode = _new_file_mode(target)
    try:
        # The prefix is cut short so that a legal name of up to 255 bytes still has a legal
        # temporary sibling (mkstemp adds 8 random characters and the suffix).
        fd, tmp = tempfile.mkstemp(prefix=f".{base[:32]}.", suffix=".tmp", dir=directory or ".")
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            # The message of mkstemp names the random temporary name; name the folder instead.
            raise AtomicWriteError(
                display, OSError(exc.errno, f"the folder {directory} does not exist or is not a folder")
            ) from None
        raise AtomicWriteError(display, exc) from None
    try:
        fh = os.fdopen(fd, "wb")
    except BaseException as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AtomicWriteError(display, exc) from None
        raise
    try:
        with fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the permissions the user expects.
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AtomicWriteError(display, exc) from None
        raise
    _fsync_directory(directory or ".")


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """:func:`atomic_write_bytes` for text; newlines are written as given (no translation)."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise AtomicWriteError(
            os.fspath(path), f"the text cannot be encoded as {encoding} ({exc.reason})"
        ) from None
    atomic_write_bytes(path, data)
