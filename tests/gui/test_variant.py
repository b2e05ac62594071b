"""Issue 14, the window's side: Model ▸ Variant…, its undo, and every view that names the variant.

The dialog is driven through its objectNames: a test replaces only its ``exec`` (no modal loop
offscreen) with a function that sets the controls and presses OK or Cancel as a user would.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QTableWidget,
)

from backprop_lab.engine.evaluation import evaluate
from backprop_lab.engine.model import loss_and_grads, transpose
from backprop_lab.engine.session import load_session
from backprop_lab.engine.training import StepRecord, Trainer, TrainingSettings
from backprop_lab.engine.variant import ACTIVATIONS, DEFAULT_VARIANT, Variant
from backprop_lab.gui.actions import UiState, enabled
from backprop_lab.gui.step_through import StepThroughDialog
from backprop_lab.gui.variant_dialog import VariantDialog

WAIT = 60_000  # a deadline, not a target
TANH_COLUMN_T = Variant("tanh", "column", (0.5, -1.0, 2.0))


def child(parent, cls, name: str):
    found = parent.findChild(cls, name)
    assert found is not None, name
    return found


def fill(
    activation: str | None = None,
    convention: str | None = None,
    target: str | None = None,
    ok: bool = True,
    seen: list[str] | None = None,
    keep_network: bool = False,
) -> Callable[[VariantDialog], int]:
    """A stand-in for ``VariantDialog.exec``: choose, then OK (or Cancel); ``seen`` gets the error line."""

    def run(dialog: VariantDialog) -> int:
        if activation is not None:
            child(dialog, QRadioButton, f"variantActivation_{activation}").click()
        if convention is not None:
            child(dialog, QRadioButton, f"variant{convention.capitalize()}").click()
        child(dialog, QCheckBox, "variantKeepNetwork").setChecked(keep_network)
        box = child(dialog, QCheckBox, "variantTargetOn")
        if target is not None:
            box.setChecked(True)
            child(dialog, QLineEdit, "variantTarget").setText(target)
        buttons = dialog.findChild(QDialogButtonBox)
        buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        if seen is not None:
            seen.append(child(dialog, QLabel, "variantError").text())
        if dialog.result() != QDialog.DialogCode.Accepted and not ok:
            buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
        return dialog.result()

    return run


def choose(window, monkeypatch, **kwargs) -> None:
    monkeypatch.setattr(VariantDialog, "exec", fill(**kwargs))
    window.actions["variant"].trigger()


def record(step: int) -> StepRecord:
    return StepRecord(step, 1, 1.0 / step, 0.5 / step, 1.0, 2.0, 3.0)


# --------------------------------------------------------------------------- the dialog


def test_the_dialog_shows_sigma_and_its_derivative_beside_each_activation(qtbot):
    dialog = VariantDialog(DEFAULT_VARIANT, 3)
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    for name, act in ACTIVATIONS.items():
        assert child(dialog, QRadioButton, f"variantActivation_{name}").text() == name
        assert act.formula in texts and act.derivative_formula in texts
    assert child(dialog, QRadioButton, "variantActivation_sigmoid").isChecked()
    assert any("A[i][j] is the weight from input i to unit j" in t for t in texts)
    assert any("A[i][j] is the weight from input j to unit i" in t for t in texts)
    assert not child(dialog, QLineEdit, "variantTarget").isEnabled()
    assert dialog.variant() == DEFAULT_VARIANT


def test_the_dialog_opens_on_the_current_variant_and_previews_its_formula(qtbot):
    dialog = VariantDialog(TANH_COLUMN_T, 3, history_steps=1200)
    qtbot.addWidget(dialog)
    assert child(dialog, QRadioButton, "variantActivation_tanh").isChecked()
    assert child(dialog, QRadioButton, "variantColumn").isChecked()
    assert child(dialog, QLineEdit, "variantTarget").text() == "0.5, -1.0, 2.0"
    assert dialog.variant() == TANH_COLUMN_T
    assert "L = ‖C(σ(Ax) + Bx) − t‖²" in child(dialog, QLabel, "variantFormula").text()
    assert "1,200 steps" in child(dialog, QLabel, "variantNote").text()
    child(dialog, QCheckBox, "variantTargetOn").setChecked(False)
    child(dialog, QRadioButton, "variantRow").click()
    assert child(dialog, QLabel, "variantFormula").text().startswith("L = ‖(σ(xA) + xB)C‖²")
    assert dialog.variant() == Variant("tanh", "row")


# --------------------------------------------------------------------------- applying it


def test_the_selector_changes_the_evaluation_to_the_variants_gradients(window, monkeypatch):
    doc = window.document
    before = doc.evaluation
    choose(window, monkeypatch, activation="tanh", convention="column", target="0.5, −1, 2")
    m = doc.model
    assert m.variant == TANH_COLUMN_T
    loss, grads = loss_and_grads(
        m.x, m.A, m.B, m.C, activation="tanh", convention="column", target=m.variant.target
    )
    assert doc.evaluation.loss == loss and doc.evaluation.grads == grads
    assert grads["A"] != before.grads["A"] and loss != before.loss
    # The gradient table shows the new numbers.
    assert window.gradients_panel.tables["A"].model().rows() == grads["A"]
    assert doc.undo_stack.count() == 1 and doc.undo_stack.undoText().startswith("Variant: tanh, column")


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("convention", ["row", "column"])
def test_every_member_is_chosen_and_evaluated(window, monkeypatch, activation, convention):
    choose(window, monkeypatch, activation=activation, convention=convention)
    m = window.document.model
    assert m.variant == Variant(activation, convention)
    loss, grads = loss_and_grads(m.x, m.A, m.B, m.C, activation=activation, convention=convention)
    assert window.document.evaluation.loss == loss and window.document.evaluation.grads == grads


def test_undo_and_redo_restore_the_variant_and_the_history_it_belongs_to(window, monkeypatch, qtbot):
    doc = window.document
    doc.append_history([record(1), record(2)])
    choose(window, monkeypatch, activation="relu", target="1 2 3")
    assert doc.model.variant == Variant("relu", "row", (1.0, 2.0, 3.0))
    assert len(doc.history) == 0 and doc.session.initial.variant == doc.model.variant
    assert (
        window.statusBar().currentMessage().startswith("The variant changed: the training history (2 steps)")
    )
    with qtbot.waitSignal(doc.historyChanged):
        window.actions["undo"].trigger()
    assert doc.model.variant == DEFAULT_VARIANT and len(doc.history) == 2
    assert doc.session.initial.variant == DEFAULT_VARIANT
    window.actions["redo"].trigger()
    assert doc.model.variant.activation == "relu" and len(doc.history) == 0


def test_a_change_of_convention_can_keep_the_network_by_transposing(window, monkeypatch):
    doc = window.document
    before = doc.model
    choose(window, monkeypatch, convention="column", keep_network=True)
    m = doc.model
    assert m.variant == Variant("sigmoid", "column")
    assert (m.A, m.B, m.C) == (transpose(before.A), transpose(before.B), transpose(before.C))
    # The same network: the report's loss, and each gradient the report's transposed.
    reference = evaluate(before)
    assert doc.evaluation.loss == pytest.approx(reference.loss, rel=1e-14)
    for name in "ABC":
        expected = transpose(reference.grads[name])
        for row, row_expected in zip(doc.evaluation.grads[name], expected, strict=True):
            assert row == pytest.approx(row_expected, rel=1e-13, abs=1e-15)
    assert doc.undo_stack.undoText() == "Variant: sigmoid, column vectors, no target (A, B, C transposed)"
    window.actions["undo"].trigger()
    assert doc.model == before
    # Without a change of convention there is nothing to transpose: the box is off and ignored.
    dialog = VariantDialog(doc.model.variant, 3)
    assert not child(dialog, QCheckBox, "variantKeepNetwork").isEnabled()
    child(dialog, QCheckBox, "variantKeepNetwork").setChecked(True)
    assert not dialog.keeps_network()
    child(dialog, QRadioButton, "variantColumn").click()
    assert dialog.keeps_network()
    dialog.deleteLater()
    choose(window, monkeypatch, activation="tanh", keep_network=True)
    assert (doc.model.A, doc.model.variant) == (before.A, Variant("tanh"))


def test_the_same_variant_again_is_no_step_and_keeps_the_history(window, monkeypatch):
    doc = window.document
    doc.append_history([record(1)])
    choose(window, monkeypatch)  # OK without changing anything
    assert doc.undo_stack.count() == 0 and len(doc.history) == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1, x, 3", "Target: t[1]: not a number: 'x'"),
        ("1, 2", "Target: t has 2 numbers; expected K = 3"),
        ("1, 2, 3, 4", "Target: t has 4 numbers; expected K = 3"),
        ("", "Target: t is empty"),
        ("1, nan, 2", "Target: t[1]: not a finite number"),
        ("1, 1e999, 2", "Target: t[1]: too large"),
    ],
)
def test_a_bad_target_gets_one_line_naming_it_and_nothing_changes(window, monkeypatch, text, error):
    doc = window.document
    before = doc.model
    seen: list[str] = []
    choose(window, monkeypatch, activation="tanh", target=text, ok=False, seen=seen)
    assert seen[0].startswith(error) and "\n" not in seen[0]
    assert doc.model == before and doc.undo_stack.count() == 0 and not doc.is_dirty


def test_the_document_refuses_a_target_of_another_length_and_any_change_during_a_run(document):
    with pytest.raises(ValueError, match="the target t has 2 entries; expected K = 3"):
        document.set_variant(Variant("tanh", "row", (1.0, 2.0)))
    document.set_training_state("running")
    with pytest.raises(ValueError, match="read-only while training"):
        document.set_variant(Variant("tanh"))
    document.set_training_state("idle")
    assert document.model.variant == DEFAULT_VARIANT and document.undo_stack.count() == 0


def test_the_variant_action_and_button_are_idle_only(window):
    states = {s: UiState(s, False, False, False, False, False, False) for s in ("idle", "running", "paused")}
    assert [enabled(states[s])["variant"] for s in ("idle", "running", "paused")] == [True, False, False]
    assert window.actions["variant"] in window.menus["model"].actions()
    window.document.set_training_state("paused")
    assert not window.actions["variant"].isEnabled() and not window.model_panel.variant_button.isEnabled()
    window.document.set_training_state("idle")
    assert window.actions["variant"].isEnabled() and window.model_panel.variant_button.isEnabled()


def test_the_panels_button_opens_the_dialog(window, monkeypatch):
    monkeypatch.setattr(VariantDialog, "exec", fill(activation="softplus"))
    window.model_panel.variant_button.click()
    assert window.document.model.variant == Variant("softplus")


# --------------------------------------------------------------------------- edits keep it


def test_edits_keep_the_variant_and_a_k_change_cuts_or_pads_the_target(window, monkeypatch):
    doc = window.document
    choose(window, monkeypatch, activation="tanh", convention="column", target="0.5, -1, 2")
    doc.set_entry("A", 0, 0, 0.25)
    doc.paste_block("x", 0, 0, [[1.0, 2.0]])
    doc.randomize(3)
    assert doc.model.variant == TANH_COLUMN_T
    window.model_panel.k_spin.setValue(5)
    assert doc.model.variant == Variant("tanh", "column", (0.5, -1.0, 2.0, 0.0, 0.0))
    window.model_panel.k_spin.setValue(2)
    assert doc.model.variant == Variant("tanh", "column", (0.5, -1.0))
    assert doc.session.initial.variant == doc.model.variant


def test_the_report_example_comes_back_in_the_reports_own_variant(window, monkeypatch):
    doc = window.document
    choose(window, monkeypatch, activation="identity", convention="column")
    doc.append_history([record(1)])
    window.actions["report_example"].trigger()
    assert doc.model.variant == DEFAULT_VARIANT and len(doc.history) == 0
    window.actions["undo"].trigger()
    assert doc.model.variant == Variant("identity", "column") and len(doc.history) == 1


# --------------------------------------------------------------------------- the views name it


def test_titles_the_plot_and_the_target_line_name_the_variant(window, monkeypatch):
    panel = window.model_panel
    assert panel.block_labels["A"].text() == "<b>A (sigmoid branch)</b>"
    assert window.plot_panel.title == "L = ‖(σ(xA) + xB)C‖²  ·  sigmoid, row vectors, no target"
    assert child(window, QLabel, "variantLine").text() == "sigmoid · a = xA · no target"
    choose(window, monkeypatch, activation="tanh", convention="column", target="0.5, -1, 2")
    assert panel.block_labels["A"].text() == "<b>A (tanh branch)</b>"
    assert panel.editors["A"].title == "A (tanh branch)"
    assert window.plot_panel.title == "L = ‖C(σ(Ax) + Bx) − t‖²  ·  tanh, column vectors, target t"
    line = child(window, QLabel, "variantLine")
    assert line.text() == "tanh · a = Ax · t = [0.5, -1, 2]"
    assert line.toolTip().startswith(
        "L = ‖C(σ(Ax) + Bx) − t‖²: tanh, column vectors, target t\nt = [0.5, -1.0, 2.0]"
    )
    window.actions["undo"].trigger()
    assert panel.block_labels["A"].text() == "<b>A (sigmoid branch)</b>"
    assert window.plot_panel.title.startswith("L = ‖(σ(xA) + xB)C‖²")


def test_a_long_target_is_shortened_in_the_panel_and_whole_in_its_tooltip(window, monkeypatch):
    window.model_panel.k_spin.setValue(9)
    choose(window, monkeypatch, target=", ".join(str(j) for j in range(9)))
    line = child(window, QLabel, "variantLine")
    assert line.text().endswith("t = [0, 1, 2, 3, 4, 5, …]")
    assert "t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]" in line.toolTip()


def test_verification_goes_out_of_date_on_a_variant_change_and_checks_the_new_one(window, monkeypatch, qtbot):
    panel = window.verify.verification
    qtbot.waitUntil(panel.is_current, timeout=WAIT)
    panel.live_box.setChecked(False)
    choose(window, monkeypatch, activation="softplus")
    assert "Out of date" in child(window, QLabel, "verificationStatus").text()
    assert panel.heat_models["A"].stale
    with qtbot.waitSignal(panel.checkFinished, timeout=WAIT):
        window.verify.actions["verify_now"].trigger()
    assert panel.results.model == window.document.model and panel.results.model.variant == Variant("softplus")
    assert not panel.heat_models["A"].stale
    window.verify.verification.shutdown(20_000)


def test_step_through_takes_the_variants_step_and_commits_it(window, monkeypatch, qtbot):
    doc = window.document
    choose(window, monkeypatch, activation="tanh", convention="column", target="0.5, -1, 2")
    dialog = StepThroughDialog(doc, window)
    qtbot.addWidget(dialog)
    plan = dialog.plan
    assert plan.variant == doc.model.variant
    forward = child(dialog, QTableWidget, "stepForwardTable")
    headers = [forward.horizontalHeaderItem(c).text() for c in range(forward.columnCount())]
    assert headers[1:3] == ["L(x_s) = Σ (w − t)²", "a = A x"] and headers[-1] == "w = C z"
    gradients = child(dialog, QTableWidget, "stepGradientsTable")
    assert gradients.horizontalHeaderItem(3).text() == "∂L/∂w = 2(w − t)"
    text = child(dialog, QLabel, "stepPageForwardText").text()
    assert "a = A x" in text and "tanh" in text and "t<sub>j</sub>" in text
    grads_text = child(dialog, QLabel, "stepPageGradientsText").text()
    assert "σ′(a) = 1 − tanh(a)²" in grads_text and "2(w − t)" in grads_text
    sample = plan.samples[0]
    assert sample.dw == [2.0 * (w - t) for w, t in zip(sample.w, (0.5, -1.0, 2.0), strict=True)]
    for _ in range(4):
        dialog.next()
    assert dialog.commit()
    m = doc.model
    assert (m.A, m.B, m.C) == tuple(plan.after) and m.variant == TANH_COLUMN_T
    assert len(doc.history) == 1 and doc.history.last_step == 1
    assert not window.statusBar().currentMessage().endswith("(please report this)")


@pytest.mark.timeout(300)
def test_a_run_in_the_window_trains_in_the_variant(window, monkeypatch, qtbot):
    doc = window.document
    choose(window, monkeypatch, activation="relu", convention="column", target="1, 0, -1")
    settings = TrainingSettings(learning_rate=0.01, batch_size=4, n_samples=40, epochs=2, seed=3)
    doc.set_training_settings(settings)
    expected = Trainer(doc.model, settings)
    records = list(expected.steps())
    window.actions["start"].trigger()
    qtbot.waitUntil(lambda: doc.training_state == "idle" and len(doc.history) == len(records), timeout=WAIT)
    m = doc.model
    assert (m.A, m.B, m.C) == expected.weights() and m.variant.activation == "relu"
    assert doc.history.column("loss").tolist() == [r.batch_loss for r in records]
    window.controller.shutdown(20_000)


def test_the_saved_session_carries_the_variant(window, monkeypatch, tmp_path):
    choose(window, monkeypatch, activation="softplus", convention="column", target="0.5, -1, 2")
    path = tmp_path / "variant.bpl.json"
    assert window.save_to(path)
    loaded = load_session(path)
    assert loaded.model.variant == Variant("softplus", "column", (0.5, -1.0, 2.0))
    assert loaded.model == window.document.model


def test_the_gradients_panel_writes_the_loss_and_forward_pass_of_the_variant(window, monkeypatch):
    loss, forward = child(window, QLabel, "lossTitle"), child(window, QLabel, "forwardTitle")
    assert loss.text() == "Loss L = Σ w<sub>j</sub>² at x:"
    assert forward.text().endswith("(σ = sigmoid)<br>a = xA, u = xB, z = σ(a) + u, w = zC")
    choose(window, monkeypatch, activation="relu", convention="column", target="1, 2, 3")
    assert loss.text() == "L = Σ (w<sub>j</sub> − t<sub>j</sub>)² at x:"
    assert forward.text().endswith("(σ = relu)<br>a = Ax, u = Bx, z = σ(a) + u, w = Cz")


# --------------------------------------------------------------------------- races with a run

LONG = TrainingSettings(learning_rate=0.001, batch_size=1, n_samples=1000, epochs=1000, seed=0)


def _stop(window, qtbot) -> None:
    window.actions["stop"].trigger()
    qtbot.waitUntil(lambda: window.document.training_state == "idle", timeout=WAIT)
    window.controller.shutdown(20_000)


@pytest.mark.parametrize("delay_ms", [0, 10, 50])
def test_a_run_started_just_before_keeps_the_variant_it_started_with(window, monkeypatch, qtbot, delay_ms):
    doc = window.document
    doc.set_training_settings(LONG)
    opened: list[VariantDialog] = []
    monkeypatch.setattr(VariantDialog, "exec", lambda d: opened.append(d) or QDialog.DialogCode.Accepted)
    window.actions["start"].trigger()
    qtbot.wait(delay_ms)  # the deliberate gap between the two presses
    window.actions["variant"].trigger()
    window.model_panel.variant_button.click()
    assert opened == [] and doc.model.variant == DEFAULT_VARIANT
    with pytest.raises(ValueError, match="read-only while training"):
        doc.set_variant(Variant("tanh"))
    qtbot.waitUntil(lambda: len(doc.history) > 0, timeout=WAIT)
    _stop(window, qtbot)
    assert doc.model.variant == DEFAULT_VARIANT and doc.undo_stack.undoText().startswith("Train")


@pytest.mark.parametrize("delay_ms", [0, 10, 50])
def test_a_run_started_just_after_a_variant_change_trains_in_it(window, monkeypatch, qtbot, delay_ms):
    doc = window.document
    doc.set_training_settings(LONG)
    choose(window, monkeypatch, activation="softplus", convention="column", target="1, 0, -1")
    first = next(Trainer(doc.model, LONG).steps())
    qtbot.wait(delay_ms)
    window.actions["start"].trigger()
    qtbot.waitUntil(lambda: len(doc.history) > 0, timeout=WAIT)
    _stop(window, qtbot)
    assert doc.history.column("loss")[0] == first.batch_loss
    assert doc.history.column("grad_norm_A")[0] == first.grad_norm_A
    assert doc.model.variant == Variant("softplus", "column", (1.0, 0.0, -1.0))
    window.actions["undo"].trigger()  # the run
    window.actions["undo"].trigger()  # the variant, with the history it cleared (none)
    assert doc.model.variant == DEFAULT_VARIANT and len(doc.history) == 0
