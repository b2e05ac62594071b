"""Atomic file replacement: a reader sees the old file or the new one, never half of either.

The new contents go to a temporary file in the destination's own directory (so the final
``os.replace`` is a rename within one file system, which POSIX and Windows make atomic), are
flushed and fsynced, then renamed over the destination; the directory is fsynced so the rename
itself survives a power cut. On any failure the temporary file is removed and the previous file
is left exactly as it was.

A process killed between creating its temporary and renaming it (SIGKILL, a power cut) leaves the
temporary behind. Temporary names therefore carry their creator (:func:`temporary_prefix`), and
the next write to the same place removes those whose creator is gone
(:func:`remove_stale_temporaries`).

Standard library only.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import os
import re
import shutil
import socket
import stat
import tempfile
import zlib
from collections.abc import Iterable

__all__ = [
    "AtomicWriteError",
    "atomic_write_bytes",
    "atomic_write_chunks",
    "atomic_write_text",
    "remove_stale_temporaries",
    "temporary_prefix",
]

#: The destination's name is cut to this many characters in its temporaries' names, so that a
#: legal name of up to 255 bytes still has a legal temporary sibling.
_BASE_CHARS = 32
#: What tempfile.mkstemp/mkdtemp put between our prefix and the suffix.
_RANDOM = r"[a-z0-9_]{8}"


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


def _host_tag() -> str:
    # A pid means nothing on another machine (a folder shared over the network): temporaries
    # are only ever judged by a process on the machine that made them.
    return f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"


def temporary_prefix(base: str) -> str:
    """The start of the name of this process's temporaries for the destination named ``base``:
    ``.{base[:32]}.{pid}-{host}.``, then mkstemp/mkdtemp's 8 random characters and a suffix
    (``.tmp`` for a file, ``.partial`` for a report folder)."""
    return f".{base[:_BASE_CHARS]}.{os.getpid()}-{_host_tag()}."


def _proc_stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None (not Linux, or
    no such process)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            line = fh.read()
        # The command name is parenthesised and may itself hold spaces and parentheses.
        return line[line.rindex(b")") + 2 :].split()
    except (OSError, ValueError):
        return None


def _process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), where the system says (Linux's
    /proc); None elsewhere or if it cannot be read."""
    fields = _proc_stat(pid)
    if fields is None:
        return None
    try:
        with open("/proc/stat", "rb") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith(b"btime "))
        # Field 22 of the line: starttime, in clock ticks since boot.
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _creator_is_gone(pid: int, made: float) -> bool:
    """True only when we can tell that process ``pid`` on this machine cannot be the one that
    made a temporary last modified at ``made``: no process has that pid, or (Linux) it is a zombie
    (killed, not yet reaped: in a container without an init, never), or the process now holding
    the pid started after the temporary was last written (the pid was reused)."""
    if pid == os.getpid():
        started = _process_start_time(pid)
        return started is not None and started > made + 2.0
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent; only tells whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OSError, OverflowError):
        return False  # it exists (another user's) or we cannot tell: keep the temporary
    fields = _proc_stat(pid)
    if fields and fields[0] in (b"Z", b"X"):
        return True
    started = _process_start_time(pid)
    # 2 s of slack: /proc/stat's boot time is whole seconds.
    return started is not None and started > made + 2.0


def remove_stale_temporaries(directory: str | os.PathLike[str], base: str, suffix: str) -> list[str]:
    """Remove the temporaries for destination ``base`` in ``directory`` left by killed processes;
    return the names removed.

    The rule, chosen so that nothing but our own debris is ever touched: a name is removed only
    if it is exactly ``temporary_prefix(base)``'s pattern with ``suffix`` (``.tmp`` files,
    ``.partial`` folders), it was made on this machine (the host tag matches), and its creating
    process is gone (:func:`_creator_is_gone`: no such pid, or the pid now belongs to a process
    that started after the temporary was last written). A live writer's temporary, another
    machine's, another destination's and any name we did not make stay. A ``.tmp`` must be a
    regular file and a ``.partial`` a real folder (never a symbolic link). Only on POSIX (on
    Windows ``os.kill`` cannot probe a process). Best effort: a failure here never fails a save.
    """
    if os.name != "posix":
        return []
    pattern = re.compile(
        re.escape(f".{base[:_BASE_CHARS]}.")
        + r"(\d{1,10})-"
        + re.escape(_host_tag())
        + r"\."
        + _RANDOM
        + re.escape(suffix)
    )
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
            kind_ok = stat.S_ISDIR(st.st_mode) if suffix == ".partial" else stat.S_ISREG(st.st_mode)
            if not kind_ok or not _creator_is_gone(int(match.group(1)), st.st_mtime):
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            continue
        removed.append(name)
    return removed


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
    atomic_write_chunks(path, (data,))


def atomic_write_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> None:
    """:func:`atomic_write_bytes` for contents made piece by piece: each chunk is written to the
    temporary file as ``chunks`` yields it, so the whole never has to be in memory at once.

    ``chunks`` is consumed only once the temporary file exists. Anything it raises (a producer
    that finds the contents unwritable half-way, say) removes the temporary and propagates as it
    is; an OSError from writing becomes :class:`AtomicWriteError`. Either way the previous
    contents of ``path`` are untouched.
    """
    display = os.fspath(path)
    if "\0" in display:  # the OS would refuse it with a ValueError, not an OSError
        raise AtomicWriteError(display.replace("\0", "\\0"), "the file name contains a NUL character")
    target = os.path.realpath(display)
    directory, base = os.path.split(target)
    if os.path.isdir(target):
        raise AtomicWriteError(display, OSError(_errno.EISDIR, "it is a directory"))
    mode = _new_file_mode(target)
    remove_stale_temporaries(directory or ".", base, ".tmp")
    try:
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(base), suffix=".tmp", dir=directory or ".")
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
            for chunk in chunks:
                fh.write(chunk)
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
