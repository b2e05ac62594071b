"""The user guide's pictures of runs side by side: the report example trained at three learning rates,
this session and two compared files, one curve for every run, under a real (virtual) X server::

    xvfb-run -a -s "-screen 0 1400x900x24" python tests/bench/screenshot_runs.py [OUT.png]
    python tests/bench/screenshot_runs.py --all docs/images   # 1400×900 and 1280×720, each under Xvfb

Without OUT the file is docs/images/runs-<W>x<H>.png.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from screenshot import ROOT, SIZES, parse_size, wait

#: The session's own rate, then the two compared files'.
RATES = (0.01, 0.003, 0.03)
EPOCHS = 4  # of 1,000 samples in batches of 10: 400 steps a run


def compared_files(folder: Path) -> list[Path]:
    """The report example trained at the compared rates, saved as session files."""
    from backprop_lab.engine.session import Session, save_session
    from backprop_lab.engine.training import TrainingSettings

    paths = []
    for lr in RATES[1:]:
        s = Session.report_example()
        s.name = f"lr {lr:g}"
        trainer = s.make_trainer(
            TrainingSettings(learning_rate=lr, batch_size=10, n_samples=1000, epochs=EPOCHS)
        )
        s.history.extend(trainer.steps())
        s.finish_run(trainer)
        path = folder / f"lr-{lr:g}.bpl.json"
        save_session(s, path)
        paths.append(path)
    return paths


def shoot(out: Path, size: tuple[int, int]) -> Path:
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("BackpropLab")
    QCoreApplication.setApplicationName("Backprop Lab")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from backprop_lab.engine.training import TrainingSettings
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    screen = window.screen().availableGeometry()
    if (screen.width(), screen.height()) != size:
        window.resize(*size)
        window.layout_.arrange()
    window.move(screen.topLeft())
    warnings: list[str] = []
    window.prompts.warning = lambda title, text: warnings.append(f"{title}: {text}")
    window.show()
    doc = window.document
    doc.set_training_settings(
        TrainingSettings(learning_rate=RATES[0], batch_size=10, n_samples=1000, epochs=EPOCHS)
    )
    window.controller.start()
    wait(app, lambda: doc.training_state == "idle")
    window.runs.add_files(compared_files(Path(tempfile.mkdtemp())))
    wait(app, lambda: len(window.runs.entries) == 3 and not window.runs.is_loading)
    if warnings or len(window.runs.drawn()) != 3:
        raise RuntimeError(f"the runs for the screenshot failed: {warnings or window.runs.entries}")
    panel = window.plot_panel
    panel.set_x_mode("epoch")
    panel.readout.setText(panel.runs_readout_at(1.5, None))
    wait(app, lambda: False, 0.5)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise OSError(f"could not write {out}")
    print(f"wrote {out} ({window.width()}×{window.height()})")
    doc.mark_clean()
    window.close()
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--all"]:
        folder = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "images"
        for size in SIZES:
            command = [sys.executable, __file__, "--size", size, str(folder / f"runs-{size}.png")]
            subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {size}x24", *command], check=True)
        return 0
    size = parse_size(argv[argv.index("--size") + 1]) if "--size" in argv else (1400, 900)
    rest = [a for i, a in enumerate(argv) if a != "--size" and (i == 0 or argv[i - 1] != "--size")]
    out = Path(rest[0]) if rest else ROOT / "docs" / "images" / f"runs-{size[0]}x{size[1]}.png"
    shoot(out, size)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
