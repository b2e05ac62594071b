"""Take the user guide's picture of Verify ▸ Check my numbers…: a transposed ∂L/∂B, checked.

Run under a real (virtual) X server, so that fonts and the dialog's place are a desktop's::

    xvfb-run -a -s "-screen 0 1400x900x24" python tests/bench/screenshot_check_numbers.py [OUT.png]

The window opens on the report example; the dialog is given the report's gradients to four
decimals with ∂L/∂B transposed and checks them through its Check button, as a student would. The
picture is the whole screen: the dialog, the outlined gradient table and the chain rule of the
worst entry. Without OUT it is docs/images/tour-check-numbers.png. ``--theme dark`` as in
screenshot.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot import wait  # the same event-loop wait as the README's pictures

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "tour-check-numbers.png"


def transposed_answers(model: object) -> str:
    """The loss and gradients of ``model`` to four decimals, as the report prints them, ∂L/∂B transposed."""
    from backprop_lab.engine.model import model_loss_and_grads

    loss, grads = model_loss_and_grads(model)  # type: ignore[arg-type]
    grads = {**grads, "B": [list(col) for col in zip(*grads["B"], strict=True)]}

    def matrix(m: list[list[float]]) -> str:
        return "[" + ",\n ".join("[" + ", ".join(f"{v:.4f}" for v in row) + "]" for row in m) + "]"

    return f"Loss = {loss:.4f}\n\n" + "\n\n".join(f"{n} =\n{matrix(m)}" for n, m in grads.items()) + "\n"


def shoot(out: Path, theme: str = "light") -> Path:
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("BackpropLab")
    QCoreApplication.setApplicationName("Backprop Lab")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from backprop_lab.gui.main_window import MainWindow
    from backprop_lab.gui.theme import dark_palette

    if theme == "dark":
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    window = MainWindow()
    window.move(window.screen().availableGeometry().topLeft())
    window.show()
    wait(app, lambda: False, 0.5)
    dialog = window.verify.check_numbers()
    dialog.editor.setPlainText(transposed_answers(window.document.model))
    wait(app, lambda: False, 0.3)
    dialog.check_button.click()
    wait(app, lambda: dialog.comparison is not None, 30)
    wait(app, lambda: False, 1.0)
    if dialog.comparison is None or window.gradients_panel.disagreeing_cells() == {}:
        raise RuntimeError(f"the check did not outline anything: {dialog.error}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.screen().grabWindow(0).save(str(out)):
        raise OSError(f"could not write {out}")
    print(f"wrote {out}")
    dialog.close()
    window.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=PICTURE)
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    args = parser.parse_args(argv)
    shoot(args.out, args.theme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
