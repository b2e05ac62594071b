"""The ``backprop-lab`` command line: one parser, --help and --version, typos, one-line usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lab import __version__, cli
from backprop_lab.cli import COMMANDS, main

REPO = Path(__file__).resolve().parents[2]


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_version(capsys):
    assert _run(capsys, ["--version"]) == (0, f"backprop-lab {__version__}\n", "")


def test_help_lists_every_command_with_its_description(capsys):
    status, out, err = _run(capsys, ["--help"])
    assert status == 0 and err == ""
    flat = " ".join(out.split())
    for name, description in COMMANDS.items():
        assert f"{name} {description}" in flat
    assert set(COMMANDS) == {"window", "check", "train", "sweep", "report", "export", "compare", "grade"}
    assert "--install-desktop-entry" in out and "--uninstall-desktop-entry" in out


@pytest.mark.parametrize("command", ["window", "check", "train", "sweep", "report", "compare"])
def test_every_help_shows_the_defaults(capsys, command):
    status, out, _ = _run(capsys, [command, "--help"])
    assert status == 0 and out.startswith(f"usage: backprop-lab {command} ")
    flat = " ".join(out.split())
    if command == "train":
        for option, value in [("--lr", "0.01"), ("--batch-size", "10"), ("--n-samples", "1000"),
                              ("--epochs", "1"), ("--seed", "0")]:  # fmt: skip
            after = flat[
                flat.index(f"{option} N" if option != "--lr" else "--lr F", flat.index("options:")) :
            ]
            assert after.split("default: the session's; for the report example ", 1)[1].startswith(value)
    else:
        assert "default:" in flat
    if command in ("check", "report"):
        assert "(default: off" in flat  # the switches say they are off unless given


@pytest.mark.parametrize(("typo", "command"), [("chek", "check"), ("trian", "train"), ("reprot", "report")])
def test_a_typo_of_a_command_suggests_it(capsys, tmp_path, monkeypatch, typo, command):
    monkeypatch.chdir(tmp_path)
    status, out, err = _run(capsys, [typo])
    assert (status, out) == (2, "")
    assert err == f"backprop-lab: {typo!r} is not a command or a file; did you mean {command!r}?\n"


def test_a_file_named_like_a_typo_opens_in_the_window(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chek").write_text("{}")
    opened = []
    monkeypatch.setattr(cli, "_run_window", lambda args: opened.append(args.session) or 0)
    assert main(["chek"]) == 0 and opened == ["chek"]
    assert main([]) == 0 and opened == ["chek", None]


def test_a_missing_file_is_one_line_and_not_the_window(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_run_window", lambda args: pytest.fail("opened the window"))
    status, out, err = _run(capsys, ["results-from-monday.json"])
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "results-from-monday.json does not exist" in err
    assert "backprop-lab --help" in err
    status, _, err = _run(capsys, [str(tmp_path)])
    assert status == 2 and "is a folder, not a session file" in err
    # A file name is a file name, however close it is to a command's.
    status, _, err = _run(capsys, ["report.json"])
    assert status == 2 and "report.json does not exist" in err and "did you mean" not in err


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        (["--bogus"], "backprop-lab"),
        (["check", "--bogus"], "backprop-lab check"),
        (["train", "--lr", "fast", "-o", "x.json"], "backprop-lab train"),
        (["train"], "backprop-lab train"),
        (["report"], "backprop-lab report"),
        (["window", "a.json", "b.json"], "backprop-lab window"),
        (["--install-desktop-entry", "--uninstall-desktop-entry"], "backprop-lab"),
        (["--install-desktop-entry", "check"], "backprop-lab"),
    ],
)
def test_usage_errors_are_one_line_with_a_pointer_to_help(capsys, argv, prog):
    status, out, err = _run(capsys, argv)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: ")
    assert err.endswith(f"(see {prog} --help)\n")


def test_the_tools_entry_point_never_opens_the_window(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_run_window", lambda args: pytest.fail("opened the window"))
    assert cli.main([], window=False) == 2
    assert "a command is required" in capsys.readouterr().err


def test_written_outputs_say_wrote(capsys, tmp_path):
    status, out, _ = _run(
        capsys, ["train", "--n-samples", "20", "--batch-size", "10", "-o", str(tmp_path / "o.json")]
    )
    assert status == 0 and f"Wrote {tmp_path / 'o.json'}" in out


# --------------------------------------------------------------------------- check fits 100 columns


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize("k", [3, 7, 12])
def test_check_output_fits_100_columns(capsys, tmp_path, monkeypatch, k):
    from backprop_lab.engine.session import Session, save_session

    monkeypatch.chdir(tmp_path)
    save_session(Session.random(k, seed=k), "s.json")
    status, out, _ = _run(capsys, ["check", "s.json", "--all"])
    assert status == 0 and _widest(out) <= 100
    assert sum(1 for line in out.splitlines() if line[:2] in {"A[", "B[", "C["}) == 3 * k * k
    status, out, _ = _run(capsys, ["check"])
    assert status == 0 and _widest(out) <= 100


def test_wrapped_matrices_keep_every_number(capsys):
    from backprop_lab.check import format_matrix

    m = [[-1.2345678901234567e-05 * (i + 1) * (j + 1) for j in range(9)] for i in range(9)]
    text = format_matrix(m)
    assert _widest(text) <= 100
    assert eval(text) == m  # still the nested list it was, at full precision


def test_the_table_fits_with_two_references_side_by_side_or_one_after_the_other():
    from backprop_lab.check import _table
    from backprop_lab.engine.gradcheck import compare_entry, make_report

    def report(eps, k, ref_scale):
        entries = [
            compare_entry(
                m, i, j, -1.2345678901234567e-05, -1.2345678901234567e-05 * ref_scale, 1e-6, 0.0, 0.0
            )
            for m in "ABC"
            for i in range(k)
            for j in range(k)
        ]
        return make_report("finite differences" if eps else "PyTorch", entries, 1e-6, 0.0, eps=eps)

    for k in (3, 12):
        lines = _table([report(1e-6, k, 1.0000001), report(None, k, 1.0)], show_all=True)
        assert max(len(line) for line in lines) <= 100
        rows = [line for line in lines if line.startswith("A[0][0]")]
        assert rows and all(
            repr(-1.2345678901234567e-05) in row for row in rows
        )  # analytic at full precision


def test_the_window_without_a_display_is_one_line_and_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["HOME"] = str(tmp_path)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    result = subprocess.run(
        [sys.executable, "-m", "backprop_lab"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("backprop-lab: no display: ") and "check, train, report" in result.stderr


def test_check_with_torch_fits_100_columns_with_both_references_side_by_side(capsys):
    pytest.importorskip("torch", reason="PyTorch is not installed (optional extra 'torch')")
    status, out, _ = _run(capsys, ["check", "--torch"])
    assert status == 0 and _widest(out) <= 100
    header = next(line for line in out.splitlines() if line.startswith("entry"))
    assert header.index("finite differences") < header.index("PyTorch")


def test_only_the_command_being_run_is_imported():
    # The window (and --help, --version) must not pay for the grader, the sweep or the comparison:
    # each command's module is imported when that command runs, not to build the parser.
    script = (
        "import sys\n"
        "from backprop_lab.cli import build_parser\n"
        "build_parser(sys.argv[1] if len(sys.argv) > 1 else None)\n"
        "names = ('check', 'train', 'sweep', 'report', 'export', 'compare', 'grade')\n"
        "print(' '.join(n for n in names if 'backprop_lab.' + n in sys.modules))\n"
    )
    run = [sys.executable, "-c", script]
    kw = {"capture_output": True, "text": True, "check": True, "cwd": REPO}
    assert subprocess.run(run, **kw).stdout.split() == []
    assert subprocess.run([*run, "window"], **kw).stdout.split() == []
    assert subprocess.run([*run, "grade"], **kw).stdout.split() == ["grade"]
