"""Seeing why (issue #6): the verification and loss-along-gradient tabs, the chain-rule dock and
step-through, as the window's verify controller.

:class:`VerifyController` gets what it works with from its constructor: the document, the prompts,
the window (the dock's and the step-through dialog's parent), the tab widget its two panels go
into, and the gradient tables and matrix editors the chain rule follows and outlines. It provides

* the panels "Verification" and "Loss along gradient" (the window adds them as tabs beside the
  live plot);
* a "Chain rule" dock (the window docks it at the bottom) that follows the selected gradient cell:
  hidden at start-up (so the window keeps its restored geometry), it opens at the first gradient
  cell selected; after that View ▸ Chain rule panel and F8 show it;
* the actions of the Verify menu: Check now (F7), Check my numbers… (Shift+F7), Compare with
  PyTorch, eps sweep, Show verification (Ctrl+Shift+V), Explain selected entry / chain rule (F8),
  Loss along gradient (Ctrl+Shift+L), Training ▸ Step through… (Shift+F10), and the dock's toggle.

Check my numbers… opens :class:`gui.check_numbers_dialog.CheckNumbersDialog` (one, not modal); after
each check ``numbersChecked(comparison, model)`` goes out (the window has the gradient tables
outline the disagreeing entries) and the chain rule opens on the worst entry, selected in its table.

The window calls :meth:`VerifyController.shutdown` as it closes (cancels and joins any
verification thread); quitting the application waits for them too.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QCoreApplication, QItemSelectionModel, QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QMainWindow, QTabWidget

from backprop_lab.engine.compare import Comparison
from backprop_lab.engine.model import Model
from backprop_lab.engine.verification import CheckResults
from backprop_lab.gui.actions import make_action
from backprop_lab.gui.chain_rule_panel import ChainRulePanel
from backprop_lab.gui.check_numbers_dialog import CheckNumbersDialog
from backprop_lab.gui.document import Document
from backprop_lab.gui.layout import FitScrollArea
from backprop_lab.gui.line_search_panel import LineSearchPanel
from backprop_lab.gui.prompts import Prompts
from backprop_lab.gui.step_through import StepThroughDialog
from backprop_lab.gui.verification_panel import VerificationPanel


class VerifyController(QObject):
    """The "seeing why" views and their actions (see the module docstring).

    ``actions`` by id: verify_now, check_numbers, verify_torch, verify_sweep, show_verification,
    explain_entry, show_line_search, step_through, toggle_chain_rule. ``verification``,
    ``line_search`` and ``chain_rule`` are the panels; ``verification_area`` and
    ``line_search_area`` the scrolling tabs holding the first two; ``dock`` the chain rule's dock;
    ``check_dialog`` Check my numbers… once opened.
    """

    #: A check of a student's numbers: (Comparison, the Model it compared with).
    numbersChecked = Signal(object, object)

    def __init__(
        self,
        document: Document,
        prompts: Prompts,
        window: QMainWindow,
        tabs: QTabWidget,
        gradient_tables: Mapping[str, QAbstractItemView],
        editors: Mapping[str, QAbstractItemView],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("insight")
        self.document = document
        self.prompts = prompts
        self.window = window
        self.tabs = tabs
        self.verification = VerificationPanel(document)
        self.line_search = LineSearchPanel(document)
        self.chain_rule = ChainRulePanel(document)
        self.dock = QDockWidget("Chain rule", window)
        self.dock.setObjectName("chainRuleDock")
        self.dock.setWidget(self.chain_rule)
        self.dock.setAllowedAreas(
            Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        # Hidden until the first gradient cell is selected (or F8): a dock shown now would make the
        # window taller than the geometry it just restored.
        self.dock.hide()
        self._dock_shown_once = False
        # Outlines in the editors only while the derivation they belong to can be seen.
        self.dock.visibilityChanged.connect(self.chain_rule.set_highlighting)
        self.chain_rule.set_highlighting(False)
        self.chain_rule.entryShown.connect(self._on_chain_rule_entry_shown)
        self.chain_rule.attach(dict(gradient_tables), dict(editors))
        self._gradient_tables = dict(gradient_tables)
        self.dialog: StepThroughDialog | None = None
        self.check_dialog: CheckNumbersDialog | None = None
        # In scroll areas, so that the tabs (and so the window) need no more room than before.
        self.verification_area = FitScrollArea(self.verification)
        self.line_search_area = FitScrollArea(self.line_search)
        self.actions = self._build_actions()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_app_about_to_quit)

    def _build_actions(self) -> dict[str, QAction]:
        # Over 60 lines only because it is a table: one entry per action, one field a line.
        p = self.verification
        act = make_action
        actions = {
            "verify_now": act(
                self,
                "verify_now",
                "&Check now",
                p.check_now,
                "F7",
                "Compare every gradient entry with central differences (and PyTorch, if ticked)",
            ),
            "check_numbers": act(
                self,
                "check_numbers",
                "Check my &numbers…",
                self.check_numbers,
                "Shift+F7",
                "Paste or open the loss and gradients your program printed: each compared with the "
                "hand-derived ones, a mistake named",
            ),
            "verify_torch": act(
                self,
                "verify_torch",
                "Compare with &PyTorch (float64 autograd)",
                lambda: None,
                None,
                "Add PyTorch's autograd as a second reference (imports PyTorch on first use)",
            ),
            "verify_sweep": act(
                self,
                "verify_sweep",
                "&eps sweep",
                lambda: None,
                None,
                "Plot the finite-difference error against eps from 1e-1 to 1e-12",
            ),
            "show_verification": act(
                self,
                "show_verification",
                "Show &verification",
                self.show_verification,
                "Ctrl+Shift+V",
                "The verification tab: analytic vs finite differences vs PyTorch",
            ),
            "explain_entry": act(
                self,
                "explain_entry",
                "&Explain selected entry (chain rule)",
                self.show_chain_rule,
                "F8",
                "Show the chain rule of the selected gradient entry",
            ),
            "show_line_search": act(
                self,
                "show_line_search",
                "&Loss along gradient",
                self.show_line_search,
                "Ctrl+Shift+L",
                "L(θ − t·g) with the learning rate marked: will the next step overshoot?",
            ),
            "step_through": act(
                self,
                "step_through",
                "Step &through…",
                self.step_through,
                "Shift+F10",
                "Take the next training step apart, phase by phase; commit or cancel",
            ),
        }
        # The two options mirror the panel's check boxes both ways.
        for name, box in (("verify_torch", p.torch_box), ("verify_sweep", p.sweep_box)):
            action = actions[name]
            action.setCheckable(True)
            action.setChecked(box.isChecked())
            action.toggled.connect(box.setChecked)
            box.toggled.connect(action.setChecked)
        toggle = self.dock.toggleViewAction()
        toggle.setText("&Chain rule panel")
        toggle.setObjectName("action_toggle_chain_rule")
        actions["toggle_chain_rule"] = toggle
        return actions

    # ------------------------------------------------------------------ commands

    def finished_results(self) -> CheckResults | None:
        """The verification tab's last results, unless a check is running (the report may reuse them)."""
        panel = self.verification
        return None if panel.is_busy else panel.results

    def show_verification(self) -> None:
        self.tabs.setCurrentWidget(self.verification_area)

    def show_line_search(self) -> None:
        self.tabs.setCurrentWidget(self.line_search_area)

    def show_chain_rule(self) -> None:
        self._dock_shown_once = True
        # The window's layout tabs the dock with the plot: showing it takes the plot's room, not a
        # slice of every panel's.
        if self.dock.isHidden():
            self.dock.show()
        self.dock.raise_()

    def step_through(self) -> StepThroughDialog | None:
        """Open the step-through dialog (window-modal; returns it for tests)."""
        try:
            dialog = StepThroughDialog(self.document, self.window)
        except ValueError as exc:
            self.prompts.warning("Step through", str(exc))
            return None
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog = dialog
        dialog.finished.connect(self._on_dialog_finished)
        dialog.open()
        return dialog

    def check_numbers(self) -> CheckNumbersDialog:
        """Verify ▸ Check my numbers…: open (or bring forward) the one dialog; returns it for tests."""
        if self.check_dialog is None:
            self.check_dialog = CheckNumbersDialog(self.document, self.prompts, self.window)
            self.check_dialog.checked.connect(self._on_check_dialog_checked)
            # Over the right of the window (the training panel and the plot), not centred on it:
            # the gradient tables it outlines stay in view.
            frame = self.window.frameGeometry()
            x = max(frame.left(), frame.right() - self.check_dialog.width() - 16)
            self.check_dialog.move(x, frame.top() + 60)
        self.check_dialog.show()
        self.check_dialog.raise_()
        self.check_dialog.activateWindow()
        return self.check_dialog

    def show_entry(self, matrix: str, i: int, j: int) -> None:
        """Select gradient entry (``matrix``, i, j) in its table and open the chain rule on it."""
        table = self._gradient_tables.get(matrix)
        if table is not None:
            index = table.model().index(i, j)
            table.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            table.scrollTo(index)
        if self.chain_rule.entry != (matrix, i, j):  # the table's current cell was this one already
            self.chain_rule.show_entry(matrix, i, j)
        self.show_chain_rule()

    def shutdown(self) -> None:
        """The window is closing: stop and join the verification threads, close Check my numbers…"""
        self.verification.shutdown()
        if self.check_dialog is not None:
            self.check_dialog.shutdown()
            self.check_dialog.close()

    # ------------------------------------------------------------------ slots

    def _on_chain_rule_entry_shown(self) -> None:
        # The first selection opens the panel; after that the user decides (View ▸ Chain rule, F8).
        if not self._dock_shown_once:
            self.show_chain_rule()

    def _on_check_dialog_checked(self, comparison: Comparison, model: Model) -> None:
        self.numbersChecked.emit(comparison, model)
        worst = comparison.worst_cell
        if worst is not None:
            self.show_entry(*worst)

    def _on_dialog_finished(self, _result: int) -> None:
        self.dialog = None

    def _on_app_about_to_quit(self) -> None:
        self.verification.shutdown()
        if self.check_dialog is not None:
            self.check_dialog.shutdown()
