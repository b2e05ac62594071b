"""A class's grades as files: ``grades.csv``, ``grades.html`` and one feedback text per submission.

:func:`gradebook_files` renders every file of the folder ``grade`` writes (name → bytes) from the
:class:`~engine.grading.Grade` of each submission and the :class:`Setup` they were graded under.
Nothing in them depends on the clock or on the order the runs finished in: a second run over the
same submissions gives the same bytes, apart from the seconds each run took.

Everything a submission controls (its file name, its exception's message, what it printed) is
untrusted text: the HTML escapes every field (and its Content-Security-Policy runs only the
page's own sorting script, by its hash); the CSV starts a field that a spreadsheet would read as
a formula (``=``, ``+``, ``-``, ``@``) with an apostrophe; control characters are replaced
everywhere, so that a feedback text printed in a terminal cannot drive it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.grading import QUANTITIES, VERDICTS, Grade, model_label
from backprop_lab.engine.model import MATRIX_NAMES, Model

__all__ = [
    "CSV_COLUMNS",
    "Setup",
    "feedback_names",
    "feedback_text",
    "gradebook_files",
    "grades_csv",
    "grades_html",
    "submission_names",
]

CSV_COLUMNS = (
    "name",
    "verdict",
    "loss",
    "A",
    "B",
    "C",
    "diagnosis",
    "worst_relative_error",
    "seconds",
    "detail",
)
#: Lines of a submission's output quoted in its feedback (the end, where a traceback is).
OUTPUT_LINES = 20
_LINE_CHARS = 300


@dataclass(frozen=True)
class Setup:
    """What the submissions were graded on: the models (the report example first), the seed of
    the random ones, the wall-clock limit per model (seconds) and the memory limit (bytes)."""

    models: tuple[Model, ...]
    seed: int
    timeout: float
    memory: int

    def describe(self) -> str:
        """One sentence: which models, in which variant, under which limits."""
        random_ones = len(self.models) - 1
        ks = sorted({m.K for m in self.models[1:]})
        span = f"K = {ks[0]}" if len(ks) == 1 else f"K from {ks[0]} to {ks[-1]}" if ks else ""
        variant = self.models[0].variant
        return (
            f"{format_count(len(self.models), 'model')}: the report's example and "
            f"{format_count(random_ones, 'random model')} (seed {self.seed}{', ' + span if span else ''}), "
            f"{variant.activation}, {variant.convention} vectors ({variant.forward_formula()}); "
            f"at most {format_number(self.timeout, 'short')} s per model and {_bytes(self.memory)} of memory"
        )


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{format_number(n / size, 'short')} {unit}"
    return format_count(n, "byte")


# --------------------------------------------------------------------------- names


def submission_names(paths: Sequence[str]) -> list[str]:
    """A name per submission path, unique: the file's stem (``alice.py`` → alice) or the folder's
    name, with as many parent folders as it takes to tell two apart (``a/main.py`` and
    ``b/main.py`` → a/main, b/main). ValueError when two paths are the same file."""
    parts = []
    for path in paths:
        p = os.path.normpath(os.path.abspath(path))
        pieces = p.split(os.sep)
        if pieces[-1].endswith(".py"):
            pieces[-1] = pieces[-1][: -len(".py")]
        parts.append([piece for piece in pieces if piece])
    seen: dict[str, str] = {}
    for path, pieces in zip(paths, parts, strict=True):
        key = "/".join(pieces)
        if key in seen:
            raise ValueError(f"{path} is given twice (as {seen[key]} too)")
        seen[key] = path
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth, strict=True)]
        counts = Counter(names)
        clashes = [i for i, n in enumerate(names) if counts[n] > 1]
        if not clashes:
            return names
        for i in clashes:
            depth[i] += 1


def feedback_names(names: Sequence[str]) -> list[str]:
    """A plain file name per submission name, unique: ``feedback-alice.txt``, ``feedback-a_main.txt``."""
    used: set[str] = set()
    files = []
    for name in names:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in unicodedata.normalize("NFC", name))
        stem = re.sub("_+", "_", stem).strip("._")[:100] or "submission"
        candidate, n = f"feedback-{stem}.txt", 1
        while candidate.lower() in used:  # case-insensitive file systems would merge two
            n += 1
            candidate = f"feedback-{stem}-{n}.txt"
        used.add(candidate.lower())
        files.append(candidate)
    return files


def _printable(text: str) -> str:
    """``text`` with control characters (escape sequences, carriage returns, NUL…) replaced by �,
    newlines and tabs kept."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", "\ufffd", text)


def _one_line(text: str, limit: int = _LINE_CHARS) -> str:
    line = " ".join(_printable(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --------------------------------------------------------------------------- the fields


def _agreement(grade: Grade, quantity: str) -> str:
    agreed, judged = grade.agreement(quantity)
    return f"{agreed} of {judged}" if judged else ""


def _diagnosis(grade: Grade) -> str:
    return "; ".join(f"{m}: {', '.join(ids)}" for m in MATRIX_NAMES if (ids := grade.diagnoses(m)))


def _worst(grade: Grade) -> str:
    worst = grade.worst_relative
    return "" if worst is None else format_number(worst, "error", digits=2)


def _seconds(grade: Grade) -> str:
    return f"{grade.seconds:.2f}"


def _row(grade: Grade) -> list[str]:
    return [
        _one_line(grade.name),
        grade.verdict,
        *(_agreement(grade, q) for q in QUANTITIES),
        _diagnosis(grade),
        _worst(grade),
        _seconds(grade),
        _one_line(grade.detail),
    ]


# --------------------------------------------------------------------------- grades.csv


def _cell(text: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; the apostrophe makes it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def grades_csv(grades: Sequence[Grade]) -> bytes:
    """One row per submission under :data:`CSV_COLUMNS` (UTF-8, a header row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for grade in grades:
        writer.writerow([_cell(field) for field in _row(grade)])
    return buffer.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- grades.html

_SCRIPT = """
for (const [column, button] of document.querySelectorAll("thead th button").entries()) {
  button.addEventListener("click", () => {
    const header = button.parentElement;
    const body = header.closest("table").tBodies[0];
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    for (const th of document.querySelectorAll("thead th")) th.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const numeric = header.dataset.type === "number";
    const key = (row) => {
      const cell = row.cells[column];
      const text = cell.dataset.sort ?? cell.textContent;
      if (!numeric) return text;
      const value = parseFloat(text);
      return Number.isNaN(value) ? -Infinity : value;
    };
    const order = (a, b) => {
      const [x, y] = [key(a), key(b)];
      const c = numeric ? (x < y ? -1 : x > y ? 1 : 0) : String(x).localeCompare(String(y));
      return ascending ? c : -c;
    };
    body.append(...Array.from(body.rows).sort(order));
  });
}
"""

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em; color: #1a1a1a; background: #fff; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { position: sticky; top: 0; background: #fff; }
th button { font: inherit; font-weight: bold; border: 0; background: none; cursor: pointer; padding: 0; }
th[aria-sort=ascending] button::after { content: " ▲"; }
th[aria-sort=descending] button::after { content: " ▼"; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { min-width: 6em; max-width: 16em; overflow-wrap: break-word; }
td.text { min-width: 12em; max-width: 32em; overflow-wrap: break-word; }
.verdict { font-weight: bold; padding: 0 0.3em; border-radius: 3px; white-space: nowrap; }
.correct { background: #d7f0d7; color: #0b4d0b; }
.wrong, .bad-output { background: #fbe3c8; color: #6b3700; }
.error, .timeout, .out-of-memory, .crashed { background: #f6d3d3; color: #6e0f0f; }
"""

_HEADERS = (
    ("Name", "text"),
    ("Verdict", "number"),
    ("Loss", "number"),
    ("∂L/∂A", "number"),
    ("∂L/∂B", "number"),
    ("∂L/∂C", "number"),
    ("Diagnosis", "text"),
    ("Worst relative error", "number"),
    ("Seconds", "number"),
    ("Detail", "text"),
    ("Feedback", "text"),
)


def _td(text: str, *, sort: str | None = None, css: str = "") -> str:
    attrs = f' class="{css}"' if css else ""
    if sort is not None:
        attrs += f' data-sort="{html.escape(sort)}"'
    return f"<td{attrs}>{html.escape(text)}</td>"


def _html_row(grade: Grade, feedback: str) -> str:
    name, verdict, *agree, diagnosis, worst, seconds, detail = _row(grade)
    judged = [grade.agreement(q) for q in QUANTITIES]
    worst_value = grade.worst_relative
    cells = [
        _td(name, css="name"),
        f'<td data-sort="{VERDICTS.index(grade.verdict)}"><span class="verdict {html.escape(verdict)}">'
        f"{html.escape(verdict)}</span></td>",
        *(
            _td(text, sort=f"{a / n:.6f}" if n else "", css="number")
            for text, (a, n) in zip(agree, judged, strict=True)
        ),
        _td(diagnosis, css="text"),
        _td(
            worst,
            sort="" if worst_value is None else repr(worst_value).replace("inf", "Infinity"),
            css="number",
        ),
        _td(seconds, css="number"),
        _td(detail, css="text"),
        f'<td><a href="{html.escape(quote(feedback))}" title="{html.escape(feedback)}">feedback</a></td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def grades_html(grades: Sequence[Grade], setup: Setup, feedback: Sequence[str]) -> bytes:
    """A self-contained page: the counts per verdict, the setup, and a table of every submission
    (``feedback`` the name of each one's feedback file, linked) that sorts by any column when its
    header is clicked (a few lines of inline script; the table reads the same without it)."""
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    # Only the page's own script runs, even if a field ever slipped through unescaped.
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    counts = Counter(g.verdict for g in grades)
    summary = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
    head = "".join(
        f'<th scope="col" data-type="{kind}"><button type="button">{html.escape(title)}</button></th>'
        for title, kind in _HEADERS
    )
    rows = "\n".join(_html_row(g, f) for g, f in zip(grades, feedback, strict=True))
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gradebook</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Gradebook</h1>
<p>{html.escape(format_count(len(grades), "submission"))}{": " + html.escape(summary) if summary else ""}.</p>
<p>{html.escape(setup.describe())}.</p>
<p>Click a column's header to sort by it; click again to reverse.</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<script>{_SCRIPT}</script>
</body>
</html>
"""
    return page.encode("utf-8")


# --------------------------------------------------------------------------- feedback

_EXPLAIN = {
    "correct": "Every loss and gradient agrees with the hand-derived values on every model. Well done.",
    "wrong": "It ran, but some of its numbers disagree with the hand-derived values.",
    "bad-output": "It ran, but what it returned could not be judged. gradients(x, A, B, C) must return "
    "(loss, dA, dB, dC) or a dict with keys loss, A, B, C: the loss one number, each gradient K×K "
    "(nested lists, a NumPy array or a PyTorch tensor), every number finite.",
    "error": "It raised an exception, so it gave no answer for that model.",
    "timeout": "It did not answer within the time limit for one model: look for a loop that never ends.",
    "out-of-memory": "It used more memory than the limit: look for a list or array that keeps growing.",
    "crashed": "Its process ended without an answer (sys.exit, os._exit, or a signal such as a segfault).",
}


def _vector(v: Sequence[float]) -> str:
    return "[" + ", ".join(format_number(e, "full") for e in v) + "]"


def _model_lines(model: Model) -> list[str]:
    lines = [f"    x = {_vector(model.x)}"]
    for name in MATRIX_NAMES:
        rows = [_vector(r) for r in model.matrix(name)]
        lines.append(f"    {name} = [" + (",\n         ".join(rows)) + "]")
    return lines


def _wrong_lines(grade: Grade, setup: Setup) -> list[str]:
    lines = ["", "On how many models each quantity agreed:"]
    for q in QUANTITIES:
        agreed, judged = grade.agreement(q)
        ids = grade.diagnoses(q) if q != "loss" else ()
        label = "the loss" if q == "loss" else f"∂L/∂{q}"
        lines.append(
            f"  {label:<9} {agreed} of {judged}" + (f"   (diagnosis: {', '.join(ids)})" if ids else "")
        )
    first = grade.first_wrong
    if first is None or first.comparison is None:
        return lines
    model = setup.models[first.index]
    lines += [
        "",
        f"The first model it disagrees on is {model_label(first.index, model)}:",
        *_model_lines(model),
    ]
    for verdict in first.comparison.verdicts:
        if verdict.agree:
            continue
        d = verdict.worst
        where = "the loss" if verdict.name == "loss" else f"d{verdict.name}[{d.i}][{d.j}]"
        lines.append(
            f"  {where}: yours {format_number(d.student, 'full')}, correct {format_number(d.truth, 'full')} "
            f"({format_count(len(verdict.disagreeing), 'entry', 'entries')} of {verdict.entries} disagree)"
        )
        if verdict.diagnosis is not None:
            lines += [
                f"    Diagnosis ({verdict.diagnosis.id}): {_one_line(verdict.diagnosis.sentence, 1000)}",
                f"    The chain rule: {_one_line(verdict.diagnosis.correct, 1000)}",
            ]
    return lines


def _stopped_lines(grade: Grade, setup: Setup, failed: int) -> list[str]:
    """Where a run stopped, or which answer could not be judged: the model, to try it on."""
    if failed >= len(setup.models):
        return []
    lines = [""]
    if grade.verdict != "bad-output":
        right = sum(j.status == "correct" for j in grade.judged)
        if grade.judged:
            lines.append(f"Before it stopped, {right} of its {len(grade.judged)} answers were correct.")
    where = "where it stopped" if grade.verdict != "bad-output" else "the first it answered that way"
    model = setup.models[failed]
    label = model_label(failed, model)
    return [*lines, f"{label[0].upper()}{label[1:]}, {where}, was:", *_model_lines(model)]


def feedback_text(grade: Grade, setup: Setup) -> str:
    """The feedback for the student who wrote the submission: the verdict and what it means, the
    diagnosis and the model (x, A, B, C) to try it on, or the error and the end of its output."""
    lines = [
        f"Feedback on {_one_line(grade.name)}",
        "",
        f"Verdict: {grade.verdict}" + (f" — {_one_line(grade.detail)}" if grade.detail else ""),
        "",
        _EXPLAIN[grade.verdict],
        "",
        f"Your gradients(x, A, B, C) was run on {setup.describe()}.",
    ]
    if grade.verdict == "wrong":
        lines += _wrong_lines(grade, setup)
    elif grade.verdict != "correct" and grade.failed_model is not None:
        lines += _stopped_lines(grade, setup, grade.failed_model)
    output = _printable(grade.output).rstrip("\n").split("\n") if grade.output.strip() else []
    if output and grade.verdict != "correct":
        shown = [
            line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 1] + "…"
            for line in output[-OUTPUT_LINES:]
        ]
        lines += [
            "",
            f"What it printed (the last {len(shown)} of {format_count(len(output), 'line')}):",
            *shown,
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the folder


def gradebook_files(grades: Sequence[Grade], setup: Setup) -> dict[str, bytes]:
    """Every file of the gradebook folder: grades.csv, grades.html and the feedback texts."""
    feedback = feedback_names([g.name for g in grades])
    files = {"grades.csv": grades_csv(grades), "grades.html": grades_html(grades, setup, feedback)}
    for grade, name in zip(grades, feedback, strict=True):
        files[name] = feedback_text(grade, setup).encode("utf-8")
    return files
