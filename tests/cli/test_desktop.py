"""``--install-desktop-entry`` / ``--uninstall-desktop-entry``: the XDG files, exactly, atomically."""

from __future__ import annotations

import configparser
import os
import sys

import pytest

from backprop_lab import desktop
from backprop_lab.cli import main
from backprop_lab.engine.resources import resource_path


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return data


def _entry(path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_the_shipped_entry_is_a_valid_application_entry():
    entry = _entry(resource_path("backprop-lab.desktop"))
    assert entry["Type"] == "Application" and entry["Name"] == "Backprop Lab"
    assert entry["Exec"] == "backprop-lab %f" and entry["Icon"] == "backprop-lab"
    assert entry["Categories"] == "Education;Science;"


def test_the_icon_is_an_svg_that_qt_can_draw():
    svg = resource_path("backprop-lab.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and 'viewBox="0 0 48 48"' in svg


def test_install_writes_both_files_and_says_so(xdg, capsys, monkeypatch):
    script = xdg.parent / "bin dir" / "backprop-lab"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert main(["--install-desktop-entry"]) == 0
    entry_path = xdg / "applications" / "backprop-lab.desktop"
    icon_path = xdg / "icons" / "hicolor" / "scalable" / "apps" / "backprop-lab.svg"
    assert capsys.readouterr().out == f"Wrote {icon_path}\nWrote {entry_path}\n"
    assert icon_path.read_bytes() == resource_path("backprop-lab.svg").read_bytes()
    entry = _entry(entry_path)
    # A path with a space is quoted; the backslash that escapes nothing here is not needed.
    assert entry["Exec"] == f'"{script}" %f'
    assert entry["TryExec"] == str(script) and entry["Icon"] == "backprop-lab"
    assert sorted(p.name for p in entry_path.parent.iterdir()) == [
        "backprop-lab.desktop"
    ]  # no temporary file
    assert main(["--install-desktop-entry"]) == 0  # again: replaced, not duplicated
    assert sorted(os.listdir(icon_path.parent)) == ["backprop-lab.svg"]


def test_without_a_script_the_entry_runs_the_interpreter(xdg, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/somewhere/backprop_lab/__main__.py"])
    monkeypatch.setattr(desktop.shutil, "which", lambda *a, **k: None)
    desktop.install()
    exec_line = _entry(xdg / "applications" / "backprop-lab.desktop")["Exec"]
    assert exec_line.endswith(" -m backprop_lab %f") and os.path.basename(sys.executable) in exec_line


def test_uninstall_removes_exactly_those_files(xdg, capsys):
    desktop.install()
    other = xdg / "applications" / "someone-else.desktop"
    other.write_text("[Desktop Entry]\n")
    capsys.readouterr()
    assert main(["--uninstall-desktop-entry"]) == 0
    out = capsys.readouterr().out
    assert out.count("Removed ") == 2
    assert sorted(os.listdir(xdg / "applications")) == ["someone-else.desktop"]
    assert os.listdir(xdg / "icons" / "hicolor" / "scalable" / "apps") == []
    assert main(["--uninstall-desktop-entry"]) == 0
    assert capsys.readouterr().out.count("does not exist") == 2


def test_a_relative_xdg_data_home_is_ignored(monkeypatch, tmp_path):
    assert desktop.data_home({"XDG_DATA_HOME": "rel", "HOME": str(tmp_path)}) == tmp_path / ".local" / "share"
    assert desktop.data_home({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path


@pytest.mark.parametrize(
    ("arg", "written"),
    [("/usr/bin/backprop-lab", "/usr/bin/backprop-lab"), ("/a b/x", '"/a b/x"'),
     ('/a"$/x', '"/a\\\\"\\\\$/x"'), ("/p%/x", "/p%%/x")],
)  # fmt: skip
def test_exec_arguments_are_quoted_as_the_spec_says(arg, written):
    assert desktop.exec_quote(arg) == written


def test_an_unwritable_data_folder_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert main(["--install-desktop-entry"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("backprop-lab: error: ")


def test_the_icon_draws_at_48_pixels(qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QIcon, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(resource_path("backprop-lab.svg")))
    assert renderer.isValid()
    image = QImage(48, 48, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    colours = {image.pixel(x, y) for x in range(0, 48, 3) for y in range(0, 48, 3)}
    assert len(colours) > 8  # a drawing, not a blank or a single colour
    assert not QIcon(str(resource_path("backprop-lab.svg"))).isNull()
