"""Every text the window and the reports draw is at least 4.5:1 against its background (WCAG AA),
measured on the colours they actually use: labels (their palette, style sheet and inline spans),
text browsers, the plots' axes and legends, the report's style sheet and the PDF's footer."""

from __future__ import annotations

import re

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QTextBrowser, QWidget

from backprop_lab.engine import report_html
from backprop_lab.gui import report_charts, report_pdf
from backprop_lab.gui.contrast import (
    MIN_GLYPH_CONTRAST,
    MIN_TEXT_CONTRAST,
    contrast_ratio,
    muted_style,
    muted_text,
)

_COLOUR = re.compile(r"color:\s*(#[0-9a-fA-F]{3,6})\b")
#: A span's text and the colour it sets (the span's own text, without nested tags).
_SPAN = re.compile(r"<span style=['\"][^'\"]*?color:\s*(#[0-9a-fA-F]{3,6})[^'\"]*['\"]>([^<]*)")


def test_the_ratio_is_wcags():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    # The legend and tolerance text: palette(mid) on the window.
    assert contrast_ratio("#b8b8b8", "#ececec") == pytest.approx(1.7, abs=0.05)


@pytest.mark.parametrize(
    ("text", "window", "base"), [("#000000", "#efefef", "#ffffff"), ("#ffffff", "#353535", "#2a2a2a")]
)
def test_muted_text_is_quieter_but_readable_on_light_and_dark_palettes(text, window, base):
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor(text))
    palette.setColor(QPalette.ColorRole.Window, QColor(window))
    palette.setColor(QPalette.ColorRole.Base, QColor(base))
    muted = muted_text(palette)
    assert muted != QColor(text)
    assert min(contrast_ratio(muted, window), contrast_ratio(muted, base)) >= MIN_TEXT_CONTRAST


def _check_spans(html: str, background: QColor, where: str) -> list[str]:
    """Inline colours of ``html`` below the threshold on ``background`` (text 4.5:1; a span of
    line-drawing glyphs only, a legend's sample of a curve, 3:1)."""
    bad = []
    for colour, text in _SPAN.findall(html):
        glyphs = text.strip() and not any(ch.isalnum() for ch in text)
        need = MIN_GLYPH_CONTRAST if glyphs else MIN_TEXT_CONTRAST
        ratio = contrast_ratio(colour, background)
        if ratio < need:
            bad.append(f"{where}: {colour} on {background.name()} is {ratio:.2f}:1 ({text!r})")
    return bad


def _failures(window) -> list[str]:
    bad: list[str] = []
    for label in window.findChildren(QLabel):
        label.ensurePolished()
        palette = label.palette()
        fg = palette.color(label.foregroundRole())
        bg = palette.color(label.backgroundRole())
        name = label.objectName() or label.text()[:40]
        ratio = contrast_ratio(fg, bg)
        if label.text() and ratio < MIN_TEXT_CONTRAST:
            bad.append(f"label {name!r}: {fg.name()} on {bg.name()} is {ratio:.2f}:1")
        bad += _check_spans(label.text(), bg, f"label {name!r}")
    for browser in window.findChildren(QTextBrowser):
        base = browser.palette().color(QPalette.ColorRole.Base)
        bad += _check_spans(browser.toHtml(), base, f"text {browser.objectName()!r}")
    for plot in window.findChildren(pg.PlotWidget):
        item = plot.getPlotItem()
        background = plot.backgroundBrush().color()
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            for colour in (axis.textPen().color(), QColor(axis.labelStyle.get("color", "#000000"))):
                if contrast_ratio(colour, background) < MIN_TEXT_CONTRAST:
                    bad.append(f"{plot.objectName()} {side} axis: {colour.name()} on {background.name()}")
        if item.legend is not None:
            for _, legend_label in item.legend.items:
                colour = QColor(legend_label.opts.get("color") or legend_label.item.defaultTextColor())
                if contrast_ratio(colour, background) < MIN_TEXT_CONTRAST:
                    bad.append(f"{plot.objectName()} legend {legend_label.text!r}: {colour.name()}")
    return bad


def test_every_text_in_the_window_reads_at_4_5_to_1(window, qtbot):
    from backprop_lab.gui.line_search_panel import LineSearchPanel

    window.findChild(LineSearchPanel).refresh()  # its verdict and caption are inline colours
    status = window.findChild(QLabel, "verificationStatus")
    window.tabs.setCurrentIndex(1)  # the verification runs for the model on screen: PASS in green
    qtbot.waitUntil(lambda: "PASS" in status.text(), timeout=30_000)
    assert window.findChildren(QLabel), "no labels found: the test would prove nothing"
    failures = _failures(window)
    assert failures == [], "\n".join(failures)


def test_the_muted_labels_use_the_computed_colour(window):
    for name in ("verifyTolerance", "chainRuleHint"):
        label = window.findChild(QLabel, name)
        assert label is not None, name
        assert label.styleSheet() == muted_style(label.palette())
    # The gradients' scale legend paints its own text, in the palette's full text colour.
    legend = window.findChild(QWidget, "gradScaleA")
    palette = legend.palette()
    text, ground = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    assert contrast_ratio(text.name(), ground.name()) >= MIN_TEXT_CONTRAST


def test_the_reports_colours_read_at_4_5_to_1():
    css = report_html._COMMON_CSS + report_html._WEB_CSS + report_html._QT_CSS
    colours = set(_COLOUR.findall(css))
    assert "#1a1a1a" in colours and len(colours) >= 5
    weak = {c: round(contrast_ratio(c, "#ffffff"), 2) for c in colours if contrast_ratio(c, "#ffffff") < 4.5}
    assert weak == {}
    assert contrast_ratio(report_pdf.FOOTER_TEXT, "#ffffff") >= MIN_TEXT_CONTRAST
    assert contrast_ratio(report_charts._TEXT, "#ffffff") >= MIN_TEXT_CONTRAST


def test_rich_text_inks_read_on_light_and_dark_windows(qapp):
    from backprop_lab.gui.contrast import INKS, ink
    from backprop_lab.gui.theme import dark_palette

    light, dark = QApplication.palette(), dark_palette()
    for role, (on_light, on_dark) in INKS.items():
        assert ink(role, light) == on_light and ink(role, dark) == on_dark
        assert contrast_ratio(on_light, light.color(QPalette.ColorRole.Window)) >= MIN_TEXT_CONTRAST, role
        assert contrast_ratio(on_light, light.color(QPalette.ColorRole.Base)) >= MIN_TEXT_CONTRAST, role
        assert contrast_ratio(on_dark, dark.color(QPalette.ColorRole.Window)) >= MIN_TEXT_CONTRAST, role
        assert contrast_ratio(on_dark, dark.color(QPalette.ColorRole.Base)) >= MIN_TEXT_CONTRAST, role
    assert contrast_ratio(ink("muted", dark), dark.color(QPalette.ColorRole.Window)) >= MIN_TEXT_CONTRAST
