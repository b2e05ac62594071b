"""The network view (objectName ``networkGraph``): the model drawn as a graph, forward or backward.

A plain QWidget that paints a :class:`gui.network_layout.NetworkPicture`. It owns no model: the
composition root hands it the Document, and it redraws when the document's model or evaluation
changes. Interaction comes out as signals (``edgeHovered``, ``edgeClicked``: matrix name, i, j),
and the rest of the window tells it what to highlight (:meth:`set_highlight`).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from backprop_lab.gui.document import Document
from backprop_lab.gui.network_layout import Edge, Mode, NetworkPicture, network_picture
from backprop_lab.gui.network_paint import paint_picture
from backprop_lab.gui.prompts import Prompts

__all__ = ["NetworkView"]

#: How close (scene units) the pointer must come to an edge to pick it.
PICK_DISTANCE = 5.0


class NetworkView(QWidget):
    """The graph of the document's model in ``mode`` ("forward" or "backward")."""

    edgeHovered = Signal(str, int, int)
    edgeClicked = Signal(str, int, int)

    def __init__(
        self, document: Document, prompts: Prompts | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("networkGraph")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._document = document
        self._mode: Mode = "forward"
        self._highlight: tuple[str, int, int] | None = None
        # Lane B's stand-ins for lane A's set_lit / set_edge_deltas (same signatures; not painted yet).
        self._lit: frozenset[str] | None = None
        self._deltas: dict[tuple[str, int, int], float] | None = None
        self._picture: NetworkPicture | None = None
        document.modelChanged.connect(self.refresh)
        self.refresh()

    # ----------------------------------------------------------------- state

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        if mode != self._mode:
            self._mode = mode
            self.refresh()

    @property
    def picture(self) -> NetworkPicture:
        assert self._picture is not None
        return self._picture

    def set_highlight(self, cell: tuple[str, int, int] | None) -> None:
        """Highlight the edge of ``cell`` (matrix, i, j) and the path its chain rule runs through."""
        self._highlight = cell
        self.update()

    @property
    def highlight(self) -> tuple[str, int, int] | None:
        return self._highlight

    @property
    def lit(self) -> frozenset[str] | None:
        return self._lit

    def set_lit(self, columns: frozenset[str] | None) -> None:
        """Units of these kinds lit, the rest dimmed; None lights everything."""
        self._lit = None if columns is None else frozenset(columns)
        self.update()

    @property
    def edge_deltas(self) -> dict[tuple[str, int, int], float] | None:
        return self._deltas

    def set_edge_deltas(self, deltas: dict[tuple[str, int, int], float] | None) -> None:
        """Edges by each weight's change instead of the mode's numbers; None goes back."""
        self._deltas = None if deltas is None else dict(deltas)
        self.update()

    def refresh(self) -> None:
        doc = self._document
        self._picture = network_picture(doc.model, doc.evaluation, self._mode)
        self.update()

    # ----------------------------------------------------------------- geometry

    def _scale(self) -> tuple[float, float, float]:
        pic = self.picture
        s = min(self.width() / pic.width, self.height() / pic.height)
        return s, (self.width() - pic.width * s) / 2, (self.height() - pic.height * s) / 2

    def edge_position(self, matrix: str, i: int, j: int) -> QPointF:
        """A widget point on the edge of entry [i][j] of ``matrix`` that picks it (lane B's stand-in
        for lane A's: the point along it farthest from every other edge; midpoints cross)."""
        e = self.picture.edge(matrix, i, j)
        others = [o for o in self.picture.edges if o is not e]
        best_t, best_d = 0.5, -1.0
        for step in range(3, 18):
            t = step / 20
            px, py = e.x1 + t * (e.x2 - e.x1), e.y1 + t * (e.y2 - e.y1)
            d = min((_distance_to_segment(px, py, o.x1, o.y1, o.x2, o.y2) for o in others), default=math.inf)
            if d > best_d:
                best_t, best_d = t, d
        s, ox, oy = self._scale()
        return QPointF(ox + s * (e.x1 + best_t * (e.x2 - e.x1)), oy + s * (e.y1 + best_t * (e.y2 - e.y1)))

    def edge_at(self, pos: QPointF) -> Edge | None:
        s, ox, oy = self._scale()
        px, py = (pos.x() - ox) / s, (pos.y() - oy) / s
        best: tuple[float, Edge] | None = None
        for e in self.picture.edges:
            d = _distance_to_segment(px, py, e.x1, e.y1, e.x2, e.y2)
            if d <= PICK_DISTANCE / s and (best is None or d < best[0]):
                best = (d, e)
        return best[1] if best else None

    # ----------------------------------------------------------------- events

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        e = self.edge_at(event.position())
        if e is not None:
            self.setToolTip(
                f"{e.matrix}[{e.i}][{e.j}] = {e.weight:.6g}   ∂L/∂{e.matrix}[{e.i}][{e.j}] = {e.gradient:.6g}"
            )
            self.edgeHovered.emit(e.matrix, e.i, e.j)
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        e = self.edge_at(event.position())
        if e is not None and event.button() == Qt.MouseButton.LeftButton:
            self.edgeClicked.emit(e.matrix, e.i, e.j)
        super().mousePressEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        s, ox, oy = self._scale()
        painter.translate(ox, oy)
        painter.scale(s, s)
        paint_picture(painter, self.picture, self._highlight)
        painter.end()


def _distance_to_segment(px: float, py: float, x1: float, y1: float, x2: float, y2: float) -> float:
    dx, dy = x2 - x1, y2 - y1
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / length2))
    return math.hypot(px - (x1 + t * dx), py - (y1 + t * dy))
