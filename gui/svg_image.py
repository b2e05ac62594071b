"""An SVG drawn into a PNG by Qt's SVG renderer: the sweep's summary.png, from the command line and
from the window alike (the chart itself is :func:`engine.sweep_chart.summary_svg`, the one drawer).

A QGuiApplication must exist; the drawing paints a QImage, so it may run on a worker thread.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from backprop_lab.gui.report import png_bytes  # the one PNG encoder (reports, screenshots)


def svg_png(svg: str, scale: float = 2.0) -> bytes:
    """``svg`` drawn at ``scale`` × its own size on white, as PNG bytes; ValueError when Qt
    cannot read it."""
    renderer = QSvgRenderer(svg.encode("utf-8"))
    if not renderer.isValid():
        raise ValueError("the chart is not an SVG Qt can draw")
    size = renderer.defaultSize()
    image = QImage(round(size.width() * scale), round(size.height() * scale), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return png_bytes(image)
