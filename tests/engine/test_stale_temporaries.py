"""Temporaries left by killed processes are removed by the next save to the same place; nothing else is."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import backprop_lab.engine.atomic as atomic
from backprop_lab.engine.atomic import atomic_write_bytes, remove_stale_temporaries, temporary_prefix
from backprop_lab.engine.session import Session, load_session, save_session

pytestmark = [
    pytest.mark.reliability("stale-temporaries"),
    pytest.mark.skipif(os.name != "posix", reason="the cleanup probes processes the POSIX way"),
]


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _name(base: str, pid: int, suffix: str, random: str = "abcd_123") -> str:
    return temporary_prefix(base).replace(f".{os.getpid()}-", f".{pid}-", 1) + random + suffix


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield proc.pid
    proc.stdin.close()
    proc.wait(timeout=30)


def test_temporary_names_carry_the_creator_and_the_destination():
    prefix = temporary_prefix("session.json")
    assert prefix.startswith(".session.json.") and f".{os.getpid()}-" in prefix
    assert len(temporary_prefix("x" * 255)) < 60  # a 255-byte name still has a legal temporary


def test_the_next_save_removes_exactly_the_stale_temporaries(tmp_path, live_process):
    target = tmp_path / "s.json"
    dead = _dead_pid()
    stale = [_name("s.json", dead, ".tmp"), _name("s.json", dead, ".tmp", "zzzz9999")]
    keep = [
        _name("s.json", live_process, ".tmp"),  # a running process is writing it
        _name("s.json", os.getpid(), ".tmp"),  # ours, fresh: another thread's save in progress
        _name("other.json", dead, ".tmp"),  # another destination's
        _name("s.json", dead, ".partial"),  # not a file temporary
        ".s.json.abcd1234.tmp",  # the old naming, without a creator: not ours to judge
        "s.json.tmp",  # the user's
        _name("s.json", dead, ".tmp").replace(atomic._host_tag(), "0badc0de"),  # another machine's
    ]
    for name in stale + keep:
        (tmp_path / name).write_bytes(b"half a session")
    os.mkdir(tmp_path / _name("s.json", dead, ".tmp", "dir_____"))  # a folder with a .tmp name
    keep.append(_name("s.json", dead, ".tmp", "dir_____"))
    save_session(Session.random(2, 0), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "s.json"])
    assert load_session(target).model.K == 2


def test_a_reused_pid_does_not_protect_an_older_temporary(tmp_path):
    if atomic._process_start_time(os.getpid()) is None:
        pytest.skip("no /proc: the start time of a process cannot be read here")
    # Our own pid, but the file was last written a day before this process started.
    name = _name("s.json", os.getpid(), ".tmp")
    (tmp_path / name).write_bytes(b"")
    day_ago = time.time() - 86_400
    os.utime(tmp_path / name, (day_ago, day_ago))
    assert remove_stale_temporaries(tmp_path, "s.json", ".tmp") == [name]


def test_a_symbolic_link_with_a_temporary_name_is_left_alone(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_text("keep me")
    link = tmp_path / _name("r", _dead_pid(), ".partial")
    link.symlink_to(elsewhere)
    assert remove_stale_temporaries(tmp_path, "r", ".partial") == []
    assert (elsewhere / "precious").read_text() == "keep me" and link.is_symlink()


def test_a_stale_partial_folder_is_removed_with_its_contents(tmp_path, live_process):
    dead = tmp_path / _name("report", _dead_pid(), ".partial")
    live = tmp_path / _name("report", live_process, ".partial")
    for folder in (dead, live):
        folder.mkdir()
        (folder / "report.html").write_text("half")
    assert remove_stale_temporaries(tmp_path, "report", ".partial") == [dead.name]
    assert live.is_dir() and not dead.exists()


def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    """A real SIGKILL between writing the temporary and renaming it, then a save from here."""
    target = tmp_path / "s.json"
    code = (
        "import os, signal, sys\n"
        "import backprop_lab.engine.atomic as atomic\n"
        "def die(a, b):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "atomic.os.replace = die\n"
        f"atomic.atomic_write_bytes({str(target)!r}, b'x' * 100000)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].endswith(".tmp") and left[0].startswith(".s.json.")
    atomic_write_bytes(target, b"{}")
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_zombie_creator_counts_as_gone(tmp_path):
    """A killed process that nobody reaped (an orphan in a container without an init stays so)."""
    if atomic._proc_stat(os.getpid()) is None:
        pytest.skip("no /proc: a zombie cannot be told from a running process here")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        # Wait for it to exit without reaping it (WNOWAIT): it stays a zombie holding its pid.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        assert atomic._proc_stat(proc.pid)[0] == b"Z"
        name = _name("s.json", proc.pid, ".tmp")
        (tmp_path / name).write_bytes(b"")
        assert remove_stale_temporaries(tmp_path, "s.json", ".tmp") == [name]
    finally:
        proc.wait()
