"""A report into an existing folder changes all its report files or none: whatever fails, and
wherever, the folder is left byte for byte as it was, with no temporary beside it."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

import backprop_lab.engine.atomic_folder as atomic_folder
import backprop_lab.gui.report as report
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.atomic import temporary_prefix
from backprop_lab.engine.session import Session, save_session
from backprop_lab.gui.report import FILE_NAMES, ReportError, export_report

pytestmark = pytest.mark.reliability("report-all-or-nothing")

NEW = {name: f"new {name}".encode() for name in FILE_NAMES}


def report_main(argv):
    """``backprop-lab report ARGV``."""
    return cli_main(["report", *argv])


@pytest.fixture
def fake_render(monkeypatch):
    """Rendering replaced by fixed bytes: these tests are about how the files reach the folder."""
    monkeypatch.setattr(report, "build_report", lambda *a, **k: (dict(NEW), 3))


def _snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` with its bytes (files), its target (links) or "<dir>"."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "<dir>"
            else:
                out[rel] = path.read_bytes()
    return out


def _previous_report(tmp_path: Path) -> Path:
    out = tmp_path / "report"
    out.mkdir()
    for name in FILE_NAMES[:4]:  # plot.svg is new this time
        (out / name).write_bytes(f"old {name}".encode())
    (out / "notes.txt").write_text("the user's own file")
    return out


def _export(out: Path) -> None:
    export_report(Session.random(2, 0), out, shot=QImage(8, 8, QImage.Format.Format_RGB32), torch=False)


def test_a_folder_in_the_way_is_refused_before_anything_changes(tmp_path, fake_render):
    out = _previous_report(tmp_path)
    (out / "plot.svg").mkdir()
    (out / "plot.svg" / "inside.txt").write_text("mine")
    before = _snapshot(tmp_path)
    with pytest.raises(ReportError, match=r"plot\.svg: a folder of that name is in the way"):
        _export(out)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("failing_call", [1, 2, 3, 4, 5])
def test_a_rename_failing_midway_puts_every_old_file_back(tmp_path, fake_render, monkeypatch, failing_call):
    out = _previous_report(tmp_path)
    inodes = {name: os.stat(out / name).st_ino for name in FILE_NAMES[:4]}
    before = _snapshot(tmp_path)
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == failing_call:
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="Input/output error"):
        _export(out)
    monkeypatch.setattr(os, "replace", real)
    assert _snapshot(tmp_path) == before
    # Not copies: the user's very files are back (a hard link kept each aside).
    assert {name: os.stat(out / name).st_ino for name in FILE_NAMES[:4]} == inodes


@pytest.mark.parametrize("failing_file", [0, 2, 4])
def test_a_write_error_while_rendering_changes_nothing(tmp_path, fake_render, monkeypatch, failing_file):
    out = _previous_report(tmp_path)
    before = _snapshot(tmp_path)
    real = atomic_folder._write_file
    written = []

    def flaky(path, data):
        if len(written) == failing_file:
            path.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path.name)
        real(path, data)

    monkeypatch.setattr(atomic_folder, "_write_file", flaky)
    with pytest.raises(OSError, match="No space left"):
        _export(out)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("stage", ["fsync", "rename"])
def test_injected_save_faults_change_nothing(tmp_path, fake_render, monkeypatch, save_fault, stage):
    out = _previous_report(tmp_path)
    before = _snapshot(tmp_path)
    save_fault(monkeypatch, stage, OSError(errno.EIO, "Input/output error"))
    with pytest.raises(OSError, match="Input/output error"):
        _export(out)
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before


def test_keeping_the_old_files_aside_failing_changes_nothing(tmp_path, fake_render, monkeypatch):
    out = _previous_report(tmp_path)
    before = _snapshot(tmp_path)
    real = atomic_folder._keep_aside

    def flaky(target, aside):
        if target.name == "plot.png":
            raise OSError(errno.EMLINK, "Too many links")
        real(target, aside)

    monkeypatch.setattr(atomic_folder, "_keep_aside", flaky)
    with pytest.raises(OSError, match="Too many links"):
        _export(out)
    assert _snapshot(tmp_path) == before


def test_success_replaces_the_report_files_and_keeps_the_users(tmp_path, fake_render):
    out = _previous_report(tmp_path)
    (out / "plot.svg").symlink_to(tmp_path / "elsewhere.svg")  # a link is replaced, not followed
    (tmp_path / "elsewhere.svg").write_text("not the report's")
    _export(out)
    assert {name: (out / name).read_bytes() for name in FILE_NAMES} == NEW
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert (tmp_path / "elsewhere.svg").read_text() == "not the report's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.svg", "report"]


def test_stale_report_temporaries_are_removed_by_the_next_export(tmp_path, fake_render):
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        names = {}
        for who, pid in (("dead", done.pid), ("live", live.pid)):
            name = temporary_prefix("report").replace(f".{os.getpid()}-", f".{pid}-") + "abcdefgh.partial"
            (tmp_path / name).mkdir()
            (tmp_path / name / "report.html").write_text("half a report")
            names[who] = name
        _export(tmp_path / "report")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names["live"], "report"])
    finally:
        live.stdin.close()
        live.wait(timeout=30)


def test_cli_report_with_a_folder_in_the_way_exits_2_and_changes_nothing(tmp_path, capsys):
    session = tmp_path / "s.json"
    save_session(Session.random(2, 0), session)
    (tmp_path / "out").mkdir()
    out = _previous_report(tmp_path / "out")
    (out / "plot.svg").mkdir()
    before = _snapshot(tmp_path / "out")
    assert report_main([str(session), "-o", str(out), "--no-torch"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "plot.svg: a folder of that name is in the way" in err
    assert _snapshot(tmp_path / "out") == before
