"""Atomic writes: the old file survives byte for byte whatever step fails, and no temporary file is left."""

from __future__ import annotations

import errno
import os
import stat
import sys

import pytest

from backprop_lab.engine import atomic
from backprop_lab.engine.atomic import AtomicWriteError, atomic_write_bytes, atomic_write_text

OLD = b'{"old": "good contents"}\n'
NEW = b'{"new": "contents"}\n' * 1000


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "session.json"
    path.write_bytes(OLD)
    return path


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_a_new_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "new.json"
    atomic_write_bytes(path, NEW)
    assert path.read_bytes() == NEW
    assert _leftovers(tmp_path) == []


def test_replaces_an_existing_file(target):
    atomic_write_bytes(str(target), NEW)
    assert target.read_bytes() == NEW
    assert _leftovers(target.parent) == []


def test_text_is_utf8_and_newlines_are_not_translated(tmp_path):
    path = tmp_path / "t.json"
    atomic_write_text(path, "σ'(a) = σ(1−σ)\r\nnext\n")
    assert path.read_bytes() == "σ'(a) = σ(1−σ)\r\nnext\n".encode()


def test_text_that_cannot_be_encoded_writes_nothing(target):
    with pytest.raises(AtomicWriteError, match=r"cannot be encoded as utf-8") as info:
        atomic_write_text(target, "lone surrogate \ud800")
    assert target.read_bytes() == OLD
    assert str(info.value).startswith(f"cannot write {target}:")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_keeps_the_permissions_of_the_file_it_replaces(target):
    os.chmod(target, 0o640)
    atomic_write_bytes(target, NEW)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_new_file_gets_the_umask_permissions_not_private_ones(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "n.json", NEW)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "n.json").st_mode) == 0o644


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_a_symlink_is_followed_and_kept(target, tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write_bytes(link, NEW)
    assert link.is_symlink()
    assert target.read_bytes() == NEW


class _FailingFile:
    """Wraps the temporary file object; fails on the named method."""

    def __init__(self, fh, fail_on: str):
        self._fh, self._fail_on = fh, fail_on

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def fileno(self):
        return self._fh.fileno()

    def write(self, data):
        if self._fail_on == "write":
            self._fh.write(data[: len(data) // 2])  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._fh.write(data)

    def flush(self):
        if self._fail_on == "flush":
            raise OSError(errno.EIO, "Input/output error")
        self._fh.flush()


@pytest.mark.parametrize("step", ["write", "flush", "fsync", "replace"])
def test_a_failure_at_any_step_leaves_the_old_file_untouched(target, monkeypatch, step):
    if step in ("write", "flush"):
        real_fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: _FailingFile(real_fdopen(fd, mode), step))
    elif step == "fsync":

        def fsync(fd):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(os, "fsync", fsync)
    else:

        def replace(src, dst):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, NEW)
    monkeypatch.undo()
    assert isinstance(info.value, AtomicWriteError)
    assert info.value.errno in (errno.ENOSPC, errno.EIO, errno.EACCES)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"cannot write {target}: ")
    assert target.read_bytes() == OLD
    assert _leftovers(target.parent) == []


def test_an_interrupt_during_the_write_removes_the_temporary_and_propagates(target, monkeypatch):
    def fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, NEW)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert _leftovers(target.parent) == []


def test_a_directory_that_cannot_be_fsynced_does_not_fail_the_write(target, monkeypatch):
    # Windows cannot open a directory; the file itself is already safely replaced by then.
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if os.path.isdir(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    atomic_write_bytes(target, NEW)
    monkeypatch.undo()
    assert target.read_bytes() == NEW


def test_a_parent_that_is_a_file_fails_cleanly(target):
    with pytest.raises(AtomicWriteError) as info:
        atomic_write_bytes(target / "out.json", NEW)
    assert "does not exist or is not a folder" in str(info.value)
    assert "\n" not in str(info.value)
    assert target.read_bytes() == OLD


def test_a_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(AtomicWriteError, match="does not exist or is not a folder"):
        atomic_write_bytes(tmp_path / "no" / "such" / "out.json", NEW)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_as_the_target_fails_cleanly(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(AtomicWriteError, match="it is a directory"):
        atomic_write_bytes(tmp_path / "d", NEW)
    assert (tmp_path / "d").is_dir()


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_folder_fails_cleanly(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "s.json").write_bytes(OLD)
    folder.chmod(0o500)
    try:
        with pytest.raises(AtomicWriteError) as info:
            atomic_write_bytes(folder / "s.json", NEW)
    finally:
        folder.chmod(0o700)
    assert info.value.errno == errno.EACCES
    assert (folder / "s.json").read_bytes() == OLD


def test_the_error_is_an_oserror_with_a_one_line_message():
    err = AtomicWriteError("/x/y.json", OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    assert str(err) == "cannot write /x/y.json: No space left on device"
    assert atomic.__all__[:4] == [
        "AtomicWriteError",
        "atomic_write_bytes",
        "atomic_write_chunks",
        "atomic_write_text",
    ]
