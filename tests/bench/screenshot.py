"""Take the README's screenshots: the window after a short run, at a K, a screen size and a theme.

Run under a real (virtual) X server so fonts and styles are the desktop's, not the offscreen
platform's. The screen is the size asked for, so the window gets the layout made for that screen::

    xvfb-run -a -s "-screen 0 1400x900x24" python tests/bench/screenshot.py [OUT.png]
    xvfb-run -a -s "-screen 0 1280x720x24" python tests/bench/screenshot.py --k 32 --theme dark OUT.png
    python tests/bench/screenshot.py --all docs/images   # all twelve, each under an Xvfb of its size

``--theme dark`` gives the application a dark palette before the window opens, as a dark desktop
would. Without OUT the file is docs/images/screenshot-k<K>-<W>x<H>-<theme>.png.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KS = (3, 16, 32)
SIZES = ("1400x900", "1280x720")
THEMES = ("light", "dark")
#: Steps of the short run before the picture: enough for the curves to say something.
STEPS = 400
#: Learning rates that descend without overflowing from the random models drawn here.
RATES = {3: 0.01, 16: 1e-3, 32: 1e-4}


def default_name(k: int, size: str, theme: str) -> str:
    return f"screenshot-k{k}-{size}-{theme}.png"


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if w < 320 or h < 240:
        raise argparse.ArgumentTypeError(f"size {text!r} is smaller than 320x240")
    return w, h


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="the PNG (or, with --all, the folder)")
    parser.add_argument("--k", type=int, choices=KS, default=3, help="units K (default: %(default)s)")
    parser.add_argument("--size", type=parse_size, default="1400x900", help="screen WIDTHxHEIGHT")
    parser.add_argument("--theme", choices=THEMES, default="light", help="palette (default: %(default)s)")
    parser.add_argument("--all", action="store_true", help="every K × size × theme, each under xvfb-run")
    return parser.parse_args(argv)


def wait(app, condition, timeout_s: float = 60.0) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop_timer = QTimer()
    loop_timer.setSingleShot(True)
    loop_timer.start(int(timeout_s * 1000))
    while not condition() and loop_timer.isActive():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def prepare(window, k: int) -> None:
    """The report example at K = 3, else a random model of ``k`` units; then a short run."""
    from backprop_lab.engine.training import TrainingSettings

    doc = window.document
    rate = 0.01
    if k != doc.K:
        panel = window.model_panel
        panel.k_spin.setValue(k)
        # Centred weights and a smaller step: from [0, 1) at K = 32 the first steps overflow.
        panel.low_spin.setValue(-1.0)
        panel.high_spin.setValue(1.0)
        window.actions["randomize"].trigger()
        rate = RATES.get(k, 0.1 / k**2)
    doc.set_training_settings(
        TrainingSettings(learning_rate=rate, batch_size=10, n_samples=1000, epochs=STEPS // 100, seed=0)
    )


def shoot(out: Path, k: int, size: tuple[int, int], theme: str) -> Path:
    """The window on a screen of ``size`` after a short run at ``k``, saved to ``out``."""
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("BackpropLab")
    QCoreApplication.setApplicationName("Backprop Lab")
    # A fresh preferences file: the default layout for this screen, not whatever the last run left.
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from backprop_lab.gui.main_window import MainWindow
    from backprop_lab.gui.theme import dark_palette

    if theme == "dark":
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    window = MainWindow()
    screen = window.screen().availableGeometry()
    if (screen.width(), screen.height()) != size:
        # Offscreen or on another screen: the window's size stands in for the screen's.
        window.resize(*size)
        window.layout_.arrange()
    window.move(screen.topLeft())
    warnings: list[str] = []
    # A warning box would wait for a click nobody makes: fail with its text instead.
    window.prompts.warning = lambda title, text: warnings.append(f"{title}: {text}")
    window.show()
    prepare(window, k)
    doc = window.document
    window.controller.start()
    wait(app, lambda: doc.training_state == "idle")
    if warnings:
        raise RuntimeError(f"the run for the screenshot failed: {warnings[0]}")
    window.plot_panel.refresh()
    window.plot_panel.readout.setText(window.plot_panel.readout_at(STEPS * 5 // 8))
    wait(app, lambda: False, 0.5)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise OSError(f"could not write {out}")
    print(f"wrote {out} ({window.width()}×{window.height()}, K = {k}, {theme})")
    doc.mark_clean()  # a benchmark's run is not worth a save prompt
    window.close()
    return out


def shoot_all(folder: Path) -> list[Path]:
    """Every K × size × theme, each in a child process under an Xvfb screen of that size."""
    written = []
    for k, size, theme in itertools.product(KS, SIZES, THEMES):
        out = folder / default_name(k, size, theme)
        command = [sys.executable, __file__, "--k", str(k), "--size", size, "--theme", theme, str(out)]
        subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {size}x24", *command], check=True)
        written.append(out)
    return written


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.all:
        shoot_all(args.out or ROOT / "docs" / "images")
        return 0
    w, h = args.size
    out = args.out or ROOT / "docs" / "images" / default_name(args.k, f"{w}x{h}", args.theme)
    shoot(out, args.k, args.size, args.theme)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
