"""``backprop-lab sweep``: each run is byte for byte train's file; the summary; bad input writes
nothing; a diverging run; SIGINT/SIGTERM keep the finished runs and their summary."""

from __future__ import annotations

import csv
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_lab.cli import main as cli_main
from backprop_lab.engine.session import Session, load_session, save_session
from backprop_lab.engine.sweep import SUFFIX
from backprop_lab.engine.training import TrainingSettings

FAST = ["--n-samples", "60"]
SAFETY = 120.0  # turns a hang into a failure; not a target


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_run_is_byte_for_byte_the_file_train_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # both commands stamp the same time
    out = tmp_path / "sweep"
    args = ["--lr", "0.01,0.1", "--batch-size", "5,12", *FAST]
    assert cli_main(["sweep", *args, "--jobs", "2", "-o", str(out)]) == 0
    stdout = capsys.readouterr().out
    names = ["lr0.01_bs5", "lr0.01_bs12", "lr0.1_bs5", "lr0.1_bs12"]
    for name, (lr, bs) in zip(
        names, [("0.01", "5"), ("0.01", "12"), ("0.1", "5"), ("0.1", "12")], strict=True
    ):
        alone = tmp_path / f"{name}.json"
        assert cli_main(["train", "--lr", lr, "--batch-size", bs, *FAST, "-o", str(alone)]) == 0
        assert (out / (name + SUFFIX)).read_bytes() == alone.read_bytes(), name
    assert "Swept the report example: 4 runs (4 finished)" in stdout and "2 processes" in stdout
    assert [row["name"] for row in _rows(out)] == names
    assert sorted(os.listdir(out)) == sorted(
        [n + SUFFIX for n in names] + ["summary.csv", "summary.png", "summary.svg"]
    )
    width, height = _png_size(out / "summary.png")
    assert width > 600 and height > 300  # drawn at twice the SVG's size


def test_a_session_file_under_another_variant_is_swept_as_train_runs_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    s = Session.random(3, 5)
    s.training = TrainingSettings(learning_rate=0.02, batch_size=4, n_samples=24, epochs=1, seed=2)
    save_session(s, tmp_path / "in.json")
    common = [str(tmp_path / "in.json"), "--activation", "tanh", "--epochs"]
    assert cli_main(["sweep", *common, "1,2", "-o", str(tmp_path / "out")]) == 0
    for epochs in ("1", "2"):
        assert cli_main(["train", *common, epochs, "-o", str(tmp_path / f"e{epochs}.json")]) == 0
        swept = (tmp_path / "out" / f"epochs{epochs}{SUFFIX}").read_bytes()
        assert swept == (tmp_path / f"e{epochs}.json").read_bytes()
    assert load_session(tmp_path / "out" / f"epochs2{SUFFIX}").model.variant.activation == "tanh"


def test_a_diverging_run_is_written_and_reported_and_the_others_go_on(tmp_path, capsys):
    out = tmp_path / "o"
    assert cli_main(["sweep", "--lr", "0.01,1000", *FAST, "-o", str(out)]) == 1
    stdout = capsys.readouterr().out
    diverged = load_session(out / f"lr1000.0{SUFFIX}")
    assert diverged.divergence is not None
    assert f"lr1000.0: {len(diverged.history)} steps" in stdout
    assert f"diverged at step {diverged.divergence.step}" in stdout
    rows = {row["name"]: row for row in _rows(out)}
    assert rows["lr1000.0"]["status"] == "diverged" and rows["lr1000.0"]["diverged_at"] == str(
        diverged.divergence.step
    )
    assert rows["lr0.01"]["status"] == "finished" and rows["lr0.01"]["diverged_at"] == ""
    assert (
        float(rows["lr0.01"]["final_loss_at_x"])
        == load_session(out / f"lr0.01{SUFFIX}").history[-1].loss_at_x
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "0.1,abc"], "argument --lr: expected numbers separated by commas, got '0.1,abc'"),
        (["--batch-size", "1,,2"], "expected whole numbers separated by commas"),
        (["--lr", "0.1,0.1"], "invalid training settings: learning_rate lists 0.1 twice"),
        (
            ["--batch-size", "10,2000"],
            "invalid training settings: run bs2000: batch_size must be ≤ n_samples",
        ),
        (["--n-samples", "60"], "nothing to sweep"),
        (["--seed", "1", "--jobs", "0"], "--jobs must be ≥ 1"),
        (["missing.json", "--seed", "1"], "missing.json"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    status = cli_main(["sweep", *args, "-o", "out"])
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1, err
    assert os.listdir(tmp_path) == []


def test_an_output_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("mine")
    assert cli_main(["sweep", "--seed", "0,1", *FAST, "-o", str(tmp_path / "f")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert (tmp_path / "f").read_text() == "mine"


# --------------------------------------------------------------------------- signals


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["HOME"] = str(cwd.parent / "home")
    return subprocess.Popen(
        [sys.executable, "-m", "backprop_lab", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
    )


def _wait_for(proc: subprocess.Popen[str], condition, what: str) -> None:
    deadline = time.monotonic() + SAFETY
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the sweep ended (status {proc.returncode}) before {what}: {err or out}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.005)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# A run that diverges at its fourth step first, then two that take a minute or more each (4M steps)
# unless they are stopped; one at a time.
LONG_SWEEP = "--lr 1000,0.01,0.02 --n-samples 20000 --batch-size 1 --epochs 200 --jobs 1".split()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("sig", "to_group", "gap"),
    [
        (signal.SIGINT, True, 0.0),  # Ctrl+C at a terminal: the sweep and its workers get it
        (signal.SIGINT, True, 0.05),
        (signal.SIGINT, False, 0.02),
        (signal.SIGTERM, False, 0.0),
    ],
    ids=["ctrl-c", "ctrl-c-50ms-later", "sigint", "sigterm"],
)
def test_a_signal_keeps_the_finished_runs_and_their_summary(tmp_path, sig, to_group, gap):
    work = tmp_path / "w"
    work.mkdir()
    proc = _start(["sweep", *LONG_SWEEP, "-o", "out"], work)
    first = work / "out" / f"lr1000.0_bs1_epochs200{SUFFIX}"
    _wait_for(proc, first.exists, "the first run was written")
    time.sleep(gap)  # the signal 0–50 ms after the first file: the point of the parameter
    if to_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=SAFETY)
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"interrupted by {signal.Signals(sig).name}: 1 of 3 runs finished and were kept" in err
    assert sorted(os.listdir(work / "out")) == [first.name, "summary.csv", "summary.png", "summary.svg"]
    assert [row["name"] for row in _rows(work / "out")] == ["lr1000.0_bs1_epochs200"]
    assert load_session(first).divergence is not None
    assert os.listdir(work) == ["out"]  # no temporary file or folder beside it
    deadline = time.monotonic() + SAFETY
    while not _group_gone(proc.pid):  # the workers (and the forkserver) end with the sweep
        assert time.monotonic() < deadline, "a worker outlived the sweep"
        time.sleep(0.01)
