"""engine.step_phases in every member of the family: the step shown is the Trainer's, in its variant."""

from __future__ import annotations

import itertools

import pytest

from backprop_lab.engine.model import forward, loss_and_grads, output_gradient
from backprop_lab.engine.session import Session
from backprop_lab.engine.step_phases import plan_step
from backprop_lab.engine.training import Trainer, TrainingSettings
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, Variant

K = 3
TARGET = (0.5, -1.0, 2.0)
VARIANTS = [Variant(a, c, t) for a, c, t in itertools.product(ACTIVATIONS, CONVENTIONS, (None, TARGET))]
SETTINGS = TrainingSettings(learning_rate=0.01, batch_size=5, n_samples=40, seed=2)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.describe())
def test_each_variants_plan_is_the_trainers_next_step_bit_for_bit(variant):
    model = Session.random(K, 11).model.with_variant(variant)
    plan = plan_step(model, SETTINGS, start_step=4, start_epoch=1)
    trainer = Trainer(model, SETTINGS, start_step=4, start_epoch=1)
    assert plan.variant == variant
    assert plan.record == next(trainer.steps())
    assert tuple(trainer.weights()) == tuple(plan.after)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.describe())
def test_each_sample_is_taken_apart_in_the_variant(variant):
    model = Session.random(K, 5).model.with_variant(variant)
    plan = plan_step(model, SETTINGS)
    sigma_prime = ACTIVATIONS[variant.activation].derivative
    for sample, (loss, grads) in zip(plan.samples, plan.per_sample, strict=True):
        v = forward(sample.x, model.A, model.B, model.C, variant)
        assert (sample.a, sample.y, sample.w, sample.loss) == (v["a"], v["y"], v["w"], v["loss"])
        assert sample.sigma_prime == [sigma_prime(a) for a in v["a"]]
        assert sample.dw == output_gradient(v["w"], variant)
        kwargs = {
            "activation": variant.activation,
            "convention": variant.convention,
            "target": variant.target,
        }
        assert (loss, grads) == loss_and_grads(sample.x, model.A, model.B, model.C, **kwargs)


def test_a_variant_gives_another_step_than_the_reports():
    model = Session.random(K, 5).model
    plain = plan_step(model, SETTINGS)
    other = plan_step(model.with_variant(Variant("tanh", "column", TARGET)), SETTINGS)
    assert plain.indices == other.indices  # the same batch, another model
    assert plain.mean_grads != other.mean_grads and plain.after != other.after
    assert other.samples[0].dw == [2.0 * (w - t) for w, t in zip(other.samples[0].w, TARGET, strict=True)]
