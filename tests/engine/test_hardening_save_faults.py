"""Saving under faults (issue #7): every stage of an atomic save fails in turn, with every errno a
disk gives; the previous session file survives byte for byte and the message names the file and
the reason in one line. The same through ``backprop-lab train -o OUT``.

tests/engine/test_atomic.py covers ``atomic_write_bytes`` itself at four stages; here the whole
``save_session`` path is driven through a stage × errno matrix, with a disk that fills up after a
given number of bytes (so the failure surfaces wherever a real one would: in write, or in flush).
"""

from __future__ import annotations

import errno
import io
import os

import pytest

from backprop_lab import train as cli_train
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.atomic import AtomicWriteError
from backprop_lab.engine.session import Session, SessionError, dumps_session, load_session, save_session
from backprop_lab.engine.training import TrainingSettings

pytestmark = pytest.mark.reliability("save-faults")

ERRNOS = {
    "ENOSPC": (errno.ENOSPC, "No space left on device"),
    "EIO": (errno.EIO, "Input/output error"),
    "EDQUOT": (errno.EDQUOT, "Disk quota exceeded"),
    "EROFS": (errno.EROFS, "Read-only file system"),
}
#: Where a save can fail, in the order atomic_write_bytes reaches them.
STAGES = ("mkstemp", "open", "write", "flush", "close", "fsync", "rename")
#: A full disk: how many bytes of the new file fit before ENOSPC (0, a little, half, all but one).
FULL_AT = ("0", "100", "half", "all-but-1")


def _session(seed: int = 0, steps: int = 40) -> Session:
    s = Session.random(3, seed)
    trainer = s.make_trainer(
        TrainingSettings(learning_rate=0.05, batch_size=2, n_samples=steps * 2, seed=seed)
    )
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    s.name, s.notes = f"session {seed}", "σ(a) — saved under faults"
    return s


@pytest.fixture
def saved(tmp_path):
    """A session file on disk (the 'previous file') and its exact bytes."""
    path = tmp_path / "run.json"
    old = _session(0)
    save_session(old, path)
    return path, path.read_bytes(), load_session(path)


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


class _Budget(io.FileIO):
    """The temporary file on a disk with ``budget`` bytes free: writes past it fail with ENOSPC."""

    def __init__(self, fd: int, budget: int) -> None:
        super().__init__(fd, "wb", closefd=True)
        self.budget = budget

    def write(self, data) -> int:
        data = bytes(data)
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = super().write(data[: self.budget])
        self.budget -= n
        return n


def _assert_previous_file_intact(path, old_bytes, old_session) -> None:
    assert path.read_bytes() == old_bytes
    assert load_session(path) == old_session
    assert _leftovers(path.parent) == [], "a temporary file was left behind"


def _assert_one_line_naming(message: str, path, reason: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert str(path) in message and reason in message, message


@pytest.mark.parametrize("err_name", list(ERRNOS))
@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_and_errno_keeps_the_previous_file(saved, monkeypatch, save_fault, stage, err_name):
    path, old_bytes, old_session = saved
    code, reason = ERRNOS[err_name]
    new = _session(1)
    modified = new.modified
    save_fault(monkeypatch, stage, OSError(code, reason))
    with pytest.raises(OSError) as info:
        save_session(new, path)
    monkeypatch.undo()
    assert isinstance(info.value, AtomicWriteError) and info.value.errno == code
    _assert_one_line_naming(str(info.value), path, reason)
    _assert_previous_file_intact(path, old_bytes, old_session)
    assert new.modified == modified, "the session was stamped as saved though it was not"
    # The failure leaves nothing stuck: the next save (disk fixed) works.
    save_session(new, path)
    assert load_session(path).name == "session 1"


@pytest.mark.parametrize("full_at", FULL_AT)
def test_a_disk_that_fills_up_mid_file_keeps_the_previous_file(saved, monkeypatch, full_at):
    path, old_bytes, old_session = saved
    new = _session(2, steps=400)
    total = len(dumps_session(new).encode())
    budget = {"0": 0, "100": 100, "half": total // 2, "all-but-1": total - 1}[full_at]
    real = os.fdopen
    monkeypatch.setattr(
        os,
        "fdopen",
        lambda fd, mode: io.BufferedWriter(_Budget(fd, budget)) if "w" in mode else real(fd, mode),
    )
    with pytest.raises(OSError) as info:
        save_session(new, path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    _assert_one_line_naming(str(info.value), path, "No space left on device")
    _assert_previous_file_intact(path, old_bytes, old_session)


@pytest.mark.parametrize("stage", ["write", "fsync", "rename"])
@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_at_any_stage_keeps_the_previous_file_and_propagates(
    saved, monkeypatch, save_fault, stage, interrupt
):
    path, old_bytes, old_session = saved
    save_fault(monkeypatch, stage, interrupt())
    with pytest.raises(interrupt):
        save_session(_session(1), path)
    monkeypatch.undo()
    _assert_previous_file_intact(path, old_bytes, old_session)


@pytest.mark.parametrize("stage", ["chmod", "dir-fsync"])
def test_failures_after_the_data_is_safe_do_not_fail_the_save(saved, monkeypatch, stage):
    # Permissions and the directory's fsync are best effort: the new file is complete either way.
    path, _, _ = saved
    if stage == "chmod":
        monkeypatch.setattr(os, "chmod", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EPERM, "no")))
    else:
        real_open = os.open

        def fake_open(p, flags, *args, **kwargs):
            if os.path.isdir(p):
                raise OSError(errno.EACCES, "Permission denied")
            return real_open(p, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
    new = _session(3)
    save_session(new, path)
    monkeypatch.undo()
    assert load_session(path) == new


def test_a_path_whose_parent_is_a_file_fails_even_for_root(saved):
    path, old_bytes, old_session = saved
    with pytest.raises(OSError) as info:
        save_session(_session(1), path / "inside.json")
    _assert_one_line_naming(str(info.value), path / "inside.json", "is not a folder")
    _assert_previous_file_intact(path, old_bytes, old_session)


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("folder", "it is a directory"),
        ("missing", "does not exist"),
        ("nul", "NUL character"),
        ("too-long", "File name too long"),
    ],
)
def test_unwritable_paths_fail_with_one_line(tmp_path, where, reason):
    target = {
        "folder": tmp_path,
        "missing": tmp_path / "no" / "such" / "s.json",
        "nul": str(tmp_path / "a\0b.json"),
        "too-long": tmp_path / ("x" * 300 + ".json"),
    }[where]
    before = sorted(tmp_path.iterdir())
    with pytest.raises(OSError) as info:
        save_session(_session(1), target)
    message = str(info.value)
    assert "\n" not in message and reason in message, message
    assert sorted(tmp_path.iterdir()) == before


def test_the_longest_legal_file_name_saves(tmp_path):
    # The temporary sibling must stay a legal name too (it used to be the name plus 14 bytes).
    for name in ("x" * 250 + ".json", "é" * 125 + ".json", "\U0001f600" * 62 + ".json"):
        assert len(name.encode()) <= 255
        save_session(_session(1), tmp_path / name)
        assert load_session(tmp_path / name).name == "session 1"


def test_a_session_too_big_to_load_back_is_refused_before_touching_the_file(saved, monkeypatch):
    from backprop_lab.engine import session_format

    path, old_bytes, old_session = saved
    monkeypatch.setattr(session_format, "MAX_FILE_BYTES", 1000)
    with pytest.raises(SessionError, match="over the 1,000 bytes"):
        save_session(_session(1), path)
    monkeypatch.undo()
    _assert_previous_file_intact(path, old_bytes, old_session)


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("stage", ["mkstemp", "write", "flush", "fsync", "rename"])
def test_train_reports_a_failed_save_and_keeps_the_previous_output(
    saved, monkeypatch, save_fault, capsys, stage
):
    path, old_bytes, old_session = saved
    capsys.readouterr()
    real_save = cli_train.save_session

    def save_with_fault(session, out, **kwargs):
        save_fault(monkeypatch, stage, OSError(errno.ENOSPC, "No space left on device"))
        try:
            return real_save(session, out, **kwargs)
        finally:
            monkeypatch.undo()

    monkeypatch.setattr(cli_train, "save_session", save_with_fault)
    code = cli_main(["train", str(path), "--n-samples", "20", "--batch-size", "5", "-o", str(path)])
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert code == cli_train.EXIT_BAD_INPUT
    assert err.count("\n") == 0, err
    assert err == f"backprop-lab train: error: cannot write {path}: No space left on device"
    _assert_previous_file_intact(path, old_bytes, old_session)
