"""Report export (gui.report, backprop_lab.report): the files, their sizes, pagination, atomicity, the CLI."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PySide6.QtGui import QImage, QTextBlock, QTextFrame
from PySide6.QtWidgets import QLabel

import backprop_lab.engine.atomic_folder as atomic_folder
import backprop_lab.gui.report as report
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.session import Session, save_session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui.report import FILE_NAMES, WINDOW_MIN_SIZE, ReportError, export_report, grab_window
from backprop_lab.gui.report_charts import PLOT_SIZE, render_plot_image
from backprop_lab.gui.report_pdf import count_pdf_pages, layout_report
from backprop_lab.report import export_session_report

REPO = Path(__file__).resolve().parents[2]


def report_main(argv):
    """``backprop-lab report ARGV``."""
    return cli_main(["report", *argv])


def _trained(session: Session) -> Session:
    trainer = session.make_trainer()
    session.history.extend(trainer.steps())
    session.finish_run(trainer)
    return session


@pytest.fixture(scope="module")
def trained_example() -> Session:
    return _trained(Session.report_example())


@pytest.fixture
def small_window(qtbot) -> QLabel:
    """Any widget will do as the window; a small one shows the grab's minimum size at work."""
    w = QLabel("the main window")
    w.resize(640, 480)
    qtbot.addWidget(w)
    return w


def _shot(widget) -> QImage:
    return grab_window(widget).toImage()


def _png_size(path: Path) -> tuple[int, int]:
    img = QImage(str(path))
    assert not img.isNull(), f"{path.name} does not decode as an image"
    return img.width(), img.height()


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.endswith(".partial")]


# --------------------------------------------------------------------------- the files


def test_export_writes_every_file(trained_example, small_window, tmp_path):
    out = tmp_path / "report"
    files = export_report(trained_example, out, shot=_shot(small_window))
    assert files.folder == out
    assert sorted(p.name for p in out.iterdir()) == sorted(FILE_NAMES)
    assert [p.name for p in files.all()] == list(FILE_NAMES)

    pdf = files.pdf.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert count_pdf_pages(pdf) == files.pdf_pages >= 1

    w, h = _png_size(files.window_png)
    assert w >= max(1200, WINDOW_MIN_SIZE.width()) and h >= max(800, WINDOW_MIN_SIZE.height())
    assert small_window.size().width() == 640  # the grab restores the window's size
    assert _png_size(files.plot_png) == (2 * PLOT_SIZE.width(), 2 * PLOT_SIZE.height())
    assert PLOT_SIZE.width() >= 1200 and PLOT_SIZE.height() >= 600

    svg = ElementTree.fromstring(files.plot_svg.read_bytes())
    assert svg.tag.endswith("svg")
    assert svg.get("viewBox", "").split()[2:] == ["1200", "600"]

    html = files.html.read_text(encoding="utf-8")
    data = gather_report_data(trained_example, torch=False)
    assert repr(data.initial_loss) in html and "44.0612131403435" in html
    assert repr(data.initial_grads["A"][0][0]) in html and "2.164841106297983" in html
    assert "learning rate λ" in html and "<td>0.01</td>" in html
    assert html.count("data:image/png;base64,") == 1  # the curves, embedded
    assert "http://" not in html and "https://" not in html


def test_report_folder_is_world_readable_like_any_new_folder(trained_example, small_window, tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    out = tmp_path / "report"
    export_report(trained_example, out, shot=_shot(small_window))
    assert (out.stat().st_mode & 0o777) == (0o777 & ~umask)


def test_hostile_name_and_notes_cannot_script_the_report(small_window, tmp_path):
    s = Session.report_example()
    s.name = "<script>alert(1)</script>"
    s.notes = "<script>alert(1)</script> <b>bold?</b>"
    files = export_report(s, tmp_path / "r", shot=_shot(small_window), torch=False)
    html = files.html.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert files.pdf.read_bytes().startswith(b"%PDF")


def test_untrained_session_exports_with_an_empty_plot(small_window, tmp_path):
    files = export_report(Session.report_example(), tmp_path / "r", shot=_shot(small_window), torch=False)
    assert "No training run is recorded" in files.html.read_text(encoding="utf-8")
    assert _png_size(files.plot_png) == (2 * PLOT_SIZE.width(), 2 * PLOT_SIZE.height())


def test_plot_survives_long_and_awkward_histories():
    n = 200_000
    curves = {
        "loss": [10.0 * math.exp(-i / 5e4) + (i % 7) * 1e-3 for i in range(n)],
        "loss_at_x": [10.0 * math.exp(-i / 5e4) for i in range(n)],
        "grad_norm_A": [0.0] * n,  # not positive: linear axis
        "grad_norm_B": [float("nan")] + [1.0] * (n - 1),  # a non-finite point is skipped
        "grad_norm_C": [1.0] * n,  # constant
    }
    extreme = {"loss": [1.7e308, 0.0, -1.7e308], "grad_norm_A": [5e-324, 1e308, float("inf")]}
    assert render_plot_image(extreme).width() == 2400
    img = render_plot_image(curves)
    assert (img.width(), img.height()) == (2400, 1200)
    # Something was drawn in both panels: more than the white background and the frame.
    colours = {img.pixel(x, y) for x in range(0, 2400, 7) for y in range(0, 1200, 7)}
    assert len(colours) > 20


# --------------------------------------------------------------------------- pagination


def _diverged(k: int) -> Session:
    """Weights of ~1e39 after a run that blew up: the widest numbers a report prints."""
    s = Session.random(k, seed=4)
    trainer = s.make_trainer(TrainingSettings(learning_rate=0.5, batch_size=10, n_samples=500, seed=1))
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    assert s.divergence is not None
    return s


@pytest.mark.parametrize("case", ["example", "K=6", "K=40", "diverged K=10"])
def test_pdf_pages_never_cut_a_table_or_strand_a_heading(case):
    if case == "example":
        s = _trained(Session.report_example())
    elif case.startswith("diverged"):
        s = _diverged(10)
    else:
        k = int(case[2:])
        s = _trained(Session.random(k, seed=k))
    doc = layout_report(gather_report_data(s, torch=False), render_plot_image({}))
    page_h = doc.pageSize().height()
    layout = doc.documentLayout()
    items = []
    it = doc.rootFrame().begin()
    while not it.atEnd():
        frame = it.currentFrame()
        if frame is not None:
            items.append((frame, layout.frameBoundingRect(frame)))
        elif it.currentBlock().isValid():
            items.append((it.currentBlock(), layout.blockBoundingRect(it.currentBlock())))
        it += 1
    tables = [r for f, r in items if isinstance(f, QTextFrame)]
    assert len(tables) >= 10
    for rect in tables:
        assert math.floor(rect.top() / page_h) == math.floor((rect.bottom() - 1) / page_h), "a table is cut"
        assert rect.right() <= doc.pageSize().width() + 0.5, "a table runs off the page"
    for (item, rect), (_, nxt) in itertools.pairwise(items):
        if isinstance(item, QTextBlock) and item.blockFormat().headingLevel() > 0:
            assert math.floor(rect.top() / page_h) == math.floor(nxt.top() / page_h), item.text()
    assert doc.pageCount() <= 6


# --------------------------------------------------------------------------- atomicity


def test_failure_while_writing_leaves_no_new_folder(trained_example, small_window, tmp_path, monkeypatch):
    written = []
    real = atomic_folder._write_file

    def flaky(path, data):
        if len(written) == 2:
            path.write_bytes(data[: len(data) // 2])  # a half-written file, then the failure
            raise OSError(28, "No space left on device")
        written.append(path.name)
        real(path, data)

    monkeypatch.setattr(atomic_folder, "_write_file", flaky)
    with pytest.raises(OSError, match="No space left"):
        export_report(trained_example, tmp_path / "report", shot=_shot(small_window), torch=False)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_an_existing_folder_exactly_as_it_was(
    trained_example, small_window, tmp_path, monkeypatch
):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("the previous report")
    (out / "notes.txt").write_text("the user's own file")

    def broken_pdf(*args, **kwargs):
        raise ReportError("the PDF writer failed")

    monkeypatch.setattr(report, "render_report_pdf", broken_pdf)
    with pytest.raises(ReportError, match="PDF writer failed"):
        export_report(trained_example, out, shot=_shot(small_window), torch=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html"]
    assert (out / "report.html").read_text() == "the previous report"
    assert _leftovers(tmp_path) == []


def test_export_into_an_existing_folder_replaces_only_report_files(trained_example, small_window, tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("the previous report")
    (out / "notes.txt").write_text("the user's own file")
    export_report(trained_example, out, shot=_shot(small_window), torch=False)
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILE_NAMES, "notes.txt"])
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert _leftovers(tmp_path) == []


def test_output_that_is_a_file_is_refused(trained_example, small_window, tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(ReportError, match="not a folder"):
        export_report(trained_example, target, shot=_shot(small_window))
    assert target.read_text() == "x"


def test_without_a_main_window_the_error_is_clear(trained_example, tmp_path, monkeypatch, capsys):
    path = tmp_path / "s.json"
    save_session(trained_example, path)
    monkeypatch.setitem(sys.modules, "backprop_lab.gui.main_window", None)  # import fails
    with pytest.raises(ReportError, match=r"window\.png needs the main window"):
        export_session_report(trained_example, str(tmp_path / "r"), torch=False)
    assert report_main([str(path), "-o", str(tmp_path / "r"), "--no-torch"]) == 2
    assert "window.png needs the main window" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [path]


def test_the_command_grabs_a_main_window_it_builds_itself(trained_example, tmp_path):
    files = export_session_report(trained_example, str(tmp_path / "r"), torch=False)
    w, h = _png_size(files.window_png)
    assert w >= 1400 and h >= 900


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: -o/--output"),
        (["/no/such/session.json", "-o", "OUT"], "does not exist"),
        (["--bogus", "-o", "OUT"], "unrecognized arguments: --bogus"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert report_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("backprop-lab report: error: ")
    assert message in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_corrupt_session_and_an_output_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "backprop-lab-session", "version": 1, "model": 3}')
    assert report_main([str(bad), "-o", str(tmp_path / "out")]) == 2
    assert "bad.json" in capsys.readouterr().err
    taken = tmp_path / "file"
    taken.write_text("")
    assert report_main(["-o", str(taken)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_cli_reports_a_session_file(tmp_path, capsys):
    s = _trained(Session.random(4, seed=9))
    s.name = "Four by four"
    path = tmp_path / "s.json"
    save_session(s, path)
    assert report_main([str(path), "-o", str(tmp_path / "out"), "--no-torch"]) == 0
    assert "Wrote " in capsys.readouterr().out
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Four by four" in html and repr(s.model.A[3][3]) in html


def test_cli_runs_headless_in_a_fresh_process(tmp_path):
    """No DISPLAY and no QT_QPA_PLATFORM: the command picks the offscreen platform by itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["HOME"] = str(tmp_path)  # keep its preferences out of the user's home
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "backprop_lab.cli", "report", "-o", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(FILE_NAMES)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "44.0612131403435" in html and "Gradient descent" in html
    assert "No training run is recorded" not in html  # the default report trains the example


def test_a_shown_main_window_is_grabbed_and_left_as_it_was(window, tmp_path):
    window.resize(1000, 700)
    before = window.size()
    files = export_report(window.document.session, tmp_path / "r", shot=_shot(window), torch=False)
    w, h = _png_size(files.window_png)
    assert w >= 1400 and h >= 900
    assert window.size() == before and window.isVisible()


def test_cli_help_exits_0(capsys):
    assert report_main(["--help"]) == 0
    assert "-o DIR" in capsys.readouterr().out
