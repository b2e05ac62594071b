"""The model panel: K, the variant, the editors for x, A, B, C, and Randomize / report example / reset."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.session import RANDOM_RANGE
from backprop_lab.engine.variant import Variant
from backprop_lab.gui.document import EDITOR_MAX_K, Document
from backprop_lab.gui.heat_map import ScaleLegend
from backprop_lab.gui.matrix_editor import MatrixEditor
from backprop_lab.gui.matrix_model import MatrixModel

BLOCK_TITLES = {"x": "x (input, 1×K)", "A": "A (sigmoid branch)", "B": "B (linear branch)", "C": "C (output)"}
#: Target entries written out in the variant line before "…" (all of them in its tooltip).
TARGET_SHOWN = 6


def block_titles(variant: Variant) -> dict[str, str]:
    """The editors' titles; A's names the variant's activation ("A (tanh branch)")."""
    # x is a column in the column convention; the editor still lays it out as one row.
    x = BLOCK_TITLES["x"] if variant.row else "x (input, K×1, shown as a row)"
    return {**BLOCK_TITLES, "x": x, "A": f"A ({variant.activation} branch)"}


def variant_line(variant: Variant) -> str:
    """The variant in one short line: "tanh · a = Ax · t = [0.5, -1]" (the product names the convention)."""
    product = f"a = {variant.products[0]}"
    t = variant.target
    if t is None:
        target = "no target"
    else:
        shown = ", ".join(format_number(v, "short") for v in t[:TARGET_SHOWN])
        target = f"t = [{shown}{', …' if len(t) > TARGET_SHOWN else ''}]"
    return f"{variant.activation} · {product} · {target}"


class ModelPanel(QWidget):
    """Edits the document's model; every change is one undoable step on the document."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPanel")
        self._document = document
        self._build_controls(document.K)
        rows = self._control_rows()
        blocks = self._build_editors(document)

        box = QGroupBox("Model")
        inner = QVBoxLayout(box)
        for row in rows:
            inner.addLayout(row)
        inner.addSpacing(4)
        inner.addLayout(blocks, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

        self.k_spin.valueChanged.connect(self._on_k_spin_value_changed)
        self.randomize_button.clicked.connect(self._on_randomize_button_clicked)
        self.example_button.clicked.connect(self._on_example_button_clicked)
        self.reset_button.clicked.connect(self._on_reset_button_clicked)
        document.modelChanged.connect(self._on_document_model_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)
        self._on_document_training_state_changed(document.training_state)

    def _build_controls(self, k: int) -> None:
        """K, the random seed and range, and the three buttons that replace the model."""
        self.k_spin = QSpinBox(minimum=1, maximum=EDITOR_MAX_K)
        self.k_spin.setObjectName("kValue")
        self.k_spin.setValue(k)
        self.k_spin.setKeyboardTracking(False)
        self.seed_spin = QSpinBox(minimum=0, maximum=2_147_483_647)
        self.seed_spin.setObjectName("randomSeed")
        # File ▸ New's range (RANDOM_RANGE) to begin with: one range unless the user picks another.
        self.low_spin = QDoubleSpinBox(decimals=3, minimum=-1e6, maximum=1e6, value=RANDOM_RANGE[0])
        self.low_spin.setObjectName("randomLow")
        self.high_spin = QDoubleSpinBox(decimals=3, minimum=-1e6, maximum=1e6, value=RANDOM_RANGE[1])
        self.high_spin.setObjectName("randomHigh")
        for spin in (self.low_spin, self.high_spin):
            spin.setSingleStep(0.1)
        self.randomize_button = QPushButton("Randomize")
        self.randomize_button.setObjectName("randomizeButton")
        self.example_button = QPushButton("Load report example")
        self.example_button.setObjectName("reportExampleButton")
        self.reset_button = QPushButton("Reset to initial")
        self.reset_button.setObjectName("resetButton")
        self.variant_label = QLabel()
        self.variant_label.setObjectName("variantLine")
        self.variant_label.setWordWrap(True)
        self.variant_button = QPushButton("Variant…")
        self.variant_button.setObjectName("variantButton")

    def _control_rows(self) -> tuple[QHBoxLayout, QHBoxLayout, QGridLayout, QHBoxLayout]:
        """The controls in four rows: K and seed, the random range, the buttons, the variant."""
        self.seed_spin.setMaximumWidth(110)
        for spin in (self.low_spin, self.high_spin):
            spin.setMaximumWidth(90)
        top = QHBoxLayout()
        top.addWidget(QLabel("K"))
        top.addWidget(self.k_spin)
        top.addSpacing(12)
        top.addWidget(QLabel("seed"))
        top.addWidget(self.seed_spin)
        top.addStretch(1)
        rnd = QHBoxLayout()
        rnd.addWidget(QLabel("random range"))
        rnd.addWidget(self.low_spin)
        rnd.addWidget(QLabel("to"))
        rnd.addWidget(self.high_spin)
        rnd.addStretch(1)
        # Two rows of buttons: in one, the three make the model column wider than its tables.
        buttons = QGridLayout()
        buttons.addWidget(self.randomize_button, 0, 0)
        buttons.addWidget(self.reset_button, 0, 1)
        buttons.addWidget(self.example_button, 1, 0, 1, 2)
        buttons.setColumnStretch(2, 1)
        variant = QHBoxLayout()
        variant.addWidget(QLabel("variant"))
        variant.addWidget(self.variant_label, 1)
        variant.addWidget(self.variant_button)
        return top, rnd, buttons, variant

    def _build_editors(self, document: Document) -> QVBoxLayout:
        """A titled editor for each of x, A, B, C (``models``, ``editors``), stacked."""
        self.models: dict[str, MatrixModel] = {}
        self.editors: dict[str, MatrixEditor] = {}
        self.legends: dict[str, ScaleLegend] = {}
        self.block_labels: dict[str, QLabel] = {}
        blocks = QVBoxLayout()
        blocks.setSpacing(4)
        for name in ("x", "A", "B", "C"):
            model = MatrixModel(document, name, self)
            editor = MatrixEditor(model, f"matrix{name.upper()}", BLOCK_TITLES[name])
            label = QLabel(f"<b>{BLOCK_TITLES[name]}</b>")
            label.setBuddy(editor)
            # The weights are coloured only as a heat map, so the legend shows only then.
            legend = ScaleLegend()
            legend.setObjectName(f"matrixScale{name.upper()}")
            head = QHBoxLayout()
            head.addWidget(label)
            head.addStretch(1)
            head.addWidget(legend)
            blocks.addLayout(head)
            blocks.addWidget(editor, 0 if name == "x" else 1)
            self.models[name] = model
            self.editors[name] = editor
            self.legends[name] = legend
            self.block_labels[name] = label
            editor.displayChanged.connect(self._update_legends)
        blocks.addStretch(0)  # what the editors do not take when they show numbers
        self._update_legends()
        self._shown_variant: Variant | None = None
        self._show_variant()
        return blocks

    # ------------------------------------------------------------------ actions (also used by menus)

    def randomize(self) -> None:
        self._run(lambda: self._document.randomize(*self._random_args()))

    def load_report_example(self) -> None:
        self._run(self._document.load_report_example)

    def reset_to_initial(self) -> None:
        self._run(self._document.reset_to_initial)

    def set_variant(self, variant: Variant, keep_network: bool = False) -> None:
        """Model ▸ Variant…'s choice, applied (one undo step; a refusal goes to the status bar)."""
        self._run(lambda: self._document.set_variant(variant, keep_network))

    # ------------------------------------------------------------------ slots

    def _on_k_spin_value_changed(self, k: int) -> None:
        if k != self._document.K:
            self._run(lambda: self._document.resize(k, *self._random_args()))

    def _on_randomize_button_clicked(self) -> None:
        self.randomize()

    def _on_example_button_clicked(self) -> None:
        self.load_report_example()

    def _on_reset_button_clicked(self) -> None:
        self.reset_to_initial()

    def _update_legends(self) -> None:
        for name, legend in self.legends.items():
            shown = not self.editors[name].shows_numbers
            legend.set_scale(self.models[name].scale if shown else 0.0)

    def _show_variant(self) -> None:
        """The variant line and the titles naming the activation, when the variant is another one."""
        variant = self._document.model.variant
        if variant == self._shown_variant:
            return
        self._shown_variant = variant
        self.variant_label.setText(variant_line(variant))
        t = variant.target
        full = "" if t is None else "t = [" + ", ".join(format_number(v, "full") for v in t) + "]"
        self.variant_label.setToolTip(f"{variant.loss_formula()}: {variant.describe()}\n{full}".strip())
        titles = block_titles(variant)
        for name, label in self.block_labels.items():
            label.setText(f"<b>{titles[name]}</b>")
            self.editors[name].title = titles[name]
            self.editors[name].setAccessibleName(titles[name])
        self._on_document_training_state_changed(self._document.training_state)

    def _on_document_model_changed(self) -> None:
        self._update_legends()
        self._show_variant()
        if self.k_spin.value() != self._document.K:
            self.k_spin.blockSignals(True)
            self.k_spin.setValue(self._document.K)
            self.k_spin.blockSignals(False)

    def _on_document_training_state_changed(self, state: str) -> None:
        editable = state == "idle"
        for w in (
            self.k_spin,
            self.randomize_button,
            self.example_button,
            self.reset_button,
            self.variant_button,
        ):
            w.setEnabled(editable)
        tip = "" if editable else " (read-only while a training run exists; stop it to edit)"
        for editor in self.editors.values():
            editor.setToolTip(editor.title + tip)

    # ------------------------------------------------------------------ helpers

    def _random_args(self) -> tuple[int, float, float]:
        return self.seed_spin.value(), self.low_spin.value(), self.high_spin.value()

    def _run(self, action: Callable[[], object]) -> None:
        try:
            action()
        except ValueError as exc:
            self._document.notify(str(exc))
            self._on_document_model_changed()
