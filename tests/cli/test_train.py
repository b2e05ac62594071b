"""``backprop-lab train``: settings, continuation, divergence, exit codes and nothing written on bad input."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lab import train as cli_train
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.model import forward
from backprop_lab.engine.session import History, Session, load_session, save_session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.train import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK

REPO = Path(__file__).resolve().parents[2]
FAST = ["--n-samples", "60", "--batch-size", "6"]


def main(argv):
    """``backprop-lab train ARGV``."""
    return cli_main(["train", *argv])


def _loss(m) -> float:
    return forward(m.x, m.A, m.B, m.C)["loss"]


def test_default_trains_the_report_example_with_the_reports_settings(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(["-o", str(out)]) == EXIT_OK
    s = load_session(out)
    report = Session.report_example()
    assert s.training == TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=1000, epochs=1, seed=0)
    assert len(s.history) == 100 and s.history.last_epoch == 1
    assert s.initial == report.model and s.model != report.model
    assert s.divergence is None
    before, after = _loss(report.model), _loss(s.model)
    assert after < before / 2  # the report: "the loss has gone down drastically"
    # The trainer's kernel and the plain formulas add in the same order; bit-equal on 3.11, and
    # within a rounding on 3.12+, whose sum() compensates.
    assert s.history[-1].loss_at_x == pytest.approx(after, rel=1e-12, abs=0)
    stdout, stderr = capsys.readouterr()
    assert stderr == ""  # not a terminal: no progress bar
    assert "Trained the report example: 100 steps (1–100)" in stdout
    assert f"Loss at x: {before!r} before, {after!r} after" in stdout
    assert f"Wrote {out} (history: 100 steps)" in stdout


def test_options_override_and_are_stored(tmp_path):
    out = tmp_path / "o.json"
    code = main(
        [
            "--lr",
            "0.02",
            "--batch-size",
            "50",
            "--n-samples",
            "200",
            "--epochs",
            "3",
            "--seed",
            "7",
            "-o",
            str(out),
        ]
    )
    assert code == EXIT_OK
    s = load_session(out)
    assert s.training == TrainingSettings(learning_rate=0.02, batch_size=50, n_samples=200, epochs=3, seed=7)
    assert len(s.history) == 12 and list(s.history.column("epoch")) == [1] * 4 + [2] * 4 + [3] * 4


def test_a_session_file_is_trained_with_its_own_settings(tmp_path):
    s = Session.random(4, 11)
    s.training = TrainingSettings(learning_rate=0.005, batch_size=4, n_samples=20, epochs=2, seed=5)
    save_session(s, tmp_path / "in.json")
    assert main([str(tmp_path / "in.json"), "--epochs", "1", "-o", str(tmp_path / "out.json")]) == EXIT_OK
    out = load_session(tmp_path / "out.json")
    assert out.training == TrainingSettings(learning_rate=0.005, batch_size=4, n_samples=20, epochs=1, seed=5)
    assert len(out.history) == 5 and out.initial == s.model
    assert load_session(tmp_path / "in.json") == s  # the input is untouched


def test_training_in_place_continues_the_history_and_equals_one_long_run(tmp_path, capsys):
    path = tmp_path / "s.json"
    assert main([*FAST, "-o", str(path)]) == EXIT_OK
    first = load_session(path)
    assert main([str(path), "--epochs", "2", "-o", str(path)]) == EXIT_OK
    s = load_session(path)
    assert len(s.history) == 30 and list(s.history.column("epoch")) == [1] * 10 + [2] * 10 + [3] * 10
    assert s.initial == first.initial  # the start of the history stays
    assert s.created == first.created
    assert main([*FAST, "--epochs", "3", "-o", str(tmp_path / "whole.json")]) == EXIT_OK
    whole = load_session(tmp_path / "whole.json")
    assert s.history == whole.history and s.model == whole.model
    assert "20 steps (11–30)" in capsys.readouterr().out


def test_a_diverged_run_writes_the_last_finite_weights_and_exits_1(tmp_path, capsys):
    out = tmp_path / "d.json"
    assert main(["--lr", "1000", "-o", str(out)]) == EXIT_DIVERGED
    s = load_session(out)
    assert s.divergence is not None and s.divergence.step == len(s.history) + 1
    assert all(math.isfinite(v) for m in (s.model.A, s.model.B, s.model.C) for row in m for v in row)
    stdout = capsys.readouterr().out
    assert f"diverged at step {s.divergence.step}" in stdout and s.divergence.reason in stdout
    # Weights that large overflow at any rate: a continued run diverges at once, after the history.
    assert main([str(out), "--lr", "1e-9", *FAST, "-o", str(out)]) == EXIT_DIVERGED
    again = load_session(out)
    assert len(again.history) == len(s.history) and again.model == s.model
    assert (again.divergence.step, again.divergence.epoch) == (len(s.history) + 1, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "0"], "invalid training settings: learning_rate must be > 0"),
        (["--lr", "nan"], "invalid training settings: learning_rate must be finite"),
        (["--batch-size", "0"], "batch_size must be ≥ 1"),
        (["--batch-size", "2000"], "batch_size must be ≤ n_samples"),
        (["--epochs", "0"], "epochs must be ≥ 1"),
        (["--seed", "-3"], "seed must be ≥ 0"),
        (["--n-samples", "100000000"], "n_samples must be ≤"),
        (["missing.json"], "missing.json: the file does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main([*args, "-o", "out.json"]) == EXIT_BAD_INPUT
    stdout, stderr = capsys.readouterr()
    assert stderr.startswith("backprop-lab train: error: ") and message in stderr
    assert stderr.count("\n") == 1 and stdout == ""
    assert sorted(os.listdir(tmp_path)) == []


def test_a_bad_session_file_is_refused_and_nothing_is_written(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    data = json.loads(Path(REPO / "resources/examples/report-example.json").read_text())
    data["model"]["A"][1][2] = float("nan")
    bad.write_text(json.dumps(data))
    before = bad.read_bytes()
    assert main([str(bad), "-o", str(tmp_path / "out.json")]) == EXIT_BAD_INPUT
    assert f"{bad}: model.A[1][2] is not finite: nan" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists() and bad.read_bytes() == before


@pytest.mark.parametrize("where", ["missing-folder", "is-a-folder", "parent-is-a-file"])
def test_an_unwritable_output_is_refused_before_training(tmp_path, capsys, monkeypatch, where):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    out = {"missing-folder": "no/such/out.json", "is-a-folder": "folder", "parent-is-a-file": "file/out.json"}
    monkeypatch.setattr(cli_train.Session, "make_trainer", lambda *a: pytest.fail("trained anyway"))
    assert main(["-o", str(tmp_path / out[where])]) == EXIT_BAD_INPUT
    assert f"cannot write {tmp_path / out[where]}" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["file", "folder"] and os.listdir(tmp_path / "folder") == []


def test_a_failed_write_keeps_the_previous_output(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.json"
    out.write_bytes(b"previous")

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    assert main([*FAST, "-o", str(out)]) == EXIT_BAD_INPUT
    monkeypatch.undo()
    assert f"cannot write {out}: No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == b"previous" and sorted(os.listdir(tmp_path)) == ["out.json"]


def test_a_run_that_would_overflow_the_history_limit_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_train, "MAX_HISTORY_STEPS", 50)
    assert main(["-o", str(tmp_path / "o.json")]) == EXIT_BAD_INPUT
    assert "would add 100; a session file holds at most 50" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main(["--lr", "fast", "-o", "x.json"]) == EXIT_BAD_INPUT
    assert "argument --lr: invalid float value: 'fast'" in capsys.readouterr().err
    assert main([]) == EXIT_BAD_INPUT
    assert "the following arguments are required: -o/--output" in capsys.readouterr().err


def test_ctrl_c_saves_the_steps_taken_and_exits_130(tmp_path, capsys, monkeypatch):
    real_append = History.append

    def append(self, record):
        real_append(self, record)
        if record.step == 7:
            raise KeyboardInterrupt

    monkeypatch.setattr(History, "append", append)
    assert main([*FAST, "-o", str(tmp_path / "i.json")]) == EXIT_INTERRUPTED
    monkeypatch.undo()
    s = load_session(tmp_path / "i.json")
    assert len(s.history) == 7
    out = capsys.readouterr().out
    assert "7 of 10 steps (1–7)" in out and "Interrupted after 7 steps" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_with_rate_and_eta_on_a_terminal(tmp_path, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([*FAST, "-o", str(tmp_path / "p.json")]) == EXIT_OK
    bar = terminal.getvalue()
    assert "10/10" in bar and "step/s" in bar and "<00:00" in bar  # count, rate and ETA


def test_add_arguments_gives_engine_cli_the_documented_namespace():
    parser = argparse.ArgumentParser()
    cli_train.add_arguments(parser)
    args = parser.parse_args(["s.json", "--lr", "0.5", "--batch-size", "3", "--seed", "4", "-o", "o.json"])
    assert (args.session, args.learning_rate, args.batch_size, args.seed, args.output) == (
        "s.json", 0.5, 3, 4, "o.json",
    )  # fmt: skip
    assert args.n_samples is None and args.epochs is None


def test_engine_cli_dispatches_train(tmp_path, capsys):
    assert cli_main(["train", *FAST, "-o", str(tmp_path / "e.json")]) == EXIT_OK
    assert len(load_session(tmp_path / "e.json").history) == 10


@pytest.mark.timeout(120)
def test_the_installed_command_trains_in_a_subprocess_without_qt(tmp_path):
    code = (
        "import sys; from backprop_lab.cli import main; rc = main(sys.argv[1:]); "
        "qt = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'pyqtgraph'))]; "
        "assert not qt, qt; "
        "sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "train", "-o", "out.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "Trained the report example: 100 steps" in result.stdout
    assert len(load_session(tmp_path / "out.json").history) == 100
    launcher = subprocess.run(
        [sys.executable, "-m", "backprop_lab.cli", "train", "--lr", "0", "-o", "bad.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert launcher.returncode == 2 and "learning_rate must be > 0" in launcher.stderr
    assert not (tmp_path / "bad.json").exists()
