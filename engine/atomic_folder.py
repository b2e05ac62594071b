"""Write a folder of files all or nothing: reports, gradebooks, sweeps.

``write_folder(out, files)`` renders every file into a temporary sibling folder first, then
moves it into place. A new ``out`` is one rename. When ``out`` exists (perhaps holding the user's
other files), its namesakes are replaced one by one with a hard link to each old file kept aside,
and any failure puts every old file back: ``out`` keeps exactly the files (the same inodes, the
same bytes) it had. Files of ``out`` that ``files`` does not name are never touched.

Not atomic against a SIGKILL half-way through the replacements (POSIX cannot swap several files at
once); the old files are then in the temporary folder's ``.previous``, which the next write to the
same place removes as stale (:func:`engine.atomic.remove_stale_temporaries`).

A file's content is bytes or an iterable of byte chunks (a large session streams). File names are
plain names: no folders, no ``..``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from backprop_lab.engine.atomic import remove_stale_temporaries, temporary_prefix

__all__ = ["FolderError", "prepare_folder", "write_folder"]

Content = bytes | Iterable[bytes]


class FolderError(OSError):
    """A folder that cannot be written; ``str()`` is one line naming the path and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def write_folder(out: str | os.PathLike[str], files: Mapping[str, Content]) -> Path:
    """Write ``files`` (name → content) into the folder ``out``, all or nothing; returns ``out``
    as an absolute path. Raises :class:`FolderError` when ``out`` is a file or a name in ``files``
    is a folder in ``out``, and OSError as the file system does (nothing changed then)."""
    for name in files:
        if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
            raise ValueError(f"not a plain file name: {name!r}")
    folder = prepare_folder(out)
    tmp = _temporary_folder(folder)
    try:
        for name, content in files.items():
            _write_file(tmp / name, content)
        _fsync_dir(tmp)
        _move_into_place(tmp, folder, list(files))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def prepare_folder(out: str | os.PathLike[str]) -> Path:
    """The absolute folder ``out``: its parent made, temporaries of a killed write removed."""
    folder = Path(out).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise FolderError(f"{folder} exists and is not a folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder.parent, folder.name, ".partial")
    return folder


def _temporary_folder(out: Path) -> Path:
    """A new folder beside ``out`` to write into, with the permissions a new folder gets."""
    tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(out.name), suffix=".partial", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would make the renamed folder private
    return tmp


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, content: Content) -> None:
    with open(path, "xb") as fh:
        if isinstance(content, bytes | bytearray | memoryview):
            fh.write(content)
        else:
            for chunk in content:
                fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())


def _keep_aside(target: Path, aside: Path) -> None:
    """A second name for the file at ``target`` (a hard link: the file itself stays in place and
    keeps its identity), or a copy where the file system has no hard links."""
    try:
        os.link(target, aside, follow_symlinks=False)
    except OSError:
        shutil.copy2(target, aside, follow_symlinks=False)


def _move_into_place(tmp: Path, out: Path, names: list[str]) -> None:
    if not out.exists():
        os.rename(tmp, out)
    else:
        _swap_in(tmp, out, names)
        shutil.rmtree(tmp, ignore_errors=True)
    _fsync_dir(out)
    _fsync_dir(out.parent)


def _swap_in(tmp: Path, out: Path, names: list[str]) -> None:
    """Move ``names`` in ``tmp`` over their namesakes in the existing folder ``out``, all or
    nothing: if any replacement fails, the ones already made are undone."""
    in_the_way = [name for name in names if (out / name).is_dir() and not (out / name).is_symlink()]
    if in_the_way:
        raise FolderError(
            f"cannot write {out / in_the_way[0]}: a folder of that name is in the way "
            "(nothing in the folder was changed)"
        )
    aside = tmp / ".previous"
    aside.mkdir()
    existed = set()
    for name in names:
        if os.path.lexists(out / name):  # a file, or a symbolic link (replaced as a link)
            _keep_aside(out / name, aside / name)
            existed.add(name)
    done: list[str] = []
    try:
        for name in names:
            os.replace(tmp / name, out / name)
            done.append(name)
    except BaseException:
        for name in reversed(done):
            with contextlib.suppress(OSError):
                if name in existed:
                    os.replace(aside / name, out / name)
                else:
                    os.unlink(out / name)
        raise
