"""Export a session as a report folder: report.html, report.pdf, window.png, plot.png, plot.svg.

What the report says is decided by the Qt-free :mod:`engine.report_data`; this module only draws:
the training curves (one QPainter routine painting both the PNG and the SVG), the PDF (Qt's rich
text laid out on A4 by QTextDocument and printed through QPdfWriter) and the window's screenshot.

The folder is written all or nothing: every file is rendered into a temporary sibling folder
first, which is renamed into place; when the destination already exists, its report files are
replaced one by one with a hard link to each old file kept aside, and any failure puts every old
file back (:func:`_swap_in`). A failure anywhere leaves the destination as it was.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPointF, QRectF, QSize, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
    QPixmap,
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextFrame,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QWidget

from backprop_lab.engine.atomic import remove_stale_temporaries, temporary_prefix
from backprop_lab.engine.report_data import CURVE_LABELS, ReportData, gather_report_data
from backprop_lab.engine.report_html import render_html

__all__ = [
    "PLOT_SIZE",
    "WINDOW_MIN_SIZE",
    "ReportError",
    "ReportFiles",
    "export_report",
    "png_bytes",
    "render_plot_png",
    "render_plot_svg",
    "render_report_pdf",
]

#: Logical size of the curves' figure; the PNG is painted at twice this (2400×1200 pixels).
PLOT_SIZE = QSize(1200, 600)
PLOT_PNG_SCALE = 2.0
#: Points per stroked piece of a curve (see :func:`_paint_panel`).
CURVE_PIECE = 16
#: The window is grabbed at no less than this size, so the screenshot shows the whole layout.
WINDOW_MIN_SIZE = QSize(1400, 900)

FILE_NAMES = ("report.html", "report.pdf", "window.png", "plot.png", "plot.svg")


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
    pdf_pages: int

    def all(self) -> tuple[Path, ...]:
        return (self.html, self.pdf, self.window_png, self.plot_png, self.plot_svg)


# --------------------------------------------------------------------------- the curves

_BLUE_LIGHT = QColor(120, 160, 210, 150)
_BLUE = QColor(20, 70, 160)
_COLORS = {
    "loss": _BLUE_LIGHT,
    "loss_at_x": _BLUE,
    "grad_norm_A": QColor(220, 110, 20),
    "grad_norm_B": QColor(40, 140, 60),
    "grad_norm_C": QColor(140, 60, 160),
}
_WIDTHS = {"loss": 1.2, "loss_at_x": 2.6, "grad_norm_A": 2.0, "grad_norm_B": 2.0, "grad_norm_C": 2.0}
_GRID = QColor(225, 225, 225)
_AXIS = QColor(60, 60, 60)
_TEXT = QColor(30, 30, 30)


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag  # pragma: no cover


def _linear_ticks(lo: float, hi: float, target: int = 6) -> tuple[float, float, list[float]]:
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo, target)
    lo_t = math.floor(lo / step) * step
    hi_t = math.ceil(hi / step) * step
    n = round((hi_t - lo_t) / step)
    return lo_t, hi_t, [lo_t + i * step for i in range(n + 1)]


def _log_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """Axis limits (in log10) and tick values for positive data in [lo, hi]."""
    lo, hi = max(lo, 1e-300), max(hi, 1e-300)  # 10**-324 is 0.0: stay clear of subnormals
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if a == b:
        b += 1
    decades = b - a
    ticks: list[float] = []
    mults = (1, 2, 5) if decades <= 3 else (1,)
    stride = max(1, math.ceil(decades / 8))
    for d in range(a, b + 1):
        if (d - a) % stride:
            continue
        for m in mults:
            v = m * 10.0**d
            if 10.0**a <= v <= 10.0**b:
                ticks.append(v)
    # Tighten to the data when it spans less than a decade or two, so the curves fill the panel.
    lo_l, hi_l = math.log10(lo), math.log10(hi)
    pad = (hi_l - lo_l) * 0.06 or 0.1
    lo_l, hi_l = lo_l - pad, hi_l + pad
    inside = [t for t in ticks if lo_l <= math.log10(t) <= hi_l]
    if len(inside) < 3:
        inside = [
            t
            for d in range(a - 1, b + 1)
            for m in (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)
            if lo_l <= math.log10(t := m * 10.0**d) <= hi_l
        ]
        if len(inside) > 8:
            inside = inside[:: math.ceil(len(inside) / 6)]
    return lo_l, hi_l, inside


def _tick_label(v: float) -> str:
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:g}"
    return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def _step_label(v: float) -> str:
    """Step numbers: 500, 2500, 20k, 1.5M (short enough for six ticks across a panel)."""
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _decimate(values: Sequence[float], buckets: int) -> list[tuple[float, float]]:
    """Peak decimation of a curve against its 1-based step: per bucket of consecutive steps, its
    min and max (in step order), so a million noisy steps draw as fast as a thousand and keep
    their look (no spike disappears). Non-finite values are left out; |v| ≤ 1e300 keeps every
    axis computation finite.

    The min, max and index of each bucket run in C on a slice, so a million steps take tens of
    milliseconds instead of the seconds a point-by-point loop in Python took.
    """
    n = len(values)
    out: list[tuple[float, float]] = []
    if n <= 2 * buckets:
        spans = [(i, i + 1) for i in range(n)]
    else:
        size = n / buckets
        spans = [(int(b * size), int((b + 1) * size)) for b in range(buckets)]
    for lo, hi in spans:
        seg = values[lo:hi]
        if not all(map(math.isfinite, seg)):
            seg = [v for v in seg if math.isfinite(v)]
            if not seg:
                continue
            # Indices into the filtered segment would be wrong: place its points at the bucket's ends.
            pts = sorted(((lo + 1.0, min(seg)), (hi + 0.0, max(seg))))
            out.extend((x, max(-1e300, min(1e300, y))) for x, y in pts)
            continue
        if not seg:
            continue
        v_min, v_max = min(seg), max(seg)
        i_min, i_max = seg.index(v_min), seg.index(v_max)
        for i in sorted({i_min, i_max}):
            out.append((lo + i + 1.0, max(-1e300, min(1e300, seg[i]))))
    return out


def _font(px: float, *, bold: bool = False) -> QFont:
    f = QFont("DejaVu Sans")
    f.setPixelSize(max(1, round(px)))
    f.setBold(bold)
    return f


def _paint_panel(
    p: QPainter, rect: QRectF, title: str, curves: dict[str, list[float]], names: Sequence[str]
) -> None:
    """One panel: title, log- or linear-y axes with grid, the curves, and a legend."""
    p.setFont(_font(19, bold=True))
    p.setPen(_TEXT)
    p.drawText(QRectF(rect.left(), rect.top(), rect.width(), 30), Qt.AlignmentFlag.AlignHCenter, title)
    plot = QRectF(rect.left() + 86, rect.top() + 40, rect.width() - 100, rect.height() - 40 - 68)

    # Decimated to two points per device pixel column (the PNG is painted at PLOT_PNG_SCALE):
    # the axes and the curves are drawn from these, never from every step.
    buckets = max(50, int(plot.width() * PLOT_PNG_SCALE))
    series = {n: _decimate(curves.get(n, []), buckets) for n in names}
    values = [v for n in names for _, v in series[n]]
    steps = max((len(curves.get(n, [])) for n in names), default=0)
    if not values:
        p.setPen(QPen(_AXIS, 1.2))
        p.drawRect(plot)
        p.setFont(_font(15))
        p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no training steps recorded")
        return
    log = min(values) > 0 and max(values) / min(values) >= 10
    if log:
        y0, y1, yt = _log_ticks(min(values), max(values))
        ty = math.log10
    else:
        y0, y1, yt = _linear_ticks(min(values), max(values))

        def ty(v: float) -> float:
            return v

    x0, x1, xt = _linear_ticks(0.0, float(max(steps, 2)), 6)
    x0 = 0.0

    def sx(x: float) -> float:
        return plot.left() + (x - x0) / (x1 - x0) * plot.width()

    def sy(y: float) -> float:
        return plot.bottom() - (ty(y) - y0) / (y1 - y0) * plot.height()

    # grid and tick labels
    p.setFont(_font(15))
    fm = QFontMetricsF(p.font())
    for t in yt:
        y = sy(t)
        p.setPen(QPen(_GRID, 1))
        p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.setPen(_TEXT)
        label = _tick_label(t)
        p.drawText(QPointF(plot.left() - 8 - fm.horizontalAdvance(label), y + fm.ascent() / 2 - 2), label)
    for t in xt:
        if t < x0 or t > x1:
            continue
        x = sx(t)
        p.setPen(QPen(_GRID, 1))
        p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        p.setPen(_TEXT)
        label = _step_label(t)
        p.drawText(QPointF(x - fm.horizontalAdvance(label) / 2, plot.bottom() + 6 + fm.ascent()), label)

    # curves, clipped to the plot area
    p.save()
    p.setClipRect(plot.adjusted(-2, -2, 2, 2))
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    for n in names:
        pts = series[n]
        if not pts:
            continue
        pen = QPen(_COLORS[n], _WIDTHS[n])
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        drawn = pts
        if len(drawn) == 1:
            p.setBrush(_COLORS[n])
            p.drawEllipse(QPointF(sx(drawn[0][0]), sy(drawn[0][1])), 4, 4)
            p.setBrush(Qt.BrushStyle.NoBrush)
            continue
        # In pieces of CURVE_PIECE points sharing their ends: stroking one long zigzag path with
        # antialiasing costs Qt seconds (its outline is built whole), short ones milliseconds.
        points = [QPointF(sx(x), sy(y)) for x, y in drawn]
        for lo in range(0, len(points) - 1, CURVE_PIECE):
            piece = points[lo : lo + CURVE_PIECE + 1]
            path = QPainterPath(piece[0])
            for pt in piece[1:]:
                path.lineTo(pt)
            p.drawPath(path)
    p.restore()

    # frame and axis labels
    p.setPen(QPen(_AXIS, 1.3))
    p.drawRect(plot)
    p.setFont(_font(16))
    p.setPen(_TEXT)
    p.drawText(
        QRectF(plot.left(), plot.bottom() + 34, plot.width(), 26),
        Qt.AlignmentFlag.AlignHCenter,
        "training step",
    )
    p.save()
    p.translate(rect.left() + 16, plot.center().y())
    p.rotate(-90)
    ylabel = "loss" if "loss" in names else "Frobenius norm"
    p.drawText(
        QRectF(-plot.height() / 2, -12, plot.height(), 24),
        Qt.AlignmentFlag.AlignCenter,
        ylabel + (" (log scale)" if log else ""),
    )
    p.restore()

    # legend, top right inside the plot
    p.setFont(_font(15))
    fm = QFontMetricsF(p.font())
    present = [n for n in names if series[n]]
    w = max(fm.horizontalAdvance(CURVE_LABELS[n]) for n in present) + 52
    h = 12 + 25 * len(present)
    box = QRectF(plot.right() - w - 10, plot.top() + 10, w, h)
    p.setPen(QPen(QColor(200, 200, 200), 1))
    p.setBrush(QColor(255, 255, 255, 230))
    p.drawRect(box)
    p.setBrush(Qt.BrushStyle.NoBrush)
    for k, n in enumerate(present):
        y = box.top() + 18 + 25 * k
        p.setPen(QPen(_COLORS[n], max(_WIDTHS[n], 2.0)))
        p.drawLine(QPointF(box.left() + 10, y), QPointF(box.left() + 36, y))
        p.setPen(_TEXT)
        p.drawText(QPointF(box.left() + 44, y + fm.ascent() / 2 - 2), CURVE_LABELS[n])


def paint_curves(p: QPainter, size: QSize, curves: dict[str, list[float]]) -> None:
    """Paint the training curves into a ``size`` rectangle: loss on the left, gradient norms on
    the right, both against the 1-based step."""
    w, h = size.width(), size.height()
    p.fillRect(QRectF(0, 0, w, h), QColor("white"))
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    gap = 24
    half = (w - gap) / 2
    _paint_panel(p, QRectF(8, 10, half - 8, h - 16), "Loss", curves, ("loss", "loss_at_x"))
    _paint_panel(
        p,
        QRectF(half + gap, 10, half - 8, h - 16),
        "Gradient norms",
        curves,
        ("grad_norm_A", "grad_norm_B", "grad_norm_C"),
    )


def render_plot_image(curves: dict[str, list[float]], *, scale: float = PLOT_PNG_SCALE) -> QImage:
    """The curves as a QImage of PLOT_SIZE × scale pixels."""
    img = QImage(
        round(PLOT_SIZE.width() * scale), round(PLOT_SIZE.height() * scale), QImage.Format.Format_RGB32
    )
    img.setDevicePixelRatio(scale)
    img.fill(QColor("white"))
    p = QPainter(img)
    try:
        paint_curves(p, PLOT_SIZE, curves)
    finally:
        p.end()
    return img


def _png_bytes(image: QImage | QPixmap) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, "PNG"):
        raise ReportError("could not encode a PNG image")
    buf.close()
    return bytes(data.data())


#: PNG bytes of an image or pixmap (screenshots use it too); ReportError if encoding fails.
png_bytes = _png_bytes


def render_plot_png(curves: dict[str, list[float]]) -> bytes:
    return _png_bytes(render_plot_image(curves))


def render_plot_svg(curves: dict[str, list[float]], *, title: str = "Training curves") -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(PLOT_SIZE)
    gen.setResolution(96)  # so that browsers show it 1200 px wide (the default 72 dpi is 423 mm)
    gen.setViewBox(QRectF(0, 0, PLOT_SIZE.width(), PLOT_SIZE.height()))
    gen.setTitle(title)
    gen.setDescription("Loss and gradient norms against the training step (Backprop Lab)")
    p = QPainter(gen)
    try:
        paint_curves(p, PLOT_SIZE, curves)
    finally:
        p.end()
    buf.close()
    return bytes(data.data())


# --------------------------------------------------------------------------- the PDF

#: A4 with 18 mm side margins and 16 mm top/bottom: the look of a printed lab report.
PDF_MARGINS_MM = QMarginsF(18, 16, 18, 14)
PDF_RESOLUTION = 300
#: The document is laid out at 96 dpi (as on most screens) whatever the display, then scaled.
LAYOUT_DPI = 96
FOOTER_HEIGHT_PT = 22


def _layout_device() -> QImage:
    """A paint device with exactly LAYOUT_DPI, so the layout is the same on every machine."""
    img = QImage(1, 1, QImage.Format.Format_RGB32)
    dpm = round(LAYOUT_DPI / 0.0254)
    img.setDotsPerMeterX(dpm)
    img.setDotsPerMeterY(dpm)
    return img


def _items(doc: QTextDocument) -> list[tuple[Any, QRectF]]:
    """The root frame's children in order (blocks and tables) with their laid-out rectangles."""
    layout = doc.documentLayout()
    out: list[tuple[Any, QRectF]] = []
    it = doc.rootFrame().begin()
    while not it.atEnd():
        frame = it.currentFrame()
        if frame is not None:
            out.append((frame, layout.frameBoundingRect(frame)))
        else:
            block = it.currentBlock()
            if block.isValid():
                out.append((block, layout.blockBoundingRect(block)))
        it += 1
    return out


def _heading_level(item: Any) -> int:
    return item.blockFormat().headingLevel() if isinstance(item, QTextBlock) else 0


def _is_heading(item: Any) -> bool:
    return _heading_level(item) > 0


def _keep_with_next(items: list[tuple[Any, QRectF]]) -> list[bool]:
    """Which items must share a page with the item after them: headings, figures, sentences
    ending in ':', and the paragraphs that lead into a table or a subsection."""
    keep = [False] * len(items)
    for idx in range(len(items) - 1, -1, -1):
        item = items[idx][0]
        if not isinstance(item, QTextBlock):
            continue
        text = item.text().strip()
        if _is_heading(item) or "\ufffc" in text or text.endswith(":"):
            keep[idx] = True
        elif idx + 1 < len(items):
            nxt = items[idx + 1][0]
            # A section's opening paragraphs stay with its first table or first subsection.
            keep[idx] = isinstance(nxt, QTextFrame) or (keep[idx + 1] and _heading_level(nxt) != 2)
    return keep


def _break_before(item: Any) -> None:
    if isinstance(item, QTextBlock):
        fmt = item.blockFormat()
        fmt.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
        QTextCursor(item).setBlockFormat(fmt)
    else:
        ffmt = item.format()
        ffmt.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
        item.setFormat(ffmt)


def paginate(doc: QTextDocument) -> None:
    """Move tables that a page boundary would cut, and headings it would orphan, to the next page.

    Qt breaks a table between any two rows and leaves a heading alone at the foot of a page; a
    lab report keeps a matrix, its heading and its lead-in together. Each pass fixes the first
    offender and lays out again, so content only ever moves forward and this terminates.
    """
    page_h = doc.pageSize().height()
    for _ in range(500):
        items = _items(doc)

        def page(y: float) -> int:
            return math.floor(y / page_h)

        keep = _keep_with_next(items)
        target = None
        for idx, (item, rect) in enumerate(items):
            first, last = page(rect.top()), page(rect.bottom() - 1)
            cut = isinstance(item, QTextFrame) and first != last and rect.height() < 0.9 * page_h
            orphan = keep[idx] and idx + 1 < len(items) and page(items[idx + 1][1].top()) > first
            if not (cut or orphan):
                continue
            # Take what leads into it along to the next page, up to its heading.
            j = idx
            while j > 0 and keep[j - 1] and page(items[j - 1][1].top()) == first:
                j -= 1
                if _heading_level(items[j][0]) in (1, 2):
                    break
            at_page_top = j == 0 or page(items[j - 1][1].bottom() - 1) < page(items[j][1].top())
            if at_page_top or _has_break(items[j][0]):
                continue  # breaking there would change nothing: let Qt split it
            target = items[j][0]
            break
        if target is None:
            return
        _break_before(target)


def _has_break(item: Any) -> bool:
    fmt = item.blockFormat() if isinstance(item, QTextBlock) else item.format()
    return bool(fmt.pageBreakPolicy() & QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)


def _page_layout() -> QPageLayout:
    return QPageLayout(
        QPageSize(QPageSize.PageSizeId.A4),
        QPageLayout.Orientation.Portrait,
        PDF_MARGINS_MM,
        QPageLayout.Unit.Millimeter,
    )


def _page_geometry() -> tuple[float, float, float]:
    """Text width, text height and footer height of an A4 page, in layout pixels (LAYOUT_DPI)."""
    paint = _page_layout().paintRectPixels(LAYOUT_DPI)
    footer = FOOTER_HEIGHT_PT / 72 * LAYOUT_DPI
    return float(paint.width()), float(paint.height()) - footer, footer


_LAYOUT_DEVICE: QImage | None = None


def layout_report(data: ReportData, plot: QImage | None) -> QTextDocument:
    """The report's Qt rich text laid out on A4 pages (``doc.pageSize()``), tables kept whole."""
    global _LAYOUT_DEVICE
    if _LAYOUT_DEVICE is None:
        _LAYOUT_DEVICE = _layout_device()  # must outlive every document laid out on it
    width, height, _ = _page_geometry()
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(_LAYOUT_DEVICE)
    doc.setDocumentMargin(0)
    base = QFont("DejaVu Serif")
    base.setPointSizeF(10)
    doc.setDefaultFont(base)
    if plot is not None:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("plot.png"), plot)
    src = "plot.png" if plot is not None else None
    doc.setHtml(render_html(data, plot_src=src, flavour="qt", plot_width=round(width)))
    doc.setPageSize(QSizeF(width, height))
    paginate(doc)
    return doc


def render_report_pdf(data: ReportData, plot: QImage | None) -> tuple[bytes, int]:
    """The report as an A4 PDF (bytes) and its page count, with a footer on every page."""
    doc = layout_report(data, plot)
    width, height, footer = _page_geometry()
    pages = doc.pageCount()

    buffer = QByteArray()
    device = QBuffer(buffer)
    device.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(device)
    writer.setResolution(PDF_RESOLUTION)
    writer.setTitle(f"{data.title} — Backprop Lab report")
    writer.setCreator("Backprop Lab")
    writer.setPageLayout(_page_layout())
    scale = PDF_RESOLUTION / LAYOUT_DPI
    small = QFont("DejaVu Sans")
    small.setPixelSize(round(7.5 / 72 * LAYOUT_DPI))  # in layout units: the painter is scaled
    title = QFontMetricsF(small).elidedText(
        f"{data.title} — Backprop Lab report", Qt.TextElideMode.ElideRight, width * 0.75
    )
    p = QPainter(writer)
    try:
        p.scale(scale, scale)
        for n in range(pages):
            if n:
                writer.newPage()
            p.save()
            p.translate(0, -n * height)
            doc.drawContents(p, QRectF(0, n * height, width, height))
            p.restore()
            y = height + footer * 0.35
            p.setPen(QPen(QColor(170, 170, 170), 0.6))
            p.drawLine(QPointF(0, y), QPointF(width, y))
            p.setFont(small)
            p.setPen(QColor(110, 110, 110))
            box = QRectF(0, y + 2, width, footer * 0.6)
            top = Qt.AlignmentFlag.AlignTop
            p.drawText(box, Qt.AlignmentFlag.AlignLeft | top, title)
            p.drawText(box, Qt.AlignmentFlag.AlignRight | top, f"page {n + 1} of {pages}")
    finally:
        p.end()
    del writer  # finishes the file into the buffer
    device.close()
    return bytes(buffer.data()), pages


def count_pdf_pages(pdf: bytes) -> int:
    """Page objects in a PDF (``/Type /Page``, not ``/Type /Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


# --------------------------------------------------------------------------- the window


def grab_window(window: QWidget) -> QPixmap:
    """A screenshot of ``window`` at no less than WINDOW_MIN_SIZE (its size is restored after)."""
    old = window.size()
    target = old.expandedTo(WINDOW_MIN_SIZE)
    if target != old:
        window.resize(target)
    try:
        # Let layouts settle at the new size before painting.
        QApplication.processEvents()
        if window.layout() is not None:
            window.layout().activate()
        pixmap = window.grab()
    finally:
        if target != old:
            window.resize(old)
    return pixmap


def _main_window_for(session: Any) -> QWidget:
    """A MainWindow showing (a copy of) ``session``, built offscreen for the command line."""
    try:
        from backprop_lab.gui.main_window import MainWindow
    except ImportError as exc:
        raise ReportError(
            f"window.png needs the main window (gui.main_window), which cannot be imported: {exc}"
        ) from exc
    window = MainWindow()
    window.document.replace_session(session.copy(), None)
    window.statusBar().clearMessage()  # the start-up greeting is about the report example
    return window


# --------------------------------------------------------------------------- export


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def build_report(
    session: Any,
    *,
    window: QWidget | None,
    verifications: Sequence[Any] | None = None,
    torch: bool = True,
    data: ReportData | None = None,
    shot: QImage | None = None,
) -> tuple[dict[str, bytes], int]:
    """Every file of the report, rendered in memory: ``({name: bytes}, pdf_pages)``.

    With ``shot`` (the window's screenshot, grabbed beforehand on the GUI thread) and ``data``,
    no widget is touched, so this may run on a worker thread.
    """
    if data is None:
        data = gather_report_data(session, verifications=verifications, torch=torch)
    plot_image = render_plot_image(data.curves)
    plot_png = _png_bytes(plot_image)
    plot_svg = render_plot_svg(data.curves, title=f"{data.title}: training curves")
    html_text = render_html(data, plot_src=_data_uri(plot_png) if data.trained else None, flavour="web")
    pdf, pages = render_report_pdf(data, plot_image if data.trained else None)

    if shot is not None:
        pass
    elif window is not None:
        shot = grab_window(window).toImage()
    else:
        own = _main_window_for(session)
        try:
            shot = grab_window(own).toImage()
        finally:
            # Not close(): closing saves the window geometry into the user's preferences.
            own.hide()
            own.deleteLater()
    if shot.isNull():
        raise ReportError("could not take a screenshot of the window")
    files = {
        "report.html": html_text.encode("utf-8"),
        "report.pdf": pdf,
        "window.png": _png_bytes(shot),
        "plot.png": plot_png,
        "plot.svg": plot_svg,
    }
    return files, pages


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _keep_aside(target: Path, aside: Path) -> None:
    """A second name for the file at ``target`` (a hard link: the file itself stays in place and
    keeps its identity), or a copy where the file system has no hard links."""
    try:
        os.link(target, aside, follow_symlinks=False)
    except OSError:
        shutil.copy2(target, aside, follow_symlinks=False)


def _swap_in(tmp: Path, out: Path) -> None:
    """Move the report files in ``tmp`` over their namesakes in the existing folder ``out``, all or
    nothing: if any replacement fails, the ones already made are undone, so ``out`` keeps exactly
    the files (the same inodes, the same bytes) it had. The user's other files are never touched.

    Not atomic against a SIGKILL half-way (POSIX cannot swap several files at once); the old files
    are then in ``tmp``/.previous, which the next export to the same place removes as stale.
    """
    in_the_way = [name for name in FILE_NAMES if (out / name).is_dir() and not (out / name).is_symlink()]
    if in_the_way:
        raise ReportError(
            f"cannot write {out / in_the_way[0]}: a folder of that name is in the way "
            "(nothing in the report folder was changed)"
        )
    aside = tmp / ".previous"
    aside.mkdir()
    existed = set()
    for name in FILE_NAMES:
        if os.path.lexists(out / name):  # a file, or a symbolic link (replaced as a link)
            _keep_aside(out / name, aside / name)
            existed.add(name)
    done: list[str] = []
    try:
        for name in FILE_NAMES:
            os.replace(tmp / name, out / name)
            done.append(name)
    except BaseException:
        for name in reversed(done):
            with contextlib.suppress(OSError):
                if name in existed:
                    os.replace(aside / name, out / name)
                else:
                    os.unlink(out / name)
        raise


def export_report(
    session: Any,
    out_dir: str | os.PathLike[str],
    *,
    window: QWidget | None = None,
    verifications: Sequence[Any] | None = None,
    torch: bool = True,
    data: ReportData | None = None,
    shot: QImage | None = None,
) -> ReportFiles:
    """Write the report of ``session`` into the folder ``out_dir`` and return where each file went.

    ``window``: the main window to screenshot (resized to at least 1400×900 for the grab); without
    one, a MainWindow is built offscreen on the session. ``verifications``: CheckReports already
    computed, shown instead of running the checks again; ``torch=False`` leaves PyTorch out.
    ``data``: the report's content already gathered by :func:`engine.report_data.gather_report_data`
    (the window gathers it on a worker thread, as the checks take a while); ``verifications`` and
    ``torch`` are then ignored. ``shot``: the window's screenshot taken beforehand (instead of
    ``window``); with ``data`` and ``shot`` the export touches no widget and may run on a worker
    thread (the window exports that way, see :mod:`gui.report_actions`).

    A QApplication must exist. Raises :class:`ReportError` (one line) when rendering fails and
    ``OSError`` when the folder cannot be written; either way nothing is left half-written:
    ``out_dir`` either gets every file or keeps exactly what it had.
    """
    if not isinstance(QApplication.instance(), QApplication):  # widgets need a QApplication
        raise ReportError("a QApplication must exist before a report is exported")
    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out.parent, out.name, ".partial")  # left by a killed export
    tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(out.name), suffix=".partial", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would make the renamed report folder private
    try:
        files, pages = build_report(
            session, window=window, verifications=verifications, torch=torch, data=data, shot=shot
        )
        for name in FILE_NAMES:
            _write_file(tmp / name, files[name])
        _fsync_dir(tmp)
        if not out.exists():
            os.rename(tmp, out)
        else:
            # The folder exists (perhaps with the user's other files): nothing in it was touched
            # until everything rendered, and then all its report files change or none does.
            _swap_in(tmp, out)
            shutil.rmtree(tmp, ignore_errors=True)
        _fsync_dir(out)
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ReportFiles(
        folder=out,
        html=out / "report.html",
        pdf=out / "report.pdf",
        window_png=out / "window.png",
        plot_png=out / "plot.png",
        plot_svg=out / "plot.svg",
        pdf_pages=pages,
    )
