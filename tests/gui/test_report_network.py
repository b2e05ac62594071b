"""The network in reports (#15): Figure 1 as inline SVG in report.html, vectors in the PDF,
network.svg and network.png in the folder; drawn by the window's painter from the initial model."""

from __future__ import annotations

import math
import re
import zlib
from xml.etree import ElementTree

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel

from backprop_lab.engine.model import Model
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.session import Session
from backprop_lab.engine.variant import Variant
from backprop_lab.gui.network_layout import RADIUS, NetworkPicture
from backprop_lab.gui.network_paint import MAX_IMAGE_PIXELS, image_scale, page_decor
from backprop_lab.gui.report import build_report, export_report, grab_window
from backprop_lab.gui.report_charts import render_plot_image
from backprop_lab.gui.report_network import (
    MAX_PAGE_SHARE,
    NETWORK_PNG_SCALE,
    network_places,
    network_png,
    report_picture,
)
from backprop_lab.gui.report_pdf import _page_geometry, layout_report, render_report_pdf

SVG = "{http://www.w3.org/2000/svg}"


def _trained(session: Session) -> Session:
    trainer = session.make_trainer()
    session.history.extend(trainer.steps())
    session.finish_run(trainer)
    return session


@pytest.fixture(scope="module")
def exported(qapp, tmp_path_factory):
    """The report folder of the report example after its 100 steps, and its session."""
    session = _trained(Session.report_example())
    window = QLabel("the main window")
    out = tmp_path_factory.mktemp("net") / "report"
    files = export_report(session, out, shot=grab_window(window).toImage(), torch=False)
    window.deleteLater()
    return files, session


def _figure_svg(html: str) -> str:
    """The inline <svg> element of the network figure in report.html."""
    found = re.findall(r'<figure class="network">(<svg.*?</svg>)', html, flags=re.S)
    assert len(found) == 1, "report.html has no (or more than one) network figure"
    return found[0]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _transform(g: ElementTree.Element) -> tuple[float, ...]:
    m = re.match(r"matrix\(([^)]*)\)", g.get("transform", ""))
    return tuple(float(v) for v in m.group(1).split(",")) if m else (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def _strokes(svg: ElementTree.Element) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(first point, last point) of every stroked line, polyline or path, in the SVG's user units
    (each group's matrix applied)."""
    out = []

    def walk(el: ElementTree.Element, m: tuple[float, ...]) -> None:
        for child in el:
            tag = _local(child.tag)
            if tag == "g":
                a, b, c, d, e, f = m
                a2, b2, c2, d2, e2, f2 = _transform(child)
                walk(child, (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
                             a * e2 + c * f2 + e, b * e2 + d * f2 + f))  # fmt: skip
                continue
            if tag == "line":
                pts = [float(child.get(k, "0")) for k in ("x1", "y1", "x2", "y2")]
            elif tag in ("polyline", "polygon"):
                pts = _numbers(child.get("points", ""))
            elif tag == "path":
                pts = _numbers(child.get("d", ""))
            else:
                continue
            if len(pts) < 4:
                continue
            a, b, c, d, e, f = m
            ends = [(pts[0], pts[1]), (pts[-2], pts[-1])]
            out.append(tuple((a * x + c * y + e, b * x + d * y + f) for x, y in ends))

    walk(svg, (1.0, 0.0, 0.0, 1.0, 0.0, 0.0))
    return out


def _drawn_edges(svg: ElementTree.Element, pic: NetworkPicture) -> dict[tuple[str, int, int], int]:
    """How many stroked elements of ``svg`` run from each edge's start to its end."""
    strokes = _strokes(svg)

    def near(p, q) -> bool:
        return math.dist(p, q) < 0.6

    return {
        (e.matrix, e.i, e.j): sum(1 for s, t in strokes if near(s, (e.x1, e.y1)) and near(t, (e.x2, e.y2)))
        for e in pic.edges
    }


# --------------------------------------------------------------------------- report.html


def test_the_html_holds_the_network_as_svg_one_stroke_per_edge(exported):
    files, session = exported
    html = files.html.read_text(encoding="utf-8")
    svg = ElementTree.fromstring(_figure_svg(html))  # valid XML, or this raises
    assert _local(svg.tag) == "svg"
    pic = report_picture(session.initial)
    assert pic.mode == "backward" and len(pic.edges) == 27
    assert svg.get("viewBox", "").split() == ["0", "0", f"{pic.width:g}", f"{pic.height:g}"]
    counts = _drawn_edges(svg, pic)
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}
    # Self-contained: the figure names no URL, so the page still fetches nothing.
    assert "http" not in _figure_svg(html) and "href" not in _figure_svg(html)


def test_the_caption_names_the_figure_the_mode_and_the_variant(exported):
    files, _ = exported
    html = files.html.read_text(encoding="utf-8")
    caption = re.search(r'<figure class="network">.*?<p class="caption">(.*?)</p></figure>', html, re.S)
    assert caption is not None
    text = caption.group(1)
    assert "<b>Figure 1.</b>" in text and "backward pass" in text
    assert "Variant: sigmoid, row vectors, no target" in text
    # The curves come after it: Figure 2, and the network comes first in the page.
    assert "<b>Figure 2.</b> Left: the batch loss" in html
    assert html.index('<figure class="network">') < html.index("<h2>3. Verification</h2>")
    assert html.index("<h3>Resulting gradients</h3>") < html.index('<figure class="network">')


def test_a_hostile_session_name_cannot_break_out_of_the_svg(qapp):
    session = Session.report_example()
    session.name = "</title></svg><script>alert(1)</script> \ud800 &"
    files, _ = build_report(session, shot=QImage(8, 8, QImage.Format.Format_RGB32), torch=False)
    html = files["report.html"].decode("utf-8")
    svg = ElementTree.fromstring(_figure_svg(html))
    assert "<script" not in html.lower()
    title = svg.find(f"{SVG}title")
    if title is None:  # the inline copy has no namespace
        title = svg.find("title")
    assert title is not None and title.text.startswith("</title></svg><script>alert(1)</script> \ufffd &")
    ElementTree.fromstring(files["network.svg"])  # the file too is valid XML


# --------------------------------------------------------------------------- the folder


def test_the_folder_has_network_svg_and_png_of_the_same_picture(exported):
    files, session = exported
    pic = report_picture(session.initial)
    svg = ElementTree.fromstring(files.network_svg.read_bytes())
    assert svg.tag == f"{SVG}svg"
    assert set(_drawn_edges(svg, pic).values()) == {1}
    image = QImage(str(files.network_png))
    assert not image.isNull()
    assert image_scale(pic, NETWORK_PNG_SCALE) == NETWORK_PNG_SCALE  # K = 3 is well within the budget
    assert (image.width(), image.height()) == (
        round(pic.width * NETWORK_PNG_SCALE),
        round(pic.height * NETWORK_PNG_SCALE),
    )
    # The PNG shows the picture: the strongest edge's middle is coloured, a corner is the white ground.
    strongest = max(pic.edges, key=lambda e: abs(e.gradient))
    mid = ((strongest.x1 + strongest.x2) / 2, (strongest.y1 + strongest.y2) / 2)
    pixel = image.pixelColor(round(mid[0] * NETWORK_PNG_SCALE), round(mid[1] * NETWORK_PNG_SCALE))
    assert pixel != QColor("white")
    assert image.pixelColor(1, 1) == QColor("white")


def test_a_large_network_png_is_scaled_down_to_its_pixel_budget(qapp):
    pic = report_picture(Session.random(32, 1).initial)
    scale = image_scale(pic, NETWORK_PNG_SCALE)
    assert scale < NETWORK_PNG_SCALE
    image = network_png(pic)
    assert image.width() * image.height() <= MAX_IMAGE_PIXELS * 1.001
    # Still readable: the page's texts come out at 10 px or more, the units at 5 px across or more.
    assert page_decor(pic).text_size * scale >= 10 and 2 * RADIUS * scale >= 5


# --------------------------------------------------------------------------- the PDF


def _streams(pdf: bytes) -> list[tuple[bytes, bytes]]:
    """(dictionary, decoded body) of every stream object (images left encoded)."""
    out = []
    for head, body in re.findall(rb"obj\s*(<<.*?>>)\s*stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        if b"/FlateDecode" in head and b"/Image" not in head:
            body = zlib.decompress(body)
        out.append((head, body))
    return out


def _images(pdf: bytes) -> list[tuple[int, int]]:
    sizes = []
    for head, _ in _streams(pdf):
        if b"/Subtype /Image" in head:
            w = re.search(rb"/Width (\d+)", head)
            h = re.search(rb"/Height (\d+)", head)
            assert w and h
            sizes.append((int(w.group(1)), int(h.group(1))))
    return sorted(sizes)


def _line_segments(pdf: bytes) -> int:
    return sum(body.count(b" l\n") for head, body in _streams(pdf) if b"/Image" not in head)


@pytest.mark.parametrize("trained", [True, False], ids=["trained", "untrained"])
def test_the_pdf_figure_is_vectors_not_an_image(qapp, trained):
    session = _trained(Session.report_example()) if trained else Session.report_example()
    data = gather_report_data(session, torch=False)
    plot = render_plot_image(data.curves) if trained else None
    pic = report_picture(data.initial)
    with_figure, _ = render_report_pdf(data, plot, pic)
    without, _ = render_report_pdf(data, plot, None)
    # The figure adds no image (the only one is the curves' 2400×1200, when there are curves)...
    assert _images(with_figure) == _images(without) == ([(2400, 1200)] if trained else [])
    # ...but a line segment at least for every edge it draws.
    assert _line_segments(with_figure) - _line_segments(without) >= len(pic.edges)


def _figure_block_neighbours(doc):
    """(block before the figure's, the figure's, block after) of a laid-out report."""
    blocks = []
    block = doc.begin()
    while block.isValid():
        blocks.append(block)
        block = block.next()
    at = [n for n, b in enumerate(blocks) if b.text() == "\ufffc"]
    assert len(at) == 1
    n = at[0]
    return blocks[n - 1], blocks[n], blocks[n + 1]


@pytest.mark.parametrize("k", [3, 16, 32])
def test_the_pdf_keeps_room_for_the_figure_on_one_page(qapp, k):
    session = Session.report_example() if k == 3 else Session.random(k, seed=1)
    data = gather_report_data(session, torch=False)
    pic = report_picture(data.initial)
    doc = layout_report(data, None, pic)
    width, height, _ = _page_geometry()
    (place,) = network_places(doc, width)
    before, _, after = _figure_block_neighbours(doc)
    layout = doc.documentLayout()
    # Inside the text column, on one page, no taller than its share of it, in proportion.
    assert 0 <= place.left() and place.right() <= width + 0.5
    assert math.floor(place.top() / height) == math.floor((place.bottom() - 1) / height)
    assert place.height() <= MAX_PAGE_SHARE * height + 0.5
    assert place.width() / place.height() == pytest.approx(pic.width / pic.height, rel=0.01)
    # Nothing else is drawn there: the blocks around it end before it and start after it.
    assert layout.blockBoundingRect(before).bottom() <= place.top() + 0.5
    assert place.bottom() <= layout.blockBoundingRect(after).top() + 0.5
    assert "Figure 1." in after.text()
    if k > 16:
        assert "faded" in after.text() and pic.note


def test_forward_mode_in_the_model_section_when_the_gradients_overflow(qapp):
    huge = Model(
        x=[1.0, 1.0],
        A=[[1e200, 1e200], [1e200, 1e200]],
        B=[[1e200, 1e200], [1e200, 1e200]],
        C=[[1e200, 1e200], [1e200, 1e200]],
        variant=Variant(),
    )
    session = Session(model=huge, initial=huge.copy())
    pic = report_picture(session.initial)
    assert pic.mode == "forward"
    files, _ = build_report(session, shot=QImage(8, 8, QImage.Format.Format_RGB32), torch=False)
    html = files["report.html"].decode("utf-8")
    figure = html.index('<figure class="network">')
    assert html.index("<h3>Initial values</h3>") < figure < html.index("<h2>2. The loss")
    assert "forward pass" in html[figure:]
    ElementTree.fromstring(_figure_svg(html))
