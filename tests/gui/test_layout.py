"""Issue #13 item 5 and the theme of item 6: the window fits 1280×720, its docks move, stack, float
and come back (View ▸ Reset layout), the layout is kept per screen size, toolbar buttons stay put,
and the window and its plots follow a dark palette.

Preferences go to the temporary settings folder of tests/gui/conftest.py; the screen's size is
replaced where a test needs one (the offscreen screen is whatever the platform says).
"""

from __future__ import annotations

import pyqtgraph as pg
import pytest
import shiboken6
from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QPushButton, QScrollArea, QTableView, QWidget

from backprop_lab.engine.session import Session
from backprop_lab.gui import layout as layout_module
from backprop_lab.gui.chain_rule_panel import TWO_COLUMNS_WIDTH
from backprop_lab.gui.layout import FitScrollArea, screen_key
from backprop_lab.gui.main_window import MainWindow
from backprop_lab.gui.theme import DARK, LIGHT, dark_palette, is_dark

WAIT = 60_000
DOCK_IDS = ("model", "gradients", "training", "views", "chain_rule")


def _settle(qtbot, ms: int = 50) -> None:
    # Layouts of docks and scroll areas settle over a few event-loop turns (posted LayoutRequests).
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(ms // 3 or 1)


@pytest.fixture
def screen_size(monkeypatch):
    """``screen_size(w, h)``: the available screen size the layout sees from now on."""

    def set_size(w: int, h: int) -> None:
        monkeypatch.setattr(layout_module, "_available", lambda _window: QSize(w, h))

    return set_size


@pytest.fixture
def small_window(qtbot, screen_size):
    """The main window on a 1280×720 screen, as it opens there the first time."""
    screen_size(1280, 720)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    _settle(qtbot)
    return w


def _scrolling(window: QWidget) -> list[str]:
    """Every visible scroll area of the main views showing a scroll bar, with which bar."""
    found = []
    for area in window.findChildren(FitScrollArea):
        # A dock behind another's tab is "visible" to Qt, parked off screen at a size of its own.
        if not area.isVisible() or area.visibleRegion().isEmpty():
            continue
        for bar, which in (
            (area.horizontalScrollBar(), "horizontal"),
            (area.verticalScrollBar(), "vertical"),
        ):
            if bar.isVisible() and bar.maximum() > 0:
                found.append(f"{area.objectName()} {which}")
    return found


def _clipped(container: QWidget) -> list[str]:
    """Visible labels and buttons in ``container`` narrower or shorter than their text needs."""
    clipped = []
    for widget in container.findChildren(QWidget):
        if not widget.isVisible() or not isinstance(widget, QLabel | QPushButton):
            continue
        if isinstance(widget, QLabel) and widget.wordWrap():
            need_w, need_h = widget.minimumSizeHint().width(), widget.heightForWidth(widget.width())
        else:
            need_w, need_h = widget.minimumSizeHint().width(), widget.minimumSizeHint().height()
        if widget.width() < need_w or widget.height() < need_h:
            text = widget.text()[:40]
            clipped.append(
                f"{widget.objectName() or type(widget).__name__} {text!r} {widget.size().toTuple()}"
            )
    return clipped


# ---------------------------------------------------------------------------- 1280×720


def test_the_window_opens_within_a_1280x720_screen(small_window):
    assert small_window.width() <= 1280 and small_window.height() <= 720
    assert screen_key(small_window) == "layout/1280x720"


def test_at_1280x720_every_main_view_fits_without_inner_scrollbars(small_window, qtbot):
    w = small_window
    verify = w.verify
    for show in (lambda: w.tabs.setCurrentIndex(0), verify.show_verification, verify.show_line_search):
        show()
        if w.tabs.currentWidget() is verify.verification_area:
            qtbot.waitUntil(verify.verification.is_current, timeout=WAIT)
        _settle(qtbot)
        assert _scrolling(w) == [], w.tabs.tabText(w.tabs.currentIndex())
    w.tabs.setCurrentIndex(0)
    _settle(qtbot)
    assert w.plot_panel.plot.height() >= 300


@pytest.mark.parametrize("k", [16, 32])
def test_at_1280x720_the_model_and_gradients_fit_at_k16_and_k32(small_window, qtbot, k):
    w = small_window
    w.document.replace_session(Session.random(k, 0), None)
    _settle(qtbot)
    assert _scrolling(w) == [], f"K = {k}"
    assert w.plot_panel.plot.height() >= 300
    w.document.mark_clean()


def test_at_1280x720_the_verification_table_and_line_search_legend_are_visible(small_window, qtbot):
    w = small_window
    w.verify.show_verification()
    qtbot.waitUntil(w.verify.verification.is_current, timeout=WAIT)
    _settle(qtbot)
    table = w.findChild(QTableView, "verifyTable")
    # Visible whole within the tab, with room for a header and at least three rows.
    area = w.verify.verification_area
    top_left = table.mapTo(area, table.rect().topLeft())
    assert table.isVisible() and area.rect().contains(top_left)
    assert area.rect().contains(table.mapTo(area, table.rect().bottomRight()))
    assert table.viewport().height() >= 3 * table.verticalHeader().defaultSectionSize()

    w.verify.show_line_search()
    _settle(qtbot)
    legend = w.findChild(QLabel, "lineSearchLegend")
    area = w.verify.line_search_area
    assert legend.isVisible()
    assert area.rect().contains(legend.mapTo(area, legend.rect().bottomRight()))
    assert legend.height() >= legend.heightForWidth(legend.width())


def test_the_verification_tab_never_clips_its_labels_or_buttons(small_window, qtbot):
    w = small_window
    panel = w.verify.verification
    w.verify.show_verification()
    qtbot.waitUntil(panel.is_current, timeout=WAIT)
    # The controls row as it is while a check runs: progress bar and Cancel shown.
    panel.progress.setVisible(True)
    panel.cancel_button.setVisible(True)
    _settle(qtbot)
    assert _clipped(panel) == []
    assert panel.cancel_button.width() >= panel.cancel_button.sizeHint().width()
    panel.progress.setVisible(False)
    panel.cancel_button.setVisible(False)

    # The checker's eps is labelled inside the sweep plot, not cut by its left edge.
    label = panel.eps_line.label
    view = panel.sweep_plot.getPlotItem().getViewBox()
    assert label.isVisible()
    assert view.sceneBoundingRect().contains(label.sceneBoundingRect())


def test_opening_the_chain_rule_takes_the_plots_place_and_squeezes_nothing(small_window, qtbot):
    w = small_window
    docks = w.docks
    before = {name: docks[name].geometry() for name in ("model", "gradients", "training")}
    grad = w.findChild(QTableView, "gradA")
    grad.setCurrentIndex(grad.model().index(0, 1))
    _settle(qtbot)
    chain = docks["chain_rule"]
    assert chain.isVisible() and not chain.visibleRegion().isEmpty()
    assert {name: docks[name].geometry() for name in before} == before
    assert chain in w.tabifiedDockWidgets(docks["views"])
    assert chain.height() >= 300
    # Narrower than two columns need: the derivation is laid out in one, without sideways scrolling.
    panel = w.verify.chain_rule
    assert "The upstream sum" in panel.plain_text()
    assert panel.text.viewport().width() < TWO_COLUMNS_WIDTH
    assert panel._rendered_columns == 1
    assert panel.text.horizontalScrollBar().maximum() == 0
    # Floated and made wide, it goes back to two columns.
    chain.setFloating(True)
    chain.resize(TWO_COLUMNS_WIDTH + 200, 500)
    qtbot.waitUntil(lambda: panel._rendered_columns == 2, timeout=WAIT)
    assert "The upstream sum" in panel.plain_text()
    chain.setFloating(False)


# ---------------------------------------------------------------------------- docks and Reset layout


def test_every_panel_is_a_dock_that_moves_floats_and_closes(window):
    for name in DOCK_IDS:
        dock = window.findChild(QDockWidget, "chainRuleDock" if name == "chain_rule" else f"{name}Dock")
        assert dock is window.docks[name]
        features = dock.features()
        for feature in ("DockWidgetMovable", "DockWidgetFloatable", "DockWidgetClosable"):
            assert features & getattr(QDockWidget.DockWidgetFeature, feature), (name, feature)
    assert window.dockOptions() & window.DockOption.AllowTabbedDocks
    assert window.dockOptions() & window.DockOption.AllowNestedDocks
    # The panels keep their objects: the editors and tables live inside the docks.
    assert window.docks["model"].isAncestorOf(window.findChild(QTableView, "matrixA"))
    assert window.docks["gradients"].isAncestorOf(window.findChild(QTableView, "gradC"))
    assert window.docks["views"].widget() is window.tabs


def test_reset_layout_puts_floated_closed_and_tabbed_docks_back(window, qtbot):
    d = window.docks
    d["model"].setFloating(True)
    d["training"].close()
    window.tabifyDockWidget(d["gradients"], d["views"])
    window.resize(700, 500)
    _settle(qtbot)
    assert d["model"].isFloating() and d["training"].isHidden()

    reset = window.actions["reset_layout"]
    assert reset.objectName() == "action_reset_layout"
    assert reset in window.menus["view"].actions()
    reset.trigger()
    _settle(qtbot)
    for name in ("model", "gradients", "training", "views"):
        assert d[name].isVisible() and not d[name].isFloating(), name
    assert d["chain_rule"].isHidden()
    assert window.tabifiedDockWidgets(d["gradients"]) == []
    # Model | gradients | training over the views.
    g = {name: d[name].geometry() for name in d if name != "chain_rule"}
    assert g["model"].right() < g["gradients"].left() < g["gradients"].right() < g["training"].left()
    assert g["training"].bottom() < g["views"].top() and g["training"].left() == g["views"].left()
    assert (window.width(), window.height()) == window.layout_.default_size()
    # Every dock stays the window's to delete: a dock Python owned was deleted twice (a crash later).
    assert not any(shiboken6.ownedByPython(dock) for dock in d.values())


def test_view_menu_brings_back_a_closed_panel(window):
    for name in ("model", "gradients", "training", "views"):
        toggle = window.actions[f"dock_{name}"]
        assert toggle in window.menus["view"].actions()
        window.docks[name].close()
        assert not toggle.isChecked()
        toggle.trigger()
        assert window.docks[name].isVisible()


# ---------------------------------------------------------------------------- per screen size


def test_layout_is_saved_and_restored_per_screen_size(qtbot, screen_size, _isolated_settings):
    screen_size(1280, 720)
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.docks["training"].close()  # the user's own arrangement on this screen
    first.close()
    settings = QSettings()
    assert settings.value("layout/1280x720/state") is not None
    assert settings.value("layout/1280x720/geometry") is not None
    assert str(_isolated_settings) in settings.fileName()  # the temporary folder, never the home

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.docks["training"].isHidden()  # restored for the same screen
    again.close()

    screen_size(1920, 1080)
    elsewhere = MainWindow()
    qtbot.addWidget(elsewhere)
    elsewhere.show()
    qtbot.waitExposed(elsewhere)
    assert elsewhere.docks["training"].isVisible()  # a screen never seen: the default layout
    assert (elsewhere.width(), elsewhere.height()) == (1400, 900)
    elsewhere.close()
    assert QSettings().value("layout/1920x1080/state") is not None
    assert QSettings().value("layout/1280x720/state") is not None


def test_a_saved_layout_of_other_docks_is_not_restored(qtbot, screen_size):
    screen_size(1280, 720)
    QSettings().setValue("layout/1280x720/state", b"not a state Qt wrote")
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert all(w.docks[name].isVisible() for name in ("model", "gradients", "training", "views"))


# ---------------------------------------------------------------------------- toolbar


def _button_xs(window) -> dict[str, int]:
    bar = window.toolbar
    return {
        action.objectName(): bar.widgetForAction(action).x()
        for action in bar.actions()
        if bar.widgetForAction(action) is not None and not action.isSeparator()
    }


def test_toolbar_buttons_keep_their_place_through_an_edit_and_a_run(window, qtbot):
    doc = window.document
    before = _button_xs(window)
    undo, redo = window.actions["undo"], window.actions["redo"]
    undo_button = window.toolbar.widgetForAction(undo)
    assert undo_button.text() == "Undo"

    window.actions["randomize"].trigger()
    assert undo.text() != "&Undo" and "Randomize" in undo.text()  # the Edit menu says what
    assert "Randomize" in undo.toolTip()  # and so does the tooltip
    assert undo_button.text() == "Undo"
    assert _button_xs(window) == before

    window.controller.start(paused=True)
    qtbot.waitUntil(lambda: doc.training_state == "paused", timeout=WAIT)
    assert window.actions["pause"].text() == "&Resume"
    assert _button_xs(window) == before
    window.controller.toggle_pause()
    qtbot.waitUntil(lambda: doc.training_state == "idle", timeout=WAIT)
    assert "Train" in undo.text()
    assert undo_button.text() == "Undo" and window.toolbar.widgetForAction(redo).text() == "Redo"
    assert _button_xs(window) == before
    undo.trigger()
    assert _button_xs(window) == before


# ---------------------------------------------------------------------------- theme


def _contrast(a: QColor, b: QColor) -> float:
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def dark_app(qapp):
    """The application on a dark palette, as a dark desktop gives it; the old one back afterwards."""
    old = QApplication.palette()
    QApplication.setPalette(dark_palette())
    yield qapp
    QApplication.setPalette(old)


def _plot_colours(widget: pg.PlotWidget) -> tuple[QColor, QColor, list[QColor]]:
    item = widget.getPlotItem()
    legend = [QColor(label.opts["color"]) for _, label in item.legend.items] if item.legend else []
    return widget.backgroundBrush().color(), item.getAxis("left").textPen().color(), legend


def test_plots_follow_a_dark_palette_and_back(window, qtbot, qapp):
    plots = window.findChildren(pg.PlotWidget)
    assert window.plot_panel.plot in plots and len(plots) >= 3
    assert not is_dark()
    old = QApplication.palette()
    try:
        QApplication.setPalette(dark_palette())
        qtbot.waitUntil(lambda: window.plot_colours is DARK, timeout=WAIT)
        assert is_dark(window.palette())
        for plot in plots:
            background, text, legend = _plot_colours(plot)
            assert background == QColor(DARK.background), plot.objectName()
            assert _contrast(text, background) >= 4.5
            assert all(_contrast(c, background) >= 4.5 for c in legend)
        background, _text, legend = _plot_colours(window.plot_panel.plot)
        assert background.lightness() < 60 and len(legend) == 5
    finally:
        QApplication.setPalette(old)
    qtbot.waitUntil(lambda: window.plot_colours is LIGHT, timeout=WAIT)
    assert _plot_colours(window.plot_panel.plot)[0] == QColor(LIGHT.background)


def test_a_window_opened_on_a_dark_desktop_is_dark(dark_app, qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.plot_colours is DARK
    background, text, legend = _plot_colours(w.plot_panel.plot)
    assert background.lightness() < 60 and _contrast(text, background) >= 4.5
    assert all(_contrast(c, background) >= 4.5 for c in legend)
    # The widgets take the palette themselves: the window and an editor are dark too.
    assert w.palette().color(w.backgroundRole()).lightness() < 100
    editor = w.findChild(QTableView, "matrixA")
    assert editor.palette().color(editor.palette().ColorRole.Base).lightness() < 100


def test_scroll_areas_scroll_only_below_their_contents_minimum(qtbot):
    inner = QWidget()
    inner.setObjectName("inner")
    inner.setMinimumSize(200, 300)
    area = FitScrollArea(inner)
    qtbot.addWidget(area)
    area.resize(400, 500)
    area.show()
    qtbot.waitExposed(area)
    _settle(qtbot)
    assert isinstance(area, QScrollArea) and area.objectName() == "innerArea"
    assert inner.size().toTuple() == (400, 500)  # fills the room
    assert not area.verticalScrollBar().isVisible()
    area.resize(400, 200)
    _settle(qtbot)
    assert inner.height() == 300 and area.verticalScrollBar().isVisible()
    assert inner.width() == 400 - area.verticalScrollBar().width()
    inner.setMinimumSize(200, 100)  # content got smaller: the bar goes
    _settle(qtbot)
    assert inner.height() == 200 and not area.verticalScrollBar().isVisible()


def test_coloured_verification_cells_carry_their_own_readable_text(dark_app, qtbot):
    # On a dark palette the default text is light: a cell that paints its own light background
    # must say its text colour too (it used to be light on light yellow).
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    panel = w.verify.verification
    w.verify.show_verification()
    qtbot.waitUntil(panel.is_current, timeout=WAIT)
    fg, bg = Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole
    models = [*panel.heat_models.values(), panel.entries_model]
    checked = 0
    for model in models:
        for row in range(model.rowCount()):
            for col in range(model.columnCount()):
                index = model.index(row, col)
                background = model.data(index, bg)
                if background is None or background.color().alpha() < 255:
                    continue
                foreground = model.data(index, fg)
                assert foreground is not None, (model, row, col)
                assert _contrast(foreground.color(), background.color()) >= 4.5, (model, row, col)
                checked += 1
    assert checked >= 27 * 2  # every heat-map cell and the error columns of every entry
