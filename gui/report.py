"""Export a session as a report folder: report.html, report.pdf, window.png, plot.png, plot.svg,
network.svg, network.png.

Reports are rendered from data: this module is handed what it draws and builds no window.

API (all a caller needs):

``export_report(session, out_dir, *, shot, verifications=None, torch=True, data=None, check=None)``
    Write the folder, all or nothing, and return :class:`ReportFiles`. ``shot`` is the window's
    screenshot as a QImage (see :func:`grab_window`; the command line builds its window offscreen,
    the window grabs itself). ``verifications``/``torch`` choose what
    :func:`engine.report_data.gather_report_data` checks, unless ``data`` (already gathered) is
    given. It may run on a worker thread: the curves are reduced there and only drawn on the GUI
    thread (pyqtgraph, :mod:`gui.report_charts`), which the worker waits for, calling ``check()``
    (e.g. a job's ``JobContext.check``, which raises to cancel) while it waits.
``grab_window(widget) -> QPixmap``, ``png_bytes(image) -> bytes``, ``ReportError``, ``FILE_NAMES``.

What the report says is decided by the Qt-free :mod:`engine.report_data`; the charts are drawn by
:mod:`gui.report_charts`, the PDF laid out by :mod:`gui.report_pdf`, the network figure drawn by
:mod:`gui.report_network` (on the calling thread: its painter needs no GUI thread).

The folder is written all or nothing by :func:`engine.atomic_folder.write_folder`: a failure
anywhere leaves the destination as it was.
"""

from __future__ import annotations

import base64
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QEventLoop,
    QIODevice,
    QObject,
    QRect,
    QSize,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage, QPixmap, QRegion
from PySide6.QtWidgets import QApplication, QWidget

from backprop_lab.engine.atomic_folder import FolderError, prepare_folder, write_folder
from backprop_lab.engine.report_data import ReportData, gather_report_data
from backprop_lab.engine.report_html import render_html
from backprop_lab.gui.report_charts import ChartDrawing, reduce_curves
from backprop_lab.gui.report_network import figure_for, network_png, network_svg, report_picture
from backprop_lab.gui.report_pdf import render_report_pdf

__all__ = [
    "FILE_NAMES",
    "WINDOW_MIN_SIZE",
    "ReportError",
    "ReportFiles",
    "export_report",
    "grab_window",
    "png_bytes",
]

#: The window is grabbed at no less than this size, so the screenshot shows the whole layout.
WINDOW_MIN_SIZE = QSize(1400, 900)

FILE_NAMES = ("report.html", "report.pdf", "window.png", "plot.png", "plot.svg", "network.svg", "network.png")
#: How often a worker waiting for the GUI thread to draw the curves checks for a cancel (seconds).
GUI_WAIT_POLL_S = 0.05

T = TypeVar("T")


class ReportError(RuntimeError):
    """The report could not be built; ``str()`` is one line naming the problem."""


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`export_report` put each file (all inside ``folder``)."""

    folder: Path
    html: Path
    pdf: Path
    window_png: Path
    plot_png: Path
    plot_svg: Path
    network_svg: Path
    network_png: Path
    pdf_pages: int

    def all(self) -> tuple[Path, ...]:
        return (
            self.html,
            self.pdf,
            self.window_png,
            self.plot_png,
            self.plot_svg,
            self.network_svg,
            self.network_png,
        )


def png_bytes(image: QImage | QPixmap) -> bytes:
    """PNG bytes of an image or pixmap (screenshots use it too); ReportError if encoding fails."""
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6 6.11's stubs type the format as bytes, but at run time only a str is accepted.
    if not image.save(buf, "PNG"):  # type: ignore[call-overload]
        raise ReportError("could not encode a PNG image")
    buf.close()
    return bytes(data.data())


#: The screenshot is painted in this many horizontal bands, with queued events handled between
#: them: the whole window in one go keeps the GUI thread ~0.1 s, a band a fraction of it.
GRAB_BANDS = 4


def grab_window(window: QWidget) -> QPixmap:
    """A screenshot of ``window`` at no less than WINDOW_MIN_SIZE (its size is restored after).

    The same picture as ``window.grab()``, painted band by band into one pixmap (each band clipped
    to itself, so no pixel differs); between bands the event loop runs, without user input, so
    the window stays as it is for the whole shot.
    """
    old = window.size()
    target = old.expandedTo(WINDOW_MIN_SIZE)
    if target != old:
        window.resize(target)
    try:
        # Let layouts settle at the new size before painting.
        QApplication.processEvents()
        layout = window.layout()
        if layout is not None:
            layout.activate()
        pixmap = _grab_in_bands(window)
    finally:
        if target != old:
            window.resize(old)
    return pixmap


def _grab_in_bands(window: QWidget) -> QPixmap:
    # What QWidget::grab does for the whole window, a band at a time.
    size = window.size()
    ratio = window.devicePixelRatioF()
    pixmap = QPixmap(size * ratio)
    pixmap.setDevicePixelRatio(ratio)
    if not window.isWindow() or window.testAttribute(Qt.WidgetAttribute.WA_TranslucentBackground):
        pixmap.fill(Qt.GlobalColor.transparent)  # as grab() does for a widget that is not opaque
    flags = (
        QWidget.RenderFlag.DrawWindowBackground
        | QWidget.RenderFlag.DrawChildren
        | QWidget.RenderFlag.IgnoreMask
    )
    height = size.height()
    edges = [round(height * i / GRAB_BANDS) for i in range(GRAB_BANDS + 1)]
    for i, (top, bottom) in enumerate(itertools.pairwise(edges)):
        if i:
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        band = QRect(0, top, size.width(), bottom - top)
        window.render(pixmap, band.topLeft(), QRegion(band), flags)
    return pixmap


# --------------------------------------------------------------------------- the GUI thread's part


class _GuiCall(QObject):
    """One call run on the GUI thread for a worker, which waits for it (see :func:`_on_gui_thread`)."""

    requested = Signal()

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._fn = fn
        self.done = threading.Event()
        self.abandoned = False  # the worker stopped waiting (cancelled): skip the call
        self.result: Any = None
        self.error: BaseException | None = None
        self.requested.connect(self._on_requested)

    @Slot()
    def _on_requested(self) -> None:
        # Through a zero timer, not now: the worker asks for its next stage the instant one ends,
        # and a posted request would run in the same pass of the event loop as the last one
        # (two chart paints, ~80 ms, in one stretch); timers already due go first this way.
        QTimer.singleShot(0, self._run)

    @Slot()
    def _run(self) -> None:
        if self.abandoned:
            return
        try:
            self.result = self._fn()
        except Exception as exc:  # handed back to the waiting worker
            self.error = exc
        finally:
            self.done.set()


def _on_gui_thread(fn: Callable[[], T], check: Callable[[], None] | None) -> T:
    """``fn()`` run on the GUI thread: directly when this is it, else queued there while this
    (worker) thread waits, calling ``check()`` every GUI_WAIT_POLL_S (it raises to stop waiting:
    a closing window cancels its jobs and joins them, so the GUI thread will not come)."""
    app = QCoreApplication.instance()
    if app is None:
        raise ReportError("a QApplication must exist before a report is exported")
    if QThread.currentThread() is app.thread():
        return fn()
    call = _GuiCall(fn)
    call.moveToThread(app.thread())
    call.requested.emit()  # queued: the receiver now lives on the GUI thread
    try:
        while not call.done.wait(GUI_WAIT_POLL_S):
            if check is not None:
                check()
    except BaseException:
        call.abandoned = True
        raise
    finally:
        call.deleteLater()
    if call.error is not None:
        raise call.error
    return cast(T, call.result)  # the result of fn, a T, held untyped while it crosses threads


# --------------------------------------------------------------------------- export


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def build_report(
    session: Any,
    *,
    shot: QImage,
    verifications: Sequence[Any] | None = None,
    torch: bool = True,
    data: ReportData | None = None,
    check: Callable[[], None] | None = None,
) -> tuple[dict[str, bytes], int]:
    """Every file of the report, rendered in memory: ``({name: bytes}, pdf_pages)`` (any thread;
    see :func:`export_report`)."""
    if shot.isNull():
        raise ReportError("could not take a screenshot of the window")
    if data is None:
        data = gather_report_data(session, verifications=verifications, torch=torch)
    reduced = reduce_curves(data.curves)
    title = f"{data.title}: training curves"
    # pyqtgraph draws on the GUI thread only: stage by stage, each a short turn there.
    drawing = ChartDrawing(reduced, title=title)
    try:
        for stage in drawing.stages:
            _on_gui_thread(stage, check)
        chart = drawing.chart
    finally:
        drawing.close()
    plot_png = png_bytes(chart.image)
    network = report_picture(data.initial)
    net_svg = network_svg(network, f"{data.document_title}: the network")
    if check is not None:
        check()
    figure = figure_for(network, net_svg, network.width, network.height)
    plot_src = _data_uri(plot_png) if data.trained else None
    html_text = render_html(data, plot_src=plot_src, flavour="web", network=figure)
    pdf, pages = render_report_pdf(data, chart.image if data.trained else None, network)
    files = {
        "report.html": html_text.encode("utf-8"),
        "report.pdf": pdf,
        "window.png": png_bytes(shot),
        "plot.png": plot_png,
        "plot.svg": chart.svg,
        "network.svg": net_svg,
        "network.png": png_bytes(network_png(network)),
    }
    return files, pages


def export_report(
    session: Any,
    out_dir: str | os.PathLike[str],
    *,
    shot: QImage,
    verifications: Sequence[Any] | None = None,
    torch: bool = True,
    data: ReportData | None = None,
    check: Callable[[], None] | None = None,
) -> ReportFiles:
    """Write the report of ``session`` into the folder ``out_dir`` and return where each file went.

    ``shot``: the window's screenshot (:func:`grab_window`, taken on the GUI thread).
    ``verifications``: CheckReports already computed, shown instead of running the checks again;
    ``torch=False`` leaves PyTorch out. ``data``: the report's content already gathered by
    :func:`engine.report_data.gather_report_data`; ``verifications`` and ``torch`` are then
    ignored. On a worker thread the curves are drawn on the GUI thread while the worker waits,
    calling ``check()`` (which may raise to cancel).

    A QApplication must exist. Raises :class:`ReportError` (one line) when rendering fails and
    ``OSError`` when the folder cannot be written; either way nothing is left half-written:
    ``out_dir`` either gets every file or keeps exactly what it had.
    """
    if not isinstance(QApplication.instance(), QApplication):  # the charts need a QApplication
        raise ReportError("a QApplication must exist before a report is exported")
    try:
        prepare_folder(out_dir)  # a file in the way is refused before the rendering
        files, pages = build_report(
            session, shot=shot, verifications=verifications, torch=torch, data=data, check=check
        )
        out = write_folder(out_dir, {name: files[name] for name in FILE_NAMES})
    except FolderError as exc:
        raise ReportError(str(exc)) from None
    return ReportFiles(
        folder=out,
        html=out / "report.html",
        pdf=out / "report.pdf",
        window_png=out / "window.png",
        plot_png=out / "plot.png",
        plot_svg=out / "plot.svg",
        network_svg=out / "network.svg",
        network_png=out / "network.png",
        pdf_pages=pages,
    )
