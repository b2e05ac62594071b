"""Verify ▸ Check my numbers…: a student's own loss and gradients against the hand-derived ones.

The dialog takes what the student's program printed (pasted, or read from a file with Open file…)
and, on Check, reads it with :func:`engine.answers.parse_answers` and compares it with the window's
model in its variant (:func:`engine.compare.compare_answers`): the same reading, tolerance and
catalogue of mistakes as ``backprop-lab compare``, said in the same words
(:mod:`engine.check_numbers`). The verdicts appear in the dialog; ``checked`` hands the comparison
to the window, whose gradient tables outline the disagreeing entries and whose chain-rule panel
opens on the worst one.

It is not modal, so that the tables and the chain rule stay in reach while it is open. A check
belongs to the model it was made with: when the model changes, the verdicts are marked out of date.
While a run is training the model changes several times a second, so Check waits for a pause.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent, QFontDatabase, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.answers import AnswersError, parse_answers
from backprop_lab.engine.check_numbers import (
    MAX_ANSWERS_BYTES,
    QUANTITIES,
    AnswersFileError,
    disagreeing_text,
    outcome_text,
    quantity_title,
    read_answers_text,
    tolerance_text,
    verdict_text,
    worst_text,
)
from backprop_lab.engine.compare import Comparison, compare_answers
from backprop_lab.engine.formulas import formula_html
from backprop_lab.engine.model import Model
from backprop_lab.gui.contrast import ink
from backprop_lab.gui.document import Document
from backprop_lab.gui.jobs import Job, JobGroup
from backprop_lab.gui.prompts import Prompts

__all__ = ["ANSWERS_FILTER", "CheckNumbersDialog", "chain_rule_html", "comparison_html"]

#: Up to this K, and this many characters of text, a check runs at once on the GUI thread: reading
#: and comparing every digit takes 14 ms at K = 16, 61 ms at K = 32 and 260 ms at K = 64
#: (tests/bench/bench_check_numbers.py, docs/performance.md).
SYNC_MAX_K = 16
SYNC_MAX_CHARS = 20_000

ANSWERS_FILTER = "Text files (*.txt *.out *.log *.md);;All files (*)"

_PLACEHOLDER = (
    "Paste what your program printed, for example\n\n"
    "Loss = 44.0612\n"
    "dL/dA = tensor([[ 2.1648, -0.3174,  0.8841],\n"
    "                [ …\n\n"
    "The report's layout (A = and a nested list), PyTorch's tensor([[…]]), NumPy's array([[…]]) and "
    "plain or comma-separated rows all work, labelled (dL/dA, ∂L/∂A, grad_A, A.grad, …) or not "
    "(a lone number is the loss; matrices are ∂L/∂A, ∂L/∂B, ∂L/∂C in that order). Give any of them."
)


#: The words between the formulas of a chain-rule line ("…, with g_j = … and σ′(a) = …").
_PROSE = re.compile(r"(, with | and )")


def chain_rule_html(text: str) -> str:
    """A diagnosis' correct line typeset: its formulas as formulas, the words between them as words."""
    parts = _PROSE.split(text)
    return "".join(html.escape(p) if n % 2 else formula_html(p) for n, p in enumerate(parts))


def compare_text(model: Model, text: str) -> Comparison | ValueError:
    """The answers in ``text`` compared with ``model``, or the ValueError that refused them
    (AnswersError keeps its line), returned rather than raised so that a worker thread hands it
    back whole. Qt-free: it runs on a worker thread for big answers."""
    try:
        return compare_answers(model, parse_answers(text, model.K))
    except ValueError as exc:
        return exc


def comparison_html(comparison: Comparison, rtol: float | None = None) -> str:
    """The verdicts as Qt rich text: the outcome, then per quantity what the command prints."""
    good, bad, muted = ink("good"), ink("bad"), ink("muted")
    if comparison.agree:
        head = f"<span style='color:{good}'>✓ Everything you gave agrees.</span>"
    else:
        outcome = outcome_text(comparison)
        head = f"<span style='color:{bad}'>✗ {html.escape(outcome[0].upper() + outcome[1:])}.</span>"
    parts = [f"<p style='font-size:13pt'><b>{head}</b></p>"]
    parts.append(f"<p style='color:{muted}'>{html.escape(tolerance_text(rtol))}</p>")
    for name in QUANTITIES:
        title = html.escape(quantity_title(name))
        v = comparison.verdict(name)
        if v is None:
            parts.append(f"<p><b>{title}</b>: <span style='color:{muted}'>not given</span></p>")
            continue
        colour = good if v.agree else bad
        lines = [
            f"<b>{title}</b>: <span style='color:{colour}'>{html.escape(verdict_text(v))}</span>",
            html.escape(worst_text(v)),
        ]
        named = disagreeing_text(v)
        if named and len(v.disagreeing) > 1:
            lines.append(f"disagreeing: {html.escape(named)}")
        if v.diagnosis is not None:
            d = v.diagnosis
            lines.append(f"<b>Diagnosis</b> (<tt>{html.escape(d.id)}</tt>): {html.escape(d.sentence)}")
            lines.append(f"The correct line: {chain_rule_html(d.correct)}")
        parts.append("<p>" + "<br>".join(lines) + "</p>")
    return "".join(parts)


class CheckNumbersDialog(QDialog):
    """Paste or open a student's numbers, Check, read the verdicts (see the module docstring).

    ``checked(comparison, model)`` is emitted after each successful check. ``comparison`` (or None)
    is the last one, ``error`` the last one-line refusal (or None).
    """

    checked = Signal(object, object)

    def __init__(self, document: Document, prompts: Prompts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("checkNumbersDialog")
        self.setWindowTitle("Check my numbers")
        self._document = document
        self._prompts = prompts
        self.comparison: Comparison | None = None
        self.error: str | None = None
        self._checked_model: Model | None = None
        #: Big answers are read and compared on a worker thread (gui.jobs), one at a time.
        self.jobs = JobGroup(self)
        self._job: Job | None = None

        self.about = QLabel()
        self.about.setObjectName("answersAbout")
        self.about.setWordWrap(True)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("answersText")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setPlaceholderText(_PLACEHOLDER)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.open_button = QPushButton("&Open file…")
        self.open_button.setObjectName("answersOpen")
        self.open_button.clicked.connect(self.open_file)
        self.check_button = QPushButton("&Check")
        self.check_button.setObjectName("answersCheck")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.check)
        # Return types a new line in the text, so Check is Ctrl+Return (Alt+C too).
        QShortcut(QKeySequence("Ctrl+Return"), self, self.check_button.animateClick)
        self.status = QLabel()
        self.status.setObjectName("answersStatus")
        self.verdicts = QTextBrowser()
        self.verdicts.setObjectName("answersResult")
        self.verdicts.setOpenLinks(False)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)

        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.about)
        layout.addWidget(self.editor, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.verdicts, 4)
        layout.addWidget(close)
        self.resize(680, 640)

        document.modelChanged.connect(self._on_document_model_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        self._on_document_model_changed()
        self._on_document_training_state_changed(document.training_state)

    # ------------------------------------------------------------------ commands

    def open_file(self) -> bool:
        """Open file…: the chosen file's text into the editor (False when cancelled or unreadable)."""
        path = self._document.path
        start = str(path.parent) if path is not None else ""
        chosen = self._prompts.open_file("Open a program's output", start, ANSWERS_FILTER)
        if not chosen:
            return False
        try:
            text = read_answers_text(chosen)
        except AnswersFileError as exc:
            self._show_error(str(exc))
            return False
        self.editor.setPlainText(text)
        self.status.setText("")
        return True

    def check(self) -> Comparison | None:
        """Read the text and compare it with the document's model. Small answers are checked at
        once and their comparison returned; big ones (K > :data:`SYNC_MAX_K` or more than
        :data:`SYNC_MAX_CHARS` characters) on a worker thread: None now, ``checked`` when done.
        None too when the text is refused (the reason shown in the dialog, its line selected)."""
        if self._document.training_state == "running" or self._job is not None:
            return None
        text = self.editor.toPlainText()
        if not text.strip():
            self._show_error("Nothing to check: paste what your program printed, or open a file.")
            return None
        if len(text) > MAX_ANSWERS_BYTES:  # characters: at least as many bytes
            self._show_error(
                f"The text holds more than {MAX_ANSWERS_BYTES // 2**20} MiB: not a program's answers."
            )
            return None
        model = self._document.model.copy()
        if model.K <= SYNC_MAX_K and len(text) <= SYNC_MAX_CHARS:
            return self._finish(model, compare_text(model, text))
        job = self.jobs.start(lambda _context: compare_text(model, text), name="check my numbers")
        # A job cancelled (the model changed) sends nothing more: these only hear the current check.
        job.succeeded.connect(lambda result: self._finish(model, result))
        job.failed.connect(lambda error: self._finish(model, ValueError(error)))
        self._job = job
        self._show_busy(True)
        return None

    @property
    def is_busy(self) -> bool:
        """A check is running on a worker thread."""
        return self._job is not None

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel a running check and join its thread (the window is closing); True if it ended."""
        self._cancel()
        return self.jobs.shutdown(timeout_ms)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._cancel()  # nothing left to show a late result in
        super().closeEvent(event)

    # ------------------------------------------------------------------ helpers

    def _finish(self, model: Model, result: Comparison | ValueError) -> Comparison | None:
        """Show a check's outcome: the verdicts (and ``checked``), or the one-line refusal."""
        self._job = None
        self._show_busy(False)
        if isinstance(result, ValueError):  # AnswersError names a line; the model's overflow does not
            self._show_error(str(result))
            if isinstance(result, AnswersError):
                self._select_line(result.line)
            return None
        self.comparison, self.error, self._checked_model = result, None, model
        self.verdicts.setHtml(comparison_html(result))
        self.status.setText("")
        self.checked.emit(result, model)
        return result

    def _cancel(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
            self._show_busy(False)

    def _show_busy(self, busy: bool) -> None:
        self.check_button.setEnabled(not busy and self._document.training_state != "running")
        self.status.setText("Checking…" if busy else "")

    def _show_error(self, message: str) -> None:
        self.comparison, self.error, self._checked_model = None, message, None
        self.verdicts.setHtml(f"<p style='color:{ink('bad')}'>{html.escape(message)}</p>")

    def _select_line(self, line: int) -> None:
        """Put the cursor on ``line`` (1-based; 0: the whole text) and select it, so it can be fixed."""
        block = self.editor.document().findBlockByNumber(line - 1) if line > 0 else None
        if block is None or not block.isValid():
            return
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        self.editor.setTextCursor(cursor)
        self.editor.centerCursor()

    # ------------------------------------------------------------------ slots

    def _on_document_model_changed(self) -> None:
        model = self._document.model
        self.about.setText(
            f"Your loss and gradients are compared with the hand-derived ones for the model in the "
            f"window (K = {model.K}; {html.escape(model.variant.describe())}), each number to the "
            "digits you printed."
        )
        if self._job is not None:
            self._cancel()
            self.status.setText("The model changed while checking: Check again.")
        elif self._checked_model is not None and model != self._checked_model:
            self._checked_model = None
            self.status.setText("The model has changed since this check: Check again.")

    def _on_document_training_state_changed(self, state: str) -> None:
        running = state == "running"
        self.check_button.setEnabled(not running and self._job is None)
        if running:
            self.status.setText("Training is running: pause or stop it to check.")
        elif self.status.text().startswith("Training is running"):
            self.status.setText("")
