"""The network figure's HTML (engine.report_network): where it goes, its caption, its numbering."""

from __future__ import annotations

import math

import pytest

from backprop_lab.engine.model import Model
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.report_html import render_html
from backprop_lab.engine.report_network import NETWORK_SRC, NetworkFigure
from backprop_lab.engine.session import Session
from backprop_lab.engine.variant import Variant

SVG = '<svg viewBox="0 0 10 10"><title>net</title></svg>'


def _trained(session: Session) -> Session:
    trainer = session.make_trainer()
    session.history.extend(trainer.steps())
    session.finish_run(trainer)
    return session


@pytest.fixture(scope="module")
def data():
    return gather_report_data(_trained(Session.report_example()), torch=False)


def _figure(mode: str, **kw) -> NetworkFigure:
    return NetworkFigure(mode=mode, node_scale=33.8, edge_scale=18.75, svg=SVG, width=600, height=300, **kw)


def test_backward_goes_with_the_gradients_and_forward_with_the_model(data):
    back = render_html(data, plot_src="data:image/png;base64,AAAA", network=_figure("backward"))
    at = back.index('<figure class="network">')
    assert back.index("<h3>Resulting gradients</h3>") < at < back.index("<h2>3. Verification</h2>")
    assert back.count(SVG) == 1
    fwd = render_html(data, plot_src="data:image/png;base64,AAAA", network=_figure("forward"))
    at = fwd.index('<figure class="network">')
    assert fwd.index("<h3>Initial values</h3>") < at < fwd.index("<h2>2. The loss")


@pytest.mark.parametrize("mode", ["forward", "backward"])
def test_the_caption_names_the_mode_the_scales_and_the_variant(data, mode):
    text = render_html(data, network=_figure(mode, note="K = 32: the 4 largest <b>"))
    caption = text[text.index("<b>Figure 1.</b>") :].split("</p>", 1)[0]
    assert f"{mode} pass" in caption
    assert "±33.8" in caption and "±18.8" in caption  # 3 significant digits
    assert "Variant: sigmoid, row vectors, no target" in caption
    assert "K = 32: the 4 largest &lt;b&gt;." in caption  # the note, escaped


def test_another_variant_is_named(data):
    m = data.initial
    column = Model(m.x, m.A, m.B, m.C, variant=Variant("tanh", "column", (0.5, -1.0, 2.0)))
    other = gather_report_data(Session(model=column, initial=column.copy()), torch=False)
    caption = render_html(other, network=_figure("backward")).split("<b>Figure 1.</b>", 1)[1]
    assert "Variant: tanh, column vectors" in caption.split("</p>", 1)[0]


def test_the_curves_become_figure_2_after_the_network(data):
    src = "data:image/png;base64,AAAA"
    assert "<b>Figure 2.</b> Left: the batch loss" in render_html(
        data, plot_src=src, network=_figure("backward")
    )
    alone = render_html(data, plot_src=src)
    assert "<b>Figure 1.</b> Left: the batch loss" in alone and "Figure 2." not in alone


def test_the_qt_flavour_keeps_a_place_of_the_figure_size_for_the_pdf(data):
    text = render_html(data, flavour="qt", network=_figure("backward"))
    assert f'<img src="{NETWORK_SRC}" width="600" height="300">' in text
    assert SVG not in text  # the PDF paints vectors in that place instead


@pytest.mark.parametrize("scale", [math.inf, math.nan, 0.0])
def test_a_scale_that_is_no_number_is_left_out_of_the_caption(data, scale):
    fig = NetworkFigure(mode="forward", node_scale=scale, edge_scale=scale, svg=SVG)
    caption = render_html(data, network=fig).split("<b>Figure 1.</b>", 1)[1].split("</p>", 1)[0]
    assert "saturating" not in caption and "inf" not in caption and "nan" not in caption
