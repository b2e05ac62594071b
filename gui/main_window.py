"""The main window, the composition root: it builds the document, the panels and the controllers,
hands each what it needs through its constructor, and places their actions from one table.

::

    MainWindow
    ├── Document ◄──────────────── every panel and controller below gets it
    ├── Prompts(self)               every dialog the controllers show
    ├── TrainingController(document)
    ├── RunsModel(document); ModelPanel, GradientsPanel, TrainingPanel(training), PlotPanel(runs),
    │   RunsPanel(runs, the plot's choosers), NetworkView
    ├── FileController(document, training, prompts, runs)    New/Open/Recent/Save/Revert/drop/recovery/compare
    ├── EditController(document, self)                        Undo/Redo/Copy/Copy as/Paste
    ├── VerifyController(document, prompts, self, tabs,       verification, chain rule, step through
    │                    gradient tables, editors)
    ├── ReportController(document, prompts, self, plot,       Export report, screenshots
    │                    verify, files.start_dir, files.base_name)
    ├── HelpController(document, prompts, catalog)            shortcut list, user guide, Session properties
    ├── ExportController(document, prompts, where, curves)   Export data…; the plot's visible curves as CSV
    ├── SweepController(document, prompts, where, runs.add_runs)   Training ▸ Sweep… (dialog, runner)
    └── NetworkLink(document, view, editors, tables, chain rule)  an edge ↔ its cells and chain rule

Menus and toolbar come from :mod:`gui.actions` (``MENUS``, ``TOOLBAR``); whenever the state they
depend on changes, :meth:`MainWindow.update_enabled` applies :func:`gui.actions.enabled`. The window
decides nothing else: the panels edit the document, the controllers act on it. Tooltips come from
one table too (:mod:`gui.tips`), applied once everything is built.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QStyle,
    QTabWidget,
    QToolBar,
    QWidget,
)

from backprop_lab.engine.model import Model
from backprop_lab.engine.session import Session, load_session
from backprop_lab.gui.actions import MENUS, TOOLBAR, UiState, enabled, make_action
from backprop_lab.gui.document import EDITOR_MAX_K, Document
from backprop_lab.gui.edit_controller import EditController
from backprop_lab.gui.export_controller import ExportController
from backprop_lab.gui.file_controller import FileController
from backprop_lab.gui.gradients_panel import GradientsPanel
from backprop_lab.gui.help_controller import HelpController
from backprop_lab.gui.layout import WindowLayout
from backprop_lab.gui.model_panel import ModelPanel
from backprop_lab.gui.network_link import NetworkLink
from backprop_lab.gui.network_view import NetworkView
from backprop_lab.gui.plot_export import add_to_plot_menu, visible_curves
from backprop_lab.gui.plot_panel import PlotPanel
from backprop_lab.gui.prompts import Prompts
from backprop_lab.gui.report_controller import ReportController
from backprop_lab.gui.runs import RunsModel
from backprop_lab.gui.runs_panel import RunsPanel, plot_with_runs
from backprop_lab.gui.sweep_controller import SweepController
from backprop_lab.gui.theme import PlotColours, apply_to_window
from backprop_lab.gui.tips import apply_tips
from backprop_lab.gui.training_panel import TrainingPanel
from backprop_lab.gui.verify_controller import VerifyController
from backprop_lab.gui.worker import TrainingController

APP_NAME = "Backprop Lab"
READY_EXAMPLE = "Ready: the report example. Edit a weight and watch the gradients."


class MainWindow(QMainWindow):
    """``MainWindow(path=None)``: the report example, or the session file at ``path``.

    Raises ``SessionError`` (one line) when ``path`` cannot be opened; ``backprop_lab.window`` reports it.
    Parts: ``document``, ``controller`` (training), ``prompts``, the panels (``model_panel``,
    ``gradients_panel``, ``training_panel``, ``plot_panel``, ``network_view`` and its ``network_link``),
    the controllers ``files``, ``edit``, ``verify``, ``reports``; ``actions``, ``menus`` (by id), ``toolbar``.
    """

    def __init__(self, path: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        session = load_session(path) if path else Session.report_example()
        self.document = doc = Document(session, path, self)
        self.prompts = Prompts(self)
        self.controller = TrainingController(doc, self)

        self._build_parts(doc)
        self._build_central()
        # By id, as the tables name them. The attribute hides the method QWidget.actions() on purpose,
        # which mypy calls an incompatible assignment; QWidget.actions(self) still lists them.
        self.actions: dict[str, QAction] = {  # type: ignore[assignment]
            **self._build_actions(),
            **self.files.actions,
            **self.edit.actions,
            **self.verify.actions,
            **self.reports.actions,
            **self.help.actions,
            **self.exports.actions,
            **self.sweeps.actions,
        }
        self.submenus: dict[str, QMenu] = {**self.files.menus, **self.edit.menus, **self.reports.menus}
        for action in self.actions.values():
            self.addAction(action)  # shortcuts work with the menu bar hidden, too
        self.menus: dict[str, QMenu] = {}
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        apply_tips(self)
        self.setAcceptDrops(True)
        self.plot_colours: PlotColours = apply_to_window(self)  # the plots in the palette's colours

        doc.statusMessage.connect(self._on_document_status_message)
        doc.dirtyChanged.connect(self._on_document_dirty_changed)
        doc.pathChanged.connect(self._on_document_path_changed)
        doc.sessionReplaced.connect(self._on_document_session_replaced)
        doc.propertiesChanged.connect(self._on_document_session_replaced)
        doc.modelChanged.connect(self._on_document_model_changed)
        doc.trainingStateChanged.connect(self._on_document_training_state_changed)
        doc.undo_stack.canUndoChanged.connect(self.update_enabled)
        doc.undo_stack.canRedoChanged.connect(self.update_enabled)
        self.controller.runEnded.connect(self._on_controller_run_ended)
        self.files.recentChanged.connect(self.update_enabled)
        self.reports.busyChanged.connect(self.update_enabled)
        self.exports.busyChanged.connect(self.update_enabled)
        self._update_title()
        self._on_document_model_changed()
        self._on_document_training_state_changed(doc.training_state)
        self._restore_geometry()

    # ------------------------------------------------------------------ composition

    def _build_parts(self, doc: Document) -> None:
        """The panels, the tabs and the controllers, each given what it works with."""
        self.model_panel = ModelPanel(doc)
        self.gradients_panel = GradientsPanel(doc)
        self.training_panel = TrainingPanel(doc, self.controller)
        self.runs = RunsModel(doc, self)  # the runs the plot lays side by side and the list shows
        self.plot_panel = plot = PlotPanel(doc, runs=self.runs)
        self.runs_panel = RunsPanel(self.runs, (plot.curve_choice, plot.x_choice))
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.files = FileController(doc, self.controller, self.prompts, self, runs=self.runs)
        self.edit = EditController(doc, self, self)
        self.verify = VerifyController(
            doc, self.prompts, self, self.tabs, self.gradients_panel.tables, self.model_panel.editors, self
        )
        self.reports = ReportController(
            doc,
            self.prompts,
            self,
            self.plot_panel.plot,
            self.verify,
            self.files.start_dir,
            self.files.base_name,
            self,
        )
        self.verify.numbersChecked.connect(self.gradients_panel.show_comparison)
        where = (self.files.start_dir, self.files.base_name)
        self.exports = ExportController(doc, self.prompts, *where, self, curves=lambda: visible_curves(plot))
        add_to_plot_menu(plot, self.exports.plot_action)
        self.sweeps = SweepController(doc, self.prompts, *where, self.runs.add_runs, self)
        self.help = HelpController(doc, self.prompts, lambda: (self.actions, self.submenus), parent=self)
        self.network_view = view = NetworkView(doc, self.prompts)
        editors, tables, chain = self.model_panel.editors, self.gradients_panel.tables, self.verify.chain_rule
        self.network_link = NetworkLink(doc, view, editors, tables, chain, self.verify.show_chain_rule, self)

    def _build_central(self) -> None:
        """The plot and verification tabs, and the docks (gui.layout) holding them and the panels."""
        self.tabs.addTab(plot_with_runs(self.plot_panel, self.runs_panel), "Live plot")
        self.tabs.addTab(self.verify.verification_area, "Verification")
        self.tabs.addTab(self.verify.line_search_area, "Loss along gradient")
        panels: dict[str, QWidget] = {
            "model": self.model_panel,
            "gradients": self.gradients_panel,
            "training": self.training_panel,
            "views": self.tabs,
            "network": self.network_view,
        }
        self.layout_ = WindowLayout(self, panels, self.verify.dock)
        self.docks = self.layout_.docks

    def _build_actions(self) -> dict[str, QAction]:
        """The window's own actions: Quit, About, and those driving the model, training and plot panels."""
        # Over 60 lines only because the table below has one row per action, one field a line.
        # The tips ("" here) are in gui/tips.py with every other control's.
        sp = QStyle.StandardPixmap
        icon = self.style().standardIcon
        model, training, plot = self.model_panel, self.controller, self.plot_panel
        table = (
            ("quit", "&Quit", self.close, QKeySequence.StandardKey.Quit, "", None),
            ("randomize", "&Randomize", model.randomize, "Ctrl+R", "", sp.SP_BrowserReload),
            (
                "report_example",
                "Load &report example",
                model.load_report_example,
                "Ctrl+E",
                "",
                sp.SP_FileDialogContentsView,
            ),
            (
                "reset",
                "Reset to &initial",
                model.reset_to_initial,
                "Ctrl+Shift+R",
                "",
                sp.SP_DialogResetButton,
            ),
            ("k_up", "Increase K", self._on_k_up_triggered, "Ctrl+]", "", None),
            ("k_down", "Decrease K", self._on_k_down_triggered, "Ctrl+[", "", None),
            ("variant", "&Variant…", self._on_variant_triggered, "Ctrl+Shift+A", "", None),
            ("start", "&Start", training.start, "F5", "", sp.SP_MediaPlay),
            ("pause", "&Pause / Resume", training.toggle_pause, "F6", "", sp.SP_MediaPause),
            ("step", "S&tep", training.step, "F10", "", sp.SP_MediaSkipForward),
            ("stop", "St&op", training.stop, "Shift+F5", "", sp.SP_MediaStop),
            ("log_y", "&Log y axis", lambda: None, "Ctrl+L", "", None),
            ("auto_range", "&Auto-range plot", plot.auto_range.click, "Ctrl+0", "", None),
            (
                "reset_layout",
                "&Reset layout",
                self.reset_layout,
                None,
                "Put every panel back in its place, at the default size for this screen",
                None,
            ),
            ("about", "&About Backprop Lab", self._on_about_triggered, None, "", None),
        )
        actions: dict[str, QAction] = {}
        for name, text, slot, shortcut, tip, pixmap in table:
            action = make_action(self, name, text, slot, shortcut, tip)
            if pixmap is not None:
                action.setIcon(icon(pixmap))
            actions[name] = action
        model.variant_button.clicked.connect(actions["variant"].trigger)
        self.runs_panel.add_button.clicked.connect(self.files.actions["add_run"].trigger)
        # Each dock's own show/hide action, so that a closed panel can be brought back.
        for dock_id, text in (
            ("model", "&Model panel"),
            ("gradients", "&Gradients panel"),
            ("training", "&Training panel"),
            ("views", "&Plot and verification panel"),
            ("network", "&Network panel"),
        ):
            toggle = self.docks[dock_id].toggleViewAction()
            toggle.setText(text)
            toggle.setObjectName(f"action_dock_{dock_id}")
            actions[f"dock_{dock_id}"] = toggle
        log_y = actions["log_y"]
        log_y.setCheckable(True)
        log_y.setChecked(plot.log_y.isChecked())
        log_y.toggled.connect(plot.log_y.setChecked)
        plot.log_y.toggled.connect(log_y.setChecked)
        return actions

    def _place(self, target: QMenu | QToolBar, entries: tuple[str | None, ...]) -> None:
        for entry in entries:
            if entry is None:
                target.addSeparator()
            elif entry.startswith("menu:"):
                submenu = self.submenus[entry.removeprefix("menu:")]
                submenu.setParent(self, submenu.windowFlags())  # the window owns what it shows
                assert isinstance(target, QMenu), "a toolbar holds no submenus"
                target.addMenu(submenu)
            else:
                target.addAction(self.actions[entry])

    def _build_menus(self) -> None:
        bar = self.menuBar()
        for key, title, entries in MENUS:
            menu = bar.addMenu(title)
            menu.setObjectName(f"menu_{key}")
            self._place(menu, entries)
            self.menus[key] = menu

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setMovable(False)
        self._place(bar, TOOLBAR)
        self.addToolBar(bar)
        self.toolbar = bar
        self._fix_toolbar_labels()

    def _fix_toolbar_labels(self) -> None:
        """Labels that never change width, so that no button moves when a state changes.

        Undo and Redo say only that on the button; what they undo is in the tooltip and the Edit
        menu (the action's text). Pause becomes Resume: its button is as wide as the wider of the two.
        """
        self.actions["undo"].setIconText("Undo")
        self.actions["redo"].setIconText("Redo")
        pause = self.actions["pause"]
        button = self.toolbar.widgetForAction(pause)
        if button is not None:
            widths = []
            for label in ("Resume", "Pause"):
                pause.setIconText(label)
                widths.append(button.sizeHint().width())
            pause.setIconText("")  # back to following the action's text
            button.setMinimumWidth(max(widths))

    def _build_status_bar(self) -> None:
        self.k_label = QLabel()
        self.k_label.setObjectName("statusK")
        self.state_label = QLabel()
        self.state_label.setObjectName("statusTraining")
        self.statusBar().addPermanentWidget(self.state_label)
        self.statusBar().addPermanentWidget(self.k_label)
        doc = self.document
        self._welcome = READY_EXAMPLE if doc.path is None else f"Opened {doc.display_name} (K = {doc.K})"
        self.statusBar().showMessage(self._welcome, 8000)
        # The welcome names the model it was shown for; it goes as soon as that model does.
        self._welcome_model: Model | None = doc.model

    def ui_state(self) -> UiState:
        """What the action table's enablement rules look at, now."""
        doc = self.document
        return UiState(
            training=doc.training_state,
            has_path=doc.path is not None,
            dirty=doc.is_dirty,
            can_undo=doc.undo_stack.canUndo(),
            can_redo=doc.undo_stack.canRedo(),
            exporting=self.reports.is_exporting,
            has_recent=self.files.has_recent,
            exporting_data=self.exports.is_exporting,
        )

    def update_enabled(self, *_args: object) -> None:
        """Enable every action and submenu as :func:`gui.actions.enabled` says for the current state."""
        for name, on in enabled(self.ui_state()).items():
            if name.startswith("menu:"):
                self.submenus[name.removeprefix("menu:")].setEnabled(on)
            else:
                self.actions[name].setEnabled(on)

    # ------------------------------------------------------------------ geometry

    def _restore_geometry(self) -> None:
        # Until the window is first shown its docks have no room to share out: fit them then.
        self._fit_on_show = not self.layout_.restore()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fit_on_show:
            self._fit_on_show = False
            self.layout_.fit_sizes()

    def _save_geometry(self) -> None:
        self.layout_.save()

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the default size and arrangement for this screen."""
        self.layout_.reset()

    def changeEvent(self, event: QEvent) -> None:
        # The desktop switched between light and dark: Qt repaints the widgets, the plots need telling.
        if event.type() == QEvent.Type.PaletteChange:
            self.plot_colours = apply_to_window(self, self.palette())
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm_close():
            event.ignore()
            return
        self.verify.shutdown()  # cancels the gradient checks and joins their threads
        self.reports.shutdown()  # cancels an export and joins its thread
        self.exports.shutdown()
        self.sweeps.shutdown()  # a sweep's finished runs are kept; its running ones stop
        self.edit.shutdown()
        # Closing mid-run stops the worker cooperatively; the thread is gone before the window.
        self.controller.shutdown()
        self._save_geometry()
        event.accept()

    def _confirm_close(self) -> bool:
        """Unsaved changes: Save / Discard / Cancel (the file controller asks)."""
        return self.files.confirm_close()

    # ------------------------------------------------------------------ drag and drop (a session file)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.files.accepts_drop(event.mimeData(), event.modifiers()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.files.accepts_drop(event.mimeData(), event.modifiers()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.files.drop(event.mimeData(), event.modifiers()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # ------------------------------------------------------------------ slots

    def _on_document_status_message(self, text: str, timeout_ms: int) -> None:
        if text:
            self.statusBar().showMessage(text, timeout_ms)
        else:
            self.statusBar().clearMessage()

    def _on_document_dirty_changed(self, dirty: bool) -> None:
        self.setWindowModified(dirty)
        self.update_enabled()

    def _on_document_path_changed(self, _path: str) -> None:
        self._update_title()
        self.update_enabled()

    def _on_document_session_replaced(self) -> None:
        # The title names the session, which New, Revert or a rename changes without changing the path.
        self._update_title()
        self._drop_welcome()

    def _on_document_model_changed(self) -> None:
        self.k_label.setText(f"K = {self.document.K}")
        if self._welcome_model is not None and self.document.model != self._welcome_model:
            self._drop_welcome()

    def _drop_welcome(self) -> None:
        """The start-up message describes the first model only: never left up for another one."""
        self._welcome_model = None
        if self.statusBar().currentMessage() == self._welcome:
            self.statusBar().clearMessage()

    def _on_document_training_state_changed(self, state: str) -> None:
        pause = self.actions["pause"]
        pixmap = (
            QStyle.StandardPixmap.SP_MediaPlay if state == "paused" else QStyle.StandardPixmap.SP_MediaPause
        )
        pause.setIcon(self.style().standardIcon(pixmap))
        pause.setText("&Resume" if state == "paused" else "&Pause")
        self.state_label.setText({"idle": "", "running": "Training…", "paused": "Paused"}[state])
        self.update_enabled()

    def _on_controller_run_ended(self, outcome: str, message: str) -> None:
        titles = {
            "diverged": "Training diverged",
            "failed": "Training failed",
            "invalid": "Cannot start training",
        }
        if outcome in titles:
            self.prompts.warning(titles[outcome], message)

    def _on_k_up_triggered(self) -> None:
        self.model_panel.k_spin.setValue(min(EDITOR_MAX_K, self.document.K + 1))

    def _on_k_down_triggered(self) -> None:
        self.model_panel.k_spin.setValue(max(1, self.document.K - 1))

    def _on_variant_triggered(self) -> None:
        doc = self.document
        chosen = self.prompts.variant(doc.model.variant, doc.K, len(doc.history))
        if chosen is not None:
            self.model_panel.set_variant(*chosen)

    def _on_about_triggered(self) -> None:
        self.prompts.about(
            f"About {APP_NAME}",
            "<b>Backprop Lab</b><p>The report's model a = xA, y = σ(a), u = xB, z = y + u, w = zC, "
            "L = Σ w², its hand-derived gradients, and mini-batch gradient descent, live.</p>",
        )

    # ------------------------------------------------------------------ file operations (thin)

    def open_path(self, path: str | Path) -> bool:
        """Open a session file here (asks about unsaved changes); False if it was not opened."""
        return self.files.open_path(path)

    def save_to(self, path: str | Path) -> bool:
        """Save the session to ``path`` (atomic); False, with a message, if it was not saved."""
        return self.files.save_to(path)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.display_name}[*] — {APP_NAME}")
