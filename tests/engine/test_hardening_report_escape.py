"""Every string a session carries into the report is shown as text, never as markup (issue #7).

tests/engine/test_report_data.py checks a <script> in the name and notes; this file covers every
string field (name, notes, the divergence's reason, app_version, created, modified) in both
flavours of the HTML (the web page and the Qt subset the PDF is laid out from), with
hypothesis-generated strings: the report's tag structure must be exactly the one a harmless
string gives, and the string must read back, unescaped, from the page's text. The PDF itself is
checked in tests/gui/test_hardening_window.py.
"""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_lab.engine.gradcheck import finite_difference_check
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.report_html import render_html
from backprop_lab.engine.session import Session
from backprop_lab.engine.training import Divergence, TrainingSettings

pytestmark = pytest.mark.reliability("report-escape")

FIELDS = ("name", "notes", "reason", "app_version", "created", "modified")
FLAVOURS = ("web", "qt")
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
COUNTS: dict[str, int] = {}

PAYLOADS = [
    "<script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<!-- </p> --><style>body{display:none}</style>",
    '<img src="file:///etc/hosts">',
    "<a href='javascript:alert(1)'>click</a>",
    "&lt;script&gt; already escaped &amp;",
    "<![CDATA[ ]]><?xml?><!DOCTYPE x>",
    "<meta http-equiv=refresh content='0;url=https://example.com'>",
    "<b>bold</b><br><hr><table><tr><td>cell",
    "</body></html><html><body>",
    '<link rel=stylesheet href="https://example.com/x.css">',
    "\u202e<script>\u202c right-to-left override",
]


def _base() -> tuple[Session, object]:
    s = Session.random(2, 4)
    trainer = s.make_trainer(TrainingSettings(learning_rate=0.1, batch_size=2, n_samples=6, seed=1))
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    m = s.initial
    return s, finite_difference_check(m)


BASE, CHECK = _base()


class _Structure(HTMLParser):
    """Tags with their attributes, and the text, of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        # The data: URI of the plot and the page's own text differ run to run: keep names only there.
        self.tags.append(("start", tag, tuple(sorted((k, v if k != "src" else "") for k, v in attrs))))

    def handle_endtag(self, tag):
        self.tags.append(("end", tag))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append(("comment", data))

    def handle_decl(self, decl):
        self.tags.append(("decl", decl))

    def handle_pi(self, data):
        self.tags.append(("pi", data))

    def unknown_decl(self, data):
        self.tags.append(("unknown", data))


def _render(field: str, value: str, flavour: str) -> str:
    s = BASE.copy()
    if field == "reason":
        s.divergence = Divergence(3, 1, value)
    else:
        setattr(s, field, value)
    data = gather_report_data(s, verifications=[CHECK], torch=False, now=NOW)
    return render_html(data, plot_src="data:image/png;base64,AAAA", flavour=flavour)


def _parse(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


def _structure_without_line_breaks(page: str) -> list[tuple]:
    # Notes turn their line breaks into <br> on purpose; everything else must be identical.
    return [t for t in _parse(page).tags if t[1] != "br"]


SKELETON = {
    (field, flavour): _structure_without_line_breaks(_render(field, "X", flavour))
    for field in FIELDS
    for flavour in FLAVOURS
}


def _check(field: str, value: str, flavour: str) -> None:
    page = _render(field, value, flavour)
    assert _structure_without_line_breaks(page) == SKELETON[field, flavour], (field, value)
    text = "".join(_parse(page).text)
    shown = value.replace("\r\n", "\n").replace("\r", "\n")
    if field == "notes":
        shown = shown.replace("\n", "")  # each line break became a <br>
    assert shown in text.replace("\r\n", "\n").replace("\r", "\n"), (field, value)
    if "<script" in value.lower():
        assert "<script" not in page.lower()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_known_attacks_are_shown_as_text(field, flavour, payload):
    _check(field, payload, flavour)


hostile_text = (
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6),
            st.sampled_from(
                [
                    "<",
                    ">",
                    "&",
                    '"',
                    "'",
                    "/",
                    "=",
                    "<script>",
                    "</",
                    "-->",
                    "<!--",
                    "&amp;",
                    "&#60;",
                    "<img src=",
                    " onerror=",
                    "javascript:",
                    "\n",
                    "\r\n",
                    "\t",
                    "\x00",
                    "\u2028",
                    "\ufeff",
                ]
            ),
        ),
        min_size=1,
        max_size=12,
    )
    .map("".join)
    .filter(bool)
)


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(FIELDS), st.sampled_from(FLAVOURS), hostile_text)
def _fuzz_strings(field, flavour, value):
    COUNTS["strings"] = COUNTS.get("strings", 0) + 1
    _check(field, value, flavour)


def test_hypothesis_strings_in_every_field_are_shown_as_text():
    _fuzz_strings()
    assert COUNTS["strings"] >= 200


def test_a_lone_surrogate_is_shown_as_a_replacement_character_not_a_failed_export():
    # The session format keeps a lone surrogate; UTF-8 cannot encode one, so the page shows U+FFFD.
    page = _render("notes", "bad \ud800 surrogate, good \ud83d\ude00", "web")
    encoded = page.encode("utf-8")
    assert "bad \ufffd surrogate, good \U0001f600".encode() in encoded
