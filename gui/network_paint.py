"""Painting a network picture with any QPainter: the window, SVG and PNG files, the report's PDF.

One routine for every output, so that what the report prints is what the window showed. The
picture is in scene units; the caller sets the transform. How it is dressed (light or dark, which
columns are lit, the update's changes instead of the weights, the highlighted chain rule, how big
the numbers are) comes in a :class:`Decor`; the default is the light, plain picture a report prints.

Edges are coloured on the gradients' diverging palette (:mod:`gui.heat_map`) and are as wide as
their |number| allows (TensorFlow Playground's convention). They are drawn in batches of one pen
each (colour and width quantised), so that a K = 32 picture's 3,072 edges cost a few hundred
``drawLines`` calls, not 3,072 pen changes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QLineF, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QLinearGradient, QPainter, QPen
from PySide6.QtSvg import QSvgGenerator

from backprop_lab.engine.formatting import format_number
from backprop_lab.gui.heat_map import _STOPS, diverging_color
from backprop_lab.gui.network_layout import MARGIN, RADIUS, UNIT_STEP, Edge, NetworkPicture, chain_path

__all__ = [
    "DARK_INKS",
    "LIGHT_INKS",
    "Decor",
    "Inks",
    "edge_style",
    "legend_lines",
    "page_decor",
    "paint_legend",
    "paint_picture",
    "paint_texts",
    "picture_image",
    "picture_svg",
]

Cell = tuple[str, int, int]


@dataclass(frozen=True)
class Inks:
    """The picture's non-palette colours: background, text, quiet text and lines, the highlight."""

    background: QColor
    text: QColor
    quiet: QColor
    mark: QColor


# Quiet #595959 on white is 7:1, #b4b4b4 on #1e1e1e is 8.9:1: text stays above WCAG AA's 4.5:1.
LIGHT_INKS = Inks(QColor(255, 255, 255), QColor(30, 30, 30), QColor(89, 89, 89), QColor(0, 0, 0))
DARK_INKS = Inks(QColor(30, 30, 30), QColor(230, 230, 230), QColor(180, 180, 180), QColor(255, 214, 0))


@dataclass(frozen=True)
class Decor:
    """How to dress a picture.

    ``lit``: the unit kinds drawn lit ("x", "a", "y", "u", "z", "w", "L"), the rest dimmed; None
    lights everything. ``deltas``: each weight's change in an update, keyed (matrix, i, j); when
    given, edges show it instead of the weight or gradient. ``numbers``: the font size (scene
    units) of the number under each unit, or None to leave them out (no room at this zoom).
    """

    inks: Inks = LIGHT_INKS
    highlight: Cell | None = None
    lit: frozenset[str] | None = None
    deltas: dict[Cell, float] | None = field(default=None, hash=False)
    numbers: float | None = 10.0
    text_size: float = 12.0
    legend: bool = True
    #: False: the caller draws the captions, operations and note itself (the view, at screen size).
    texts: bool = True
    #: The part of the scene on screen (None: all of it); what lies wholly outside is not drawn.
    visible: QRectF | None = field(default=None, hash=False, compare=False)


#: Colour steps per side of the palette and width steps used to batch edges into pens.
_COLOUR_STEPS = 24
_WIDTH_STEPS = 8
_MIN_WIDTH, _MAX_WIDTH = 0.6, 5.0
_DIM = 45  # alpha of what is not lit


def page_decor(pic: NetworkPicture, **changes: object) -> Decor:
    """The dressing for a file or a page (the default of :func:`paint_picture`): light, with the
    legend, its texts sized for the whole picture seen at once (a K = 32 picture is some 6,000
    scene units wide), and the numbers under the units only where they would be legible beside
    those texts (up to K ≈ 5; the window's tooltip has them all)."""
    text = max(12.0, min(pic.width, pic.height) / 45)
    numbers = 10.0 if text <= 20.0 else None
    fields: dict[str, object] = {"text_size": text, "numbers": numbers, **changes}
    return Decor(**fields)  # type: ignore[arg-type]


def edge_number(e: Edge, pic: NetworkPicture, decor: Decor) -> float:
    """The number that colours edge ``e``: its change under ``decor.deltas``, else its mode's."""
    if decor.deltas is not None:
        return decor.deltas.get((e.matrix, e.i, e.j), 0.0)
    return e.shown(pic.mode)


def edge_scale(pic: NetworkPicture, decor: Decor) -> float:
    if decor.deltas is not None:
        return max((abs(v) for v in decor.deltas.values() if math.isfinite(v)), default=0.0)
    return pic.edge_scale


def paint_picture(
    painter: QPainter, pic: NetworkPicture, highlight: Cell | None = None, decor: Decor | None = None
) -> None:
    """Paint ``pic`` in scene units (the caller sets the transform); ``highlight`` overrides
    ``decor.highlight`` (the report passes only a highlight)."""
    decor = decor or page_decor(pic)
    if highlight is not None:
        decor = replace(decor, highlight=highlight)
    painter.save()
    painter.fillRect(QRectF(0, 0, pic.width, pic.height), decor.inks.background)
    path_edges, path_nodes = chain_path(pic, decor.highlight) if decor.highlight else (set(), set())
    _paint_skip_band(painter, pic, decor)
    _paint_links(painter, pic, decor)
    _paint_edges(painter, pic, decor, path_edges)
    _paint_nodes(painter, pic, decor, path_nodes)
    if decor.texts:
        # Texts sized for a page can be wider than the margins: kept inside the picture.
        paint_texts(painter, pic, decor, header=(0.0, pic.width))
        if pic.note:
            h = QFontMetricsF(painter.font()).height()
            painter.setPen(decor.inks.text)
            painter.drawText(
                QRectF(0, pic.height - h - 4, pic.width - 8, h), Qt.AlignmentFlag.AlignRight, pic.note
            )
    if decor.legend:
        # Top right, over w's column: the one corner no unit reaches at any K (w and L sit mid-height).
        caption = QFontMetricsF(painter.font()).height()
        paint_legend(painter, QPointF(pic.width - 8, MARGIN + caption), pic, decor, anchor_right=True)
    painter.restore()


def _lit(decor: Decor, *kinds: str) -> bool:
    return decor.lit is None or all(k in decor.lit for k in kinds)


def _kind(key: str) -> str:
    return key if key == "L" else key[0]


def _paint_skip_band(painter: QPainter, pic: NetworkPicture, decor: Decor) -> None:
    # The B branch is a skip: a tinted band behind the u column, from x to z, says "this goes round".
    us = [n for n in pic.nodes if n.kind == "u"]
    xs = [n for n in pic.nodes if n.kind in ("x", "z")]
    if not us or not xs:
        return
    top = min(n.y for n in us) - UNIT_STEP * 0.9
    bottom = max(n.y for n in us) + UNIT_STEP * 0.6
    left = min(n.x for n in xs) + 2 * RADIUS
    right = max(n.x for n in xs) - 2 * RADIUS
    tint = QColor(decor.inks.quiet)
    tint.setAlpha(22)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(tint)
    painter.drawRoundedRect(QRectF(left, top, right - left, bottom - top), 18, 18)


def _paint_links(painter: QPainter, pic: NetworkPicture, decor: Decor) -> None:
    quiet = QColor(decor.inks.quiet)
    lit: list[QLineF] = []
    dim: list[QLineF] = []
    for link in pic.links:
        line = QLineF(link.x1, link.y1, link.x2, link.y2)
        (lit if _lit(decor, _kind(link.source), _kind(link.target)) else dim).append(line)
    for lines, alpha in ((dim, _DIM), (lit, 160)):
        if lines:
            quiet.setAlpha(alpha)
            pen = QPen(quiet, 1.0, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLines(lines)


def edge_style(e: Edge, pic: NetworkPicture, decor: Decor) -> tuple[QColor, float]:
    """The colour and width edge ``e`` is drawn with, quantised so that edges share pens.

    The palette's 0 is white: on a dark background a near-zero edge would shine brightest, so
    the opacity grows with |number| too (on white it changes nothing one can see)."""
    scale = edge_scale(pic, decor)
    v = edge_number(e, pic, decor)
    t = max(-1.0, min(1.0, v / scale)) if scale > 0 and math.isfinite(v) else 0.0
    level = round(t * _COLOUR_STEPS) / _COLOUR_STEPS
    colour = diverging_color(level, 1.0)
    alpha = round((255 if e.strong else 40) * (0.2 + 0.8 * math.sqrt(abs(level))))
    if not _lit(decor, _kind(e.source), _kind(e.target)):
        alpha = min(alpha, _DIM // 2)  # hundreds of dimmed edges add up to a haze
    colour.setAlpha(alpha)
    return colour, _MIN_WIDTH + (_MAX_WIDTH - _MIN_WIDTH) * round(abs(t) * _WIDTH_STEPS) / _WIDTH_STEPS


#: The edges sorted into pens, for the last few (picture, dressing) pairs: a highlight, a pan or a
#: zoom repaints without recomputing 3,072 colours at K = 32. Keyed by identity: the view makes a
#: new picture (and copies the deltas) whenever they change; the entry keeps both alive.
_BATCHES: dict[tuple[int, int, frozenset[str] | None, Cell | None], tuple[object, ...]] = {}
_BATCH_CACHE_SIZE = 4

Batches = list[tuple[QColor, float, list[QLineF]]]


def _edge_batches(pic: NetworkPicture, decor: Decor, path: set[Cell]) -> tuple[Batches, Batches]:
    """(faint, solid) pens with their lines, faint (faded or dimmed) first, then by width; the
    chain rule's path is left out (drawn over everything)."""
    key = (id(pic), id(decor.deltas), decor.lit, decor.highlight)
    hit = _BATCHES.get(key)
    if hit is not None and hit[0] is pic and hit[1] is decor.deltas:
        return hit[2], hit[3]  # type: ignore[return-value]
    groups: dict[tuple[bool, int, float], list[QLineF]] = defaultdict(list)
    for e in pic.edges:
        if (e.matrix, e.i, e.j) not in path:
            colour, width = edge_style(e, pic, decor)
            quiet = not e.strong or not _lit(decor, _kind(e.source), _kind(e.target))
            groups[(quiet, colour.rgba(), width)].append(QLineF(e.x1, e.y1, e.x2, e.y2))
    faint: Batches = []
    solid: Batches = []
    for (quiet, rgba, width), lines in sorted(groups.items(), key=lambda kv: kv[0][2]):
        (faint if quiet else solid).append((QColor.fromRgba(rgba), width, lines))
    if len(_BATCHES) >= _BATCH_CACHE_SIZE:
        del _BATCHES[next(iter(_BATCHES))]
    _BATCHES[key] = (pic, decor.deltas, faint, solid)
    return faint, solid


def _paint_edges(painter: QPainter, pic: NetworkPicture, decor: Decor, path: set[Cell]) -> None:
    faint, solid = _edge_batches(pic, decor, path)
    box = decor.visible
    if box is not None and not box.contains(QRectF(0, 0, pic.width, pic.height)):
        # Zoomed in: most lines are off screen, and a bounding-box test is cheaper than their strokes.
        left, top, right, bottom = box.left(), box.top(), box.right(), box.bottom()

        def seen(lines: list[QLineF]) -> list[QLineF]:
            return [
                ln
                for ln in lines
                if min(ln.x1(), ln.x2()) <= right
                and max(ln.x1(), ln.x2()) >= left
                and min(ln.y1(), ln.y2()) <= bottom
                and max(ln.y1(), ln.y2()) >= top
            ]

        faint = [(c, w, seen(lines)) for c, w, lines in faint]
        solid = [(c, w, seen(lines)) for c, w, lines in solid]
    painter.setBrush(Qt.BrushStyle.NoBrush)
    antialiased = painter.testRenderHint(QPainter.RenderHint.Antialiasing)
    # Faded and dimmed edges are a texture, not something to read: hairlines without
    # antialiasing, an order of magnitude cheaper than wide translucent strokes at K = 32.
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    for colour, _width, lines in faint:
        pen = QPen(colour, 1.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLines(lines)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, antialiased)
    for colour, width, lines in solid:
        painter.setPen(QPen(colour, width))
        painter.drawLines(lines)
    for e in pic.edges:
        if (e.matrix, e.i, e.j) not in path:
            continue
        # The path over everything: an outline in the mark ink, the edge's own colour inside it.
        colour, width = edge_style(e, pic, decor)
        main = (e.matrix, e.i, e.j) == decor.highlight
        line = QLineF(e.x1, e.y1, e.x2, e.y2)
        painter.setPen(QPen(decor.inks.mark, width + (6.0 if main else 3.0)))
        painter.drawLine(line)
        colour.setAlpha(255)
        painter.setPen(QPen(colour, width + (2.0 if main else 0.0)))
        painter.drawLine(line)


def _paint_nodes(painter: QPainter, pic: NetworkPicture, decor: Decor, path: set[str]) -> None:
    outline = QColor(decor.inks.quiet)
    font = QFont(painter.font())
    if decor.numbers:
        font.setPixelSize(max(1, round(decor.numbers)))
    painter.setFont(font)
    seen = decor.visible.adjusted(-70, -70, 70, 70) if decor.visible is not None else None
    for n in pic.nodes:
        if seen is not None and not seen.contains(n.x, n.y):
            continue
        lit = _lit(decor, n.kind)
        fill = diverging_color(n.shown, pic.node_scale) if n.kind != "L" else QColor(decor.inks.background)
        pen = QPen(decor.inks.mark, 3.0) if n.key in path else QPen(outline, 1.2)
        if not lit:
            fill.setAlpha(_DIM)
            pen.setColor(_alpha(pen.color(), _DIM))
        painter.setPen(pen)
        painter.setBrush(fill)
        radius = RADIUS * (1.3 if n.kind == "L" else 1.0)
        painter.drawEllipse(QPointF(n.x, n.y), radius, radius)
        if decor.numbers and math.isfinite(n.shown):
            text = format_number(n.shown, "short", digits=3)
            box = QRectF(n.x - 60, n.y + radius, 120, decor.numbers * 1.3)
            painter.setPen(_alpha(decor.inks.text, 255 if lit else _DIM + 40))
            painter.drawText(box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)


def _alpha(c: QColor, a: int) -> QColor:
    out = QColor(c)
    out.setAlpha(a)
    return out


def paint_texts(
    painter: QPainter,
    pic: NetworkPicture,
    decor: Decor,
    place: Callable[[float, float], QPointF] | None = None,
    header: tuple[float, float] | None = None,
) -> None:
    """The captions (each column's formula) and the operation nodes (σ, +, ‖·‖²) at
    ``decor.text_size``. ``place`` maps a scene point to the painter's units (the view draws its
    texts at a fixed size on screen, over the zoomed picture); ``header`` = (top, right): the
    column formulas stick to this top edge and stay inside (0, right) when the picture is panned."""
    place = place or QPointF
    font = QFont(painter.font())
    font.setPixelSize(max(1, round(decor.text_size)))
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    h = metrics.height()
    painter.setPen(decor.inks.text)
    top_row = min((c.y for c in pic.captions), default=0.0)
    taken: list[QRectF] = []
    for c in sorted(pic.captions, key=lambda c: c.x):
        at = place(c.x, c.y)
        w = metrics.horizontalAdvance(c.text) + 8
        box = QRectF(at.x() - w / 2, at.y() - h / 2, w, h)
        if header is not None and c.y == top_row:
            if not 0.0 <= at.x() <= header[1]:
                continue  # its column is panned out of sight
            box.moveTo(max(0.0, min(header[1] - w, box.x())), max(header[0], box.y()))
            if any(box.intersects(t) for t in taken):
                continue  # squeezed against the edge onto a neighbour's: the neighbour's is nearer
            taken.append(box)
            painter.fillRect(box, _alpha(decor.inks.background, 220))  # units may pass under it
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, c.text)
    for op in pic.operations:
        # An operation node: a rounded badge with its symbol, on the background so lines pass under it.
        at = place(op.x, op.y)
        w = max(h * 1.6, metrics.horizontalAdvance(op.label) + h * 0.8)
        box = QRectF(at.x() - w / 2, at.y() - h * 0.75, w, h * 1.5)
        painter.setBrush(decor.inks.background)
        painter.setPen(QPen(decor.inks.quiet, 1.2))
        painter.drawRoundedRect(box, h * 0.4, h * 0.4)
        painter.setPen(decor.inks.text)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, op.label)


def legend_lines(pic: NetworkPicture, decor: Decor) -> list[tuple[str, float]]:
    """The legend's rows: (what is coloured, its scale). Nodes first, then edges."""
    if pic.mode == "forward":
        node = ("units: value", pic.node_scale)
        edge = ("edges: weight (width ∝ |weight|)", pic.edge_scale)
    else:
        node = ("units: ∂L/∂unit", pic.node_scale)
        edge = ("edges: ∂L/∂weight (width ∝ |gradient|)", pic.edge_scale)
    if decor.deltas is not None:
        edge = ("edges: change in this update (width ∝ |change|)", edge_scale(pic, decor))
    return [node, edge]


def _short(v: float) -> str:
    return format_number(v, "short", digits=3)


def paint_legend(
    painter: QPainter,
    origin: QPointF,
    pic: NetworkPicture,
    decor: Decor,
    anchor_bottom: bool = False,
    anchor_right: bool = False,
) -> QRectF:
    """The legend (a palette bar per scale and what it colours) with its top-left corner at
    ``origin`` (its bottom or right edge with ``anchor_bottom``/``anchor_right``), in the
    painter's current units; its rectangle."""
    font = QFont(painter.font())
    font.setPixelSize(max(1, round(decor.text_size)))
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    h = metrics.height()
    rows = legend_lines(pic, decor)
    bar_w = h * 5
    texts = [(f"−{_short(s)}", f"+{_short(s)}  {label}") for label, s in rows]
    lo_w = max(metrics.horizontalAdvance(lo) for lo, _ in texts)
    width = 24 + lo_w + bar_w + max(metrics.horizontalAdvance(hi) for _, hi in texts)
    height = len(rows) * h * 1.3 + 10
    top = origin.y() - height if anchor_bottom else origin.y()
    left = origin.x() - width if anchor_right else origin.x()
    rect = QRectF(left, top, width, height)
    painter.setPen(QPen(decor.inks.quiet, 1))
    painter.setBrush(_alpha(decor.inks.background, 230))
    painter.drawRoundedRect(rect, 4, 4)
    y = top + 5
    for (_label, scale), (lo, hi) in zip(rows, texts, strict=True):
        x = left + 6
        painter.setPen(decor.inks.text)
        painter.drawText(
            QRectF(x, y, lo_w, h), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, lo
        )
        bar = QRectF(x + lo_w + 4, y + h * 0.2, bar_w, h * 0.6)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for t, rgb in _STOPS:
            gradient.setColorAt((t + 1) / 2, QColor(*rgb))
        painter.fillRect(bar, gradient if scale > 0 else decor.inks.background)
        painter.setPen(QPen(decor.inks.quiet, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(bar)
        painter.setPen(decor.inks.text)
        painter.drawText(
            QRectF(bar.right() + 4, y, width, h),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            hi,
        )
        y += h * 1.3
    return rect


def _clean(text: str) -> str:
    # A session name may hold a lone surrogate (its file format keeps one), which Qt cannot take.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def picture_svg(
    pic: NetworkPicture, decor: Decor | None = None, title: str = "Network", description: str = ""
) -> bytes:
    """``pic`` as an SVG document, one scene unit a pixel (vectors: one line per drawn edge);
    ``title`` and ``description`` are escaped by QSvgGenerator."""
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    size = QSize(math.ceil(pic.width), math.ceil(pic.height))
    gen.setSize(size)
    gen.setResolution(96)  # so that a browser shows it at its size in pixels
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    gen.setTitle(_clean(title))
    gen.setDescription(_clean(description or f"The network in {pic.mode} mode, K = {pic.K} (Backprop Lab)"))
    painter = QPainter(gen)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        paint_picture(painter, pic, decor=decor)
    finally:
        painter.end()
    buf.close()
    return bytes(data.data())


#: An image of a picture has at most this many pixels: a K = 32 picture at 2 px a scene unit is
#: tens of megapixels, seconds to paint and encode (tests/bench/bench_report_network.py).
MAX_IMAGE_PIXELS = 4_000_000


def image_scale(pic: NetworkPicture, scale: float = 2.0) -> float:
    """``scale`` pixels a scene unit, or fewer to stay within :data:`MAX_IMAGE_PIXELS`."""
    return min(scale, math.sqrt(MAX_IMAGE_PIXELS / (pic.width * pic.height)))


def picture_image(pic: NetworkPicture, decor: Decor | None = None, scale: float = 2.0) -> QImage:
    """``pic`` as an image, ``scale`` pixels a scene unit (2: sharp on a high-density screen or a
    page) or fewer for a large picture (:func:`image_scale`)."""
    scale = image_scale(pic, scale)
    image = QImage(
        math.ceil(pic.width * scale), math.ceil(pic.height * scale), QImage.Format.Format_ARGB32_Premultiplied
    )
    image.fill(QColor(255, 255, 255))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(scale, scale)
        paint_picture(painter, pic, decor=decor)
    finally:
        painter.end()
    return image
