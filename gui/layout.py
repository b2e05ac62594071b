"""The window's docks, their default arrangement, and the arrangement kept per screen size.

Six docks (objectName ``<id>Dock``): model, gradients, training, views (the live plot, verification
and loss-along-gradient tabs), network (the model drawn as a graph) and chain rule. Each can be
moved, stacked, tabbed or floated. The default arrangement puts model and gradients side by side on
the left and training above the views on the right, with the chain rule tabbed with the views, so
that opening it takes the plot's place instead of squeezing every other panel. The network gets a
row of its own between training and the views where the window is tall enough for both it and the
plot (:data:`NETWORK_ROW_MIN_HEIGHT`); on a shorter window it is a tab beside the plot.

The arrangement is saved, with the window's geometry, under a key naming the screen's available size
(``layout/1280x720/state``): a layout made for a laptop screen is not forced onto a large monitor,
nor the other way round. A screen size never seen gets the default arrangement, fitted to it.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QSettings, QSize, Qt
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import QDockWidget, QGroupBox, QMainWindow, QScrollArea, QStyle, QWidget

#: The window's size when the screen has room for it.
DEFAULT_SIZE = (1400, 900)
#: Dock ids, titles, and whether the content scrolls when its dock is smaller than it (the matrix
#: panels grow with K; the network scrolls only below its least size, so that tabbed with the plot
#: on a small window it asks no more height of the window than the plot does; the others lay
#: themselves out in the room they get).
DOCKS: tuple[tuple[str, str, bool], ...] = (
    ("model", "Model", True),
    ("gradients", "Gradients and forward pass", True),
    ("training", "Training", False),
    ("views", "Plot and verification", False),
    ("network", "Network", True),
)
#: The most of the window's width the model or the gradients column takes by default.
_MAX_SHARE = 0.3
#: The least window height at which the network has a row of its own (below, it is a tab beside the
#: plot): at 1280×720 a row would leave the network and the plot under 250 pixels each.
NETWORK_ROW_MIN_HEIGHT = 850
#: The network row's share of the height training leaves (the plot takes the rest).
_NETWORK_SHARE = 0.5
#: Bump when the docks change, so that a saved arrangement of other docks is not restored.
_STATE_VERSION = 2


def screen_key(window: QWidget) -> str:
    """The settings group of the screen ``window`` is on: its available size, e.g. ``1280x720``."""
    size = _available(window)
    return f"layout/{size.width()}x{size.height()}"


def _available(window: QWidget) -> QSize:
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry().size() if screen is not None else QSize(*DEFAULT_SIZE)


class FitScrollArea(QScrollArea):
    """Scrolls only when its widget cannot shrink to the room it has.

    A resizable QScrollArea sizes a widget whose layout has a height for a width (any word-wrapped
    label) to its preferred height, and so scrolls where the widget would have fitted: here the
    widget fills the viewport and is never made smaller than its minimum size.
    """

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.setObjectName(f"{widget.objectName()}Area")
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(widget)

    def fit(self) -> None:
        widget = self.widget()
        if widget is None:
            return
        least = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        room = self.maximumViewportSize()  # the viewport's size without scroll bars
        width = max(room.width(), least.width())
        height = max(room.height(), least.height())
        if height > room.height():  # the vertical bar takes its width from the widget's
            width = max(room.width() - self.verticalScrollBar().sizeHint().width(), least.width())
        widget.resize(width, height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit()

    def viewportEvent(self, event: QEvent) -> bool:
        # The widget's minimum changed with its content (K, a longer message): its geometry update
        # asks the viewport, its parent, to lay out again.
        if event.type() == QEvent.Type.LayoutRequest:
            self.fit()
        return super().viewportEvent(event)


def _untitle(panel: QWidget, title: str) -> None:
    # The dock's title bar names the panel; a group box inside saying it again costs a line of height.
    for box in panel.findChildren(QGroupBox, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if box.title() == title:
            box.setTitle("")
            box.setFlat(True)


class WindowLayout:
    """The docks of ``window`` holding ``panels`` (by dock id) and ``chain_rule`` (an existing dock).

    ``docks`` by id (model, gradients, training, views, network, chain_rule); :meth:`reset` puts them back
    where they start; :meth:`restore` and :meth:`save` keep the arrangement per screen size.
    """

    def __init__(self, window: QMainWindow, panels: dict[str, QWidget], chain_rule: QDockWidget) -> None:
        self.window = window
        window.setDockNestingEnabled(True)
        window.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        # The docks take the whole window: an empty central widget, hidden, takes no room.
        central = QWidget()
        central.setObjectName("emptyCentral")
        window.setCentralWidget(central)
        central.hide()
        self.panels = panels
        self.docks: dict[str, QDockWidget] = {}
        for dock_id, title, scrolls in DOCKS:
            panel = panels[dock_id]
            _untitle(panel, title)
            dock = QDockWidget(title, window)
            dock.setObjectName(f"{dock_id}Dock")
            dock.setWidget(FitScrollArea(panel) if scrolls else panel)
            self.docks[dock_id] = dock
        chain_rule.setAllowedAreas(Qt.DockWidgetArea.AllDockWidgetAreas)
        self.docks["chain_rule"] = chain_rule
        # In the window, for restore() to place; arranged once the window has its size (a tab group
        # made now, at the unsized window's height, and rearranged later leaves its tab bar behind).
        for dock in self.docks.values():
            window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

    def arrange(self) -> None:
        """The default arrangement (see the module docstring), sized for the window's current width."""
        w, d = self.window, self.docks
        for dock in d.values():
            dock.setFloating(False)
            # addDockWidget moves a dock already in the window. Not removeDockWidget: PySide hands a
            # removed dock to Python, and then the window and Python's collector both delete it.
            w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        w.splitDockWidget(d["model"], d["gradients"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["gradients"], d["training"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["training"], d["views"], Qt.Orientation.Vertical)
        if self.network_has_row():
            w.splitDockWidget(d["training"], d["network"], Qt.Orientation.Vertical)
        else:
            w.tabifyDockWidget(d["views"], d["network"])
        w.tabifyDockWidget(d["views"], d["chain_rule"])
        for dock_id in ("model", "gradients", "training", "views", "network"):
            d[dock_id].show()
        d["chain_rule"].hide()
        d["views"].raise_()
        self.fit_sizes()

    def fit_sizes(self) -> None:
        """Model and gradients as wide as they ask (at most a share each), the plot the rest; the
        training panel no taller than it needs."""
        w, d = self.window, self.docks
        width = max(w.width(), 640)
        bar = w.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        columns = []
        for dock_id in ("model", "gradients"):
            wanted = self.panels[dock_id].sizeHint().width() + bar
            columns.append(min(wanted, int(width * _MAX_SHARE)))
        columns.append(width - sum(columns))
        w.resizeDocks([d["model"], d["gradients"], d["training"]], columns, Qt.Orientation.Horizontal)
        training = self.panels["training"].sizeHint().height()
        rest = max(w.height() - training, 300)
        if d["network"] in w.tabifiedDockWidgets(d["views"]) or d["network"].isFloating():
            w.resizeDocks([d["training"], d["views"]], [training, rest], Qt.Orientation.Vertical)
        else:
            network = int(rest * _NETWORK_SHARE)
            w.resizeDocks(
                [d["training"], d["network"], d["views"]],
                [training, network, rest - network],
                Qt.Orientation.Vertical,
            )

    def network_has_row(self) -> bool:
        """Whether the default arrangement gives the network a row (a tall enough window)."""
        return self.window.height() >= NETWORK_ROW_MIN_HEIGHT

    def default_size(self) -> tuple[int, int]:
        """:data:`DEFAULT_SIZE`, or the screen's available size where that is smaller."""
        avail = _available(self.window)
        return min(DEFAULT_SIZE[0], avail.width()), min(DEFAULT_SIZE[1], avail.height())

    def reset(self) -> None:
        """View ▸ Reset layout: the default size (on this screen) and arrangement."""
        self.window.showNormal()
        self.window.resize(*self.default_size())
        self.arrange()

    def restore(self) -> bool:
        """The geometry and arrangement saved for this screen size; False (and the default) if none."""
        settings = QSettings()
        key = screen_key(self.window)
        geometry = settings.value(f"{key}/geometry")
        state = settings.value(f"{key}/state")
        if isinstance(geometry, QByteArray) and self.window.restoreGeometry(geometry):
            restored = isinstance(state, QByteArray) and self.window.restoreState(state, _STATE_VERSION)
            if restored:
                return True
            self.arrange()
            return False
        self.window.resize(*self.default_size())
        self.arrange()
        return False

    def save(self) -> None:
        settings = QSettings()
        key = screen_key(self.window)
        settings.setValue(f"{key}/geometry", self.window.saveGeometry())
        settings.setValue(f"{key}/state", self.window.saveState(_STATE_VERSION))
