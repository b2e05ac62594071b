"""``backprop-lab train S -o S`` killed with SIGKILL at random moments (issue #7).

The session starts with a 200,000-step history, so the save at the end writes ~13 MB and takes a
while. Each trial restores the old file, starts the real command in a subprocess and SIGKILLs it
after a seeded random delay. Afterwards the file must be either the old one, byte for byte, or the
complete new one (it loads, and equals what an uninterrupted run writes). Every other trial kills
at a random moment of the whole run; the others wait until the temporary file appears and kill
within the time the save takes, so kills land while it is written (counted: such a kill leaves the
temporary file behind, which the next save's mkstemp never reuses).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from array import array

import pytest

from backprop_lab.engine.session import History, Session, load_session, save_session

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals"),
    pytest.mark.reliability("sigkill"),
]

HISTORY_STEPS = 200_000
MIN_TRIALS = 24
MAX_TRIALS = 44
#: Kills that should land inside the save (the temporary file exists but is not renamed yet).
WANT_MID_SAVE = 3
SEED = 20261126
ARGS = ["--n-samples", "2000", "--batch-size", "10", "--epochs", "1", "--seed", "3"]


def _big_session() -> Session:
    s = Session.random(3, 7)
    rng = random.Random(1)
    n = HISTORY_STEPS
    columns = {
        name: array("d", (rng.random() for _ in range(n)))
        for name in ("loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C")
    }
    s.history = History.from_columns(columns, array("q", (1 + i // 100 for i in range(n))))
    s.name = "killed while saving"
    return s


def _run(out) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "backprop_lab.cli", "train", str(out), *ARGS, "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(proc: subprocess.Popen, seconds: float) -> None:
    """Wait for the process to end, at most ``seconds`` (returns either way)."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _temporaries(folder) -> list:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
@pytest.mark.timeout(900)  # a hang becomes a failure; the clock above only places the kills
def test_sigkill_at_random_moments_leaves_the_old_or_the_new_complete_file(tmp_path):
    out = tmp_path / "run.json"
    save_session(_big_session(), out)
    old = out.read_bytes()
    assert len(old) > 10_000_000

    # The uninterrupted run: what "the new complete file" is, how long a run takes and how long
    # the temporary file exists (watched by polling the folder while waiting on the process).
    started = time.perf_counter()
    proc = _run(out)
    tmp_seen = tmp_gone = None
    while proc.poll() is None:
        now = time.perf_counter() - started
        if _temporaries(tmp_path):
            tmp_seen = now if tmp_seen is None else tmp_seen
        elif tmp_seen is not None and tmp_gone is None:
            tmp_gone = now
        _wait(proc, 0.001)
    full_run = time.perf_counter() - started
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    reference = load_session(out)
    assert len(reference.history) == HISTORY_STEPS + 200
    # How long the save writes (at least the polling resolution; a fast disk may hide it).
    writing = max((tmp_gone or full_run) - (tmp_seen or full_run), 0.005)

    rng = random.Random(SEED)
    outcomes: dict[str, int] = {"old": 0, "new": 0, "finished": 0, "mid-save": 0}
    trials = 0

    def enough() -> bool:
        seen_both = outcomes["old"] and outcomes["new"] + outcomes["finished"]
        return trials >= MIN_TRIALS and bool(seen_both) and outcomes["mid-save"] >= WANT_MID_SAVE

    while not enough() and trials < MAX_TRIALS:
        trials += 1
        out.write_bytes(old)
        proc = _run(out)
        t0 = time.perf_counter()
        if trials % 2:
            # Anywhere in the run, start-up and loading included.
            _wait(proc, rng.uniform(0.0, full_run * 1.3))
        else:
            # Inside the save: once the temporary file exists, a random part of the time it takes.
            while proc.poll() is None and not _temporaries(tmp_path) and time.perf_counter() - t0 < 60:
                _wait(proc, 0.001)
            _wait(proc, rng.uniform(0.0, writing * 0.8))
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        leftovers = _temporaries(tmp_path)
        data = out.read_bytes()
        if data == old:
            outcomes["old"] += 1
        else:
            got = load_session(out)  # raises if the file is not a complete session
            got.modified = reference.modified
            assert got == reference, f"trial {trials}: the new file differs from an uninterrupted run's"
            outcomes["new" if killed else "finished"] += 1
        if killed and leftovers:
            # Killed between creating the temporary file and renaming it: the save was under way.
            assert data == old, "a temporary file is left but the file was already replaced"
            outcomes["mid-save"] += 1
        for p in leftovers:
            p.unlink()
        assert proc.returncode in (-signal.SIGKILL, 0), proc.returncode

    assert trials >= MIN_TRIALS
    assert outcomes["old"] >= 1 and outcomes["new"] + outcomes["finished"] >= 1, outcomes
    assert outcomes["mid-save"] >= 1, f"no kill landed inside the save in {trials} trials: {outcomes}"
