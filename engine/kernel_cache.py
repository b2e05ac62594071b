"""The compiled generated kernels, kept on disk between runs (as Python keeps .pyc files).

Compiling a generated kernel costs up to a second at K = 64 (the source is K² lines), every time
a process first needs it. Compiled once, its code object is written here with :mod:`marshal`
and loaded in milliseconds by every later process on the same Python.

Where: ``$BACKPROP_LAB_KERNEL_CACHE`` if set (an empty value turns the cache off; the tests point
it at a temporary folder), else ``$XDG_CACHE_HOME/backprop-lab/kernels`` (when that is an absolute
path), else ``~/.cache/backprop-lab/kernels``.

An entry is found by a *key* that determines the kernel's source: the source itself, or (as
:mod:`engine.kernels` does, to spare generating megabytes of text just to hash them) a hash of
what the source is generated from, K and the variant's form. Its name is the interpreter's cache
tag (``cpython-311``), the generator's version (entries of older versions are removed when a new
one is written) and a SHA-256 of the magic number of its bytecode, the code's file name and the
key; its contents start with a header that repeats the magic number and that hash and carries the
hash of the marshalled code. An entry that is truncated, corrupt, written by another Python or for
another source fails one of these checks and is ignored (the kernel is compiled and the entry
rewritten). Entries are written atomically (:mod:`engine.atomic`); a folder that cannot be made or
written just means no cache. Nothing here ever raises for a cache problem.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import marshal
import os
import sys
from pathlib import Path
from types import CodeType

from backprop_lab.engine.atomic import atomic_write_bytes

__all__ = ["ENV_VAR", "cache_dir", "entry_path", "load", "store"]

ENV_VAR = "BACKPROP_LAB_KERNEL_CACHE"
_SIGNATURE = b"backprop-lab kernel\n"
_MAGIC = importlib.util.MAGIC_NUMBER
_HEADER = len(_SIGNATURE) + len(_MAGIC) + 64
#: An entry larger than this is not a kernel (the K = 64 step is a few MB): not even read.
MAX_ENTRY_BYTES = 256 * 1024 * 1024


def cache_dir() -> Path | None:
    """The folder of the cache, or None when it is turned off."""
    chosen = os.environ.get(ENV_VAR)
    if chosen is not None:
        return Path(chosen) if chosen.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg, "backprop-lab", "kernels")
    try:
        return Path.home() / ".cache" / "backprop-lab" / "kernels"
    except (RuntimeError, KeyError):  # no home directory to be found
        return None


def _key_hash(key: bytes, filename: str) -> bytes:
    return hashlib.sha256(_MAGIC + filename.encode("utf-8") + b"\0" + key).digest()


def _tag() -> str:
    return sys.implementation.cache_tag or sys.implementation.name


def entry_path(key: bytes, filename: str, directory: Path | None = None, generation: str = "") -> Path | None:
    """Where the code compiled under ``filename`` from the source ``key`` determines is kept (or None).

    ``generation`` (letters and digits) names the version of the code generator, if any: see :func:`store`.
    """
    folder = directory if directory is not None else cache_dir()
    if folder is None:
        return None
    middle = f"{generation}-" if generation else ""
    return folder / f"{_tag()}-{middle}{_key_hash(key, filename).hex()[:40]}.marshal"


def load(key: bytes, filename: str, directory: Path | None = None, generation: str = "") -> CodeType | None:
    """The code compiled under ``filename`` from the source ``key`` determines, if a sound entry has it."""
    path = entry_path(key, filename, directory, generation)
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > MAX_ENTRY_BYTES:
                return None
            data = fh.read()
    except OSError:
        return None
    header, payload = data[:_HEADER], data[_HEADER:]
    expected = _SIGNATURE + _MAGIC + _key_hash(key, filename)
    if header[: len(expected)] != expected or header[len(expected) :] != hashlib.sha256(payload).digest():
        return None  # truncated, corrupt, another Python's or another source's
    try:
        code = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(code, CodeType) or code.co_filename != filename:
        return None
    return code


def store(
    key: bytes, filename: str, code: CodeType, directory: Path | None = None, generation: str = ""
) -> bool:
    """Keep ``code`` (compiled from the source ``key`` determines) for later runs; False if it cannot.

    With a ``generation``, this Python's entries of other generations are removed once this one is
    written: they were made by another version of the generator, which no run here asks for again,
    so the folder does not grow with every upgrade. Other Pythons' entries are left alone.
    """
    path = entry_path(key, filename, directory, generation)
    if path is None:
        return False
    payload = marshal.dumps(code)
    data = _SIGNATURE + _MAGIC + _key_hash(key, filename) + hashlib.sha256(payload).digest() + payload
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except (OSError, ValueError):
        return False
    if generation:
        _remove_other_generations(path.parent, generation)
    return True


def _remove_other_generations(folder: Path, generation: str) -> None:
    prefix = f"{_tag()}-"
    try:
        names = [p.name for p in folder.glob(f"{prefix}*-*.marshal")]
    except OSError:
        return
    for name in names:
        if name[len(prefix) :].split("-", 1)[0] != generation:
            with contextlib.suppress(OSError):
                (folder / name).unlink()
