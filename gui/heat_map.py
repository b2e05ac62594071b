"""The colour side of the matrix views: the diverging palette, its legend, and the heat-map image.

One palette serves every coloured matrix (editors in heat-map mode, gradient tables, the
step-through tables): blue for negative, white for 0, red for positive, symmetric around 0 and
saturating at ±scale. The stops are ColorBrewer's RdBu, a scheme designed to stay two-sided for
red–green colour-blind readers (its blues stay blue and its reds turn yellow-brown, never grey).
Text on a coloured cell is black or white, whichever contrasts more (WCAG 2.x ratio ≥ 4.5).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from PySide6.QtCore import QItemSelection, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QLinearGradient, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QTableView, QWidget

from backprop_lab.engine.formatting import format_number
from backprop_lab.gui.contrast import contrast_ratio

#: (position in [-1, 1], RGB) stops of RdBu; 0 is pure white so that "exactly zero" reads as no colour.
_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (-1.0, (33, 102, 172)),  # #2166ac
    (-0.75, (67, 147, 195)),  # #4393c3
    (-0.5, (146, 197, 222)),  # #92c5de
    (-0.25, (209, 229, 240)),  # #d1e5f0
    (0.0, (255, 255, 255)),
    (0.25, (253, 219, 199)),  # #fddbc7
    (0.5, (244, 165, 130)),  # #f4a582
    (0.75, (214, 96, 77)),  # #d6604d
    (1.0, (178, 24, 43)),  # #b2182b
)

_BLACK = QColor(0, 0, 0)
_WHITE = QColor(255, 255, 255)


def diverging_rgb(t: float) -> tuple[int, int, int]:
    """The palette's colour at ``t`` in [-1, 1] (clamped); NaN is white."""
    if not math.isfinite(t):
        return (255, 255, 255) if math.isnan(t) else _STOPS[-1 if t > 0 else 0][1]
    t = max(-1.0, min(1.0, t))
    for (t0, c0), (t1, c1) in itertools.pairwise(_STOPS):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            r, g, b = (round(a + (z - a) * f) for a, z in zip(c0, c1, strict=True))
            return r, g, b
    return _STOPS[-1][1]


def diverging_color(v: float, vmax: float) -> QColor:
    """``v`` on the palette, saturating at ±``vmax``; white when there is no scale or no number."""
    if vmax <= 0 or not math.isfinite(v):
        return QColor(_WHITE)
    return QColor(*diverging_rgb(v / vmax))


def text_color(bg: QColor) -> QColor:
    """Black or white, whichever reads better on ``bg`` (one of them always reaches 4.58:1)."""
    return QColor(_BLACK) if contrast_ratio(_BLACK, bg) >= contrast_ratio(_WHITE, bg) else QColor(_WHITE)


#: The palette in 255 steps (index 127 is 0, white) and white for "no number" at 255.
_LEVELS = 127
_NO_NUMBER = 255
_TABLE: list[int] = []


def _color_table() -> list[int]:
    if not _TABLE:
        for i in range(2 * _LEVELS + 1):
            r, g, b = diverging_rgb(i / _LEVELS - 1)
            _TABLE.append(0xFF000000 | (r << 16) | (g << 8) | b)
        _TABLE.append(0xFFFFFFFF)
    return _TABLE


def _level(v: float | None, per_unit: float) -> int:
    if v is None or not math.isfinite(v):
        return _NO_NUMBER
    return max(0, min(2 * _LEVELS, round(v * per_unit) + _LEVELS))


def matrix_image(values: Sequence[Sequence[float | None]], vmax: float) -> QImage:
    """One pixel a cell of ``values`` (rows of equal length), to be drawn scaled up without smoothing.

    An indexed image over the palette in 255 steps: a K = 32 matrix takes well under a
    millisecond, so every table can follow a running training's weights.
    """
    rows, cols = len(values), len(values[0]) if values else 0
    stride = (max(cols, 1) + 3) & ~3  # QImage rows are 32-bit aligned
    data = bytearray([_NO_NUMBER]) * (stride * max(rows, 1))
    if vmax > 0:
        per_unit = _LEVELS / vmax
        for r, row in enumerate(values):
            start = r * stride
            data[start : start + cols] = bytes(_level(v, per_unit) for v in row)
    image = QImage(bytes(data), max(cols, 1), max(rows, 1), stride, QImage.Format.Format_Indexed8)
    image.setColorTable(_color_table())
    return image.copy()  # its own pixels, not the buffer's


class ScaleLegend(QWidget):
    """The palette as a bar between −scale and +scale, sized to its text so it is never cut."""

    BAR_WIDTH = 64
    BAR_HEIGHT = 10

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scale = 0.0
        self._applied = False  # set_scale has set the visibility at least once
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    @property
    def scale(self) -> float:
        return self._scale

    def set_scale(self, scale: float) -> None:
        """Show ±``scale``; 0 (no numbers to colour) hides the legend."""
        if scale == self._scale and self._applied:
            return  # a running training sends many models with the same largest entry
        # (Not isHidden(): a legend not yet on screen is hidden without being told to be, and
        # would then appear, "−0 … +0", with the window.)
        self._applied = True
        self._scale = scale
        text = format_number(scale, "short", digits=3)
        self.setToolTip(
            f"Colour scale: blue is negative, white is 0, red is positive; full colour at ±{text}"
            if scale
            else ""
        )
        self.setVisible(scale > 0)
        self.updateGeometry()
        self.update()

    def texts(self) -> tuple[str, str]:
        """The labels either side of the bar."""
        s = format_number(self._scale, "short", digits=3)
        return f"−{s}", f"+{s}"

    def sizeHint(self) -> QSize:
        metrics = QFontMetricsF(self.font())
        left, right = self.texts()
        width = metrics.horizontalAdvance(left) + metrics.horizontalAdvance(right) + self.BAR_WIDTH + 12
        return QSize(math.ceil(width), math.ceil(max(metrics.height(), self.BAR_HEIGHT)))

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        metrics = QFontMetricsF(self.font())
        left, right = self.texts()
        h = self.height()
        baseline = (h + metrics.ascent() - metrics.descent()) / 2
        painter.setPen(self.palette().windowText().color())
        painter.drawText(QPointF(0, baseline), left)
        x0 = metrics.horizontalAdvance(left) + 6
        bar = QRectF(x0, (h - self.BAR_HEIGHT) / 2, self.BAR_WIDTH, self.BAR_HEIGHT)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for t, rgb in _STOPS:
            gradient.setColorAt((t + 1) / 2, QColor(*rgb))
        painter.fillRect(bar, gradient)
        painter.setPen(QPen(self.palette().windowText().color(), 1))
        painter.drawRect(bar)
        painter.drawText(QPointF(bar.right() + 6, baseline), right)
        painter.end()


def paint_heat_map(view: QTableView, image: QImage | None) -> None:
    """Paint ``image`` (one pixel a cell) over ``view``'s cells, a hairline between big squares."""
    model = view.model()
    rows, cols = model.rowCount(), model.columnCount()
    painter = QPainter(view.viewport())
    painter.fillRect(view.viewport().rect(), view.palette().window())
    if image is not None and rows and cols:
        x0, y0 = view.columnViewportPosition(0), view.rowViewportPosition(0)
        cw, rh = view.columnWidth(0), view.rowHeight(0)
        painter.drawImage(QRect(x0, y0, cols * cw, rows * rh), image)
        if min(cw, rh) >= 6:  # below that a hairline would take too much of each square
            painter.setPen(QPen(_WHITE, 1))  # white in a dark theme too: gaps, not a dark grid
            for c in range(1, cols):
                painter.drawLine(x0 + c * cw, y0, x0 + c * cw, y0 + rows * rh - 1)
            for r in range(1, rows):
                painter.drawLine(x0, y0 + r * rh, x0 + cols * cw - 1, y0 + r * rh)
        painter.setPen(QPen(view.palette().mid().color(), 1))
        painter.drawRect(QRect(x0, y0, cols * cw - 1, rows * rh - 1))
    painter.end()


def paint_marks(view: QTableView, hover: tuple[int, int] | None, focus: tuple[int, int] | None) -> None:
    """Over ``view``'s cells: the hovered cell's row and column, the selection and ``focus``, all
    as outlines (a fill would hide the cell's colour: a selected +2.67 must not look negative)."""
    model = view.model()
    rows, cols = model.rowCount(), model.columnCount()
    if not rows or not cols:
        return

    def span(top: int, left: int, bottom: int, right: int) -> QRectF:
        return QRectF(
            view.visualRect(model.index(top, left)).united(view.visualRect(model.index(bottom, right)))
        )

    painter = QPainter(view.viewport())
    if hover is not None and hover[0] < rows and hover[1] < cols:
        r, c = hover
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 170), 1))
        painter.drawRect(span(r, 0, r, cols - 1).adjusted(0, 0, -1, -1))
        painter.drawRect(span(0, c, rows - 1, c).adjusted(0, 0, -1, -1))
    selection = view.selectionModel().selection() if view.selectionModel() else QItemSelection()
    for i in range(selection.count()):
        part = selection.at(i)
        draw_outline(painter, span(part.top(), part.left(), part.bottom(), part.right()), _BLACK)
    if focus is not None:
        draw_outline(painter, span(*focus, *focus), _BLACK)
    painter.end()


def draw_outline(painter: QPainter, rect: QRectF, dark: QColor) -> None:
    """A dark frame just outside ``rect`` and a white line outside that: visible on any palette
    colour and on the window, and never over the cells it marks (their colour stays readable)."""
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(QPen(_WHITE, 1))
    painter.drawRect(rect.adjusted(-3, -3, 2, 2))
    painter.setPen(QPen(dark, 1))
    painter.drawRect(rect.adjusted(-1, -1, 0, 0))
    painter.drawRect(rect.adjusted(-2, -2, 1, 1))
