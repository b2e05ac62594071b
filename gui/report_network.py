"""The report's network figure: the model at its initial weights, drawn by the window's own
painter (:func:`gui.network_paint.paint_picture`), so that the report prints what the view shows.

Three outputs of one picture: SVG (inline in report.html, and network.svg), PNG (network.png) and
vectors in the PDF. For the PDF, the report's rich text holds an ``<img>`` named
:data:`engine.report_network.NETWORK_SRC` of the figure's size; :func:`reserve_network_figure`
makes its line that tall and blank, the pagination moves it like any line, and after the page's
text the PDF's own painter paints the picture into that place (:func:`network_places`,
:func:`paint_network`): vectors, nothing rasterised.

Everything here paints on QSvgGenerator, QImage and QPdfWriter, which Qt allows off the GUI
thread: the window builds its report on a worker.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import (
    QImage,
    QPainter,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

from backprop_lab.engine.evaluation import evaluate
from backprop_lab.engine.model import Model
from backprop_lab.engine.report_network import NETWORK_SRC, NetworkFigure
from backprop_lab.gui.network_layout import NetworkPicture, network_picture
from backprop_lab.gui.network_paint import paint_picture, picture_image, picture_svg

__all__ = [
    "NETWORK_OBJECT",
    "NETWORK_PNG_SCALE",
    "figure_for",
    "network_places",
    "network_png",
    "network_svg",
    "paint_network",
    "report_picture",
    "reserve_network_figure",
]

#: network.png is painted at this many pixels per scene unit, fewer for a large picture
#: (gui.network_paint.image_scale keeps it within MAX_IMAGE_PIXELS).
NETWORK_PNG_SCALE = 2.0
#: The text object type of the PDF figure's place (Qt leaves UserObject and above to us).
NETWORK_OBJECT = int(QTextFormat.ObjectTypes.UserObject.value) + 1
#: The figure in the PDF takes at most this share of a page's text height (a K = 32 network is
#: three times as tall as it is wide).
MAX_PAGE_SHARE = 0.8


def report_picture(model: Model) -> NetworkPicture:
    """The picture a report shows: ``model`` evaluated at its own x, in backward mode (the
    report's subject is the gradients), or forward when the gradients cannot be computed."""
    ev = evaluate(model)
    return network_picture(model, ev, "backward" if ev.grads else "forward")


def _paint(painter: QPainter, pic: NetworkPicture) -> None:
    """The picture as a page shows it, in scene units (the caller has set the transform)."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    paint_picture(painter, pic)


def network_svg(pic: NetworkPicture, title: str) -> bytes:
    """network.svg and the HTML's inline figure: the view's own SVG export (``title`` escaped)."""
    return picture_svg(pic, title=title)


def network_png(pic: NetworkPicture) -> QImage:
    """network.png: the view's own PNG export, at most MAX_IMAGE_PIXELS."""
    return picture_image(pic, scale=NETWORK_PNG_SCALE)


_SVG_NS = ' xmlns="http://www.w3.org/2000/svg"'
_XLINK_NS = ' xmlns:xlink="http://www.w3.org/1999/xlink"'


def inline_svg(svg: bytes) -> str:
    """An SVG document as an element to put inside HTML: without its XML declaration, and
    without namespace URLs, which an HTML parser supplies itself (report.html names no URL)."""
    text = svg.decode("utf-8")
    if text.startswith("<?xml"):
        text = text[text.index("?>") + 2 :]
    text = text.replace(_SVG_NS, "", 1)
    if "xlink:" not in text:  # no link uses it
        text = text.replace(_XLINK_NS, "", 1)
    return text.strip()


def figure_for(pic: NetworkPicture, svg: bytes | None, width: float, height: float) -> NetworkFigure:
    """What :func:`engine.report_html.render_html` needs of the figure: ``svg`` inline (web), or
    the size in layout pixels that fits ``width`` × MAX_PAGE_SHARE · ``height`` (the PDF page's
    text area), the picture's proportions kept."""
    scale = min(width / pic.width, MAX_PAGE_SHARE * height / pic.height)
    return NetworkFigure(
        mode=pic.mode,
        node_scale=pic.node_scale,
        edge_scale=pic.edge_scale,
        note=pic.note,
        svg=inline_svg(svg) if svg is not None else "",
        width=max(1, round(pic.width * scale)),
        height=max(1, round(pic.height * scale)),
    )


def reserve_network_figure(doc: QTextDocument) -> int:
    """Keep the place of each ``<img src="NETWORK_SRC">`` of ``doc`` (already set from HTML) for
    :func:`paint_network_figures`: the character draws nothing, and its line is as tall as the
    image was to be (Qt paginates a line whole). Returns how many places there are.

    (A QTextObjectInterface handler written in Python is never called by the layout in PySide6
    6.11, so the figure is painted after the text instead of by the layout.)
    """
    places: list[tuple[int, int, QTextCharFormat]] = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat() and fmt.toImageFormat().name() == NETWORK_SRC:
                places.append((fragment.position(), fragment.length(), fmt))
            it += 1
        block = block.next()
    # Changed after the walk: a format change may split the fragments being walked.
    for position, length, fmt in places:
        height = fmt.toImageFormat().height()
        blank = QTextCharFormat(fmt)
        blank.setObjectType(NETWORK_OBJECT)  # no handler: no size, nothing drawn
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(blank)
        block_format = cursor.blockFormat()
        block_format.setLineHeight(height, QTextBlockFormat.LineHeightTypes.FixedHeight.value)
        cursor.setBlockFormat(block_format)
    return len(places)


def network_places(doc: QTextDocument, width: float) -> list[QRectF]:
    """Where the laid-out ``doc`` keeps its network figures (document coordinates), centred in
    the text ``width``."""
    out: list[QRectF] = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.objectType() == NETWORK_OBJECT:
                image = fmt.toImageFormat()
                # The fixed-height line fills the block from its top (Qt then sets the empty
                # line's baseline 80% of the way down, which is not where the space starts).
                top = block.layout().position().y()
                w, h = image.width(), image.height()
                out.append(QRectF((width - w) / 2, top, w, h))
            it += 1
        block = block.next()
    return out


def paint_network(painter: QPainter, pic: NetworkPicture, rect: QRectF) -> None:
    """``pic`` as vectors, scaled into ``rect`` (in the painter's coordinates)."""
    painter.save()
    try:
        painter.translate(QPointF(rect.left(), rect.top()))
        painter.scale(rect.width() / pic.width, rect.height() / pic.height)
        painter.setClipRect(QRectF(0, 0, pic.width, pic.height))
        _paint(painter, pic)
    finally:
        painter.restore()
