"""AutoL2 (l2advisor.training.autol2): the paper's rule, the tau clock, state, param groups."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest
import torch
from torch import nn

from l2advisor.training.autol2 import AutoL2, DecayEvent, split_decay_groups


def _opt(lr: float = 0.1, kind: str = "sgd", model: nn.Module | None = None):
    model = model or nn.Linear(3, 2)
    cls = torch.optim.SGD if kind == "sgd" else torch.optim.AdamW
    return cls(model.parameters(), lr=lr, weight_decay=0.0)


def _noisy_run(n: int = 4000, seed: int = 0) -> tuple[list[float], list[float]]:
    """Minibatch-like training loss and accuracy: a decaying trend plus noise.

    Accuracies are multiples of 1/128 (a batch of 128), so ties with the best happen.
    """
    rng = random.Random(seed)
    losses, accs = [], []
    for t in range(n):
        trend = math.exp(-t / 700)
        losses.append(2.3 * trend + 0.05 + abs(rng.gauss(0.0, 0.08)))
        acc = 1.0 - 0.9 * trend + rng.gauss(0.0, 0.04)
        accs.append(round(min(max(acc, 0.0), 1.0) * 128) / 128)
    return losses, accs


def _authors_rule(losses: list[float], accs: list[float], lam0: float = 0.1) -> list[tuple]:
    """The paper's AutoL2, transcribed plainly: a list of (step, old lam, new lam, signal).

    Every 10 steps, measure the step's minibatch loss and accuracy. Decay lam by 10 when
    the last two measurements are both no better than the best seen before them, for the
    loss or for the accuracy, and at least 0.1/lam steps have passed since the previous
    decay (the start counts as one). The best values are never reset.
    """
    lam, previous_decay = lam0, 0
    loss_seen: list[float] = []
    acc_seen: list[float] = []
    decays = []
    for step in range(1, len(losses) + 1):  # `step` optimizer steps have been taken
        if step % 10 != 0:
            continue
        loss_seen.append(losses[step - 1])
        acc_seen.append(accs[step - 1])
        if len(loss_seen) < 3:
            continue
        loss_stalled = min(loss_seen[-2:]) >= min(loss_seen[:-2])
        acc_stalled = max(acc_seen[-2:]) <= max(acc_seen[:-2])
        if (loss_stalled or acc_stalled) and step - previous_decay >= 0.1 / lam:
            signal = (
                "both" if loss_stalled and acc_stalled else "loss" if loss_stalled else "accuracy"
            )
            decays.append((step, lam, lam / 10, signal))
            lam, previous_decay = lam / 10, step
    return decays


# 1. the preset is the authors' rule ------------------------------------------------------


@pytest.mark.parametrize("lr", [0.2, 0.013])
def test_paper_preset_matches_the_authors_rule(lr: float) -> None:
    losses, accs = _noisy_run()
    expected = _authors_rule(losses, accs)
    assert len(expected) >= 4  # the sequence is built to decay several times
    opt = _opt(lr)
    sched = AutoL2.paper(opt)
    lams = [sched.step(loss, acc) for loss, acc in zip(losses, accs, strict=True)]
    got = [(e.step, e.old_lam, e.new_lam, e.signal) for e in sched.events]
    assert got == expected  # same steps, same values, same signals; lr plays no part
    assert sched.lam == expected[-1][2] == opt.param_groups[0]["weight_decay"]
    for step, _, new, _ in expected:
        assert lams[step - 1] == new  # returned from the deciding step on


# 2. the tau clock under a learning-rate schedule -----------------------------------------


def _constant_run(milestones: list[int], steps: int = 100) -> AutoL2:
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    lr_sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.5)
    sched = AutoL2(
        opt,
        lam0=0.5,
        decay=2.0,
        refractory_tau=1.0,
        check_every=1,
        patience=2,
        smoothing="none",
        lam_min=0.0,
    )
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    for _ in range(steps):
        opt.step()
        sched.step(1.0, 0.5)  # stalled from the third check on: only the refractory decides
        lr_sched.step()
    return sched


def test_tau_refractory_takes_twice_the_steps_at_half_the_lr() -> None:
    # lr*lam per step: 0.25 until the first decay (step 4, tau 1); then lam halves each
    # decay and the refractory period (tau 1) takes 8, 16, 32 steps at lr 0.5 ...
    constant = _constant_run(milestones=[1000])
    # ... and 16, 32, 64 steps at lr 0.25 (the lr is halved after step 4)
    halved = _constant_run(milestones=[4])
    assert [e.step for e in constant.events] == [4, 12, 28, 60]
    assert [e.step for e in halved.events] == [4, 20, 52]
    assert [e.tau for e in constant.events] == [1.0, 2.0, 3.0, 4.0]
    assert [e.tau for e in halved.events] == [1.0, 2.0, 3.0]


def test_paper_refractory_counts_steps_on_the_current_lam() -> None:
    sched = AutoL2.paper(_opt(lr=1e-3), lam0=0.1)
    decided = [sched.step(1.0, 0.5) for _ in range(1300)]  # always stalled from check 3
    # checks every 10 steps; 0.1/lam = 1, 10, 100, 1000 steps after each previous decay
    assert [e.step for e in sched.events] == [30, 40, 140, 1140]
    assert decided[1139] == pytest.approx(1e-5)


# 3. state_dict round trip ---------------------------------------------------------------


@pytest.mark.parametrize("smoothing", ["mean", "none", 0.8, "paper"])
def test_state_dict_round_trip_mid_run(smoothing) -> None:
    losses, accs = _noisy_run(3000, seed=3)
    k = 143  # mid-window: the running mean since the last check must survive

    def build(lam0: float) -> AutoL2:
        opt = _opt(lr=0.4)
        if smoothing == "paper":
            return AutoL2.paper(opt, lam0=lam0)
        return AutoL2(
            opt,
            lam0,
            decay=3.0,
            refractory_tau=0.01,
            check_every=7,
            smoothing=smoothing,
            lam_min=lam0 * 1e-3,
        )

    a = build(0.1)
    for loss, acc in zip(losses[:k], accs[:k], strict=True):
        a.step(loss, acc)
    state = json.loads(json.dumps(a.state_dict(), allow_nan=False))  # plain, JSON-safe
    b = build(0.7)  # other settings: load_state_dict must restore them
    b.load_state_dict(state)
    assert b.state_dict() == a.state_dict()
    assert b.optimizer.param_groups[0]["weight_decay"] == a.lam
    n_before = len(a.events)
    for loss, acc in zip(losses[k:], accs[k:], strict=True):
        assert a.step(loss, acc) == b.step(loss, acc)
    assert len(a.events) > n_before  # the comparison covers later decays
    assert a.events == b.events and a.tau == b.tau and a.step_count == b.step_count == 3000


def test_load_state_dict_rejects_another_version() -> None:
    sched = AutoL2(_opt(), 0.1)
    state = sched.state_dict() | {"version": 99}
    with pytest.raises(ValueError, match="version"):
        sched.load_state_dict(state)


# 4. param groups: biases and norm scales stay undecayed ----------------------------------


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
@pytest.mark.parametrize("spec", ["nonzero", "exclude_1d"])
def test_one_dim_params_stay_undecayed(kind: str, spec: str) -> None:
    model = _net()
    groups = split_decay_groups(model, weight_decay=0.5)
    assert [g["weight_decay"] for g in groups] == [0.5, 0.0]
    assert all(p.ndim == 2 for p in groups[0]["params"])
    assert all(p.ndim == 1 for p in groups[1]["params"]) and len(groups[1]["params"]) == 4
    cls = torch.optim.SGD if kind == "sgd" else torch.optim.AdamW
    opt = cls(groups, lr=0.1)
    sched = AutoL2(
        opt,
        lam0=0.5,
        refractory_tau=0.0,
        check_every=1,
        patience=2,
        smoothing="none",
        lam_min=0.0,
        param_groups=spec,
    )
    assert sched.groups == [0]
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # only weight decay moves the parameters
    shrink = 1.0
    for _ in range(12):
        shrink *= 1.0 - 0.1 * sched.lam
        opt.step()
        sched.step(1.0, 0.5)
        assert opt.param_groups[0]["weight_decay"] == sched.lam
        assert opt.param_groups[1]["weight_decay"] == 0.0
    assert len(sched.events) >= 3
    for name, p in model.named_parameters():
        if p.ndim == 1:  # biases and LayerNorm weight/bias: untouched
            assert torch.equal(p, before[name]), name
        else:
            torch.testing.assert_close(p, before[name] * shrink)
            assert not torch.equal(p, before[name])


def test_all_groups_by_default_and_explicit_indices() -> None:
    model = _net()
    opt = torch.optim.SGD(split_decay_groups(model.named_parameters(), 0.5), lr=0.1)
    assert AutoL2(opt, 0.2).groups == [0, 1]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.2, 0.2]
    assert AutoL2(opt, 0.3, param_groups=[1]).groups == [1]
    assert AutoL2.split_decay_groups is split_decay_groups


def test_the_documented_split_recipe_works_as_written() -> None:
    """split_decay_groups(model) with its default weight_decay 0, then AutoL2 (as the docstrings
    and examples/autol2_loop.py say): "exclude_1d" manages the weights only; "nonzero" finds
    nothing to manage and says why, naming the way out."""
    opt = torch.optim.SGD(AutoL2.split_decay_groups(_net()), lr=0.1)
    sched = AutoL2(opt, lam0=0.01, param_groups="exclude_1d")
    assert sched.groups == [0] and [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0]
    with pytest.raises(ValueError, match="every group has weight_decay 0.*use param_groups='exclude_1d'"):
        AutoL2(torch.optim.SGD(AutoL2.split_decay_groups(_net()), lr=0.1), 0.01, param_groups="nonzero")


def test_exclude_1d_refuses_a_mixed_group() -> None:
    with pytest.raises(ValueError, match="split_decay_groups"):
        AutoL2(torch.optim.SGD(_net().parameters(), lr=0.1), 0.1, param_groups="exclude_1d")


# 5. the clock, the written field, the floor, the signals, validation ---------------------


def test_tau_is_the_sum_of_lr_times_lam() -> None:
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    lr_sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + 0.01 * t))
    sched = AutoL2(opt, 0.2, decay=2.0, refractory_tau=0.05, check_every=5, lam_min=0.0)
    assert opt.param_groups[0]["weight_decay"] == 0.2  # written at construction
    expected, lam = 0.0, sched.lam
    rng = random.Random(1)
    for _ in range(400):
        opt.step()
        expected += opt.param_groups[0]["lr"] * lam  # lr and lam of the step just taken
        lam = sched.step(1.0 + rng.random(), rng.random())
        assert opt.param_groups[0]["weight_decay"] == lam == sched.lam
        lr_sched.step()
    assert len(sched.events) >= 3 and sched.step_count == 400
    assert sched.tau == pytest.approx(expected, rel=1e-12)


def test_lam_min_floor() -> None:
    sched = AutoL2(_opt(), 1.0, decay=10.0, refractory_tau=0.0, check_every=1, lam_min=0.05)
    for _ in range(50):
        sched.step(1.0, 0.5)
    assert [(e.old_lam, e.new_lam) for e in sched.events] == [(1.0, 0.1), (0.1, 0.05)]
    assert sched.lam == 0.05 == sched.optimizer.param_groups[0]["weight_decay"]
    assert AutoL2(_opt(), 0.3).lam_min == pytest.approx(0.3e-4)  # default floor


def test_signal_names_and_frozen_events() -> None:
    def first_event(losses, accs) -> DecayEvent:
        sched = AutoL2(_opt(), 0.1, refractory_tau=0.0, check_every=1, smoothing="none")
        for loss, acc in zip(losses, accs, strict=True):
            sched.step(loss, acc)
        return sched.events[0]

    n = 10
    improving = [1.0 - 0.01 * i for i in range(n)]
    assert first_event(improving, [0.5] * n).signal == "accuracy"
    assert first_event([1.0] * n, [1.0 - x for x in improving]).signal == "loss"
    event = first_event([1.0] * n, [0.5] * n)
    assert (event.signal, event.step) == ("both", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.step = 4  # type: ignore[misc]


def test_without_accuracy_the_loss_alone_decides() -> None:
    sched = AutoL2(_opt(), 0.1, refractory_tau=0.0, check_every=2)
    for i in range(40):
        sched.step(1.0 / (1 + i))  # always improving: never decays
    assert sched.events == []
    for _ in range(4):  # two checks no better than the best
        sched.step(5.0)
    assert [e.signal for e in sched.events] == ["loss"]


def test_smoothing_ignores_a_single_noisy_minibatch() -> None:
    # one spike per window: the raw check value stalls, the mean over the window does not
    losses = [10.0 if i % 10 == 9 else 1.0 / (1 + i) for i in range(200)]
    raw = AutoL2(_opt(), 0.1, refractory_tau=0.0, smoothing="none")
    mean = AutoL2(_opt(), 0.1, refractory_tau=0.0, smoothing="mean")
    for loss in losses:
        raw.step(loss)
        mean.step(loss)
    assert raw.events and not mean.events


def test_non_finite_loss_is_never_better() -> None:
    sched = AutoL2(_opt(), 0.1, refractory_tau=0.0, check_every=1, smoothing=0.5)
    for value in [3.0, 2.0, float("nan"), float("inf")]:
        sched.step(value)
    assert [e.step for e in sched.events] == [4]
    assert math.isfinite(sched.state_dict()["loss"]["ema"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lam0": 0.0},
        {"lam0": -0.1},
        {"lam0": float("nan")},
        {"lam0": float("inf")},
        {"lam0": "0.1"},
        {"decay": 1.0},
        {"decay": 0.5},
        {"decay": float("inf")},
        {"refractory_tau": -1.0},
        {"refractory_tau": float("nan")},
        {"refractory_lam_steps": -0.1},
        {"check_every": 0},
        {"check_every": 2.5},
        {"patience": 0},
        {"smoothing": "ema"},
        {"smoothing": 1.0},
        {"smoothing": 0.0},
        {"lam_min": -1e-3},
        {"lam_min": 0.2},
        {"param_groups": "bogus"},
        {"param_groups": [3]},
        {"param_groups": [0, 0]},
        {"param_groups": "nonzero"},  # every group has weight_decay 0: nothing to manage
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict) -> None:
    args = {"lam0": 0.1} | kwargs
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        AutoL2(_opt(), **args)


# 5. the default refractory: one weight-decay time ------------------------------------------


@pytest.mark.parametrize(("kind", "momentum", "expected"), [
    ("sgd", 0.0, 1.0), ("sgd", 0.9, 0.1), ("adamw", 0.0, 1.0)])
def test_default_refractory_is_one_weight_decay_time(kind: str, momentum: float, expected: float) -> None:
    model = nn.Linear(3, 2)
    opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum) if kind == "sgd"
           else torch.optim.AdamW(model.parameters(), lr=0.1))
    assert AutoL2(opt, 0.1).refractory_tau == pytest.approx(expected)
    assert AutoL2(opt, 0.1, refractory_tau=0.3).refractory_tau == 0.3  # an explicit value wins
    assert AutoL2.paper(opt).refractory_lam_steps == 0.1  # the authors' rule is untouched


def test_default_decay_halves_lam_and_the_paper_divides_by_ten() -> None:
    sched = AutoL2(_opt(lr=0.1), lam0=0.1, lam_min=0.0)
    decided = [sched.step(1.0, 0.5) for _ in range(150)]  # stalled: one decay, after one tau
    assert sched.decay == 2.0 and decided[-1] == pytest.approx(0.05)
    assert AutoL2.paper(_opt(lr=0.1)).decay == 10.0


def test_default_waits_one_weight_decay_time_between_decays() -> None:
    sched = AutoL2(_opt(lr=0.1), lam0=0.1, lam_min=0.0, decay=10.0)  # lr*lam = 0.01: 100 steps per tau
    decided = [sched.step(1.0, 0.5) for _ in range(1200)]  # always stalled from check 2 on
    assert [e.step for e in sched.events] == [100, 1100]  # 1/(lr*lam) = 100, then 1000 steps
    assert [e.tau for e in sched.events] == pytest.approx([1.0, 2.0])
    assert decided[99] == pytest.approx(0.01) and decided[1099] == pytest.approx(0.001)
    old = AutoL2(_opt(lr=0.1), lam0=0.1, lam_min=0.0, refractory_tau=0.1, decay=10.0)  # the previous default
    for _ in range(1200):
        old.step(1.0, 0.5)
    assert [e.step for e in old.events] == [30, 130, 1130]  # a stall needs 2 checks after the first


def test_step_refuses_text_and_a_bad_lr_and_skips_a_nan_loss() -> None:
    sched = AutoL2(_opt(), lam0=0.1, refractory_tau=0.0, check_every=1)
    with pytest.raises(ValueError, match="loss must be a number, got '1.0'"):
        sched.step("1.0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -1.0"):
        sched.step(1.0, 0.5, lr=-1.0)
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got \[0.1\]"):
        sched.step(1.0, 0.5, lr=[0.1])  # type: ignore[arg-type]
    assert sched.step_count == 0  # refused calls take no step
    sched.step(1.0, 0.5, lr=0.0)  # a warmup's first step (LambdaLR from 0): no shrink, no error
    assert sched.step_count == 1 and sched.tau == 0.0
    flags = list(sched.state_dict()["loss"]["flags"])
    sched.step(float("nan"), float("nan"))  # diverged: no measurement, but the step is counted
    assert sched.state_dict()["loss"]["flags"] == flags  # no "no better" flag from a NaN (it was one)
    sched.step(torch.tensor(0.7), torch.tensor(0.5))  # one-element tensors are numbers
    assert sched.step_count == 3 and sched.state_dict()["loss"]["best"] == pytest.approx(0.7)


def test_load_state_dict_says_what_it_was_given() -> None:
    sched = AutoL2(_opt(), lam0=0.1)
    with pytest.raises(ValueError, match=r"not an AutoL2 state_dict .*\['foo'\]"):
        sched.load_state_dict({"foo": 1})
    with pytest.raises(ValueError, match="saved by another l2advisor version"):  # a real one, other version
        sched.load_state_dict({**sched.state_dict(), "version": 99})


@pytest.mark.parametrize("name,kwargs,warns", [
    ("Adam", {}, True), ("RMSprop", {}, True),  # coupled L2 rescaled per coordinate: not the tau clock
    ("AdamW", {}, False), ("SGD", {}, False), ("Adam", {"decoupled_weight_decay": True}, False)])
def test_autol2_warns_on_an_optimizer_whose_decay_is_not_the_tau_clock(name: str, kwargs: dict, warns: bool) -> None:
    import warnings

    model = torch.nn.Linear(2, 2)
    try:
        optimizer = getattr(torch.optim, name)(model.parameters(), lr=0.01, **kwargs)
    except TypeError:  # a torch without Adam(decoupled_weight_decay=)
        pytest.skip("this torch's Adam has no decoupled_weight_decay")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AutoL2(optimizer, lam0=0.01)
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert bool(said) is warns, said
    if warns:
        assert f"torch.optim.{name}" in said[0] and "AdamW" in said[0]
