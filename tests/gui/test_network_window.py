"""The network graph in the window (#15, lane B): its dock, its link with the editors, the gradient
tables and the chain rule, following a run live, and the step-through animating on a graph.

Driven through objectNames (``networkGraph``, ``networkDock``, ``matrixA``, ``gradB``, …) and mouse
clicks at the view's own edge positions.
"""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QTableView, QTableWidget

from backprop_lab.engine.session import Session
from backprop_lab.gui import layout as layout_module
from backprop_lab.gui import step_animation
from backprop_lab.gui.main_window import MainWindow
from backprop_lab.gui.network_view import NetworkView
from backprop_lab.gui.step_animation import ALL_UNITS

WAIT = 60_000


def _settle(qtbot, ms: int = 50) -> None:
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(ms // 3 or 1)


def _window(qtbot, monkeypatch, w: int, h: int) -> MainWindow:
    """The main window as it first opens on a screen of ``w`` × ``h``."""
    monkeypatch.setattr(layout_module, "_available", lambda _window: QSize(w, h))
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    _settle(qtbot)
    return win


@pytest.fixture
def big(qtbot, monkeypatch):
    """The window on a 1400×900 screen, where the network has a row of its own."""
    win = _window(qtbot, monkeypatch, 1400, 900)
    yield win
    assert win.verify.verification.shutdown(20_000)


@pytest.fixture
def small(qtbot, monkeypatch):
    """The window on a 1280×720 screen, where the network is a tab beside the plot."""
    win = _window(qtbot, monkeypatch, 1280, 720)
    yield win
    assert win.verify.verification.shutdown(20_000)


def _graph(win) -> NetworkView:
    view = win.findChild(NetworkView, "networkGraph")
    assert view is win.network_view
    return view


def _click_edge(qtbot, view: NetworkView, m: str, i: int, j: int) -> None:
    pos = view.edge_position(m, i, j)
    assert view.edge_at(pos) is not None and (view.edge_at(pos).matrix, view.edge_at(pos).i) == (m, i)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=pos.toPoint())


# ---------------------------------------------------------------------------- the dock


def test_the_graph_is_in_its_own_dock_from_the_start(big):
    view = _graph(big)
    dock = big.findChild(QDockWidget, "networkDock")
    assert dock is big.docks["network"] and dock.isAncestorOf(view)
    assert view.isVisible() and not view.visibleRegion().isEmpty()
    toggle = big.actions["dock_network"]
    assert toggle.objectName() == "action_dock_network" and toggle in big.menus["view"].actions()
    dock.close()
    assert not toggle.isChecked()
    toggle.trigger()
    assert dock.isVisible()


def test_on_a_tall_screen_the_graph_has_a_row_between_training_and_the_plot(big):
    d = big.docks
    g = {name: d[name].geometry() for name in ("gradients", "training", "network", "views")}
    assert g["training"].bottom() < g["network"].top() < g["network"].bottom() < g["views"].top()
    assert g["gradients"].right() < g["network"].left() == g["views"].left()
    # Room for both: neither the graph nor the plot is squeezed to a strip.
    assert g["network"].height() >= 250 and g["views"].height() >= 300
    assert big.tabifiedDockWidgets(d["network"]) == []


def test_on_a_small_screen_the_graph_is_a_tab_beside_the_plot(small, qtbot):
    d = small.docks
    assert d["network"] in small.tabifiedDockWidgets(d["views"])
    assert not d["views"].visibleRegion().isEmpty()  # the plot is what shows first
    d["network"].raise_()
    _settle(qtbot)
    view = _graph(small)
    assert not view.visibleRegion().isEmpty() and view.height() >= 300
    area = d["network"].widget()  # scrolls only below the view's least size: not here
    assert area.verticalScrollBar().maximum() == 0 and area.horizontalScrollBar().maximum() == 0


def test_tabbed_with_the_plot_the_graph_asks_the_window_for_no_more_height(small):
    # The window's least height (640×480 windows are restored exactly) is the plot's, not the graph's.
    d = small.docks
    assert d["network"].minimumSizeHint().height() <= d["views"].minimumSizeHint().height()
    assert _graph(small).minimumSize().height() > d["network"].minimumSizeHint().height()


def test_reset_layout_brings_a_floated_graph_back_to_its_row(big, qtbot):
    d = big.docks
    d["network"].setFloating(True)
    big.tabifyDockWidget(d["gradients"], d["network"])
    big.actions["reset_layout"].trigger()
    _settle(qtbot)
    assert not d["network"].isFloating() and d["network"].isVisible()
    assert big.tabifiedDockWidgets(d["network"]) == []
    assert d["training"].geometry().bottom() < d["network"].geometry().top()


# ---------------------------------------------------------------------------- linked


@pytest.mark.parametrize("cell", [("A", 0, 1), ("B", 2, 0), ("C", 1, 2)])
def test_clicking_an_edge_selects_its_cells_and_shows_its_chain_rule(big, qtbot, cell):
    m, i, j = cell
    view = _graph(big)
    _click_edge(qtbot, view, m, i, j)
    editor = big.findChild(QTableView, f"matrix{m}")
    table = big.findChild(QTableView, f"grad{m}")
    assert (editor.currentIndex().row(), editor.currentIndex().column()) == (i, j)
    assert (table.currentIndex().row(), table.currentIndex().column()) == (i, j)
    assert editor.selectionModel().isSelected(editor.currentIndex())
    chain = big.verify.chain_rule
    assert chain.entry == cell and chain.derivation is not None
    assert chain.derivation.product == big.document.evaluation.grads[m][i][j]
    assert big.docks["chain_rule"].isVisible()
    assert view.highlight == cell
    # The other gradient tables let go of their cell: one entry at a time.
    for other in {"A", "B", "C"} - {m}:
        assert not big.findChild(QTableView, f"grad{other}").currentIndex().isValid()


def test_clicking_the_same_edge_again_reopens_a_closed_chain_rule(big, qtbot):
    view = _graph(big)
    _click_edge(qtbot, view, "A", 1, 1)
    big.docks["chain_rule"].close()
    _click_edge(qtbot, view, "A", 1, 1)
    assert big.docks["chain_rule"].isVisible() and big.verify.chain_rule.entry == ("A", 1, 1)


def test_on_a_small_screen_an_edge_click_still_opens_the_chain_rule(small, qtbot):
    d = small.docks
    d["network"].raise_()
    _settle(qtbot)
    _click_edge(qtbot, _graph(small), "B", 0, 2)
    _settle(qtbot)
    assert small.verify.chain_rule.entry == ("B", 0, 2)
    assert not d["chain_rule"].visibleRegion().isEmpty()


@pytest.mark.parametrize("where", ["matrix", "grad"])
def test_selecting_a_cell_highlights_its_edge(big, qtbot, where):
    view = _graph(big)
    for m, i, j in (("A", 2, 1), ("B", 0, 0), ("C", 2, 2)):
        table = big.findChild(QTableView, f"{where}{m}")
        rect = table.visualRect(table.model().index(i, j))
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert view.highlight == (m, i, j)
    if where == "matrix":  # a cell of x is no edge
        x = big.findChild(QTableView, "matrixX")
        x.setCurrentIndex(x.model().index(0, 1))
        assert view.highlight is None


def test_a_highlight_past_a_smaller_k_is_dropped(big, qtbot):
    view = _graph(big)
    grad = big.findChild(QTableView, "gradC")
    grad.setCurrentIndex(grad.model().index(2, 2))
    assert view.highlight == ("C", 2, 2)
    big.model_panel.k_spin.setValue(2)
    assert big.document.K == 2
    assert view.highlight is None and big.network_link.highlight is None
    _click_edge(qtbot, view, "C", 1, 0)  # the new picture's edges are clickable
    assert view.highlight == ("C", 1, 0)


# ---------------------------------------------------------------------------- live


def test_during_a_run_the_graph_follows_the_live_weights(big, qtbot):
    doc = big.document
    view = _graph(big)
    doc.set_training_settings(
        dataclasses.replace(doc.training_settings, learning_rate=0.01, epochs=200, n_samples=1000)
    )
    first = view.picture.edge("A", 0, 0).weight
    pictures = []
    # Only the showings during the run: each must match the model the document shows then.
    doc.modelChanged.connect(
        lambda: pictures.append((view.picture, doc.model.copy())) if doc.training_state == "running" else None
    )
    with qtbot.waitSignal(big.controller.runEnded, timeout=WAIT):
        big.controller.start()
        qtbot.waitUntil(lambda: len(pictures) >= 3, timeout=WAIT)
        big.controller.stop()
    assert len({id(p) for p, _ in pictures}) == len(pictures)  # a new picture every showing
    for picture, model in pictures:
        for e in picture.edges:
            assert e.weight == getattr(model, e.matrix)[e.i][e.j]
    assert pictures[-1][0].edge("A", 0, 0).weight != first
    # And the run's end: the graph shows the final weights.
    final = doc.model
    assert all(e.weight == getattr(final, e.matrix)[e.i][e.j] for e in view.picture.edges)


def test_a_step_shows_its_weights_and_gradients_on_the_graph_when_paused(big, qtbot):
    doc = big.document
    view = _graph(big)
    view.set_mode("backward")
    before = view.picture
    with qtbot.waitSignal(big.controller.runEnded, timeout=WAIT):
        big.controller.step()  # from idle: a paused run that has taken one step
        qtbot.waitUntil(lambda: len(doc.history) == 1 and doc.training_state == "paused", timeout=WAIT)
        qtbot.waitUntil(lambda: view.picture is not before, timeout=WAIT)
        model, grads = doc.model, doc.evaluation.grads
        assert all(e.weight == getattr(model, e.matrix)[e.i][e.j] for e in view.picture.edges)
        # Backward mode: the edges carry the shown model's gradients.
        assert all(e.gradient == grads[e.matrix][e.i][e.j] for e in view.picture.edges)
        big.controller.stop()


# ---------------------------------------------------------------------------- step through


@pytest.fixture
def fast_frames(monkeypatch):
    monkeypatch.setattr(step_animation, "FRAME_MS", 0)


def _column_x(view: NetworkView, kinds: frozenset[str]) -> set[float]:
    return {n.x for n in view.picture.nodes if n.kind in kinds}


def _open_step_through(win, qtbot):
    dialog = win.verify.step_through()
    assert dialog is not None and dialog.isVisible()
    graph = dialog.findChild(NetworkView, "stepThroughGraph")
    assert graph is dialog.graph and not graph.visibleRegion().isEmpty()
    return dialog, graph


def _new_columns(frames: list[frozenset[str]]) -> list[frozenset[str]]:
    """What each frame of a pass lit that the one before had not."""
    return [b - a for a, b in pairwise([frozenset(), *frames])]


def _pass(qtbot, dialog, go) -> list[frozenset[str]]:
    frames: list[frozenset[str]] = []
    dialog.animation.frameShown.connect(frames.append)
    go()
    qtbot.waitUntil(lambda: not dialog.animation.running, timeout=WAIT)
    dialog.animation.frameShown.disconnect(frames.append)
    return frames


def test_step_through_lights_the_forward_pass_left_to_right(big, qtbot, fast_frames):
    dialog, graph = _open_step_through(big, qtbot)
    assert dialog.phase == 0 and graph.lit == frozenset({"x"}) and graph.mode == "forward"
    frames = _pass(qtbot, dialog, dialog.next)
    assert dialog.phase == 1 and graph.mode == "forward"
    assert frames[0] == frozenset({"x"}) and frames[-1] == ALL_UNITS
    new_columns = _new_columns(frames)
    assert all(new_columns) and all(a < b for a, b in pairwise(frames))
    # Each frame's new units stand to the right of the last frame's.
    xs = [_column_x(graph, c) for c in new_columns]
    assert all(max(a) < min(b) for a, b in pairwise(xs)), xs
    assert graph.lit is None and graph.edge_deltas is None  # the pass over, nothing dimmed
    dialog.reject()


def test_step_through_lights_the_backward_pass_right_to_left_in_gradients(big, qtbot, fast_frames):
    dialog, graph = _open_step_through(big, qtbot)
    dialog.next()
    qtbot.waitUntil(lambda: not dialog.animation.running, timeout=WAIT)
    frames = _pass(qtbot, dialog, dialog.next)
    assert dialog.phase == 2 and graph.mode == "backward"
    assert frames[0] == frozenset({"L"}) and frames[-1] == ALL_UNITS
    new_columns = _new_columns(frames)
    xs = [_column_x(graph, c) for c in new_columns]
    assert all(min(a) > max(b) for a, b in pairwise(xs)), xs
    # The units show ∂L/∂unit now: the picture is the backward one.
    assert graph.picture.edge("A", 0, 0).gradient == big.document.evaluation.grads["A"][0][0]
    dialog.reject()


def test_step_through_update_shows_each_edges_change(big, qtbot, fast_frames):
    dialog, graph = _open_step_through(big, qtbot)
    for _ in range(3):
        dialog.next()
    qtbot.waitUntil(lambda: not dialog.animation.running, timeout=WAIT)
    assert dialog.phase == 3 and graph.lit is None
    deltas = graph.edge_deltas
    plan = dialog.plan
    assert deltas is not None and set(deltas) == {(e.matrix, e.i, e.j) for e in graph.picture.edges}
    for (m, i, j), d in deltas.items():
        assert d == plan.deltas[m][i][j]
    assert any(d != 0 for d in deltas.values())
    dialog.next()  # New loss: the change stays shown
    assert graph.edge_deltas == deltas
    dialog.back()
    dialog.back()
    dialog.back()
    qtbot.waitUntil(lambda: not dialog.animation.running, timeout=WAIT)
    assert graph.edge_deltas is None  # Forward again: the weights, not their change
    dialog.back()
    assert dialog.phase == 0 and graph.lit == frozenset({"x"})
    dialog.reject()


def test_step_through_clicking_an_edge_selects_its_row_of_the_update(big, qtbot, fast_frames):
    dialog, graph = _open_step_through(big, qtbot)
    for _ in range(3):
        dialog.next()
    qtbot.waitUntil(lambda: not dialog.animation.running, timeout=WAIT)
    _click_edge(qtbot, graph, "B", 2, 1)
    table = dialog.findChild(QTableWidget, "stepUpdateTable")
    rows = {index.row() for index in table.selectionModel().selectedRows()}
    assert len(rows) == 1
    assert table.item(rows.pop(), 0).text() == "B[2][1]"
    assert graph.highlight == ("B", 2, 1)
    dialog.reject()


def test_step_through_leaves_the_windows_graph_as_it_was(big, qtbot, fast_frames):
    view = _graph(big)
    view.set_mode("backward")
    dialog, _graph_in_dialog = _open_step_through(big, qtbot)
    for _ in range(4):
        dialog.next()
    qtbot.waitUntil(lambda: not dialog.animation.running, timeout=WAIT)
    dialog.commit()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT)
    assert view.mode == "backward" and view.lit is None and view.edge_deltas is None
    assert all(e.weight == getattr(big.document.model, e.matrix)[e.i][e.j] for e in view.picture.edges)


def test_step_through_animation_runs_at_its_own_pace(big, qtbot):
    # The shipped frame time: the pass is still going right after Next, and ends on its own.
    dialog, graph = _open_step_through(big, qtbot)
    frames = []
    dialog.animation.frameShown.connect(frames.append)
    dialog.next()
    assert dialog.animation.running and frames == [frozenset({"x"})] and graph.lit == frozenset({"x"})
    qtbot.waitUntil(lambda: not dialog.animation.running, timeout=WAIT)
    assert len(frames) == 6 and graph.lit is None
    dialog.next()  # a new phase mid-pass starts its own pass from the start
    assert dialog.animation.running and graph.lit == frozenset({"L"})
    dialog.next()
    assert graph.mode == "backward" and graph.edge_deltas is not None and not dialog.animation.running
    dialog.back()
    assert dialog.animation.running
    dialog.reject()  # closing mid-pass stops it
    assert not dialog.animation.running


def test_step_through_at_k32_fits_the_screen(qtbot, monkeypatch, fast_frames):
    win = _window(qtbot, monkeypatch, 1280, 720)
    win.document.replace_session(Session.random(32, 3), None)
    dialog, graph = _open_step_through(win, qtbot)
    screen = dialog.screen().availableGeometry()
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()
    assert graph.height() >= 150 and dialog.stack.height() >= 250
    dialog.reject()
    assert win.verify.verification.shutdown(20_000)
