"""engine.gradebook: grades.csv, grades.html and the feedback texts, from grades built by hand."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from backprop_lab.engine.atomic_folder import write_folder
from backprop_lab.engine.compare import Comparison, Difference, Verdict
from backprop_lab.engine.gradebook import (
    CSV_COLUMNS,
    OUTPUT_LINES,
    Setup,
    feedback_names,
    feedback_text,
    gradebook_files,
    grades_csv,
    submission_names,
)
from backprop_lab.engine.grading import Grade, Judgement, grading_models
from backprop_lab.engine.mistakes import Diagnosis

SETUP = Setup(grading_models(4), seed=16, timeout=10.0, memory=1 << 30)
HOSTILE = '<script>alert("x")</script> & "quoted" \'single\' <img src=x onerror=alert(1)>'


def _comparison(wrong: dict[str, Diagnosis | None]) -> Comparison:
    """loss, A, B, C: those named in ``wrong`` disagree (worst entry (1, 2): 2.5 against 2.0)."""
    verdicts = []
    for name in ("loss", "A", "B", "C"):
        bad = name in wrong
        worst = Difference(0, 0, 1.0, 1.0, 1e-12) if not bad else Difference(1, 2, 2.5, 2.0, 0.25)
        verdicts.append(
            Verdict(
                name, not bad, 1 if name == "loss" else 9, ((1, 2),) if bad else (), worst, wrong.get(name)
            )
        )
    return Comparison(tuple(verdicts))


def _wrong_grade(name: str = "carol", seconds: float = 1.25) -> Grade:
    diagnosis = Diagnosis(
        "derivative-at-input", "You used σ'(x) where σ'(a) belongs.", "∂L/∂A_ij = x_i σ'(a_j) g_j"
    )
    judged = (
        Judgement(0, "wrong", "", _comparison({"A": diagnosis})),
        Judgement(1, "correct", "", _comparison({})),
        Judgement(2, "wrong", "", _comparison({"A": diagnosis})),
        Judgement(3, "wrong", "", _comparison({"A": Diagnosis("unknown", "Nothing fits.", "∂L/∂A…")})),
        Judgement(4, "correct", "", _comparison({})),
    )
    return Grade(name, "wrong", "∂L/∂A disagrees on 3 of 5 models", judged, 5, seconds, "", 0)


def _grades(seconds: float = 1.25) -> list[Grade]:
    right = Grade(
        "alice",
        "correct",
        "",
        tuple(Judgement(i, "correct", "", _comparison({})) for i in range(5)),
        5,
        seconds,
    )
    output = "".join(f"line {n}\n" for n in range(40)) + "\x1b[31mTraceback\x1b[0m\rValueError: boom\n"
    error = Grade(HOSTILE, "error", "ValueError: " + HOSTILE, (), 5, seconds, output, 2)
    formula = Grade("=HYPERLINK(evil)", "timeout", "-no answer within 10 s", (), 5, seconds, "", 0)
    return [right, _wrong_grade(seconds=seconds), error, formula]


# --------------------------------------------------------------------------- names


def test_names_are_stems_or_folders_with_parents_added_until_they_differ(tmp_path):
    paths = [
        str(tmp_path / "alice.py"),
        str(tmp_path / "a" / "main.py"),
        str(tmp_path / "b" / "main.py"),
        str(tmp_path / "dave"),
    ]
    assert submission_names(paths) == ["alice", "a/main", "b/main", "dave"]
    deep = [str(tmp_path / "x" / "s" / "main.py"), str(tmp_path / "y" / "s" / "main.py")]
    assert submission_names(deep) == ["x/s/main", "y/s/main"]


def test_the_same_submission_twice_is_refused(tmp_path):
    with pytest.raises(ValueError, match="given twice"):
        submission_names([str(tmp_path / "a.py"), str(tmp_path / "." / "a.py")])


def test_feedback_names_are_plain_unique_file_names():
    names = ["a/main", "a_main", "A_MAIN", "../../etc/passwd", "Zoë", "..", "x" * 300]
    files = feedback_names(names)
    assert files[:3] == ["feedback-a_main.txt", "feedback-a_main-2.txt", "feedback-A_MAIN-3.txt"]
    assert files[4] == "feedback-Zoë.txt"
    assert len({f.lower() for f in files}) == len(files)
    for f in files:
        assert os.sep not in f and f not in (".", "..") and len(f) < 120


# --------------------------------------------------------------------------- grades.csv


def test_the_csv_has_a_row_per_submission_with_agreement_and_diagnoses():
    rows = list(csv.reader(io.StringIO(grades_csv(_grades()).decode("utf-8"))))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 5
    alice, carol = (dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:3])
    assert (alice["verdict"], alice["A"], alice["diagnosis"], alice["detail"]) == (
        "correct",
        "5 of 5",
        "",
        "",
    )
    assert (carol["verdict"], carol["loss"], carol["A"], carol["B"]) == (
        "wrong",
        "5 of 5",
        "2 of 5",
        "5 of 5",
    )
    assert carol["diagnosis"] == "A: derivative-at-input, unknown"
    assert carol["worst_relative_error"] == "2.5e-01"
    assert carol["seconds"] == "1.25"


def test_csv_fields_cannot_become_formulas_or_span_lines():
    rows = list(csv.reader(io.StringIO(grades_csv(_grades()).decode("utf-8"))))
    error, timeout = (dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[3:5])
    assert timeout["name"] == "'=HYPERLINK(evil)"
    assert timeout["detail"] == "'-no answer within 10 s"
    assert (timeout["A"], timeout["worst_relative_error"]) == ("", "")
    assert error["name"] == " ".join(HOSTILE.split())
    assert all("\n" not in field for row in rows for field in row)


# --------------------------------------------------------------------------- grades.html


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.rows: list[list[str]] = []
        self._in_script = self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self.rows[-1].append("")
            self._in_cell = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)
        elif self._in_cell:
            self.rows[-1][-1] += data


def _page() -> tuple[_Page, str]:
    text = gradebook_files(_grades(), SETUP)["grades.html"].decode("utf-8")
    page = _Page()
    page.feed(text)
    return page, text


def test_the_page_escapes_every_field_and_runs_only_its_own_script():
    page, text = _page()
    assert [t for t, _ in page.tags].count("script") == 1
    assert "img" not in [t for t, _ in page.tags]
    assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    # The Content-Security-Policy allows exactly the page's script, by its hash.
    (csp,) = [
        a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # self-contained


def test_the_page_has_a_sortable_header_and_a_row_per_submission_linking_its_feedback():
    page, _ = _page()
    header, *rows = page.rows
    assert header[:3] == ["Name", "Verdict", "Loss"] and header[-1] == "Feedback"
    assert len(rows) == 4
    assert [r[1] for r in rows] == ["correct", "wrong", "error", "timeout"]
    assert rows[1][3] == "2 of 5"
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert links == ["feedback-alice.txt", "feedback-carol.txt", links[2], "feedback-HYPERLINK_evil.txt"]
    assert "<" not in links[2] and '"' not in links[2]
    buttons = [t for t, _ in page.tags if t == "button"]
    assert len(buttons) == len(header)
    verdict_sort = [a.get("data-sort") for t, a in page.tags if t == "td" and "data-sort" in a][:1]
    assert verdict_sort == ["0"]  # correct sorts first


# --------------------------------------------------------------------------- feedback


def test_feedback_on_wrong_numbers_names_the_mistake_and_gives_the_model_to_try():
    text = feedback_text(_wrong_grade(), SETUP)
    assert "Verdict: wrong — ∂L/∂A disagrees on 3 of 5 models" in text
    assert "∂L/∂A     2 of 5   (diagnosis: derivative-at-input, unknown)" in text
    assert "The first model it disagrees on is model 1 (the report example, K = 3):" in text
    assert f"x = [{', '.join(repr(v) for v in SETUP.models[0].x)}]" in text
    assert "dA[1][2]: yours 2.5, correct 2.0 (1 entry of 9 disagree)" in text
    assert "Diagnosis (derivative-at-input): You used σ'(x) where σ'(a) belongs." in text
    assert "The chain rule: ∂L/∂A_ij = x_i σ'(a_j) g_j" in text


def test_feedback_on_an_error_quotes_the_end_of_the_output_without_control_characters():
    error = _grades()[2]
    text = feedback_text(error, SETUP)
    assert f"Model 3 (K = {SETUP.models[2].K}), where it stopped, was:" in text
    assert f"What it printed (the last {OUTPUT_LINES} of 41 lines):" in text
    assert "line 19\n" not in text and "line 39\n" in text
    assert "\x1b" not in text and "\r" not in text
    assert "\ufffd[31mTraceback" in text


def test_feedback_on_a_correct_submission_is_short_and_says_so():
    text = feedback_text(_grades()[0], SETUP)
    assert text.startswith("Feedback on alice\n\nVerdict: correct\n")
    assert "Well done" in text and "printed" not in text


# --------------------------------------------------------------------------- the folder


def test_the_folder_differs_between_runs_only_in_the_seconds(tmp_path):
    first, second = gradebook_files(_grades(1.25), SETUP), gradebook_files(_grades(7.5), SETUP)
    assert first.keys() == second.keys()
    assert set(first) == {"grades.csv", "grades.html", *feedback_names([g.name for g in _grades()])}
    for name in first:
        if name.startswith("feedback-"):
            assert first[name] == second[name]
    for name in ("grades.csv", "grades.html"):
        assert first[name] != second[name]
        assert first[name].replace(b"1.25", b"T") == second[name].replace(b"7.50", b"T")
    assert gradebook_files(_grades(1.25), SETUP) == first
    out = write_folder(tmp_path / "out", first)  # every name is one write_folder accepts
    assert sorted(p.name for p in out.iterdir()) == sorted(first)


def _browser() -> str | None:
    return next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None
    )


@pytest.mark.skipif(_browser() is None, reason="no Chromium to run the page's script in")
def test_in_a_browser_a_header_click_sorts_and_an_injected_script_does_not_run(tmp_path):
    # The page as written, plus a probe script the policy is told to allow (by its hash) that
    # clicks Verdict twice and Name once and records the orders in the title; a second, unlisted
    # script tries to overwrite the title, and must be blocked by the page's policy.
    page = gradebook_files(_grades(), SETUP)["grades.html"].decode("utf-8")
    probe = (
        'const b = document.querySelectorAll("thead th button");'
        'const rows = () => Array.from(document.querySelector("tbody").rows);'
        "const order = () => rows().map(r => r.cells[1].textContent);"
        "b[1].click(); const up = order(); b[1].click(); const down = order(); b[0].click();"
        'document.title = [up, down, order()].map(o => o.join(",")).join("|");'
    )
    digest = base64.b64encode(hashlib.sha256(probe.encode()).digest()).decode()
    page = page.replace("script-src 'sha256-", f"script-src 'sha256-{digest}' 'sha256-", 1)
    page = page.replace(
        "</body>", f'<script>{probe}</script><script>document.title = "INJECTED"</script></body>'
    )
    (tmp_path / "probe.html").write_text(page, encoding="utf-8")
    result = subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", (tmp_path / "probe.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    (title,) = re.findall(r"<title>(.*?)</title>", result.stdout)
    up, down, by_name = title.split("|")
    assert up == "correct,wrong,error,timeout"
    assert down == "timeout,error,wrong,correct"
    assert by_name.split(",")[-2:] == [
        "correct",
        "wrong",
    ]  # alice, carol after the names starting "<" and "="
