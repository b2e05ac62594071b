"""The network view (issue #15): what it draws, in which colours, and what it answers to."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel, QToolButton

from backprop_lab.engine.model import Model
from backprop_lab.engine.session import Session
from backprop_lab.engine.variant import Variant
from backprop_lab.gui.document import Document
from backprop_lab.gui.network_layout import TOP_EDGES, chain_path, network_picture
from backprop_lab.gui.network_paint import edge_style, legend_lines, page_decor, picture_svg
from backprop_lab.gui.network_view import NetworkView
from backprop_lab.gui.theme import dark_palette


class FakePrompts:
    def __init__(self, path: str = "") -> None:
        self.path = path
        self.warnings: list[str] = []

    def save_file(self, title: str, suggested: str, filters: str = "") -> str:
        return self.path

    def warning(self, title: str, text: str) -> None:
        self.warnings.append(text)


@pytest.fixture
def make_view(qtbot):
    def make(doc: Document | None = None, prompts: FakePrompts | None = None, size=(900, 600)) -> NetworkView:
        view = NetworkView(doc or Document(), prompts=prompts)  # type: ignore[arg-type]
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        qtbot.waitExposed(view)
        return view

    return make


def pixel(view: NetworkView, at: QPointF) -> QColor:
    image: QImage = view.grab().toImage()
    ratio = image.devicePixelRatio()
    return image.pixelColor(round(at.x() * ratio), round(at.y() * ratio))


def lone_a00(value: float) -> Model:
    """The report's x, B and C, and an A whose only non-zero entry is A[0][0] (the largest weight)."""
    base = Session.report_example().model
    A = [[value if (i, j) == (0, 0) else 0.0 for j in range(3)] for i in range(3)]
    return Model(base.x, A, base.B, base.C)


def test_it_exists_with_its_controls(make_view):
    view = make_view()
    assert view.objectName() == "networkGraph"
    for name in ("networkForward", "networkBackward", "networkFit"):
        assert view.findChild(QToolButton, name) is not None
    assert view.findChild(QToolButton, "networkForward").isChecked()
    view.findChild(QToolButton, "networkBackward").click()
    assert view.mode == "backward" and view.picture.mode == "backward"
    assert not view.findChild(QToolButton, "networkForward").isChecked()


def test_the_edge_of_a00_changes_side_of_the_palette_with_its_sign(make_view):
    doc = Document()
    doc.set_model(lone_a00(2.0))
    view = make_view(doc)
    at = view.edge_position("A", 0, 0)
    before = pixel(view, at)
    assert before.red() > before.blue() + 60  # red: positive
    doc.set_entry("A", 0, 0, -2.0)
    assert view.picture.edge("A", 0, 0).weight == -2.0
    after = pixel(view, at)
    assert after.blue() > after.red() + 60  # blue: negative


def test_backward_edge_colours_follow_the_gradients(make_view):
    doc = Document()
    view = make_view(doc)
    view.set_mode("backward")
    pic = view.picture
    decor = view.decor()
    for e in pic.edges:
        # The gradient table's number for this entry is the edge's number.
        assert e.gradient == pytest.approx(doc.evaluation.grads[e.matrix][e.i][e.j], rel=1e-12)
        colour, width = edge_style(e, pic, decor)
        t = e.gradient / pic.edge_scale
        if abs(t) > 0.1:
            assert (colour.red() > colour.blue()) == (t > 0), (e.matrix, e.i, e.j)
        assert width == pytest.approx(edge_style(e, pic, decor)[1])
    # Width grows with |gradient|.
    ranked = sorted(pic.edges, key=lambda e: abs(e.gradient))
    assert edge_style(ranked[0], pic, decor)[1] < edge_style(ranked[-1], pic, decor)[1]
    assert legend_lines(pic, decor)[1][0].startswith("edges: ∂L/∂weight")


def test_past_k16_each_unit_keeps_its_four_strongest_and_says_so(make_view):
    doc = Document(Session.random(20, 3))
    view = make_view(doc)
    note = view.findChild(QLabel, "networkNote")
    assert note.isVisible() and f"{TOP_EDGES} largest |weight|" in note.text()
    for mode, number in (("forward", lambda e: abs(e.weight)), ("backward", lambda e: abs(e.gradient))):
        view.set_mode(mode)
        by_target: dict[str, list] = {}
        for e in view.picture.edges:
            by_target.setdefault(e.target, []).append(e)
        for edges in by_target.values():
            strong = [e for e in edges if e.strong]
            assert len(strong) == TOP_EDGES
            assert min(number(e) for e in strong) >= max(number(e) for e in edges if not e.strong)
    assert "|gradient|" in note.text()
    # Up to K = 16 every edge is drawn.
    doc16 = Document(Session.random(16, 3))
    assert all(e.strong for e in make_view(doc16).picture.edges)


def test_svg_export_is_valid_xml_with_a_line_per_edge(make_view, tmp_path):
    view = make_view()
    path = tmp_path / "network.svg"
    view.save_svg(path)
    root = ET.parse(path).getroot()
    lines = [el for el in root.iter() if el.tag.endswith(("polyline", "line", "path"))]
    pic = view.picture
    assert len([el for el in lines if el.tag.endswith("polyline")]) == len(pic.edges) + len(pic.links)
    texts = "".join(el.text or "" for el in root.iter() if el.tag.endswith("text"))
    assert "a = xA" in texts and "L = Σ w²" in texts
    # The same bytes as the painter's own export (what a report gets).
    assert path.read_bytes() == picture_svg(pic, page_decor(pic))


def test_context_menu_saves_through_the_prompts_atomically(make_view, tmp_path):
    target = tmp_path / "net.png"
    prompts = FakePrompts(str(target))
    view = make_view(prompts=prompts)
    menu = view.context_menu()
    [action] = [a for a in menu.actions() if a.objectName() == "networkSavePNG"]
    action.trigger()
    assert QImage(str(target)).width() > 0
    assert [p.name for p in tmp_path.iterdir()] == ["net.png"]  # no temporary left behind
    # A folder that is not there: one clear line, nothing written.
    prompts.path = str(tmp_path / "missing" / "net.svg")
    [svg] = [a for a in menu.actions() if a.objectName() == "networkSaveSVG"]
    svg.trigger()
    assert len(prompts.warnings) == 1 and "missing" in prompts.warnings[0]
    assert "\n" not in prompts.warnings[0]
    # Cancelled: nothing happens.
    prompts.path = ""
    svg.trigger()
    assert len(prompts.warnings) == 1
    menu.deleteLater()


def test_hover_words_name_the_entry_in_the_conventions_direction(make_view):
    doc = Document()
    view = make_view(doc)
    text = view.tooltip_at(view.edge_position("A", 0, 1))
    assert "A[0][1], from x_0 to a_1" in text
    assert f"A[0][1] = {doc.value('A', 0, 1)!r}"[:12] in text
    assert "∂L/∂A[0][1] = " in text
    doc.set_variant(Variant(convention="column"))
    text = view.tooltip_at(view.edge_position("A", 0, 1))
    assert "A[0][1], from x_1 to a_0" in text
    node = view.tooltip_at(view.node_position("z0"))
    assert node.startswith("z_0 = ") and "∂L/∂z_0 = " in node


def test_click_emits_the_edge_and_a_drag_pans_instead(make_view, qtbot):
    view = make_view()
    at = view.edge_position("B", 2, 1).toPoint()
    with qtbot.waitSignal(view.edgeClicked) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at)
    assert blocker.args == ["B", 2, 1]
    clicks: list = []
    view.edgeClicked.connect(lambda *a: clicks.append(a))
    before = view.edge_position("B", 2, 1)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=at)
    qtbot.mouseMove(view, at + QPoint(40, 30))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at + QPoint(40, 30))
    moved = view.edge_position("B", 2, 1) - before
    assert clicks == [] and moved.x() == pytest.approx(40, abs=1) and moved.y() == pytest.approx(30, abs=1)
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=QPoint(5, view.height() // 2))
    assert view.edge_position("B", 2, 1) == before and view.zoom == 1.0


def test_wheel_zooms_about_the_pointer_and_numbers_appear_with_room(make_view):
    view = make_view(Document(Session.random(32, 1)))
    assert view.decor().numbers is None  # no room at K = 32 fitted: absent, not cut
    anchor = view.node_position("a5")
    event = QWheelEvent(
        anchor, view.mapToGlobal(anchor), QPoint(), QPoint(0, 120 * 8), Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(view, event)
    assert view.zoom == pytest.approx(1.25**8)
    moved = view.node_position("a5") - anchor
    assert abs(moved.x()) < 1 and abs(moved.y()) < 1
    assert view.decor().numbers is not None
    assert make_view().decor().numbers is not None  # K = 3 has room at once


def test_highlight_marks_the_chain_rules_path():
    doc = Document()
    pic = network_picture(doc.model, doc.evaluation)
    edges, nodes = chain_path(pic, ("A", 0, 1))
    assert edges == {("A", 0, 1), ("C", 1, 0), ("C", 1, 1), ("C", 1, 2)}
    assert nodes == {"x0", "a1", "y1", "z1", "w0", "w1", "w2", "L"}
    edges, nodes = chain_path(pic, ("B", 2, 0))
    assert edges == {("B", 2, 0), ("C", 0, 0), ("C", 0, 1), ("C", 0, 2)} and "y0" not in nodes
    assert chain_path(pic, ("C", 2, 1)) == ({("C", 2, 1)}, {"z2", "w1", "L"})
    doc.set_variant(Variant(convention="column"))
    pic = network_picture(doc.model, doc.evaluation)
    edges, nodes = chain_path(pic, ("A", 0, 1))  # column vectors: x_1 → a_0, then C[k][0]
    assert edges == {("A", 0, 1), ("C", 0, 0), ("C", 1, 0), ("C", 2, 0)}
    assert {"x1", "a0", "y0", "z0"} <= nodes


def test_set_highlight_draws_the_path_and_refuses_an_unknown_cell(make_view):
    view = make_view()
    rim = view.node_position("y1") + QPointF(0, -15 * view._scale()[0])  # on the unit's outline
    plain = pixel(view, rim)
    view.set_highlight(("A", 0, 1))
    marked = pixel(view, rim)
    assert marked.lightness() < plain.lightness() - 40  # the black ring of σ′'s unit
    with pytest.raises(KeyError):
        view.set_highlight(("A", 5, 5))


def test_lit_columns_and_update_deltas(make_view):
    view = make_view()
    centre, lit_centre = view.node_position("w0"), view.node_position("a0")
    full, lit_full = pixel(view, centre), pixel(view, lit_centre)
    view.set_lit(frozenset({"x", "a"}))
    dimmed = pixel(view, centre)
    assert dimmed.lightness() > full.lightness() + 20  # towards the white background
    assert pixel(view, lit_centre) == lit_full
    view.set_lit(None)
    assert pixel(view, centre) == full
    deltas = {("A", 0, 0): -0.5, ("B", 1, 1): 0.25}
    view.set_edge_deltas(deltas)
    decor = view.decor()
    assert legend_lines(view.picture, decor)[1] == ("edges: change in this update (width ∝ |change|)", 0.5)
    colour, _ = edge_style(view.picture.edge("A", 0, 0), view.picture, decor)
    assert colour.blue() > colour.red()
    colour, _ = edge_style(view.picture.edge("C", 0, 0), view.picture, decor)
    assert (colour.red(), colour.green(), colour.blue()) == (255, 255, 255)  # unchanged: no colour
    assert "change in the update = -0.5" in view.tooltip_at(view.edge_position("A", 0, 0))
    view.set_edge_deltas(None)
    assert legend_lines(view.picture, view.decor())[1][0].startswith("edges: weight")


def test_dark_palette_draws_on_a_dark_background(make_view, qapp):
    view = make_view()
    view.setPalette(dark_palette())
    corner = pixel(view, QPointF(view.width() - 3, view.height() / 2))
    assert corner.lightness() < 60
    inks = view.inks()
    assert inks.text.lightness() > 180 and inks.mark.lightness() > 100


def test_a_page_gets_texts_sized_for_the_whole_picture_and_numbers_only_where_legible(tmp_path):
    small = Document()
    pic = network_picture(small.model, small.evaluation)
    shown = [
        (el.text or "").strip() for el in ET.fromstring(picture_svg(pic)).iter() if el.tag.endswith("text")
    ]
    assert "1.45" in shown  # a_0's value under its unit (the report's 1.4530…)
    big = Document(Session.random(32, 1))
    pic = network_picture(big.model, big.evaluation)
    decor = page_decor(pic)
    assert decor.numbers is None  # a 2-pixel number on a page is noise: the tooltip has them
    assert decor.text_size >= min(pic.width, pic.height) / 50  # formulas legible at page width
    root = ET.fromstring(picture_svg(pic))
    texts = "".join(el.text or "" for el in root.iter() if el.tag.endswith("text"))
    assert "4 largest |weight|" in texts


@pytest.mark.parametrize("gap_ms", [0, 10, 50])
def test_a_model_change_and_a_mode_switch_close_together_end_consistent(make_view, qtbot, gap_ms):
    doc = Document()
    view = make_view(doc)
    view.set_highlight(("A", 0, 0))
    done: list[str] = []
    QTimer.singleShot(0, lambda: (doc.set_entry("A", 0, 0, -1.5), done.append("model")))
    QTimer.singleShot(
        gap_ms, lambda: (view.findChild(QToolButton, "networkBackward").click(), done.append("mode"))
    )
    qtbot.waitUntil(lambda: len(done) == 2, timeout=5000)
    pic = view.picture
    assert pic.mode == "backward" and pic.edge("A", 0, 0).weight == -1.5
    assert pic.edge("A", 0, 0).gradient == pytest.approx(doc.evaluation.grads["A"][0][0], rel=1e-12)
    assert view.highlight == ("A", 0, 0)
    view.repaint()  # paints the new picture with the kept highlight without error


def test_a_hidden_view_draws_nothing_until_it_is_shown(make_view, monkeypatch):
    doc = Document()
    doc.set_model(lone_a00(2.0))
    view = make_view(doc)
    view.hide()
    import backprop_lab.gui.network_view as module

    made: list[int] = []
    real = module.network_picture
    monkeypatch.setattr(module, "network_picture", lambda *a: made.append(1) or real(*a))
    for value in (-1.0, -2.0, -3.0):  # a run's live showings behind a closed dock
        doc.set_entry("A", 0, 0, value)
    assert made == []
    view.show()
    assert made == [1]
    assert view.picture.edge("A", 0, 0).weight == -3.0 and made == [1]
