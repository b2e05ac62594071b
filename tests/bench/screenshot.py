"""Take docs/images/screenshot.png: the window at 1400×900 on the report example after a short run.

Run under a real (virtual) X server so fonts and styles are the desktop's, not the offscreen
platform's::

    xvfb-run -s "-screen 0 1600x1000x24" /tmp/venv/bin/python tests/bench/screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]


def wait(app: QApplication, condition, timeout_s: float = 60.0) -> None:
    loop_timer = QTimer()
    loop_timer.setSingleShot(True)
    loop_timer.start(int(timeout_s * 1000))
    while not condition() and loop_timer.isActive():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "images" / "screenshot.png"
    QCoreApplication.setOrganizationName("BackpropLab")
    QCoreApplication.setApplicationName("Backprop Lab")
    # A fresh preferences file: the default geometry, not whatever the last session left.
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication([sys.argv[0]])
    from backprop_lab.engine.training import TrainingSettings
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.move(40, 40)
    window.show()
    doc = window.document
    doc.set_training_settings(
        TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=1000, epochs=4, seed=0)
    )
    window.controller.start()
    wait(app, lambda: doc.training_state == "idle")
    window.plot_panel.refresh()
    window.plot_panel.readout.setText(window.plot_panel.readout_at(250))
    wait(app, lambda: False, 0.5)
    window.grab().save(str(out))
    print(f"wrote {out} ({window.width()}×{window.height()})")
    window.document.mark_clean()  # a benchmark's run is not worth a save prompt
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
