"""The report's PDF: the report's Qt rich text (from :func:`engine.report_html.render_html`) laid
out on A4 by QTextDocument, paginated so that no table is cut and no heading stranded, and printed
through QPdfWriter with a footer on every page.

Everything here paints on QImage, QTextDocument and QPdfWriter, which Qt allows off the GUI
thread: the window renders the PDF on a worker thread.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPointF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextFrame,
)

from backprop_lab.engine.report_data import ReportData
from backprop_lab.engine.report_html import render_html
from backprop_lab.gui.network_layout import NetworkPicture
from backprop_lab.gui.report_network import figure_for, network_places, paint_network, reserve_network_figure

__all__ = ["count_pdf_pages", "layout_report", "paginate", "render_report_pdf"]

#: A4 with 18 mm side margins and 16 mm top/bottom: the look of a printed lab report.
PDF_MARGINS_MM = QMarginsF(18, 16, 18, 14)
PDF_RESOLUTION = 300
#: The document is laid out at 96 dpi (as on most screens) whatever the display, then scaled.
LAYOUT_DPI = 96
FOOTER_HEIGHT_PT = 22
#: The footer's text colour: 5.1:1 on the white page (WCAG AA, tests/gui/test_contrast.py).
FOOTER_TEXT = "#6e6e6e"


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


def layout_report(
    data: ReportData, plot: QImage | None, network: NetworkPicture | None = None
) -> QTextDocument:
    """The report's Qt rich text laid out on A4 pages (``doc.pageSize()``), tables kept whole;
    ``network``, when given, is its Figure 1, painted as vectors (:mod:`gui.report_network`)."""
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
    figure = figure_for(network, None, width, height) if network is not None else None
    doc.setHtml(render_html(data, plot_src=src, flavour="qt", plot_width=round(width), network=figure))
    if network is not None:
        reserve_network_figure(doc)
    doc.setPageSize(QSizeF(width, height))
    paginate(doc)
    return doc


def render_report_pdf(
    data: ReportData, plot: QImage | None, network: NetworkPicture | None = None
) -> tuple[bytes, int]:
    """The report as an A4 PDF (bytes) and its page count, with a footer on every page."""
    doc = layout_report(data, plot, network)
    width, height, footer = _page_geometry()
    pages = doc.pageCount()
    figures = network_places(doc, width) if network is not None else []

    buffer = QByteArray()
    device = QBuffer(buffer)
    device.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(device)
    writer.setResolution(PDF_RESOLUTION)
    writer.setTitle(data.document_title)
    writer.setCreator("Backprop Lab")
    writer.setPageLayout(_page_layout())
    scale = PDF_RESOLUTION / LAYOUT_DPI
    small = QFont("DejaVu Sans")
    small.setPixelSize(round(7.5 / 72 * LAYOUT_DPI))  # in layout units: the painter is scaled
    title = QFontMetricsF(small).elidedText(data.document_title, Qt.TextElideMode.ElideRight, width * 0.75)
    p = QPainter(writer)
    try:
        p.scale(scale, scale)
        for n in range(pages):
            if n:
                writer.newPage()
            p.save()
            p.translate(0, -n * height)
            doc.drawContents(p, QRectF(0, n * height, width, height))
            for place in figures:
                if network is not None and math.floor(place.top() / height) == n:
                    paint_network(p, network, place)
            p.restore()
            y = height + footer * 0.35
            p.setPen(QPen(QColor(170, 170, 170), 0.6))
            p.drawLine(QPointF(0, y), QPointF(width, y))
            p.setFont(small)
            p.setPen(QColor(FOOTER_TEXT))
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
