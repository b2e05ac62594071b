"""Take the pictures of Training ▸ Sweep…: the dialog while a sweep runs, and its summary at the end.

Run under a real (virtual) X server, so that fonts and the dialog's place are a desktop's::

    xvfb-run -a -s "-screen 0 1400x900x24" python tests/bench/screenshot_sweep.py [OUT_DIR]

The window opens on the report example; the dialog sweeps three learning rates by three batch
sizes (a heat map) through its Start button, in a process pool, into a temporary folder. Three
pictures of the whole screen: ``sweep-running.png`` after the first runs, ``sweep-summary.png`` at
the end, ``sweep-runs.png`` the window with the dialog closed: the sweep's runs in the runs list and
on the plot (loss at x against the samples seen). Without OUT_DIR they go to docs/images/.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot import wait  # the same event-loop wait as the README's pictures

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def shoot(out_dir: Path) -> list[Path]:
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("BackpropLab")
    QCoreApplication.setApplicationName("Backprop Lab")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    window.move(window.screen().availableGeometry().topLeft())
    window.show()
    wait(app, lambda: False, 0.5)
    window.actions["sweep"].trigger()
    sweeps = window.sweeps
    dialog = sweeps.dialog
    dialog.fields["learning_rate"].setText("0.001, 0.01, 0.1")
    dialog.fields["batch_size"].setText("1, 10, 100")
    dialog.fields["epochs"].setText("100")  # seconds a run: a picture of the sweep under way
    dialog.folder.setText(str(Path(tempfile.mkdtemp()) / "report-sweep"))
    geometry = window.geometry()
    dialog.move(geometry.right() - dialog.width() - 20, geometry.top() + 60)
    ended: list[object] = []
    sweeps.runner.sweepEnded.connect(lambda results, problem: ended.append((results, problem)))
    dialog.start_button.click()
    wait(app, lambda: dialog.runs_list.count() >= 3, 120)
    # The chart catches up with the list within its redraw interval: the picture shows them agreeing.
    # The chart follows the list within its redraw interval: wait for it to show runs too.
    wait(app, lambda: int(re.search(r"x: (\d+) of", dialog.chart_svg)[1]) >= 3, 5)  # type: ignore[index]
    wait(app, lambda: False, 0.05)  # and painted
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = [out_dir / "sweep-running.png", out_dir / "sweep-summary.png", out_dir / "sweep-runs.png"]
    window.screen().grabWindow(0).save(str(shots[0]))
    wait(app, lambda: bool(ended), 300)
    wait(app, lambda: False, 0.5)
    window.screen().grabWindow(0).save(str(shots[1]))
    dialog.close()
    window.runs.set_visible(0, False)  # the session itself has no steps: the sweep's runs alone
    window.plot_panel.set_x_mode("samples")
    wait(app, lambda: False, 1.0)
    window.screen().grabWindow(0).save(str(shots[2]))
    for shot in shots:
        print(f"wrote {shot}")
    # The sweep's runs are now compared runs of the session (unsaved): close without the question.
    window.document.mark_clean()
    window.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=IMAGES)
    args = parser.parse_args(argv)
    shoot(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
