"""SIGINT and SIGTERM in check, train and report: exit 130/143, one line, no temporary file, no lost run.

Each test starts the real command in a subprocess and sends the signal at a moment it observes
(the input file open, CPU time spent in the run, the temporary file of the save present), never
after a guessed delay.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from array import array
from pathlib import Path

import pytest

from backprop_lab.engine.model import forward
from backprop_lab.engine.session import History, Session, load_session, save_session

REPO = Path(__file__).resolve().parents[2]
SIGNALS = [signal.SIGINT, signal.SIGTERM]
IDS = ["SIGINT", "SIGTERM"]
BIG_STEPS = 2_000_000  # ~130 MB: its load and its save each take a good fraction of a second
#: Turns a hang into a failure; not a target.
SAFETY = 120.0

pytestmark = [
    pytest.mark.reliability("signals"),
    pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc"),
]


@pytest.fixture(scope="module")
def big_session(tmp_path_factory) -> Path:
    """The report example with a long (synthetic) history, saved once for the module."""
    s = Session.report_example()
    names = ("loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C")
    columns = {n: array("d", [0.5]) * BIG_STEPS for n in names}
    s.history = History.from_columns(columns, array("q", [1]) * BIG_STEPS)
    path = tmp_path_factory.mktemp("big") / "big.json"
    save_session(s, path)
    return path


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    home = cwd.parent / "home"  # preferences, if any, go outside the folder the test watches
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    return subprocess.Popen(
        [sys.executable, "-m", "backprop_lab", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], condition, what: str, interval: float = 0.001) -> None:
    deadline = time.monotonic() + SAFETY
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the command ended (status {proc.returncode}) before {what}: {err or out}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(interval)


def _has_open(pid: int, path: Path) -> bool:
    folder = Path(f"/proc/{pid}/fd")
    try:
        links = list(folder.iterdir())
    except OSError:
        return False
    for link in links:
        try:
            if os.readlink(link) == str(path):
                return True
        except OSError:
            continue
    return False


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _finish(proc: subprocess.Popen[str], sig: int) -> tuple[str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=SAFETY)
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and f"interrupted by {signal.Signals(sig).name}" in err
    return out, err


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path, expected: set[str]) -> list[str]:
    return sorted(set(os.listdir(folder)) - expected)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_a_signal_while_train_loads_writes_nothing(tmp_path, big_session, sig):
    work = tmp_path / "w"
    work.mkdir()
    before = _digest(big_session)
    proc = _start(["train", str(big_session), "-o", "out.json"], work)
    _wait_for(proc, lambda: _has_open(proc.pid, big_session), "the session file was opened")
    _, err = _finish(proc, sig)
    assert err.startswith("backprop-lab train: interrupted by") and "nothing was written" in err
    assert _leftovers(work, set()) == []
    assert _digest(big_session) == before


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_a_signal_during_the_run_saves_the_steps_taken(tmp_path, sig):
    total = 1_000_000  # far more than can run before the signal
    args = ["train", "--n-samples", "1000", "--batch-size", "1", "--epochs", "1000", "-o", "out.json"]
    proc = _start(args, tmp_path)
    # Start-up (imports, the parser) takes well under a CPU second; after that the loop is running.
    _wait_for(proc, lambda: _cpu_seconds(proc.pid) > 1.5, "a CPU second and a half was spent")
    out, err = _finish(proc, sig)
    s = load_session(tmp_path / "out.json")
    assert 0 < len(s.history) < total
    # The weights saved are those after the last step saved (the run stopped between two steps).
    m = s.model
    assert s.history[-1].loss_at_x == pytest.approx(forward(m.x, m.A, m.B, m.C)["loss"], rel=1e-12, abs=0)
    assert f"after {len(s.history):,} of {total:,} steps" in err and "saved to out.json" in err
    assert f"Wrote out.json (history: {len(s.history):,} steps)" in out
    assert _leftovers(tmp_path, {"out.json"}) == []


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_a_signal_during_the_save_lets_the_save_finish(tmp_path, big_session, sig):
    work = tmp_path / "w"
    work.mkdir()
    proc = _start(
        ["train", str(big_session), "--n-samples", "20", "--batch-size", "10", "-o", "out.json"], work
    )
    # The atomic save writes a temporary sibling first; the signal comes while it is there.
    _wait_for(proc, lambda: _leftovers(work, {"out.json"}) != [], "the save's temporary file appeared")
    _, err = _finish(proc, sig)
    assert "while saving; the save was finished first" in err
    s = load_session(work / "out.json")
    assert len(s.history) == BIG_STEPS + 2 and s.history.last_step == BIG_STEPS + 2
    assert _leftovers(work, {"out.json"}) == []


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_a_signal_during_check_is_one_line(tmp_path, sig):
    path = tmp_path / "k40.json"
    save_session(Session.random(40, seed=3), path)  # 4,800 finite differences: many seconds of work
    proc = _start(["check", str(path)], tmp_path)
    _wait_for(proc, lambda: _cpu_seconds(proc.pid) > 1.5, "a CPU second and a half was spent")
    out, err = _finish(proc, sig)
    assert err.startswith("backprop-lab check: interrupted by") and "check passed" not in out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_a_signal_during_the_report_lets_it_finish(tmp_path, sig):
    work = tmp_path / "w"
    work.mkdir()
    proc = _start(["report", "-o", "out", "--no-torch"], work)
    _wait_for(proc, lambda: _leftovers(work, set()) != [], "the report's temporary folder appeared")
    out, err = _finish(proc, sig)
    assert err.startswith("backprop-lab report: interrupted by") and "it was finished first" in err
    assert "Wrote " in out
    assert _leftovers(work, set()) == ["out"]  # the report, and no temporary folder beside it
    assert {"report.html", "report.pdf", "plot.svg"} <= set(os.listdir(work / "out"))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("gap", [0.0, 0.001, 0.005, 0.02, 0.05])
def test_a_second_signal_does_not_cut_the_save_of_the_first(tmp_path, gap):
    args = ["train", "--n-samples", "1000", "--batch-size", "1", "--epochs", "1000", "-o", "out.json"]
    proc = _start(args, tmp_path)
    _wait_for(proc, lambda: _cpu_seconds(proc.pid) > 1.5, "a CPU second and a half was spent")
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)  # the delay between the two presses is the point of this test
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=SAFETY)
    if gap:
        assert proc.returncode == 130, err  # the first signal decides
    else:
        # Sent back to back, the two reach the process together: either may be noted first (the
        # kernel may hand them to different threads), and that one decides, named as it exits.
        assert proc.returncode in (130, 143), err
        assert ("SIGINT" if proc.returncode == 130 else "SIGTERM") in err
    assert err.count("\n") == 1 and "Traceback" not in err
    s = load_session(tmp_path / "out.json")
    assert f"Wrote out.json (history: {len(s.history):,} steps)" in out and 0 < len(s.history)
    assert _leftovers(tmp_path, {"out.json"}) == []
