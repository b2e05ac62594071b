"""The report's charts: the training curves drawn by pyqtgraph, the same plotting code as the
window's live plot, with the curves' names, colours and pens from :mod:`gui.curves`.

Two panels side by side, each against the 1-based training step: the losses (batch loss, loss at
x) on the left, the gradient norms on the right; a panel's value axis is logarithmic when its
values are positive and span at least a factor of 10; the axes are the window's (:mod:`gui.axes`).

pyqtgraph draws a QGraphicsScene, which lives on the GUI thread only. So that drawing stays short
(well under 100 ms) even for a million-step session, the curves are first reduced by a per-pixel
min/max decimation (:func:`decimate`, numpy): a few thousand points per curve, the same envelope,
no spike lost. :func:`render_chart` then paints the PNG image and the SVG from one scene.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QIODevice, QRectF, QSize, QThread
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from backprop_lab.gui.axes import StepAxis, ValueAxis
from backprop_lab.gui.curves import BY_ID

__all__ = [
    "PLOT_PNG_SCALE",
    "PLOT_SIZE",
    "Chart",
    "ChartDrawing",
    "decimate",
    "draw_chart",
    "reduce_curves",
    "render_chart",
]

#: Logical size of the curves' figure; the PNG is painted at PLOT_PNG_SCALE times this (2400×1200).
PLOT_SIZE = QSize(1200, 600)
PLOT_PNG_SCALE = 2.0
#: Each curve is handed to pyqtgraph as at most 2 × this many points: two per pixel column of a
#: panel in the PNG (a panel is about 500 logical, 1000 device pixels wide).
CHART_BUCKETS = 600
#: |values| beyond this are drawn at it: every axis computation stays finite.
VALUE_LIMIT = 1e300

#: (title, curve ids, value-axis label) of each panel, left to right.
PANELS = (
    ("Loss", ("loss", "loss_at_x"), "loss"),
    ("Gradient norms", ("grad_norm_A", "grad_norm_B", "grad_norm_C"), "Frobenius norm"),
)
_TEXT = "#1e1e1e"


@dataclass(frozen=True)
class Chart:
    """The rendered curves: ``image`` (PLOT_SIZE × PLOT_PNG_SCALE pixels) and ``svg`` (bytes)."""

    image: QImage
    svg: bytes


def decimate(values: Sequence[float], buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Peak decimation of a curve against its 1-based step: ``(steps, values)`` with, per bucket of
    consecutive steps, the bucket's minimum and maximum in step order (at most 2 × ``buckets``
    points), so a million noisy steps draw as fast as a thousand and keep their look. A curve of
    at most 2 × ``buckets`` steps is kept whole. Non-finite values are left out; values are
    clamped to ±VALUE_LIMIT.
    """
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    finite = np.isfinite(y)
    if n <= 2 * buckets:
        keep = np.flatnonzero(finite)
        return keep + 1.0, np.clip(y[keep], -VALUE_LIMIT, VALUE_LIMIT)
    size = -(-n // buckets)  # buckets of equal size; the last one padded with non-finite values
    rows = -(-n // size)
    if finite.all():
        lows = highs = y
    else:
        lows, highs = np.where(finite, y, np.inf), np.where(finite, y, -np.inf)
    pad = rows * size - n
    lows = np.concatenate((lows, np.full(pad, np.inf))).reshape(rows, size)
    highs = np.concatenate((highs, np.full(pad, -np.inf))).reshape(rows, size)
    offsets = np.arange(rows) * size
    i_min = lows.argmin(axis=1)
    i_max = highs.argmax(axis=1)
    has = np.isfinite(lows[np.arange(rows), i_min])  # a bucket of only non-finite values draws nothing
    idx = np.unique(np.concatenate(((offsets + i_min)[has], (offsets + i_max)[has])))
    return idx + 1.0, np.clip(y[idx], -VALUE_LIMIT, VALUE_LIMIT)


def _font(px: int, *, bold: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def _panel(
    title: str, ids: Sequence[str], ylabel: str, curves: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> pg.PlotItem:
    plot, axes = _styled_plot(title)
    vb = plot.getViewBox()
    drawn = [i for i in ids if len(curves.get(i, ((), ()))[0])]
    if not drawn:
        _show_empty(plot, axes)
        return plot
    ys = np.concatenate([curves[i][1] for i in drawn])
    lo, hi = float(ys.min()), float(ys.max())
    log = lo > 0 and hi / lo >= 10
    plot.setLabel("bottom", "training step", color=_TEXT, **{"font-size": "16px"})
    plot.setLabel("left", ylabel + (" (log scale)" if log else ""), color=_TEXT, **{"font-size": "16px"})
    plot.setLogMode(y=log)
    _add_curves(plot, drawn, curves)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    pad = (hi - lo) * 0.06 or (abs(lo) * 0.1 or 1.0)
    steps = max(float(max(curves[i][0][-1] for i in drawn)), 2.0)
    vb.setRange(xRange=(0, steps), yRange=(lo - pad, hi + pad), padding=0)
    return plot


def _styled_plot(title: str) -> tuple[pg.PlotItem, dict[str, pg.AxisItem]]:
    """An empty panel in the report's style: title, axes, frame and grid; no auto-range."""
    axes: dict[str, pg.AxisItem] = {"bottom": StepAxis("bottom"), "left": ValueAxis("left")}
    plot = pg.PlotItem(axisItems=axes)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.setTitle(title, size="19px", bold=True, color=_TEXT)
    for axis in axes.values():
        axis.setTextPen(_TEXT)
        axis.setPen("#3c3c3c")
        axis.setStyle(tickFont=_font(15), tickTextOffset=6)
    vb = plot.getViewBox()
    vb.border = pg.mkPen("#3c3c3c", width=1.3)
    vb.disableAutoRange()  # the range is set from the data below; auto-range would scan it again
    plot.showGrid(x=True, y=True, alpha=0.18)
    return plot, axes


def _show_empty(plot: pg.PlotItem, axes: dict[str, pg.AxisItem]) -> None:
    """No ticks, no grid, and a note in the middle: the session has no steps."""
    for axis in axes.values():
        axis.setStyle(showValues=False, tickLength=0)
    plot.getViewBox().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    note = pg.TextItem("no training steps recorded", color=_TEXT, anchor=(0.5, 0.5))
    note.setFont(_font(15))
    note.setPos(0.5, 0.5)
    plot.addItem(note)
    plot.showGrid(x=False, y=False)


def _add_curves(
    plot: pg.PlotItem, drawn: Sequence[str], curves: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """The legend and the curves ``drawn``, in the shared curve specification's pens."""
    legend = plot.addLegend(
        offset=(-10, 10),
        labelTextColor=_TEXT,
        labelTextSize="15px",
        brush=pg.mkBrush(255, 255, 255, 230),
        pen=pg.mkPen(200, 200, 200),
    )
    legend.setZValue(10)
    for i in drawn:
        spec = BY_ID[i]
        x, y = curves[i]
        pen = spec.pen(width=spec.report_width)
        # A curve of one step is a dot; pyqtgraph draws no line through a single point.
        dot = (
            {"symbol": "o", "symbolSize": 8, "symbolBrush": spec.colour, "symbolPen": None}
            if len(x) == 1
            else {}
        )
        # Separate segments, not one path: Qt builds the outline of a wide antialiased path whole,
        # which takes it seconds for a zigzag of a few thousand points.
        item = plot.plot(x, y, pen=pen, name=spec.name, antialias=len(x) <= CHART_BUCKETS, **dot)
        item.curve.setSegmentedLineMode("on")
        item.setProperty("curve_id", i)


def _on_gui_thread() -> bool:
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


Reduced = dict[str, tuple[np.ndarray, np.ndarray]]


def reduce_curves(curves: Mapping[str, Sequence[float]]) -> Reduced:
    """Each curve of ``curves`` (History column → one value per step, e.g. ``ReportData.curves``)
    decimated for drawing: ``{id: (steps, values)}``, at most 2 × CHART_BUCKETS points each.
    Qt-free numpy: runs on any thread (the window runs it on the report's worker)."""
    return {i: decimate(curves.get(i, ()), CHART_BUCKETS) for i in BY_ID}


def render_chart(curves: Mapping[str, Sequence[float]], *, title: str = "Training curves") -> Chart:
    """:func:`draw_chart` of :func:`reduce_curves` (GUI thread only)."""
    return draw_chart(reduce_curves(curves), title=title)


def draw_chart(reduced: Reduced, *, title: str = "Training curves") -> Chart:
    """Draw the reduced curves as the report's figure, PNG image and SVG (``title`` is the SVG's):
    every stage of a :class:`ChartDrawing` at once. GUI thread only."""
    drawing = ChartDrawing(reduced, title=title)
    try:
        for stage in drawing.stages:
            stage()
        return drawing.chart
    finally:
        drawing.close()


class ChartDrawing:
    """The chart drawn in short stages (``stages``: call each in turn, on the GUI thread: a panel
    each, the PNG, the SVG), so that a worker can hand them to the GUI thread one at a time and
    the window repaints in between; then ``chart`` is the result. :meth:`close` (any thread) lets
    the GUI thread delete the view.

    pyqtgraph's items and the view they need are widgets' kin: every stage raises RuntimeError off
    the GUI thread. Their cost depends on the reduced points only, not on the number of steps.
    """

    def __init__(self, reduced: Reduced, *, title: str = "Training curves") -> None:
        self._reduced = reduced
        self._title = title
        self._rect = QRectF(0, 0, PLOT_SIZE.width(), PLOT_SIZE.height())
        self._view: pg.GraphicsLayoutWidget | None = None
        self._image: QImage | None = None
        self._svg: bytes | None = None
        builds = [functools.partial(self._build, column) for column in range(len(PANELS))]
        self.stages: tuple[Callable[[], None], ...] = (*builds, self._paint_png, self._paint_svg)

    @property
    def chart(self) -> Chart:
        if self._image is None or self._svg is None:
            raise RuntimeError("the chart's stages have not all run")
        return Chart(image=self._image, svg=self._svg)

    def _scene(self) -> pg.GraphicsScene:
        if not _on_gui_thread():
            raise RuntimeError("the report's curves are drawn on the GUI thread only")
        if self._view is None:
            raise RuntimeError("the chart is not built")
        return self._view.scene()

    def _build(self, column: int) -> None:
        """Add the panel of PANELS[column] (the first builds the view, the last lays it out)."""
        if not _on_gui_thread():
            raise RuntimeError("the report's curves are drawn on the GUI thread only")
        rect = self._rect
        view = self._view
        if view is None:
            # A view, never shown: pyqtgraph's axes place their ticks through its device transform.
            self._view = view = pg.GraphicsLayoutWidget()
            view.resize(PLOT_SIZE)
            view.setRange(rect, padding=0)
            view.ci.setContentsMargins(8, 10, 8, 6)
            view.ci.layout.setHorizontalSpacing(24)
        panel_title, ids, ylabel = PANELS[column]
        view.ci.addItem(_panel(panel_title, ids, ylabel, self._reduced), row=0, col=column)
        if column == len(PANELS) - 1:
            view.ci.setGeometry(rect)
            view.ci.layout.activate()  # lay out now, not at a later turn of the event loop
            view.scene().prepareForPaint()  # the view boxes apply their ranges (as before a view paints)

    def _paint_png(self) -> None:
        scene, rect = self._scene(), self._rect
        image = QImage(
            round(rect.width() * PLOT_PNG_SCALE),
            round(rect.height() * PLOT_PNG_SCALE),
            QImage.Format.Format_RGB32,
        )
        image.setDevicePixelRatio(PLOT_PNG_SCALE)
        image.fill(QColor("white"))
        # Curve pens are cosmetic (widths in device pixels): twice as wide on the twice-as-dense PNG,
        # so that the PNG and the SVG look alike.
        _set_pen_scale(scene, PLOT_PNG_SCALE)
        try:
            _paint(scene, image, rect)
        finally:
            _set_pen_scale(scene, 1.0)
        self._image = image

    def _paint_svg(self) -> None:
        self._svg = _svg(self._scene(), self._rect, self._title)

    def close(self) -> None:
        view, self._view = self._view, None
        if view is None:
            return
        if _on_gui_thread():
            view.clear()
        view.deleteLater()  # thread-safe: the view goes on the GUI thread's next turn


def _set_pen_scale(scene: pg.GraphicsScene, scale: float) -> None:
    for item in scene.items():
        curve_id = item.property("curve_id") if isinstance(item, pg.PlotDataItem) else None
        if curve_id:
            spec = BY_ID[curve_id]
            item.setPen(spec.pen(width=spec.report_width * scale))


def _paint(scene: pg.GraphicsScene, device: QImage | QSvgGenerator, rect: QRectF) -> None:
    p = QPainter(device)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        p.fillRect(rect, QColor("white"))
        scene.render(p, rect, rect)
    finally:
        p.end()


def _svg(scene: pg.GraphicsScene, rect: QRectF, title: str) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(PLOT_SIZE)
    gen.setResolution(96)  # so that browsers show it 1200 px wide (the default 72 dpi is 423 mm)
    gen.setViewBox(rect)
    gen.setTitle(title)
    gen.setDescription("Loss and gradient norms against the training step (Backprop Lab)")
    _paint(scene, gen, rect)
    buf.close()
    return bytes(data.data())


def render_plot_image(curves: Mapping[str, Sequence[float]]) -> QImage:
    """The figure as a QImage of PLOT_SIZE × PLOT_PNG_SCALE pixels (see :func:`render_chart`)."""
    return render_chart(curves).image
