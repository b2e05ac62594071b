"""Text contrast: WCAG 2's contrast ratio, and the one muted text colour of the window.

Captions, legends and hints are quieter than body text, but every text must stay readable: at
least :data:`MIN_TEXT_CONTRAST` (WCAG AA, 4.5:1) against what it is drawn on. Qt's
``palette(mid)`` fails that (#B8B8B8 on #ECECEC is 1.7:1), so the muted colour is computed from
the palette instead: as far towards the background as the ratio allows, which works for a light
and a dark palette alike.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette

__all__ = ["MIN_GLYPH_CONTRAST", "MIN_TEXT_CONTRAST", "contrast_ratio", "muted_style", "muted_text"]

#: WCAG 2 AA for normal text.
MIN_TEXT_CONTRAST = 4.5
#: WCAG 2 AA for graphics that are not text (a line sample in a legend).
MIN_GLYPH_CONTRAST = 3.0
#: How quiet muted text is: the ratio it aims at (a little above the minimum, so that rounding
#: to 8-bit channels and anti-aliasing do not take it under).
_MUTED_TARGET = 5.0


def _channel(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: QColor | str) -> float:
    """WCAG 2's relative luminance of an sRGB colour (0 black to 1 white); alpha is ignored."""
    c = QColor(colour)
    return 0.2126 * _channel(c.redF()) + 0.7152 * _channel(c.greenF()) + 0.0722 * _channel(c.blueF())


def contrast_ratio(a: QColor | str, b: QColor | str) -> float:
    """(L1 + 0.05) / (L2 + 0.05) of the lighter L1 and the darker L2: from 1 (same) to 21."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def muted_text(palette: QPalette) -> QColor:
    """The quiet text colour for ``palette``: the text colour blended towards the window colour
    as far as keeps :data:`_MUTED_TARGET` (at least 4.5:1) against the window and the base."""
    text = palette.color(QPalette.ColorRole.WindowText)
    backgrounds = (palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.Base))
    window = backgrounds[0]
    best = text
    for step in range(1, 20):  # 5 % steps towards the window colour
        t = step / 20
        blend = QColor.fromRgbF(
            text.redF() + (window.redF() - text.redF()) * t,
            text.greenF() + (window.greenF() - text.greenF()) * t,
            text.blueF() + (window.blueF() - text.blueF()) * t,
        )
        blend = QColor(blend.name())  # rounded to 8-bit channels, as it will be drawn
        if min(contrast_ratio(blend, b) for b in backgrounds) < _MUTED_TARGET:
            break
        best = blend
    return best


def muted_style(palette: QPalette) -> str:
    """A style sheet giving a label the muted text colour of ``palette``."""
    return f"color: {muted_text(palette).name()};"


#: Inks of rich text, on a light window and on a dark one: each at least 4.5:1 against its window
#: (the light ones against #efefef, the dark ones against #2d2d2d, checked in tests/gui/test_contrast.py).
INKS = {"good": ("#1a7a40", "#7ad89a"), "bad": ("#b2182b", "#ff9a8f")}


def ink(role: str, palette: QPalette | None = None) -> str:
    """The colour of rich text that means ``role`` ("good", "bad" or "muted") on ``palette``'s
    window (the application's by default): the dark palette's when its window is darker than its text."""
    palette = palette if palette is not None else QGuiApplication.palette()
    if role == "muted":
        return muted_text(palette).name()
    return INKS[role][1 if is_dark(palette) else 0]


def is_dark(palette: QPalette | None = None) -> bool:
    """True when ``palette`` (the application's by default) draws light text on a dark window."""
    palette = palette if palette is not None else QGuiApplication.palette()
    return (
        palette.color(QPalette.ColorRole.Window).lightness()
        < palette.color(QPalette.ColorRole.WindowText).lightness()
    )
