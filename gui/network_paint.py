"""Painting a network picture with any QPainter: the window, SVG and PNG files, the report's PDF.

One routine for every output, so that what the report prints is what the window showed.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from backprop_lab.gui.heat_map import diverging_color
from backprop_lab.gui.network_layout import RADIUS, NetworkPicture

__all__ = ["paint_picture"]


def paint_picture(
    painter: QPainter, pic: NetworkPicture, highlight: tuple[str, int, int] | None = None
) -> None:
    """Paint ``pic`` in scene units (the caller sets the transform)."""
    mode = pic.mode
    for e in pic.edges:
        color = diverging_color(e.shown(mode), pic.edge_scale)
        if not e.strong:
            color.setAlpha(40)
        width = 0.5 + 3.5 * (abs(e.shown(mode)) / pic.edge_scale if pic.edge_scale > 0 else 0.0)
        if highlight == (e.matrix, e.i, e.j):
            color, width = QColor(0, 0, 0), width + 3.0
        painter.setPen(QPen(color, width))
        painter.drawLine(QPointF(e.x1, e.y1), QPointF(e.x2, e.y2))
    for n in pic.nodes:
        painter.setPen(QPen(QColor(60, 60, 60), 1.0))
        painter.setBrush(diverging_color(n.shown, pic.node_scale) if n.kind != "L" else QColor(240, 240, 240))
        painter.drawEllipse(QPointF(n.x, n.y), RADIUS, RADIUS)
        if math.isfinite(n.shown):
            painter.drawText(
                QRectF(n.x - 40, n.y - 8, 80, 16), Qt.AlignmentFlag.AlignCenter, f"{n.shown:.3g}"
            )
    painter.setPen(QColor(40, 40, 40))
    for c in pic.captions:
        painter.drawText(QRectF(c.x - 80, c.y - 10, 160, 20), Qt.AlignmentFlag.AlignCenter, c.text)
    for op in pic.operations:
        painter.drawText(QRectF(op.x - 30, op.y - 10, 60, 20), Qt.AlignmentFlag.AlignCenter, op.label)
