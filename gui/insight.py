"""Seeing why (issue #6): hooks the verification, chain-rule, step-through and line-search views into
the main window.

``install(window)`` uses only the window's public surface: ``window.document``, ``add_tab``,
``menus``, ``actions``, ``toolbar``, ``menuBar()``, ``addDockWidget`` and widgets found by
objectName (the gradient tables ``gradA/gradB/gradC`` and the editors ``matrixX/A/B/C``). It adds

* tabs "Verification" and "Loss along gradient" beside the live plot;
* a "Chain rule" dock (bottom) that follows the selected gradient cell: hidden at start-up (so the
  window keeps its restored geometry), it opens at the first gradient cell selected; after that
  View ▸ Chain rule panel and F8 show it;
* a **Verify** menu: Check gradients now (F7), Compare with PyTorch, eps sweep, Show verification
  (Ctrl+Shift+V), Explain selected entry / chain rule (F8), Loss along gradient (Ctrl+Shift+L);
* Training ▸ Step through… (Shift+F10) and a toolbar button; the View menu toggles the dock.

Closing the window cancels and joins any verification thread (an event filter on the window sees
the close first); so does quitting the application.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QScrollArea, QTableView, QWidget

from backprop_lab.gui.chain_rule_panel import ChainRulePanel
from backprop_lab.gui.line_search_panel import LineSearchPanel
from backprop_lab.gui.step_through import StepThroughDialog
from backprop_lab.gui.verification_panel import VerificationPanel


class Insight(QObject):
    """What :func:`install` added (kept as ``window.insight``): the panels, the dock, the actions."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("insight")
        self.window = window
        doc = window.document
        self.verification = VerificationPanel(doc)
        self.line_search = LineSearchPanel(doc)
        self.chain_rule = ChainRulePanel(doc)
        self.dock = QDockWidget("Chain rule", window)
        self.dock.setObjectName("chainRuleDock")
        self.dock.setWidget(self.chain_rule)
        self.dock.setAllowedAreas(
            Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        # Hidden until the first gradient cell is selected (or F8): a dock shown now would make the
        # window taller than the geometry it just restored.
        self.dock.hide()
        self._dock_shown_once = False
        # Outlines in the editors only while the derivation they belong to can be seen.
        self.dock.visibilityChanged.connect(self.chain_rule.set_highlighting)
        self.chain_rule.set_highlighting(False)
        self.chain_rule.entryShown.connect(self._on_chain_rule_entry_shown)
        self.dialog: StepThroughDialog | None = None

        grads = {n: window.findChild(QTableView, f"grad{n}") for n in "ABC"}
        editors = {n: window.findChild(QTableView, f"matrix{n.upper()}") for n in ("x", "A", "B", "C")}
        self.chain_rule.attach(grads, editors)

        tabs = getattr(window, "tabs", None)
        # In scroll areas, so that the tabs (and so the window) need no more room than before.
        self.verification_area = _scrolling(self.verification)
        self.line_search_area = _scrolling(self.line_search)
        self.verification_index = window.add_tab(self.verification_area, "Verification")
        self.line_search_index = window.add_tab(self.line_search_area, "Loss along gradient")
        self._tabs = tabs

        self.actions: dict[str, QAction] = {}
        p = self.verification
        self._action(
            "verify_now",
            "&Check gradients now",
            p.check_now,
            "F7",
            "Compare every gradient entry with central differences (and PyTorch, if ticked)",
        )
        torch = self._action(
            "verify_torch",
            "Compare with &PyTorch (float64)",
            p.torch_box.setChecked,
            None,
            "Add PyTorch's autograd as a second reference (imports PyTorch on first use)",
        )
        torch.setCheckable(True)
        p.torch_box.toggled.connect(torch.setChecked)
        sweep = self._action(
            "verify_sweep",
            "&eps sweep",
            p.sweep_box.setChecked,
            None,
            "Plot the finite-difference error against eps from 1e-1 to 1e-12",
        )
        sweep.setCheckable(True)
        sweep.setChecked(p.sweep_box.isChecked())
        p.sweep_box.toggled.connect(sweep.setChecked)
        self._action(
            "show_verification",
            "Show &verification",
            self.show_verification,
            "Ctrl+Shift+V",
            "The verification tab: analytic vs finite differences vs PyTorch",
        )
        self._action(
            "explain_entry",
            "&Explain selected entry (chain rule)",
            self.show_chain_rule,
            "F8",
            "Show the chain rule of the selected gradient entry",
        )
        self._action(
            "show_line_search",
            "&Loss along gradient",
            self.show_line_search,
            "Ctrl+Shift+L",
            "L(θ − t·g) with the learning rate marked: will the next step overshoot?",
        )
        self._action(
            "step_through",
            "Step &through…",
            self.step_through,
            "Shift+F10",
            "Take the next training step apart, phase by phase; commit or cancel",
        )

        bar = window.menuBar()
        menus = getattr(window, "menus", {})
        verify = bar.addMenu("&Verify")
        verify.setObjectName("menu_verify")
        for name in (
            "verify_now",
            "verify_torch",
            "verify_sweep",
            None,
            "show_verification",
            "explain_entry",
            "show_line_search",
            None,
            "step_through",
        ):
            if name is None:
                verify.addSeparator()
            else:
                verify.addAction(self.actions[name])
        help_menu = menus.get("help")
        if help_menu is not None:  # keep Help last
            bar.insertMenu(help_menu.menuAction(), verify)
        menus["verify"] = verify
        toggle = self.dock.toggleViewAction()
        toggle.setText("&Chain rule panel")
        toggle.setObjectName("action_toggle_chain_rule")
        if "view" in menus:
            menus["view"].addSeparator()
            menus["view"].addAction(toggle)
            menus["view"].addAction(self.actions["show_verification"])
            menus["view"].addAction(self.actions["show_line_search"])
        if "training" in menus:
            menus["training"].addSeparator()
            menus["training"].addAction(self.actions["step_through"])
        toolbar = getattr(window, "toolbar", None)
        if toolbar is not None:
            step = getattr(window, "actions", {}).get("step")
            before = _after(toolbar, step) if step is not None else None
            if before is not None:
                toolbar.insertAction(before, self.actions["step_through"])
            else:
                toolbar.addAction(self.actions["step_through"])

        doc.trainingStateChanged.connect(self._on_document_training_state_changed)
        self._on_document_training_state_changed(doc.training_state)
        window.installEventFilter(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_app_about_to_quit)

    def _action(self, name: str, text: str, slot, shortcut, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(f"action_{name}")
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        self.window.addAction(action)
        self.actions[name] = action
        return action

    # ------------------------------------------------------------------ commands

    def show_verification(self) -> None:
        if self._tabs is not None:
            self._tabs.setCurrentWidget(self.verification_area)

    def show_line_search(self) -> None:
        if self._tabs is not None:
            self._tabs.setCurrentWidget(self.line_search_area)

    def show_chain_rule(self) -> None:
        self._dock_shown_once = True
        if self.dock.isHidden():
            self.dock.show()
            self.window.resizeDocks([self.dock], [300], Qt.Orientation.Vertical)
        self.dock.raise_()

    def step_through(self) -> StepThroughDialog | None:
        """Open the step-through dialog (window-modal; returns it for tests)."""
        try:
            dialog = StepThroughDialog(self.window.document, self.window)
        except ValueError as exc:
            QMessageBox.warning(self.window, "Step through", str(exc))
            return None
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog = dialog
        dialog.finished.connect(self._on_dialog_finished)
        dialog.open()
        return dialog

    # ------------------------------------------------------------------ slots

    def _on_chain_rule_entry_shown(self) -> None:
        # The first selection opens the panel; after that the user decides (View ▸ Chain rule, F8).
        if not self._dock_shown_once:
            self.show_chain_rule()

    def _on_dialog_finished(self, _result: int) -> None:
        self.dialog = None

    def _on_document_training_state_changed(self, state: str) -> None:
        self.actions["step_through"].setEnabled(state == "idle")

    def _on_app_about_to_quit(self) -> None:
        self.verification.shutdown()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            # Before the window's own closeEvent: stop and join the verification threads.
            self.verification.shutdown()
        return False


def _scrolling(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setObjectName(f"{widget.objectName()}Area")
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def _after(toolbar: QWidget, action: QAction) -> QAction | None:
    """The toolbar action after ``action`` (insertAction inserts before it), or None for the end."""
    acts = toolbar.actions()
    if action in acts:
        i = acts.index(action)
        return acts[i + 1] if i + 1 < len(acts) else None
    return None


def install(window: QMainWindow) -> None:
    """Add the "seeing why" views, menus and shortcuts to ``window`` (a :class:`gui.MainWindow`).

    Idempotent: a second call (say, the window's own plus a test's) adds nothing.
    """
    if isinstance(getattr(window, "insight", None), Insight):
        return
    window.insight = Insight(window)  # type: ignore[attr-defined]
