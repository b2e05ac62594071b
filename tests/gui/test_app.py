"""The application starts for real, once, in a subprocess (and exits by itself after the first show)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lab.window import EXIT_AFTER_SHOW, run_app

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        EXIT_AFTER_SHOW: "1",
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # keep QSettings out of the user's home
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "backprop_lab.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_application_starts_shows_its_window_and_exits(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    result = start(str(bad), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "shown after" in result.stdout
    # A file that cannot be opened: one clear line, then the report example instead.
    lines = [line for line in result.stderr.splitlines() if line.startswith("backprop-lab:")]
    assert len(lines) == 1 and "broken.json" in lines[0] and "report example" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["a", "b"], ["--frobnicate"]])
def test_bad_arguments_exit_2_with_usage(argv, capsys):
    assert run_app(argv) == 2
    err = capsys.readouterr().err
    assert "usage: backprop-lab" in err
