"""The benchmarks under tests/bench/ still run against the current code.

They are run by hand and never collected, so a renamed module, function or attribute used to break
them silently. Here every script is imported, every ``backprop_lab`` name it imports (at the top or
inside a function) must exist, and each script's cheapest entry point runs at toy sizes. Nothing is
timed: the figures are the benchmarks' business; a generous timeout only turns a hang into a failure.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent / "bench"
SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py"))

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def bench(monkeypatch):
    """``bench(name)``: the module of ``tests/bench/<name>.py``, imported as the scripts import each other."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module


@pytest.fixture
def quiet_window(qapp, tmp_path, monkeypatch):
    """Preferences and recovery copies in ``tmp_path``; a prompt fails the test instead of blocking it."""
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QMessageBox

    from backprop_lab.gui import recovery
    from backprop_lab.window import APPLICATION, ORGANIZATION

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    recovery.set_recovery_directory(tmp_path / "recovery")

    def refuse(*args, **kwargs):
        raise AssertionError(f"a message box was opened: {args[1:3]}")

    for kind in ("question", "warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind, refuse)
    yield qapp
    recovery.set_recovery_directory(None)


def test_the_bench_folder_holds_the_known_scripts():
    # A new script is picked up by the tests below on its own; this only notices one disappearing.
    assert {"bench_gui", "bench_long_runs", "bench_stalls", "bench_training", "screenshot"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports(bench, name):
    module = bench(name)
    assert Path(module.__file__).resolve() == BENCH / f"{name}.py"


def _backprop_lab_imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, name or None, line) of every ``backprop_lab`` import in the file, nested ones too."""
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backprop_lab"):
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if a.name.startswith("backprop_lab")]
    return found


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_backprop_lab_name_a_script_imports_exists(name):
    # Most GUI scripts import inside functions (after QApplication exists), which importing the
    # script does not reach: read the imports from the source instead.
    missing = []
    for module_name, attr, line in _backprop_lab_imports(BENCH / f"{name}.py"):
        module = importlib.import_module(module_name)
        if attr is None or hasattr(module, attr):
            continue
        try:
            importlib.import_module(f"{module_name}.{attr}")
        except ModuleNotFoundError:
            missing.append(f"line {line}: {module_name}.{attr}")
    assert not missing, f"{name}.py imports names that no longer exist: {missing}"


def test_bench_training_quick_no_torch(bench, capsys):
    # check_same_result also holds the report-style baseline to the engine's trainer.
    assert bench("bench_training").main(["--quick", "--repeats", "1", "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert bench("benchlib").machine() in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split("|")[1].strip() for row in rows] == ["3", "16", "64"]


def test_bench_check_numbers_tiny(bench, capsys):
    assert bench("bench_check_numbers").main(["--k", "2", "3", "--rounds", "1"]) == 0  # asserts the diagnosis
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith("| ") and line[2].isdigit()]
    assert [row.split("|")[1].strip() for row in rows] == ["2", "3"]


def test_bench_family_accuracy_two_models(bench, capsys):
    pytest.importorskip("torch", reason="PyTorch is not installed (optional extra 'torch')")
    assert bench("bench_family_accuracy").main(["--models", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("| 2/2 |") == 20  # every member of the family, both models passed


def test_bench_session_small_history(bench, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench_session.py", "--steps", "2000", "--repeats", "1"])
    bench("bench_session").main()  # asserts both round trips are bit-identical
    out = capsys.readouterr().out
    assert "History: 2,000 steps" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("json ", "base64 "))] == [
        "json",
        "base64",
    ]


def test_bench_export_small_history(bench, capsys):
    # Checks the export's CSV byte for byte against the csv module's on the way.
    assert bench("bench_export").main(["--steps", "3000", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "History: 3,000 steps" in out
    rows = [
        line.split()[0] + " " + line.split()[1]
        for line in out.splitlines()
        if line.startswith(("export", "csv", "in "))
    ]
    assert rows == ["export csv", "csv module", "in memory", "export npz"]


def test_bench_one_sample_tiny(bench, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench_one_sample.py", "--k", "2", "--rounds", "1", "--steps", "200"])
    bench("bench_one_sample").main()  # asserts loss_and_grads and the report's loops agree
    out = capsys.readouterr().out
    assert any(line.split()[:1] == ["2"] for line in out.splitlines()) and "History.append" in out


def test_bench_hostile_input_pastes_are_refused(bench):
    # main() builds and parses files of millions of entries (seconds); the pastes are the cheap half.
    module = bench("bench_hostile_input")
    for _label, text in module.PASTES:
        module._refused(lambda text=text: module.parse_matrix_text(text))
    with pytest.raises(AssertionError, match="accepted"):
        module._refused(lambda: module.parse_matrix_text("1 2\n3 4"))


def test_bench_report_notes_short_notes(bench, qapp, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench_report_notes.py", "800"])
    bench("bench_report_notes").main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[-4:]] == ["100", "200", "400", "800"]


def test_bench_report_network_at_k3(bench, qapp, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench_report_network.py", "--repeats", "1", "--k", "3"])
    bench("bench_report_network").main()
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.startswith("| 3 | 27 |") and "(2.00)" in row  # K = 3: 27 edges, PNG at 2 px a unit


def test_bench_gui_runs_and_plot(bench, quiet_window, monkeypatch):
    module = bench("bench_gui")
    monkeypatch.setattr(module, "EPOCHS", 1)  # the report example: 100 steps
    _seconds, steps = module.headless_run()
    assert steps == 100
    _seconds, steps, gaps = module.window_run(quiet_window, probe=True)
    assert steps == 100 and all(gap >= 0 for gap in gaps)
    plot = module.big_plot(quiet_window, 5_000)
    assert plot["frames"] == 70


def test_bench_long_runs_short_run_in_the_window(bench, quiet_window, tmp_path, monkeypatch):
    module = bench("bench_long_runs")
    monkeypatch.setattr(module, "STEPS", 2_000)
    run = module.long_run(quiet_window, tmp_path)  # asserts the history and the plot hold every step
    assert run["steps"] == 2_000 and run["size_mb"] > 0
    edits = module.k64_edits(quiet_window, edits=2)  # asserts the gradient table changed
    assert edits["edits"] == 2


def test_bench_stalls_pieces_on_a_window(bench, quiet_window, qtbot, tmp_path):
    # Each case runs a QApplication of its own in a child process for seconds: here the child's
    # helpers and the window's parts it drives (export and open, on small sessions) run in-process.
    from backprop_lab.engine.session import Session, save_session
    from backprop_lab.gui.main_window import MainWindow

    module = bench("bench_stalls")
    window = MainWindow()
    qtbot.addWidget(window)
    module._fill_history(window.document, 3_000)
    assert len(window.document.history) == 3_000
    assert "gradient" in window.tabs.tabText(module._tab(window, "gradient")).lower()

    reports = window.reports
    assert reports.torch is True  # the attribute the child turns off exists
    reports.torch = False
    with qtbot.waitSignal(reports.reportExported, timeout=120_000) as exported:
        assert reports.export_to(tmp_path / "report")
    assert exported.args[0] is not None

    path = tmp_path / "k5.bpl.json"
    save_session(Session.random(5, 1), path)
    window.document.mark_clean()
    assert window.files.open_path(path) and window.document.K == 5
    window.document.mark_clean()


def test_screenshot_options_and_the_twelve_pictures(bench, monkeypatch, tmp_path):
    module = bench("screenshot")
    args = module.parse_args(["--k", "32", "--size", "1280x720", "--theme", "dark", "out.png"])
    assert (args.k, args.size, args.theme, args.out) == (32, (1280, 720), "dark", Path("out.png"))
    assert module.parse_args([]).size == (1400, 900)
    for bad in (["--k", "5"], ["--size", "big"], ["--size", "100x100"], ["--theme", "blue"]):
        with pytest.raises(SystemExit):
            module.parse_args(bad)
    commands = []
    monkeypatch.setattr(module.subprocess, "run", lambda command, check: commands.append(command))
    written = module.shoot_all(tmp_path)
    assert len(written) == len(commands) == 12
    assert len({p.name for p in written}) == 12
    assert tmp_path / "screenshot-k32-1280x720-dark.png" in written
    for command in commands:
        screen = command[command.index("-s") + 1]
        size = command[command.index("--size") + 1]
        assert command[0] == "xvfb-run" and screen == f"-screen 0 {size}x24"  # the screen is the size


def test_screenshot_takes_a_dark_k16_picture(bench, quiet_window, tmp_path, monkeypatch):
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    module = bench("screenshot")
    monkeypatch.setattr(module, "STEPS", 100)
    palette, style = QApplication.palette(), QApplication.style().name()
    try:
        out = module.shoot(tmp_path / "k16.png", 16, (1280, 720), "dark")
    finally:
        QApplication.setPalette(palette)
        QApplication.setStyle(style)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 720)
    # Dark: most of the picture is darker than mid-grey.
    dark = sum(
        image.pixelColor(x, y).lightness() < 100 for x in range(0, 1280, 40) for y in range(0, 720, 40)
    )
    assert dark > 0.6 * (1280 // 40) * (720 // 40)
