"""The main window: composes the panels around one Document; menus, toolbar, status bar, geometry.

It decides nothing: the panels edit the document, the controller trains it, and the window only
wires actions to them and reports what they say.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.session import Session, load_session
from backprop_lab.gui.document import EDITOR_MAX_K, Document
from backprop_lab.gui.gradients_panel import GradientsPanel
from backprop_lab.gui.insight import install as install_insight
from backprop_lab.gui.matrix_editor import MatrixEditor, MatrixTable
from backprop_lab.gui.model_panel import ModelPanel
from backprop_lab.gui.plot_panel import PlotPanel
from backprop_lab.gui.session_actions import install as install_session_actions
from backprop_lab.gui.training_panel import TrainingPanel
from backprop_lab.gui.worker import TrainingController

APP_NAME = "Backprop Lab"
DEFAULT_SIZE = (1400, 900)
SESSION_FILTER = "Backprop Lab sessions (*.bpl.json *.json);;All files (*)"


def _scrolling(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


class MainWindow(QMainWindow):
    """``MainWindow(path=None)``: the report example, or the session file at ``path``.

    Raises ``SessionError`` (one line) when ``path`` cannot be opened; ``gui.app`` reports it.
    Attributes for extensions (sessions, reports, verification): ``document``, ``controller``,
    ``tabs`` (add panels with :meth:`add_tab`), ``menus`` (by name: "file", "edit", "model",
    "training", "view", "help"), ``actions`` (by name).
    """

    def __init__(self, path: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        session = load_session(path) if path else Session.report_example()
        self.document = Document(session, path, self)
        self.controller = TrainingController(self.document, self)
        self.menus: dict[str, object] = {}
        self.actions: dict[str, QAction] = {}

        self.model_panel = ModelPanel(self.document)
        self.gradients_panel = GradientsPanel(self.document)
        self.training_panel = TrainingPanel(self.document, self.controller)
        self.plot_panel = PlotPanel(self.document)
        self._build_central()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()

        doc = self.document
        doc.statusMessage.connect(self._on_document_status_message)
        doc.dirtyChanged.connect(self._on_document_dirty_changed)
        doc.pathChanged.connect(self._on_document_path_changed)
        doc.modelChanged.connect(self._on_document_model_changed)
        doc.trainingStateChanged.connect(self._on_document_training_state_changed)
        doc.undo_stack.canUndoChanged.connect(self._on_undo_stack_changed)
        doc.undo_stack.canRedoChanged.connect(self._on_undo_stack_changed)
        self.controller.runEnded.connect(self._on_controller_run_ended)
        self._update_title()
        self._on_document_model_changed()
        self._on_document_training_state_changed(doc.training_state)
        self.sessions = install_session_actions(self)
        install_insight(self)  # verification, chain rule, step through, loss along the gradient (#6)
        self._restore_geometry()

    # ------------------------------------------------------------------ composition

    def _build_central(self) -> None:
        right = QWidget()
        rlayout = QVBoxLayout(right)
        rlayout.setContentsMargins(0, 0, 0, 0)
        rlayout.addWidget(self.training_panel)
        self.tabs = QTabWidget(objectName="mainTabs")
        self.tabs.addTab(self.plot_panel, "Live plot")
        rlayout.addWidget(self.tabs, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, objectName="mainSplitter")
        self.splitter.addWidget(_scrolling(self.model_panel))
        self.splitter.addWidget(_scrolling(self.gradients_panel))
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([340, 380, 680])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a panel as a tab beside the live plot (verification, reports, …)."""
        return self.tabs.addTab(widget, title)

    def _action(self, name: str, text: str, slot, shortcut=None, tip: str = "", icon=None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action_{name}")
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work with the menu bar hidden, too
        self.actions[name] = action
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self._action(
            "open", "&Open…", self._on_open_triggered, QKeySequence.StandardKey.Open, "Open a session file"
        )
        self._action(
            "save", "&Save", self._on_save_triggered, QKeySequence.StandardKey.Save, "Save the session"
        )
        self._action(
            "save_as",
            "Save &As…",
            self._on_save_as_triggered,
            QKeySequence.StandardKey.SaveAs,
            "Save under a new name",
        )
        self._action("quit", "&Quit", self.close, QKeySequence.StandardKey.Quit, "Close the window")
        undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        undo.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        undo.setObjectName("action_undo")
        redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        redo.setIcon(self.style().standardIcon(sp.SP_ArrowForward))
        redo.setObjectName("action_redo")
        self.addAction(undo)
        self.addAction(redo)
        self.actions["undo"], self.actions["redo"] = undo, redo
        self._action(
            "copy",
            "&Copy matrix",
            self._on_copy_triggered,
            QKeySequence.StandardKey.Copy,
            "Copy the focused matrix (or its selection) as tab-separated text",
        )
        self._action(
            "paste",
            "&Paste into matrix",
            self._on_paste_triggered,
            QKeySequence.StandardKey.Paste,
            "Paste a block (spreadsheet text or a nested list) at the current cell",
        )
        self._action(
            "randomize",
            "&Randomize",
            self.model_panel.randomize,
            "Ctrl+R",
            "New random x, A, B, C with the panel's seed and range",
            sp.SP_BrowserReload,
        )
        self._action(
            "report_example",
            "Load &report example",
            self.model_panel.load_report_example,
            "Ctrl+E",
            "The report's worked example (K = 3)",
            sp.SP_FileDialogContentsView,
        )
        self._action(
            "reset",
            "Reset to &initial",
            self.model_panel.reset_to_initial,
            "Ctrl+Shift+R",
            "Back to where the history began (clears the history; undoable)",
            sp.SP_DialogResetButton,
        )
        self._action("k_up", "Increase K", self._on_k_up_triggered, "Ctrl+]", "One more unit")
        self._action("k_down", "Decrease K", self._on_k_down_triggered, "Ctrl+[", "One unit fewer")
        self._action(
            "start", "&Start", self.controller.start, "F5", "Train from the current weights", sp.SP_MediaPlay
        )
        self._action(
            "pause",
            "&Pause / Resume",
            self.controller.toggle_pause,
            "F6",
            "Pause or resume the run",
            sp.SP_MediaPause,
        )
        self._action(
            "step",
            "S&tep",
            self.controller.step,
            "F10",
            "Exactly one mini-batch, then pause",
            sp.SP_MediaSkipForward,
        )
        self._action(
            "stop",
            "St&op",
            self.controller.stop,
            "Shift+F5",
            "End the run, keeping its steps",
            sp.SP_MediaStop,
        )
        log_y = self._action(
            "log_y",
            "&Log y axis",
            self.plot_panel.log_y.setChecked,
            "Ctrl+L",
            "Logarithmic value axis in the plot",
        )
        log_y.setCheckable(True)
        self.plot_panel.log_y.toggled.connect(log_y.setChecked)
        self._action(
            "auto_range",
            "&Auto-range plot",
            self.plot_panel.auto_range.click,
            "Ctrl+0",
            "Fit the plot to all the data",
        )
        self._action("about", "&About Backprop Lab", self._on_about_triggered)

    def _build_menus(self) -> None:
        """All menus in one place; session/report features extend ``self.menus['file']`` etc."""
        bar = self.menuBar()
        layout = {
            "file": ("&File", ["open", "save", "save_as", None, "quit"]),
            "edit": ("&Edit", ["undo", "redo", None, "copy", "paste"]),
            "model": ("&Model", ["randomize", "report_example", "reset", None, "k_up", "k_down"]),
            "training": ("&Training", ["start", "pause", "step", "stop"]),
            "view": ("&View", ["log_y", "auto_range"]),
            "help": ("&Help", ["about"]),
        }
        for key, (title, names) in layout.items():
            menu = bar.addMenu(title)
            menu.setObjectName(f"menu_{key}")
            for name in names:
                if name is None:
                    menu.addSeparator()
                else:
                    menu.addAction(self.actions[name])
            self.menus[key] = menu

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", objectName="mainToolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setMovable(False)
        for name in (
            "undo",
            "redo",
            None,
            "randomize",
            "report_example",
            "reset",
            None,
            "start",
            "pause",
            "step",
            "stop",
        ):
            if name is None:
                bar.addSeparator()
            else:
                bar.addAction(self.actions[name])
        self.addToolBar(bar)
        self.toolbar = bar

    def _build_status_bar(self) -> None:
        self.k_label = QLabel(objectName="statusK")
        self.state_label = QLabel(objectName="statusTraining")
        self.statusBar().addPermanentWidget(self.state_label)
        self.statusBar().addPermanentWidget(self.k_label)
        self.statusBar().showMessage(
            "Ready: the report's worked example. Edit a weight and watch the gradients.", 8000
        )

    # ------------------------------------------------------------------ geometry

    def _restore_geometry(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            w, h = DEFAULT_SIZE
            screen = QGuiApplication.primaryScreen()
            if screen is not None:
                avail = screen.availableGeometry()
                w, h = min(w, int(avail.width() * 0.95)), min(h, int(avail.height() * 0.95))
            self.resize(w, h)
        splitter = settings.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def _save_geometry(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/splitter", self.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm_close():
            event.ignore()
            return
        # Closing mid-run stops the worker cooperatively; the thread is gone before the window.
        self.controller.shutdown()
        self._save_geometry()
        event.accept()

    def _confirm_close(self) -> bool:
        """Unsaved changes: Save / Discard / Cancel (gui.session_actions)."""
        sessions = getattr(self, "sessions", None)
        return sessions.confirm_close() if sessions is not None else True

    # ------------------------------------------------------------------ slots

    def _on_document_status_message(self, text: str, timeout_ms: int) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _on_document_dirty_changed(self, dirty: bool) -> None:
        self.setWindowModified(dirty)

    def _on_document_path_changed(self, _path: str) -> None:
        self._update_title()

    def _on_document_model_changed(self) -> None:
        self.k_label.setText(f"K = {self.document.K}")

    def _on_document_training_state_changed(self, state: str) -> None:
        idle = state == "idle"
        a = self.actions
        for name in ("randomize", "report_example", "reset", "k_up", "k_down", "paste", "open"):
            a[name].setEnabled(idle)
        a["start"].setEnabled(idle)
        a["pause"].setEnabled(not idle)
        a["pause"].setIcon(
            self.style().standardIcon(
                QStyle.StandardPixmap.SP_MediaPlay
                if state == "paused"
                else QStyle.StandardPixmap.SP_MediaPause
            )
        )
        a["pause"].setText("&Resume" if state == "paused" else "&Pause")
        a["stop"].setEnabled(not idle)
        a["step"].setEnabled(state != "running")
        # Undo while training would change the weights under the run.
        self._on_undo_stack_changed()
        self.state_label.setText({"idle": "", "running": "Training…", "paused": "Paused"}[state])

    def _on_undo_stack_changed(self, *_args) -> None:
        idle = not self.document.is_training
        stack = self.document.undo_stack
        self.actions["undo"].setEnabled(idle and stack.canUndo())
        self.actions["redo"].setEnabled(idle and stack.canRedo())

    def _on_controller_run_ended(self, outcome: str, message: str) -> None:
        titles = {
            "diverged": "Training diverged",
            "failed": "Training failed",
            "invalid": "Cannot start training",
        }
        if outcome in titles:
            QMessageBox.warning(self, titles[outcome], message)

    def _on_open_triggered(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", "", SESSION_FILTER)
        if path:
            self.open_path(path)

    def _on_save_triggered(self) -> None:
        if self.document.path is None:
            self._on_save_as_triggered()
        else:
            self.save_to(self.document.path)

    def _on_save_as_triggered(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session as", self.document.display_name, SESSION_FILTER
        )
        if path:
            self.save_to(path)

    def _on_copy_triggered(self) -> None:
        widget = QApplication.focusWidget()
        if isinstance(widget, MatrixTable):
            widget.copy_as("Tab-separated (spreadsheet)")
            self.document.notify(f"Copied {widget.title} as tab-separated text")

    def _on_paste_triggered(self) -> None:
        widget = QApplication.focusWidget()
        if isinstance(widget, MatrixEditor):
            widget.paste()
        else:
            self.document.notify(
                "Click a cell of x, A, B or C first: the block is pasted at the current cell"
            )

    def _on_k_up_triggered(self) -> None:
        self.model_panel.k_spin.setValue(min(EDITOR_MAX_K, self.document.K + 1))

    def _on_k_down_triggered(self) -> None:
        self.model_panel.k_spin.setValue(max(1, self.document.K - 1))

    def _on_about_triggered(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            "<b>Backprop Lab</b><p>The report's model a = xA, y = σ(a), u = xB, z = y + u, w = zC, "
            "L = Σ w², its hand-derived gradients, and mini-batch gradient descent, live.</p>",
        )

    # ------------------------------------------------------------------ file operations (thin)

    def open_path(self, path: str | Path) -> bool:
        """Open a session file here (asks about unsaved changes); False if it was not opened."""
        return self.sessions.open_path(path)

    def save_to(self, path: str | Path) -> bool:
        """Save the session to ``path`` (atomic); False, with a message, if it was not saved."""
        return self.sessions.save_to(path)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.display_name}[*] — {APP_NAME}")
