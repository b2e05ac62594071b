"""File ▸ Export data… in the window: the engine's files (CSV, JSON, .npz) written on a worker from
a copy of the session, the chosen filter's extension, one-line errors, nothing half-written, and an
edit racing an export (0–50 ms apart)."""

from __future__ import annotations

import csv
import errno
import io
import json
from dataclasses import replace

import pytest

from backprop_lab.engine.export import CSV_HEADER, Curve, history_csv, model_json
from backprop_lab.engine.session import Session, save_session
from backprop_lab.engine.training import train_session
from backprop_lab.gui.actions import UiState, enabled
from backprop_lab.gui.export_controller import EXPORT_FILTERS, with_extension
from backprop_lab.gui.main_window import MainWindow

WAIT = 30_000  # generous: a loaded 2-core machine


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory):
    """A session file with 20,000 steps (batch size 1: the quickest steps to make)."""
    session = Session.report_example()
    settings = replace(session.training, batch_size=1, n_samples=1000, epochs=20)
    train_session(session, settings)
    path = tmp_path_factory.mktemp("export") / "trained.bpl.json"
    save_session(session, path)
    return path


@pytest.fixture
def trained(qtbot, trained_file):
    w = MainWindow(trained_file)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def _export(qtbot, window, path) -> str:
    with qtbot.waitSignal(window.exports.exported, timeout=WAIT) as blocker:
        assert window.exports.export_to(path)
    return blocker.args[0]


def test_the_file_dialog_offers_each_format_and_adds_the_chosen_extension():
    filters = EXPORT_FILTERS.split(";;")
    assert [f[f.index("(") :] for f in filters] == ["(*.csv)", "(*.json)", "(*.npz)"]
    assert with_extension("/d/run", filters[2]) == "/d/run.npz"
    assert with_extension("/d/run.JSON", filters[0]) == "/d/run.JSON"  # a typed extension wins
    assert with_extension("/d/run.v2", filters[1]) == "/d/run.v2.json"
    assert with_extension("/d/run", "") == "/d/run"  # no filter: the engine names the problem


def test_export_data_writes_the_history_as_csv_through_the_menu(qtbot, trained, tmp_path, monkeypatch):
    target = tmp_path / "history"
    monkeypatch.setattr(
        trained.prompts, "save_file_filtered", lambda *a: (str(target), EXPORT_FILTERS.split(";;")[0])
    )
    assert trained.actions["export_data"] in trained.menus["file"].actions()
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT) as blocker:
        trained.actions["export_data"].trigger()
    assert blocker.args == [str(target) + ".csv"]
    rows = list(csv.reader(io.StringIO((tmp_path / "history.csv").read_text("ascii"))))
    history = trained.document.history
    assert rows[0] == list(CSV_HEADER)
    assert len(rows) == 1 + len(history) == 20_001
    assert float(rows[-1][2]) == history[-1].batch_loss  # shortest round-trip: the very float
    assert "Exported history.csv" in trained.statusBar().currentMessage()
    assert trained.actions["export_data"].isEnabled()


def test_json_and_npz_hold_the_model_and_its_gradients(qtbot, trained, tmp_path):
    np = pytest.importorskip("numpy")
    assert _export(qtbot, trained, tmp_path / "model.json") == str(tmp_path / "model.json")
    data = json.loads((tmp_path / "model.json").read_text("utf-8"))
    model = trained.document.model
    assert data["model"]["A"] == model.A and data["model"]["x"] == model.x
    assert set(data["gradients"]) == {"A", "B", "C"}
    _export(qtbot, trained, tmp_path / "all.npz")
    with np.load(tmp_path / "all.npz") as arrays:
        assert arrays["C"].tolist() == model.C
        assert arrays["dA"].shape == (3, 3)
        assert len(arrays["loss_at_x"]) == len(trained.document.history)


def test_an_unknown_extension_is_one_line_and_writes_nothing(trained, tmp_path, dialogs):
    out = tmp_path / "out"
    out.mkdir()
    assert not trained.exports.export_to(out / "numbers.xlsx")
    ((kind, title, text),) = dialogs.messages
    assert (kind, title) == ("critical", "Cannot export data")
    assert "'.xlsx'" in text and ".csv" in text and "\n" not in text
    assert list(out.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_whole(qtbot, trained, tmp_path, dialogs, monkeypatch, save_fault):
    (out := tmp_path / "out").mkdir()
    target = out / "history.csv"
    target.write_text("the user's own file\n")
    save_fault(monkeypatch, "write", OSError(errno.ENOSPC, "No space left on device"))
    assert _export(qtbot, trained, target) == ""
    assert target.read_text() == "the user's own file\n"
    assert [p.name for p in out.iterdir()] == ["history.csv"]  # no temporary file left
    ((kind, title, text),) = dialogs.messages
    assert (kind, title) == ("critical", "Cannot export data")
    assert "No space left" in text and "\n" not in text
    assert not trained.exports.is_exporting and trained.actions["export_data"].isEnabled()


@pytest.mark.parametrize("delay_ms", [0, 10, 25, 50])
def test_an_edit_during_an_export_changes_neither_the_file_nor_loses_the_edit(
    qtbot, trained, tmp_path, delay_ms
):
    """The export writes the session as it was when it started; the edit made meanwhile stays."""
    doc = trained.document
    expected_csv = b"".join(history_csv(doc.history))
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT):
        trained.exports.export_to(tmp_path / "h.csv")
        qtbot.wait(delay_ms)
        doc.reset_to_initial()  # the history goes (undoable) while it is being written
    assert (tmp_path / "h.csv").read_bytes() == expected_csv
    assert len(doc.history) == 0
    expected_json = b"".join(model_json(doc.session))  # the initial model, now
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT):
        trained.exports.export_to(tmp_path / "m.json")
        qtbot.wait(delay_ms)
        doc.set_entry("A", 0, 0, 42.0)
    assert (tmp_path / "m.json").read_bytes() == expected_json
    assert doc.value("A", 0, 0) == 42.0


def test_a_second_export_waits_for_the_first_and_export_is_off_while_training(qtbot, trained, tmp_path):
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT):
        assert trained.exports.export_to(tmp_path / "one.csv")
        assert not trained.actions["export_data"].isEnabled()
        assert not trained.exports.export_to(tmp_path / "two.csv")
    assert not (tmp_path / "two.csv").exists()
    state = UiState("running", True, False, False, False, False, False)
    assert not enabled(state)["export_data"]
    assert enabled(replace(state, training="paused"))["export_data"]


def test_visible_curves_go_side_by_side_into_a_csv(qtbot, trained, tmp_path, dialogs):
    dialogs.save_path = str(tmp_path / "curves")
    curves = [
        Curve("fast", "step", [1, 2, 3], "loss at x", [0.5, 0.25, 0.125]),
        Curve("slow", "step", [1], "loss at x", [0.9]),
    ]
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT) as blocker:
        assert trained.exports.export_curves(curves)
    assert blocker.args == [str(tmp_path / "curves.csv")]
    rows = list(csv.reader(io.StringIO((tmp_path / "curves.csv").read_text("utf-8"))))
    assert rows == [
        ["fast: step", "fast: loss at x", "slow: step", "slow: loss at x"],
        ["1", "0.5", "1", "0.9"],
        ["2", "0.25", "", ""],
        ["3", "0.125", "", ""],
    ]
    assert not trained.exports.export_curves([])
    assert dialogs.messages[-1][:2] == ("information", "Export visible curves")


def test_the_open_sessions_own_file_is_never_exported_over(trained, trained_file, tmp_path, dialogs):
    before = trained_file.read_bytes()
    link = tmp_path / "same.json"
    link.symlink_to(trained_file)  # the same file under another name
    for target in (trained_file, link):
        assert not trained.exports.export_to(target)
    assert trained_file.read_bytes() == before
    assert [m[:2] for m in dialogs.messages] == [("critical", "Cannot export data")] * 2
    assert "is the open session's own file" in dialogs.messages[0][2]


def _read_csv(path):
    return list(csv.reader(io.StringIO(path.read_text("utf-8"))))


def test_the_plots_menu_exports_every_curve_of_this_session(qtbot, trained, tmp_path, dialogs):
    panel = trained.plot_panel
    action = trained.exports.plot_action
    assert action in panel.plot.getPlotItem().getViewBox().menu.actions()
    panel.smoothing.setValue(0)
    dialogs.save_path = str(tmp_path / "all.csv")
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT):
        action.trigger()
    rows = _read_csv(tmp_path / "all.csv")
    labels = ["batch loss", "loss at x", "‖∂L/∂A‖", "‖∂L/∂B‖", "‖∂L/∂C‖"]
    assert rows[0] == [f"This session: {axis}" for label in labels for axis in ("step", label)]
    history = trained.document.history
    assert len(rows) == 1 + len(history)
    assert rows[1][:2] == ["1", repr(history[0].batch_loss)]
    assert rows[-1][2:4] == [str(len(history)), repr(history[-1].loss_at_x)]


def test_one_curve_of_every_visible_run_with_its_smoothed_values(qtbot, trained, tmp_path, dialogs):
    from backprop_lab.engine.runs import load_run

    other = Session.report_example()
    train_session(other, replace(other.training, learning_rate=0.1))  # 100 steps, 1 epoch
    save_session(other, tmp_path / "fast.bpl.json")
    trained.runs.add_runs([load_run(tmp_path / "fast.bpl.json", "fast")])
    panel = trained.plot_panel
    panel.set_curve("loss_at_x")
    panel.set_x_mode("epoch")
    panel.smoothing.setValue(600)
    dialogs.save_path = str(tmp_path / "two.csv")
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT):
        trained.exports.plot_action.trigger()
    rows = _read_csv(tmp_path / "two.csv")
    assert rows[0] == [
        "This session: epoch", "This session: loss at x",
        "This session: epoch", "This session: loss at x, smoothed",
        "fast: epoch", "fast: loss at x",
        "fast: epoch", "fast: loss at x, smoothed",
    ]  # fmt: skip
    assert len(rows) == 1 + 20_000  # the longer run; the shorter's cells are empty below its end
    assert rows[101][4:] == ["", "", "", ""] and rows[100][4] == "1"  # its last step ends epoch 1
    assert float(rows[100][5]) == other.history[-1].loss_at_x
    assert rows[1][6] == rows[1][4] and rows[1][2] == rows[1][0]  # raw and smoothed share their x
    assert float(rows[100][7]) != float(rows[100][5])  # smoothed differs from the raw value
    # Untick this session: only the compared run is exported.
    trained.runs.set_visible(0, False)
    dialogs.save_path = str(tmp_path / "one.csv")
    with qtbot.waitSignal(trained.exports.exported, timeout=WAIT):
        trained.exports.plot_action.trigger()
    assert _read_csv(tmp_path / "one.csv")[0][0] == "fast: epoch"
