"""``--activation``, ``--convention`` and ``--target`` on ``check``, ``train`` and ``report``.

One definition of the three options (backprop_lab.cli), the same refusals from every command (one
line, status 2, nothing written), and each command doing its work in the member asked for.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import backprop_lab.train as cli_train
from backprop_lab import report as cli_report
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.model import Model, forward, loss_and_grads
from backprop_lab.engine.session import Session, load_session, save_session
from backprop_lab.engine.training import Trainer, TrainingSettings
from backprop_lab.engine.variant import ACTIVATIONS, Variant
from backprop_lab.variant_options import apply_variant_options, glue_option_values, parse_target

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ["check", "train", "report"]
FAST = ["--n-samples", "60", "--batch-size", "6"]


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = cli_main(argv, window=False)
    out, err = capsys.readouterr()
    return status, out, err


def _argv(command: str, tmp_path: Path, *options: str) -> list[str]:
    """``command`` on the report example with ``options``; train and report write into tmp_path."""
    if command == "train":
        return ["train", *options, *FAST, "-o", str(tmp_path / "out.json")]
    if command == "report":
        return ["report", *options, "--no-torch", "-o", str(tmp_path / "report")]
    return ["check", *options]


def _trained_session(path: Path) -> Session:
    s = Session.report_example()
    s.history.extend(s.make_trainer(TrainingSettings(n_samples=30, batch_size=10)).steps())
    save_session(s, path)
    return s


# --------------------------------------------------------------------------- one set of options


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_lists_the_choices_in_its_help(capsys, command):
    status, out, _ = _run(capsys, [command, "--help"])
    assert status == 0
    assert "--activation {sigmoid,tanh,relu,softplus,identity}" in out
    assert "--convention {row,column}" in out
    assert "--target T1,T2,…" in out


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--activation", "gelu"],
            "argument --activation: invalid choice: 'gelu' "
            "(choose from 'sigmoid', 'tanh', 'relu', 'softplus', 'identity')",
        ),
        (
            ["--convention", "col"],
            "argument --convention: invalid choice: 'col' (choose from 'row', 'column')",
        ),
        (["--target", "1,2"], "--target: t has 2 numbers; expected K = 3"),
        (["--target", "1,2,3,4"], "--target: t has 4 numbers; expected K = 3"),
        (["--target", "1,x,2"], "--target: t[1]: not a number: 'x'"),
        (["--target", "1,2,"], "--target: t has 2 numbers; expected K = 3"),
        (["--target", "1,nan,2"], "--target: t[1]: not a finite number: 'nan' is NaN"),
        (["--target", "-inf,0,0"], "--target: t[0]: not a finite number: '-inf' is infinite"),
    ],
)
def test_a_bad_option_is_one_line_status_2_and_nothing_written(capsys, tmp_path, command, options, message):
    status, out, err = _run(capsys, _argv(command, tmp_path, *options))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    assert err.startswith(f"backprop-lab {command}: error: ")
    assert list(tmp_path.iterdir()) == []


def test_the_target_is_k_numbers_separated_by_commas():
    assert parse_target("1, -2.5,3e2", 3) == (1.0, -2.5, 300.0)
    assert parse_target(" none ", 3) is None and parse_target("None", 1) is None
    assert parse_target("0", 1) == (0.0,)
    with pytest.raises(ValueError, match=r"^--target: t has 1 number; expected K = 2$"):
        parse_target("7", 2)


def test_a_target_that_starts_with_a_minus_sign_needs_no_equals_sign():
    # argparse would take "-1,2" for an unknown option and say "--target: expected one argument".
    assert glue_option_values(["--target", "-1,2", "-o", "x"]) == ["--target=-1,2", "-o", "x"]
    assert glue_option_values(["--target", "-.5,2"]) == ["--target=-.5,2"]
    assert glue_option_values(["--target", "-inf,2"]) == ["--target=-inf,2"]
    assert glue_option_values(["--target", "--torch"]) == ["--target", "--torch"]  # an option stays one
    assert glue_option_values(["--lr", "-1"]) == ["--lr", "-1"]


@pytest.mark.parametrize(
    "spelling", [["--target", "-1,2,-0.5"], ["--target=-1,2,-0.5"], ["--target", "-1, 2, -0.5"]]
)
def test_every_spelling_of_a_negative_target_reaches_the_model(capsys, spelling):
    status, out, err = _run(capsys, ["check", *spelling])
    assert status == 0, err
    assert "t =\n[-1.0, 2.0, -0.5]" in out


def test_each_option_replaces_only_its_own_part_of_the_sessions_variant():
    model = Model([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0]] * 2, [[1.0, 0.0], [0.0, 1.0]])
    model = model.with_variant(Variant("tanh", "column", (1.0, 2.0)))

    def options(**given: str) -> argparse.Namespace:
        return argparse.Namespace(**{"activation": None, "convention": None, "target": None, **given})

    assert apply_variant_options(options(), model) is model
    assert apply_variant_options(options(activation="tanh"), model) is model  # no change: the same model
    assert apply_variant_options(options(activation="relu"), model).variant == Variant(
        "relu", "column", (1.0, 2.0)
    )
    assert apply_variant_options(options(convention="row"), model).variant == Variant(
        "tanh", "row", (1.0, 2.0)
    )
    assert apply_variant_options(options(target="none"), model).variant == Variant("tanh", "column", None)
    assert apply_variant_options(options(target="3,4"), model).variant.target == (3.0, 4.0)
    assert apply_variant_options(options(target="none"), model).A == model.A  # the numbers stay


# --------------------------------------------------------------------------- check


def test_check_names_the_variant_and_checks_in_it(capsys, report_example):
    status, out, err = _run(
        capsys, ["check", "--activation", "tanh", "--convention", "column", "--target", "1,0,-1"]
    )
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[1] == "Variant: tanh, column vectors, target t"
    assert lines[2] == "  L = ‖C(σ(Ax) + Bx) − t‖², σ(a) = tanh(a), σ′(a) = 1 − tanh(a)²"
    assert lines[3].startswith("  column vectors: a = Ax, u = Bx, w = Cz; A[i][j] is the weight from input j")
    m = report_example["model"]
    loss, grads = loss_and_grads(
        m["x"], m["A"], m["B"], m["C"], activation="tanh", convention="column", target=[1.0, 0.0, -1.0]
    )
    assert f"Loss = {loss!r}" in out and "t =\n[1.0, 0.0, -1.0]" in out
    for row in grads["A"]:
        assert ", ".join(repr(e) for e in row) in out
    assert "Finite differences (central, relative step eps = 6.06e-06): all 27 entries agree" in out
    # The report's printed numbers are the sigmoid's: said, not compared.
    assert "The numbers the report printed" not in out
    assert (
        "The numbers the report example gives are for sigmoid, row vectors, no target: not compared." in out
    )
    assert out.rstrip().endswith("check passed")
    assert max(len(line) for line in lines[1:]) <= 100


def test_check_of_the_reports_own_member_still_compares_the_printed_numbers(capsys):
    for options in ([], ["--activation", "sigmoid", "--convention", "row", "--target", "none"]):
        status, out, _ = _run(capsys, ["check", *options])
        assert status == 0
        assert out.splitlines()[1] == "Variant: sigmoid, row vectors, no target"
        assert "The numbers the report printed: all 27 entries agree" in out
        assert "not compared" not in out


def test_check_with_torch_compares_the_variant_with_autograd(capsys):
    pytest.importorskip("torch", reason="PyTorch is not installed (optional extra 'torch')")
    status, out, _ = _run(capsys, ["check", "--torch", "--activation", "softplus", "--target", "-1,0.5,2"])
    assert status == 0
    assert "PyTorch float64 autograd: all 27 entries agree" in out
    assert "Variant: softplus, row vectors, target t" in out


def test_check_fails_a_wrong_derivative_of_the_chosen_activation(capsys, monkeypatch):
    wrong = dataclasses.replace(ACTIVATIONS["tanh"], derivative=lambda a: 1.0 - math.tanh(a))
    monkeypatch.setitem(ACTIVATIONS, "tanh", wrong)
    status, out, _ = _run(capsys, ["check", "--activation", "tanh"])
    assert status == 1
    failed = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert len(failed) == 9 and all(line.startswith("A[") for line in failed)
    # The same fault is invisible to the report's own member, which does not use tanh.
    status, _, _ = _run(capsys, ["check"])
    assert status == 0


# --------------------------------------------------------------------------- train


def _captured_saves(monkeypatch) -> list[Session]:
    saved: list[Session] = []
    real = cli_train.save_session

    def save(session, path):
        saved.append(session.copy())
        return real(session, path)

    monkeypatch.setattr(cli_train, "save_session", save)
    return saved


def test_train_trains_the_variant_and_saves_it(capsys, monkeypatch, tmp_path):
    saved = _captured_saves(monkeypatch)
    out = tmp_path / "out.json"
    status, stdout, _ = _run(
        capsys, ["train", "--activation", "relu", "--target", "0.5,-0.5,1", *FAST, "-o", str(out)]
    )
    assert status == 0
    (session,) = saved
    variant = Variant("relu", "row", (0.5, -0.5, 1.0))
    assert session.model.variant == variant and session.initial.variant == variant
    assert len(session.history) == 10
    # The same run, done by hand in that variant, gives the same weights bit for bit.
    start = Session.report_example().model.with_variant(variant)
    trainer = Trainer(start, TrainingSettings(n_samples=60, batch_size=6))
    for _ in trainer.steps():
        pass
    assert [session.model.A, session.model.B, session.model.C] == list(trainer.weights())
    loss_after = forward(session.model.x, session.model.A, session.model.B, session.model.C, variant)["loss"]
    assert f", {loss_after!r} after" in stdout  # the loss at x, in the variant
    assert (
        "Variant: relu, row vectors, target t (the session's was sigmoid, row vectors, no target; a new"
        in stdout
    )


def test_changing_the_variant_starts_a_new_history_in_another_file(capsys, tmp_path):
    source = tmp_path / "s.json"
    before = _trained_session(source)
    assert len(before.history) == 3
    out = tmp_path / "t.json"
    status, stdout, _ = _run(capsys, ["train", str(source), "--convention", "column", *FAST, "-o", str(out)])
    assert status == 0
    trained = load_session(out)
    assert len(trained.history) == 10 and trained.history[0].step == 1  # numbered from 1 again
    assert trained.initial.A == before.model.A  # from the session's current weights
    assert load_session(source).history == before.history  # the source is untouched
    assert "a new history started" in stdout


def test_changing_the_variant_in_place_is_refused_rather_than_drop_the_history(capsys, tmp_path):
    source = tmp_path / "s.json"
    _trained_session(source)
    data = source.read_bytes()
    status, out, err = _run(capsys, ["train", str(source), "--activation", "tanh", "-o", str(source)])
    assert status == 2 and out == ""
    assert err == (
        f"backprop-lab train: error: {source} holds 3 steps trained as sigmoid, row vectors, no target; "
        "another variant starts a new history, which would replace them: write it to another file with -o\n"
    )
    assert source.read_bytes() == data


def test_the_sessions_own_variant_given_again_continues_the_history(capsys, tmp_path):
    source = tmp_path / "s.json"
    _trained_session(source)
    status, stdout, _ = _run(
        capsys, ["train", str(source), "--activation", "sigmoid", *FAST, "-o", str(source)]
    )
    assert status == 0
    assert len(load_session(source).history) == 13
    assert "Variant: sigmoid, row vectors, no target\n" in stdout


def test_the_written_session_carries_the_variant(capsys, tmp_path):
    out = tmp_path / "out.json"
    status, _, _ = _run(
        capsys, ["train", "--activation", "tanh", "--convention", "column", *FAST, "-o", str(out)]
    )
    assert status == 0
    assert load_session(out).model.variant == Variant("tanh", "column")
    assert json.loads(out.read_text(encoding="utf-8"))["variant"]["activation"] == "tanh"


# --------------------------------------------------------------------------- report


def _report_args(session: Path | None, **given: str) -> argparse.Namespace:
    options = {"activation": None, "convention": None, "target": None, **given}
    return argparse.Namespace(session=None if session is None else str(session), **options)


def test_report_takes_a_session_as_another_member_with_a_new_history(tmp_path):
    source = tmp_path / "s.json"
    before = _trained_session(source)
    session = cli_report._load(_report_args(source, activation="identity", target="1,2,3"))
    assert session.model.variant == Variant("identity", "row", (1.0, 2.0, 3.0))
    assert len(session.history) == 0 and session.initial == session.model
    assert session.model.A == before.model.A
    unchanged = cli_report._load(_report_args(source))
    assert unchanged.history == before.history and unchanged.model.variant == Variant()


def test_report_trains_the_report_example_as_the_member_asked_for():
    tanh = cli_report._load(_report_args(None, activation="tanh"))
    sigmoid = cli_report._load(_report_args(None))
    assert tanh.model.variant == Variant("tanh") and len(tanh.history) == 100
    assert tanh.initial == Session.report_example().model.with_variant(Variant("tanh"))
    assert tanh.model.A != sigmoid.model.A


def test_report_with_a_variant_runs_headless_in_a_fresh_process(tmp_path):
    source = tmp_path / "s.json"
    save_session(Session.random(2, seed=4), source)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env |= {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "backprop_lab",
            "report",
            str(source),
            "--activation",
            "softplus",
            "--convention",
            "column",
            "--no-torch",
            "-o",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").is_file() and (out / "report.pdf").is_file()
