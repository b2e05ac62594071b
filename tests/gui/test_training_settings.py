"""Every training setting round-trips exactly through the window (issue 11, items 1 and 3).

A session's settings are opened, shown, edited one at a time and saved: whatever the session format
accepts (a learning rate of 1e-9, a seed up to 2⁶³ − 1) comes back exactly, and an edit of one
setting never rewrites another.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QStatusBar

from backprop_lab.engine.session import Session, load_session, save_session
from backprop_lab.engine.training import (
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    MAX_SAMPLES,
    MAX_SEED,
    TrainingSettings,
)
from backprop_lab.gui.main_window import MainWindow

pytestmark = pytest.mark.reliability("settings-round-trip")

OBJECT_NAMES = {
    "learning_rate": "learningRate",
    "batch_size": "batchSize",
    "n_samples": "nSamples",
    "epochs": "epochs",
    "seed": "seed",
}


@pytest.fixture
def win(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.mark_clean()  # no unsaved-changes prompt at teardown


def session_file(tmp_path: Path, settings: TrainingSettings, name: str = "s.bpl.json") -> Path:
    s = Session.report_example()
    s.training = settings
    path = tmp_path / name
    save_session(s, path)
    return path


def box(window, field: str) -> QAbstractSpinBox:
    found = window.findChild(QAbstractSpinBox, OBJECT_NAMES[field])
    assert found is not None, field
    return found


def type_into(qtbot, spin: QAbstractSpinBox, text: str) -> None:
    """Select the box's text, type ``text`` and press Enter, as a user would."""
    spin.setFocus()
    edit = spin.findChild(QLineEdit)
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def saved_training(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["training"]


def status(window) -> str:
    return window.findChild(QStatusBar).currentMessage()


@st.composite
def valid_settings(draw) -> TrainingSettings:
    """Any settings the session format accepts (for K = 3, where N·K never reaches its limit)."""
    n = draw(st.integers(1, MAX_SAMPLES))
    return TrainingSettings(
        learning_rate=draw(st.floats(0.0, MAX_LEARNING_RATE, exclude_min=True, allow_subnormal=True)),
        batch_size=draw(st.integers(1, n)),
        n_samples=n,
        epochs=draw(st.integers(1, MAX_EPOCHS)),
        seed=draw(st.integers(0, MAX_SEED)),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one window serves every example
)
@given(valid_settings())
@example(TrainingSettings(learning_rate=1e-9, seed=2199023255552))
@example(TrainingSettings(learning_rate=0.0123456789, seed=MAX_SEED))
@example(TrainingSettings(5e-324, MAX_SAMPLES, MAX_SAMPLES, MAX_EPOCHS, 2**31))
@example(TrainingSettings(0.1 + 0.2, 1, 1, 1, 0))
def test_open_then_save_keeps_every_setting_exactly(win, tmp_path, training):
    training.validate(3)
    source = session_file(tmp_path, training)
    assert win.files.open_path(source)
    for field, value in asdict(training).items():
        assert box(win, field).value() == value, field
        shown = box(win, field).text()
        assert shown == (repr(value) if field == "learning_rate" else str(value)), field
    # An edit elsewhere (the model) marks the session modified; its save keeps the settings.
    win.document.set_entry("A", 0, 0, win.document.model.A[0][0] + 1.0)
    target = tmp_path / "out.bpl.json"
    assert win.files.save_to(target)
    assert saved_training(target) == saved_training(source)
    assert load_session(target).training == training


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("learning_rate", 1e-9, "1e-09"),
        ("learning_rate", 0.0123456789, "0.0123456789"),
        ("seed", 2199023255552, "2199023255552"),
        ("seed", MAX_SEED, "9223372036854775807"),
    ],
)
def test_the_reported_values_are_shown_and_survive_an_edit_of_the_epochs(
    win, qtbot, tmp_path, field, value, text
):
    source = session_file(tmp_path, TrainingSettings(**{field: value}))
    assert win.files.open_path(source)
    assert box(win, field).text() == text
    type_into(qtbot, box(win, "epochs"), "7")
    assert win.document.training_settings.epochs == 7
    assert win.files.save_to(tmp_path / "edited.bpl.json")
    saved = saved_training(tmp_path / "edited.bpl.json")
    assert saved[field] == value and type(saved[field]) is type(value)
    assert saved["epochs"] == 7


def test_a_big_seed_opens_without_an_error_from_the_command_line(qtbot, tmp_path):
    path = session_file(tmp_path, TrainingSettings(seed=2199023255552))
    w = MainWindow(path)  # raised OverflowError before: QSpinBox holds a C int
    qtbot.addWidget(w)
    assert box(w, "seed").value() == 2199023255552
    assert w.document.training_settings.seed == 2199023255552


EDITS = [
    ("learning_rate", "1e-9", 1e-9),
    ("learning_rate", "0.0123456789", 0.0123456789),
    ("learning_rate", "1e6", 1e6),
    ("batch_size", "3", 3),
    ("n_samples", "1000000", 1_000_000),
    ("epochs", "1000000", 1_000_000),
    ("seed", "9223372036854775807", MAX_SEED),
    ("seed", "2199023255552", 2199023255552),
    ("seed", "0", 0),
]


@pytest.mark.parametrize(("field", "text", "value"), EDITS)
def test_typing_one_setting_changes_exactly_that_one(win, qtbot, field, text, value):
    before = asdict(win.document.training_settings)
    type_into(qtbot, box(win, field), text)
    after = asdict(win.document.training_settings)
    assert after[field] == value and type(after[field]) is type(value)
    assert {k: v for k, v in after.items() if k != field} == {k: v for k, v in before.items() if k != field}
    assert box(win, field).text() == (repr(value) if field == "learning_rate" else str(value))


REFUSALS = [
    ("learning_rate", "abc", "not a number"),
    ("learning_rate", "0", "learning_rate must be > 0"),
    ("learning_rate", "-1e-3", "learning_rate must be > 0"),
    ("learning_rate", "nan", "not a finite number"),
    ("learning_rate", "2e6", "learning_rate must be ≤"),
    ("seed", "9223372036854775808", "seed must be ≤"),
    ("seed", "-1", "seed must be ≥ 0"),
    ("seed", "1.5", "not a whole number"),
    ("batch_size", "0", "batch_size must be ≥ 1"),
    ("batch_size", "100000", "batch_size must be ≤ n_samples"),
    ("epochs", "1000001", "epochs must be ≤"),
    ("n_samples", "", "empty input"),
]


@pytest.mark.parametrize(("field", "text", "reason"), REFUSALS)
def test_bad_text_is_refused_in_one_line_and_the_old_value_stays(win, qtbot, field, text, reason):
    before = win.document.training_settings
    shown = box(win, field).text()
    type_into(qtbot, box(win, field), text)
    assert win.document.training_settings == before
    assert box(win, field).text() == shown
    message = status(win)
    assert reason in message and "kept the old value" in message and "\n" not in message


def test_the_arrows_step_without_binary_noise(qtbot):
    from backprop_lab.gui.exact_spin_box import FloatSpinBox, IntSpinBox

    rate = FloatSpinBox(0.01, 0.0, MAX_LEARNING_RATE)
    qtbot.addWidget(rate)
    rate.stepBy(1)
    assert rate.value() == 0.011 and rate.text() == "0.011"
    rate.setValue(0.01)
    rate.stepBy(-1)
    assert rate.value() == 0.0099
    rate.setValue(1e-9)
    rate.stepBy(1)
    assert rate.value() == 1.1e-9
    seed = IntSpinBox(5, 0, MAX_SEED)
    qtbot.addWidget(seed)
    seed.lineEdit().setText("41")  # typed, not yet finished: the arrows start from it
    seed.stepBy(1)
    assert seed.value() == 42
    seed = IntSpinBox(MAX_SEED - 1, 0, MAX_SEED)
    qtbot.addWidget(seed)
    seed.stepBy(5)
    assert seed.value() == MAX_SEED  # clamped at the top of the range, as a spin box is
    assert not seed.stepEnabled() & seed.StepEnabledFlag.StepUpEnabled


def test_fewer_samples_than_the_batch_lower_the_batch_and_say_so(win, qtbot):
    type_into(qtbot, box(win, "batch_size"), "10")
    type_into(qtbot, box(win, "n_samples"), "4")
    s = win.document.training_settings
    assert (s.n_samples, s.batch_size) == (4, 4)
    assert "Batch size lowered to 4" in status(win)
