"""The network view (objectName ``networkGraph``): the model drawn as a graph, forward or backward.

A plain QWidget that paints a :class:`gui.network_layout.NetworkPicture` with
:func:`gui.network_paint.paint_picture`. It owns no model: the composition root hands it the
Document (and the window's Prompts for its Save dialogs), and it recomputes the picture only when
the document's model or evaluation changes or the mode does; everything else (highlight, lit
columns, the update's changes, zoom, pan) repaints the picture it has.

Interaction comes out as signals (``edgeHovered``, ``edgeClicked``: matrix name, i, j); the rest
of the window tells it what to show (:meth:`set_highlight`, :meth:`set_lit`,
:meth:`set_edge_deltas`). Wheel zooms about the pointer, a drag pans, a double-click or Fit shows
the whole picture; the numbers under the units appear once the zoom leaves room for them.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.atomic import atomic_write_bytes
from backprop_lab.engine.formatting import format_number
from backprop_lab.gui.contrast import is_dark, muted_text
from backprop_lab.gui.document import Document
from backprop_lab.gui.network_layout import (
    MARGIN,
    NUMBER_ROOM,
    RADIUS,
    Edge,
    Mode,
    NetworkPicture,
    Node,
    network_picture,
)
from backprop_lab.gui.network_paint import (
    Cell,
    Decor,
    Inks,
    page_decor,
    paint_legend,
    paint_picture,
    paint_texts,
    picture_image,
    picture_svg,
)
from backprop_lab.gui.prompts import Prompts, one_line
from backprop_lab.gui.report import png_bytes

__all__ = ["NetworkView"]

#: How close (pixels) the pointer must come to an edge or a unit to pick it.
PICK_PIXELS = 5.0
#: Text sizes on screen (pixels): captions and the numbers under the units; below NUMBER_MIN_PX
#: there is no room at this zoom and the numbers are left out (the tooltip still has them).
TEXT_PX, NUMBER_PX, NUMBER_MIN_PX = 12.0, 11.0, 8.0
ZOOM_RANGE = (0.5, 40.0)
SVG_FILTER = "SVG images (*.svg)"
PNG_FILTER = "PNG images (*.png)"
_WORDS = {"A": ("x", "a"), "B": ("x", "u"), "C": ("z", "w")}


class NetworkView(QWidget):
    """The graph of the document's model in ``mode`` ("forward" or "backward")."""

    edgeHovered = Signal(str, int, int)
    edgeClicked = Signal(str, int, int)
    modeChanged = Signal(str)

    def __init__(
        self, document: Document, prompts: Prompts | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("networkGraph")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 180)
        self._document = document
        self._prompts = prompts if prompts is not None else Prompts(self)
        self._mode: Mode = "forward"
        self._highlight: Cell | None = None
        self._lit: frozenset[str] | None = None
        self._deltas: dict[Cell, float] | None = None
        self._picture: NetworkPicture | None = None
        self._stale = True  # the document changed since the picture was made
        self._zoom = 1.0
        self._pan = QPointF(0.0, 0.0)
        self._press: QPointF | None = None
        self._dragged = False
        self._build_controls()
        document.modelChanged.connect(self.refresh)
        self.refresh()

    def _build_controls(self) -> None:
        self._group = QButtonGroup(self)
        self._bar = QWidget(self)
        self._bar.setObjectName("networkBar")
        # A strip of its own: a zoomed picture passes under the buttons, not through them.
        self._bar.setBackgroundRole(QPalette.ColorRole.Base)
        self._bar.setAutoFillBackground(True)
        row = QHBoxLayout(self._bar)
        row.setContentsMargins(6, 6, 6, 4)
        for mode, text, tip in (
            ("forward", "Forward", "Units show their values, edges their weights"),
            ("backward", "Backward", "Units show ∂L/∂unit, edges ∂L/∂weight"),
        ):
            button = QToolButton(self._bar)
            button.setObjectName(f"network{text}")
            button.setText(text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setChecked(mode == self._mode)
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            self._group.addButton(button)
            row.addWidget(button)
        fit = QToolButton(self._bar)
        fit.setObjectName("networkFit")
        fit.setText("Fit")
        fit.setToolTip("Show the whole network (or double-click)")
        fit.clicked.connect(self.fit)
        row.addWidget(fit)
        self._note = QLabel(self._bar)
        self._note.setObjectName("networkNote")
        self._note.setWordWrap(True)
        row.addWidget(self._note, 1)
        row.addStretch(0)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._bar)
        outer.addStretch(1)

    # ----------------------------------------------------------------- state

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        for button in self._group.buttons():
            button.setChecked(button.objectName() == f"network{mode.capitalize()}")
        if mode != self._mode:
            self._mode = mode
            self.refresh()
            self.modeChanged.emit(mode)

    @property
    def picture(self) -> NetworkPicture:
        if self._stale or self._picture is None:
            self._rebuild()
        assert self._picture is not None
        return self._picture

    @property
    def highlight(self) -> Cell | None:
        return self._highlight

    def set_highlight(self, cell: Cell | None) -> None:
        """Highlight the edge of ``cell`` (matrix, i, j) and the path its chain rule runs through."""
        if cell is not None:
            self.picture.edge(*cell)  # KeyError now, not in the next paint
        self._highlight = cell
        self.update()

    @property
    def lit(self) -> frozenset[str] | None:
        return self._lit

    def set_lit(self, columns: frozenset[str] | None) -> None:
        """Draw the units of these kinds ("x", "a", "y", "u", "z", "w", "L") and the edges between
        them lit and the rest dimmed (a step-through's pass); None lights everything again."""
        self._lit = None if columns is None else frozenset(columns)
        self.update()

    @property
    def edge_deltas(self) -> dict[Cell, float] | None:
        return self._deltas

    def set_edge_deltas(self, deltas: dict[Cell, float] | None) -> None:
        """Colour and size the edges by each weight's change (keyed (matrix, i, j); missing is 0)
        instead of the mode's numbers, the legend saying so; None goes back to the mode's numbers."""
        self._deltas = None if deltas is None else dict(deltas)
        self.update()

    def refresh(self) -> None:
        """The document's model changed: rebuild the picture now if the view is on screen; a
        closed dock or one behind another's tab rebuilds when it is next shown or asked (a live
        showing at K = 32 costs 16 ms for a picture nobody sees)."""
        self._stale = True
        if self.isVisible() or self._picture is None:
            self._rebuild()

    def showEvent(self, event: QShowEvent) -> None:
        if self._stale:
            self._rebuild()
        super().showEvent(event)

    def _rebuild(self) -> None:
        self._stale = False
        doc = self._document
        old_k = self._picture.K if self._picture else None
        self._picture = network_picture(doc.model, doc.evaluation, self._mode)
        if old_k is not None and old_k != self._picture.K:
            self._zoom, self._pan = 1.0, QPointF(0.0, 0.0)
            self._highlight = None
            self._deltas = None
        self._note.setText(self._picture.note)
        self._note.setVisible(bool(self._picture.note))
        self.update()

    def fit(self) -> None:
        """Show the whole picture."""
        self._zoom, self._pan = 1.0, QPointF(0.0, 0.0)
        self.update()

    @property
    def zoom(self) -> float:
        return self._zoom

    # ----------------------------------------------------------------- geometry

    def _text_height(self, px: float) -> float:
        font = QFont(self.font())
        font.setPixelSize(round(px))
        return QFontMetricsF(font).height()

    def content_rect(self) -> QRectF:
        """Where the picture is fitted: under the buttons and the column formulas, over the legend."""
        top = self._bar.geometry().bottom() + 8 + self._text_height(TEXT_PX)
        bottom = self.height() - 2 * 1.3 * self._text_height(TEXT_PX - 1) - 20
        return QRectF(4, top, max(1.0, self.width() - 8), max(1.0, bottom - top))

    def _scale(self) -> tuple[float, float, float]:
        """Pixels per scene unit and the widget position of the scene's origin."""
        pic = self.picture
        area = self.content_rect()
        # The picture's margins are for a page; on screen the formulas sit in the header instead.
        fit = min(area.width() / pic.width, area.height() / (pic.height - MARGIN))
        s = fit * self._zoom
        ox = area.x() + (area.width() - pic.width * s) / 2 + self._pan.x()
        oy = area.y() + (area.height() - (pic.height - MARGIN) * s) / 2 - MARGIN * s + self._pan.y()
        return s, ox, oy

    def _to_scene(self, pos: QPointF) -> tuple[float, float, float]:
        s, ox, oy = self._scale()
        return (pos.x() - ox) / s, (pos.y() - oy) / s, s

    def edge_position(self, matrix: str, i: int, j: int) -> QPointF:
        """A widget point on the edge of entry [i][j] of ``matrix`` that picks that edge: of the
        points along it, the one farthest from every other edge (two edges x_i → a_j and
        x_j → a_i cross at their midpoints)."""
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

    def node_position(self, key: str) -> QPointF:
        n = self.picture.node(key)
        s, ox, oy = self._scale()
        return QPointF(ox + s * n.x, oy + s * n.y)

    def edge_at(self, pos: QPointF) -> Edge | None:
        px, py, s = self._to_scene(pos)
        best: tuple[float, Edge] | None = None
        for e in self.picture.edges:
            d = _distance_to_segment(px, py, e.x1, e.y1, e.x2, e.y2)
            if d <= PICK_PIXELS / s and (best is None or d < best[0]):
                best = (d, e)
        return best[1] if best else None

    def node_at(self, pos: QPointF) -> Node | None:
        px, py, s = self._to_scene(pos)
        for n in self.picture.nodes:
            if math.hypot(px - n.x, py - n.y) <= RADIUS + PICK_PIXELS / s:
                return n
        return None

    def decor(self) -> Decor:
        """How the picture is dressed on screen now (the zoom decides the text sizes)."""
        s, ox, oy = self._scale()
        size = min(NUMBER_PX / s, NUMBER_ROOM / 1.2)
        # No room at this zoom: left out (zoom in, or hover for the number), never cut.
        numbers = size if size * s >= NUMBER_MIN_PX else None
        return Decor(
            inks=self.inks(),
            highlight=self._highlight,
            lit=self._lit,
            deltas=self._deltas,
            numbers=numbers,
            legend=False,
            texts=False,
            visible=QRectF(-ox / s, -oy / s, self.width() / s, self.height() / s),
        )

    def inks(self) -> Inks:
        """The picture's colours from this widget's palette (light or dark)."""
        palette = self.palette()
        dark = is_dark(palette)
        return Inks(
            background=palette.color(QPalette.ColorRole.Base),
            text=palette.color(QPalette.ColorRole.Text),
            quiet=muted_text(palette),
            mark=QColor(255, 214, 0) if dark else QColor(0, 0, 0),
        )

    # ----------------------------------------------------------------- words

    def tooltip_at(self, pos: QPointF) -> str:
        """What hovering ``pos`` shows: an edge's weight, gradient and indices, or a unit's numbers."""
        e = self.edge_at(pos)
        n = self.node_at(pos)
        if n is not None:
            name = "L" if n.kind == "L" else f"{n.kind}_{n.index}"
            grad = "" if n.kind == "L" else self._unit_gradient(n)
            return f"{name} = {format_number(n.value, 'precise')}{grad}"
        if e is None:
            return ""
        src, dst = e.source, e.target
        cell = f"{e.matrix}[{e.i}][{e.j}]"
        lines = [
            f"{cell}, from {src[0]}_{src[1:]} to {dst[0]}_{dst[1:]}",
            f"{cell} = {format_number(e.weight, 'precise')}",
            f"∂L/∂{cell} = {format_number(e.gradient, 'precise')}",
        ]
        if self._deltas is not None:
            change = self._deltas.get((e.matrix, e.i, e.j), 0.0)
            lines.append(f"change in the update = {format_number(change, 'precise')}")
        if not e.strong:
            lines.append("(faded: not one of this unit's strongest edges)")
        return "\n".join(lines)

    def _unit_gradient(self, n: Node) -> str:
        back = network_picture(self._document.model, self._document.evaluation, "backward").node(n.key)
        return f"\n∂L/∂{n.kind}_{n.index} = {format_number(back.shown, 'precise')}"

    # ----------------------------------------------------------------- saving

    def save_svg(self, path: str | Path) -> None:
        """The picture as SVG at ``path``, written atomically."""
        atomic_write_bytes(path, picture_svg(self.picture, self._export_decor()))

    def save_png(self, path: str | Path) -> None:
        """The picture as PNG at ``path`` (2 pixels a scene unit), written atomically."""
        atomic_write_bytes(path, png_bytes(picture_image(self.picture, self._export_decor())))

    def _export_decor(self) -> Decor:
        # A file is for a page: light, with the legend and every number, whatever the screen shows.
        return page_decor(self.picture, highlight=self._highlight, lit=self._lit, deltas=self._deltas)

    def _save(self, kind: str) -> None:
        svg = kind == "svg"
        path = self._prompts.save_file(
            f"Save the network as {kind.upper()}", f"network.{kind}", SVG_FILTER if svg else PNG_FILTER
        )
        if not path:
            return
        try:
            self.save_svg(path) if svg else self.save_png(path)
        except OSError as exc:
            self._prompts.warning("Save the network", f"Could not save {path}: {one_line(exc)}")

    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.setObjectName("networkMenu")
        for kind in ("svg", "png"):
            action = menu.addAction(f"Save as {kind.upper()}…")
            action.setObjectName(f"networkSave{kind.upper()}")
            action.triggered.connect(lambda _=False, k=kind: self._save(k))
        menu.addSeparator()
        menu.addAction("Fit", self.fit)
        return menu

    # ----------------------------------------------------------------- events

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.context_menu()
        menu.exec(event.globalPos())
        menu.deleteLater()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            delta = pos - self._press
            if self._dragged or abs(delta.x()) + abs(delta.y()) > 4:
                self._dragged = True
                self._pan += delta
                self._press = pos
                self.update()
        else:
            e = self.edge_at(pos)
            if e is not None:
                self.edgeHovered.emit(e.matrix, e.i, e.j)
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press, self._dragged = event.position(), False
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._press is not None:
            if not self._dragged:
                e = self.edge_at(event.position())
                if e is not None:
                    self.edgeClicked.emit(e.matrix, e.i, e.j)
            self._press, self._dragged = None, False
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_at(event.position(), 1.25**steps)
        event.accept()

    def zoom_at(self, pos: QPointF, factor: float) -> None:
        """Zoom by ``factor`` keeping the scene point under ``pos`` where it is."""
        px, py, _ = self._to_scene(pos)
        self._zoom = max(ZOOM_RANGE[0], min(ZOOM_RANGE[1], self._zoom * factor))
        s, ox, oy = self._scale()
        self._pan += QPointF(pos.x() - (ox + s * px), pos.y() - (oy + s * py))
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        decor = self.decor()
        painter.fillRect(self.rect(), decor.inks.background)
        s, ox, oy = self._scale()
        painter.save()
        painter.translate(ox, oy)
        painter.scale(s, s)
        paint_picture(painter, self.picture, decor=decor)
        painter.restore()
        header = (self._bar.geometry().bottom() + 4.0, float(self.width()))
        texts = Decor(inks=decor.inks, text_size=TEXT_PX)
        paint_texts(painter, self.picture, texts, lambda x, y: QPointF(ox + s * x, oy + s * y), header)
        # The legend stays put in the corner however the picture is zoomed or panned.
        legend = Decor(inks=decor.inks, deltas=decor.deltas, text_size=TEXT_PX - 1)
        paint_legend(painter, QPointF(8, self.height() - 8), self.picture, legend, anchor_bottom=True)
        painter.end()


def _distance_to_segment(px: float, py: float, x1: float, y1: float, x2: float, y2: float) -> float:
    dx, dy = x2 - x1, y2 - y1
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / length2))
    return math.hypot(px - (x1 + t * dx), py - (y1 + t * dy))
