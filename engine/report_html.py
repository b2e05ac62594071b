"""The report's HTML text, from :class:`engine.report_data.ReportData`, in two flavours.

``"web"`` for report.html; ``"qt"`` for the PDF through Qt's rich text, which supports a smaller
HTML/CSS subset. Every string that comes from a user (session name, notes, anything from a file)
goes through :func:`html.escape`. Qt-free and standard library only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Literal

from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.report_data import ReportData, Verification
from backprop_lab.engine.report_equations import describe_html, model_equations_html
from backprop_lab.engine.report_equations import var as _v
from backprop_lab.engine.report_network import NetworkFigure, network_html

Matrix = list[list[float]]

_MATRICES = ("A", "B", "C")

#: Larger matrices show their first rows/columns and their last one, with ⋮ and ⋯ between: a
#: full-precision float takes up to ~23 characters, and only 4 such columns fit across an A4 page.
SHOW_ROWS = 6
SHOW_COLS = 4
#: What fits across the page's text column (A4, 18 mm margins: 657 px at 96 dpi) beside a label
#: like "∂L/∂A =", in 8 pt DejaVu Sans Mono (6.42 px a character) with 7 px padding each side;
#: matrices of long numbers (1.5e+39) show fewer columns rather than run off the page.
MATRIX_WIDTH_PX = 590
MONO_CHAR_PX = 6.42
CELL_PADDING_PX = 14

#: The verification table lists every entry up to this K (3·K² rows); beyond it, the worst entries.
TABLE_ALL_MAX_K = 4
WORST_ENTRIES = 8

Flavour = Literal["web", "qt"]

# Shared by both flavours. Qt's rich text knows a CSS 2.1 subset: class selectors, fonts, colours,
# padding, per-side cell borders with border-collapse (Qt ≥ 5.14), but no :first-child, max-width
# or page-break-inside; so every cell carries the classes its borders need.
_COMMON_CSS = """
body { font-family: "DejaVu Serif", "Latin Modern Roman", Georgia, serif; color: #1a1a1a; }
h1 { font-weight: normal; margin-top: 0; margin-bottom: 2px; }
h2 { margin-top: 18px; margin-bottom: 6px; }
h3 { margin-top: 12px; margin-bottom: 4px; }
p.subtitle { color: #555555; margin-top: 0; }
p.notes { color: #333333; }
.num, code, td.n { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.var { font-style: italic; }
p.eq { text-align: center; }
table { border-collapse: collapse; margin-top: 3px; margin-bottom: 7px; }
td.n { text-align: right; padding: 2px 7px; white-space: nowrap; }
td.name { font-style: italic; padding: 2px 8px 2px 0; vertical-align: middle; white-space: nowrap; }
td.bl { border-left: 1.5px solid #333; border-top: 1.5px solid #333; border-bottom: 1.5px solid #333; }
td.br { border-right: 1.5px solid #333; border-top: 1.5px solid #333; border-bottom: 1.5px solid #333; }
table.data th { text-align: right; font-weight: bold; padding: 3px 7px; white-space: nowrap;
                border-top: 1.5px solid #333333; border-bottom: 1px solid #333333; }
table.data th.first { text-align: left; }
table.data td { padding: 2px 7px; }
table.data td.last { border-bottom: 1.5px solid #333333; }
table.data tr.group td { font-style: italic; padding-top: 6px; color: #333333; }
table.kv td { padding: 1px 18px 1px 0; }
table.kv td.k { color: #444444; }
.ok { color: #1b6e20; font-weight: bold; }
.bad { color: #a31515; font-weight: bold; }
p.caption { color: #333333; }
p.small { color: #444444; }
"""

_WEB_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-size: 11pt; line-height: 1.45; background: #ffffff; max-width: 52em; margin: 2.5em auto;
       padding: 0 1.5em; }
h1 { font-size: 21pt; }
h2 { font-size: 14pt; border-bottom: 1px solid #bbbbbb; padding-bottom: 2px; break-after: avoid; }
h3 { font-size: 11.5pt; break-after: avoid; }
p.notes { border-left: 3px solid #cccccc; padding: 2px 0 2px 12px; white-space: pre-wrap; }
.num, code, td.n { font-size: 9pt; }
table { margin: 4px 0 12px 0; break-inside: avoid; }
table.data { width: 100%; }
table.data th { font-size: 9.5pt; }
td.bl, td.br { width: 4px; padding: 0; }
figure { margin: 10px 0; break-inside: avoid; }
figure img { width: 100%; height: auto; }
figure.network svg { display: block; width: 100%; height: auto; max-height: 85vh; margin: 0 auto; }
p.caption { font-size: 9.5pt; margin-top: 4px; }
p.small { font-size: 9.5pt; }
p.loss { font-size: 12pt; }
footer { margin-top: 3em; color: #595959; font-size: 9pt; border-top: 1px solid #dddddd; padding-top: 6px; }
"""

_QT_CSS = """
body { font-size: 10pt; }
h1 { font-size: 20pt; }
h2 { font-size: 13pt; }
h3 { font-size: 10.5pt; }
.num, code, td.n { font-size: 8pt; }
table.data th { font-size: 8.5pt; }
p.caption { font-size: 8.5pt; }
p.small { font-size: 8.5pt; }
p.loss { font-size: 11pt; }
"""


def _e(text: object) -> str:
    s = str(text)
    if not s.isascii():
        # A session may hold a lone surrogate (its file format keeps one), which UTF-8 cannot
        # encode: show U+FFFD instead of failing the export (a valid pair becomes its character).
        s = s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return html.escape(s, quote=True)


def _report(v: float | None) -> str:
    """A number in the report: full precision, as the report prints it; an em dash for none."""
    return format_number(v, "report")


def _error(v: float) -> str:
    """An error in the report: 3 significant digits (1.23e-09); exact agreement as 0."""
    return format_number(v, "error", digits=3)


def _shown(k: int, limit: int) -> tuple[list[int], bool]:
    """Indices shown for a dimension of size k: all when k ≤ limit, else the first limit−1 and the last."""
    if k <= limit:
        return list(range(k)), False
    return [*range(limit - 1), k - 1], True


def _matrix_html(name: str, rows: Matrix, *, vector: bool = False) -> str:
    """A matrix (or a row vector) between square brackets, its top-left block when it is large.

    The brackets are two narrow cells with three borders each, which both browsers and Qt draw.
    """
    k = len(rows[0])
    rows_i, cut_r = _shown(len(rows), SHOW_ROWS)
    limit = SHOW_COLS
    while True:
        cols, cut_c = _shown(k, limit)
        widest = max(len(_report(rows[i][j])) for i in rows_i for j in cols)
        need = len(cols) * (MONO_CHAR_PX * widest + CELL_PADDING_PX)
        need += MONO_CHAR_PX + CELL_PADDING_PX if cut_c else 0  # the ⋯ column
        if need <= MATRIX_WIDTH_PX or limit <= 2:
            break
        limit -= 1
    shown: list[list[str]] = []
    for i in rows_i:
        cells = [_report(rows[i][j]) for j in cols]
        if cut_c:
            cells.insert(len(cells) - 1, "⋯")
        shown.append(cells)
    if cut_r:
        shown.insert(len(shown) - 1, ["⋮"] * len(shown[0]))
    span = len(shown)
    out = ['<table class="matrix" cellspacing="0" cellpadding="0">']
    for r, cells in enumerate(shown):
        lead = ""
        if r == 0:
            lead = (
                f'<td class="name" rowspan="{span}">{_e(name)} =</td>'
                f'<td class="bl" rowspan="{span}" width="4">&nbsp;</td>'
            )
        tail = f'<td class="br" rowspan="{span}" width="4">&nbsp;</td>' if r == 0 else ""
        out.append("<tr>" + lead + "".join(f'<td class="n">{c}</td>' for c in cells) + tail + "</tr>")
    out.append("</table>")
    if cut_r or cut_c:
        what = f"1×{k}" if vector else f"{len(rows)}×{k}"
        out.append(
            f'<p class="small">{_e(name)} is {what}: its first and last entries are shown; '
            "the session file holds every value.</p>"
        )
    return "\n".join(out)


def _kv_table(pairs: Sequence[tuple[str, str]], *, num: bool = False, columns: int = 1) -> str:
    """Label/value pairs as a borderless table, ``columns`` pairs side by side per row."""
    cls = ' class="num"' if num else ""
    cells = [f'<td class="k">{_e(k)}</td><td{cls}>{_e(v)}</td>' for k, v in pairs]
    rows = ["".join(cells[i : i + columns]) for i in range(0, len(cells), columns)]
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f'<table class="kv" cellspacing="0" cellpadding="0">{body}</table>'


def _short_method(method: str) -> str:
    return "PyTorch" if "torch" in method.lower() else "finite differences"


def _verification_section(data: ReportData) -> list[str]:
    """3. Verification: the hand-derived gradients beside their references."""
    out = [
        "<h2>3. Verification</h2>",
        "<p>Each hand-derived entry beside independent references: central finite differences of "
        "the loss, and PyTorch's float64 autograd (the report's <code>torch.backward()</code> check) "
        "when PyTorch is installed.</p>",
    ]
    out += [_method_summary(v) for v in data.verifications]
    ran = [v for v in data.verifications if v.report is not None]
    if ran:
        out += _entries_table(ran, data.initial.K)
    return out


def _method_summary(v: Verification) -> str:
    """One method's verdict, errors and tolerances (and its own loss), or why it did not run."""
    if v.report is None:
        return f'<p class="small"><b>{_e(v.method)}:</b> {_e(v.note)}</p>'
    r = v.report
    verdict = '<span class="ok">passed</span>' if r.passed else '<span class="bad">FAILED</span>'
    out = [
        f"<p><b>{_e(r.method)}</b>: {verdict}. Largest absolute error "
        f'<span class="num">{_error(r.max_abs_error)}</span>, largest relative error '
        f'<span class="num">{_error(r.max_rel_error)}</span> '
        f"(tolerances rtol = {_e(r.rtol)}, atol = {_e(r.atol)}).</p>"
    ]
    reference_loss = getattr(r, "reference_loss", None)
    if reference_loss is not None:
        out.append(
            f"<p>{_e(_short_method(r.method))}’s loss = "
            f'<span class="num">{_report(reference_loss)}</span></p>'
        )
    return "\n".join(out)


def _entries_table(ran: list[Verification], k: int) -> list[str]:
    """Every entry (or the worst ones for big K): hand-derived value, each method's value and |Δ|."""
    # (matrix, i, j) -> {method index: EntryCheck}; every method checks the same hand-derived value.
    table: dict[tuple[str, int, int], dict[int, Any]] = {}
    for n, v in enumerate(ran):
        assert v.report is not None
        for e in v.report.entries:
            table.setdefault((e.matrix, e.i, e.j), {})[n] = e

    def order(t: tuple[str, int, int]) -> tuple[int, int, int]:
        return (_MATRICES.index(t[0]) if t[0] in _MATRICES else len(_MATRICES), t[1], t[2])

    out: list[str] = []
    keys = sorted(table, key=order)
    show_all = k <= TABLE_ALL_MAX_K
    if not show_all:
        keys = sorted(keys, key=lambda t: -max(e.abs_error for e in table[t].values()))[:WORST_ENTRIES]
        out.append(
            f'<p class="small">K = {k}: the {format_count(len(keys), "entry", "entries")} '
            f"(of {format_number(len(table), 'count')}) where the methods "
            "disagree most are listed.</p>"
        )

    head = ['<th class="first">entry</th>', "<th>hand-derived</th>"]
    for v in ran:
        head += [f"<th>{_e(_short_method(v.method))}</th>", "<th>|Δ|</th>"]
    # Full width in browsers (CSS); as wide as its columns in Qt, whose 100% overhangs the margin.
    out.append('<table class="data" cellspacing="0" cellpadding="0">')
    out.append("<thead><tr>" + "".join(head) + "</tr></thead><tbody>")
    current = None
    for pos, key in enumerate(keys):
        name = key[0]
        if show_all and name != current:
            current = name
            out.append(f'<tr class="group"><td colspan="{len(head)}">∂L/∂{_e(name)}</td></tr>')
        out.append(_entry_row(key, table[key], len(ran), last=pos == len(keys) - 1))
    out.append("</tbody></table>")
    return out


def _entry_row(key: tuple[str, int, int], entries: dict[int, Any], methods: int, *, last: bool) -> str:
    name, i, j = key
    last_td = ' class="last"' if last else ""
    last_n = "n last" if last else "n"
    first = next(iter(entries.values()))
    cells = [
        f"<td{last_td}>{_e(name)}[{i}][{j}]</td>",
        f'<td class="{last_n}">{_report(first.analytic)}</td>',
    ]
    for n in range(methods):
        e = entries.get(n)
        if e is None:
            cells += [f'<td class="{last_n}"></td>'] * 2
            continue
        bad = "" if e.passed else " bad"
        cells += [
            f'<td class="{last_n}">{_report(e.reference)}</td>',
            f'<td class="{last_n}{bad}">{_error(e.abs_error)}</td>',
        ]
    return "<tr>" + "".join(cells) + "</tr>"


#: Longest run of notes (characters) in one paragraph of the Qt flavour. Qt draws a page by walking
#: every line of each paragraph on it, so one paragraph of n characters spread over n/3000 pages
#: cost O(n²) (a 2 MB note took 32 s); paragraphs of bounded size make the PDF linear in n.
NOTES_BLOCK_CHARS = 2000
#: Most lines of notes in one such paragraph (a page holds about 50).
NOTES_BLOCK_LINES = 40


def _notes_blocks(
    notes: str, limit: int = NOTES_BLOCK_CHARS, max_lines: int = NOTES_BLOCK_LINES
) -> list[list[str]]:
    """The notes' lines gathered into blocks of at most ``limit`` characters and ``max_lines``
    lines (a longer line is cut
    at its last space before the limit, or at the limit). Every character stays, in order:
    joining each block's lines with newlines, and the blocks with newlines, gives ``notes`` back,
    except that a line cut in two is rejoined without a character between its pieces."""
    blocks: list[list[str]] = []
    block: list[str] = []
    size = 0
    for line in notes.split("\n"):
        pieces = []
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit) + 1 or limit
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
        for piece in pieces:
            if block and (size + len(piece) > limit or len(block) == max_lines):
                blocks.append(block)
                block, size = [], 0
            block.append(piece)
            size += len(piece) + 1
    blocks.append(block)
    return blocks


def notes_html(notes: str, flavour: Flavour) -> str:
    """The notes as HTML paragraphs, line breaks kept, in time linear in their length.

    Web: one paragraph (browsers lay it out in linear time). Qt: paragraphs of at most
    :data:`NOTES_BLOCK_CHARS` characters with no margin between them, so the text reads as one
    paragraph while each page of the PDF draws only its own share of it.
    """
    if flavour == "web":
        # white-space: pre-wrap keeps runs of spaces; line breaks become <br> for both flavours.
        return f'<p class="notes">{_e(notes).replace(chr(10), "<br>")}</p>'
    blocks = _notes_blocks(notes)
    out = []
    for i, lines in enumerate(blocks):
        top = "" if i == 0 else "margin-top: 0; "
        bottom = "" if i == len(blocks) - 1 else "margin-bottom: 0; "
        style = f' style="{top}{bottom}"' if top or bottom else ""
        # Qt's rich text ignores white-space: pre-wrap, so line breaks become <br>.
        text = "<br>".join(map(_e, lines)) or "&nbsp;"
        out.append(f'<p class="notes"{style}>{text}</p>')
    return "".join(out)


def render_html(
    data: ReportData,
    *,
    plot_src: str | None = None,
    flavour: Flavour = "web",
    plot_width: int = 640,
    network: NetworkFigure | None = None,
) -> str:
    """The report as one HTML page.

    ``plot_src``: the curves' image URL (a ``data:`` URI for report.html; a resource name that the
    QTextDocument knows for the PDF); ``None`` leaves the figure out. ``flavour``: ``"web"`` for
    browsers, ``"qt"`` for Qt's rich-text subset (``plot_width`` pixels wide figure).
    ``network``: the network figure (:class:`NetworkFigure`, Figure 1), or ``None`` for none.
    """
    parts = _head_html(data, flavour)
    parts += _model_section(data)
    # Forward values belong with the model; the backward pass's gradients with the gradients.
    figure = [network_html(data, network, flavour)] if network is not None else []
    parts += figure if network is not None and network.mode == "forward" else []
    parts += _loss_section(data)
    parts += figure if network is not None and network.mode != "forward" else []
    if data.verifications:
        parts += _verification_section(data)
    n = 4 if data.verifications else 3
    parts += _descent_section(data, n, plot_src, flavour, plot_width, 2 if network is not None else 1)
    parts.append(f"<h2>{n + 1}. About this run</h2>")
    parts.append(_kv_table(data.facts, columns=2))
    parts.append("</body></html>")
    return "\n".join(parts)


def _head_html(data: ReportData, flavour: Flavour) -> list[str]:
    """The document's head, the title and the notes."""
    web = flavour == "web"
    parts: list[str] = []
    if web:
        parts += [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            # report.html must never reach the network, even opened in a browser.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
            "style-src 'unsafe-inline'\">",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
        ]
    else:
        parts.append('<html><head><meta charset="utf-8">')
    parts += [
        f"<title>{_e(data.document_title)}</title>",
        f"<style>{_COMMON_CSS}{_WEB_CSS if web else _QT_CSS}</style></head><body>",
        f"<h1>{_e(data.title)}</h1>",
        f'<p class="subtitle">Back-propagation by hand, verified and trained — a Backprop Lab report, '
        f"K = {data.initial.K}; {describe_html(data.initial.variant)}</p>",
    ]
    if data.notes:
        parts.append(notes_html(data.notes, flavour))
    return parts


def _model_section(data: ReportData) -> list[str]:
    """1. The model in its variant's formulas, its gradients' formulas and its initial values."""
    m = data.initial
    target = m.variant.target
    return [
        "<h2>1. The model</h2>",
        *model_equations_html(m.variant),
        "<h3>Initial values</h3>",
        _matrix_html("x", [m.x], vector=True),
        _matrix_html("A", m.A),
        _matrix_html("B", m.B),
        _matrix_html("C", m.C),
        *([_matrix_html("t", [list(target)], vector=True)] if target is not None else []),
    ]


def _loss_section(data: ReportData) -> list[str]:
    """2. The loss and the gradients at the initial model (or why there are none)."""
    parts = ["<h2>2. The loss and its gradients</h2>"]
    if data.initial_loss is None or data.initial_grads is None:
        parts.append(f'<p class="bad">{_e(data.loss_note)}</p>')
        return parts
    parts.append(f'<p class="loss">Loss {_v("L")} = <b class="num">{_report(data.initial_loss)}</b></p>')
    if data.initial_values.get("w"):
        parts.append(_matrix_html("w", [data.initial_values["w"]], vector=True))
    parts.append("<h3>Resulting gradients</h3>")
    for name in _MATRICES:
        parts.append(_matrix_html(f"∂L/∂{name}", data.initial_grads[name]))
    return parts


def _descent_section(
    data: ReportData, n: int, plot_src: str | None, flavour: Flavour, plot_width: int, figure: int
) -> list[str]:
    """``n``. Gradient descent: the update rule, the settings, and the run's curves and results."""
    parts = [
        f"<h2>{n}. Gradient descent</h2>",
        f'<p class="eq">θ<sup>new</sup> := θ<sup>old</sup> − λ · d{_v("L")}/dθ (θ<sup>old</sup>)</p>'
        f"<p>with the gradient averaged over each mini-batch of random inputs {_v('x')} ~ U[0, 1)"
        "<sup>K</sup>.</p>",
        "<h3>Settings</h3>",
        _kv_table(data.settings),
    ]
    if not data.trained:
        parts.append("<p>No training run is recorded in this session.</p>")
        return parts
    if data.steps != data.planned_steps:
        parts.append(
            f'<p class="small">The history holds {format_count(data.steps, "step")} and these settings plan '
            f"{format_number(data.planned_steps, 'count')}: the run was stopped early, or continued "
            "with other settings "
            "(those shown are the latest run’s).</p>"
        )
    if data.divergence:
        parts.append(f'<p class="bad">{_e(data.divergence)}</p>')
    if plot_src:
        parts.append(_figure_html(data, plot_src, flavour, plot_width, figure))
    return parts + _trained_html(data)


def _figure_html(data: ReportData, plot_src: str, flavour: Flavour, plot_width: int, figure: int) -> str:
    alt = "The loss and the gradient norms against the training step"
    caption = (
        f'<p class="caption"><b>Figure {figure}.</b> Left: the batch loss (the mean over a mini-batch) '
        f"before each step and the loss at {_v('x')} after it; "
        "right: the Frobenius norms of the mean gradients; "
        f"{format_count(data.steps, 'step')}, {format_count(data.epochs, 'epoch')}.</p>"
    )
    if flavour == "web":
        return f'<figure><img src="{_e(plot_src)}" alt="{alt}">{caption}</figure>'
    img = f'<img src="{_e(plot_src)}" width="{plot_width}">'
    return f'<p align="center">{img}</p>{caption}'


def _trained_html(data: ReportData) -> list[str]:
    """The loss at x before and after training, and the trained weights."""
    parts = [f"<h3>Loss at {_v('x')}</h3>"]
    pairs = [
        ("before training", _report(data.loss_before)),
        ("after training", _report(data.loss_after)),
    ]
    if data.loss_before and data.loss_after is not None:
        ratio = data.loss_after / data.loss_before
        # 4 significant digits: "-99.999%" rather than a rounded "-100.00%" for a big drop.
        change = f" ({(ratio - 1) * 100:+.5g}%)" if ratio < 10 else ""
        pairs.append(("after / before", f"{ratio:.4g}{change}"))
    parts.append(_kv_table(pairs, num=True))
    assert data.final is not None
    parts.append("<h3>Weights after training</h3>")
    if data.final.x != data.initial.x:
        parts.append(_matrix_html("x", [data.final.x], vector=True))
    for name in _MATRICES:
        parts.append(_matrix_html(name, data.final.matrix(name)))
    return parts
