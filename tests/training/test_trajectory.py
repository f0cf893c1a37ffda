"""The weight-decay trajectory: lam by step from AutoL2's events, the file round trip, replay
in a plain loop, and one sentence for a broken file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from l2advisor.errors import InputError
from l2advisor.training.autol2 import AutoL2, DecayEvent
from l2advisor.training.trajectory import (
    ReplaySchedule,
    WeightDecayTrajectory,
    read_trajectory,
    write_trajectory,
)


def optimizer(lam: float = 0.0) -> torch.optim.SGD:
    return torch.optim.SGD([torch.zeros(3, requires_grad=True)], lr=0.1, weight_decay=lam)


def test_lam_at_follows_the_change_points() -> None:
    trajectory = WeightDecayTrajectory(steps=(0, 5, 9), lams=(0.1, 0.01, 0.001))
    assert [trajectory.lam_at(s) for s in (0, 4, 5, 8, 9, 10_000)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_from_events_puts_a_decay_at_the_next_step() -> None:
    events = [DecayEvent(step=20, tau=0.2, old_lam=0.1, new_lam=0.01, signal="loss")]
    trajectory = WeightDecayTrajectory.from_events(0.1, events)
    assert trajectory.steps == (0, 20) and trajectory.lams == (0.1, 0.01)
    assert trajectory.lam_at(19) == 0.1 and trajectory.lam_at(20) == 0.01


def test_replay_reproduces_autol2_lam_at_every_step() -> None:
    # a loss that never improves: AutoL2 decays at every chance, so the trajectory has change points
    auto_opt = optimizer()
    auto = AutoL2(auto_opt, lam0=0.1, check_every=3, patience=1, refractory_tau=0.0, lam_min=1e-5)
    lams_auto = [auto_opt.param_groups[0]["weight_decay"]]
    for _ in range(40):
        auto.step(1.0, 0.5)
        lams_auto.append(auto_opt.param_groups[0]["weight_decay"])
    assert len(set(lams_auto)) >= 4
    trajectory = WeightDecayTrajectory.from_events(auto.lam0, auto.events)
    replay_opt = optimizer(trajectory.lams[0])
    replay = ReplaySchedule(replay_opt, trajectory)
    lams_replay = [replay_opt.param_groups[0]["weight_decay"]]
    for _ in range(40):
        replay.step()
        lams_replay.append(replay_opt.param_groups[0]["weight_decay"])
    assert lams_replay == lams_auto


def test_file_round_trip_is_exact(tmp_path: Path) -> None:
    trajectory = WeightDecayTrajectory(steps=(0, 7), lams=(0.1 / 3, 0.1 / 30), lr=0.05,
                                       lr_schedule="cosine", budget_steps=100, source="autol2/seed=0")
    path = write_trajectory(tmp_path / "wd.json", trajectory)
    assert read_trajectory(path) == trajectory


@pytest.mark.bad_input
@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "not readable JSON"),
    ('{"steps": [0], "lams": [0.1]}', "is not a weight-decay trajectory"),
    ('{"kind": "l2advisor.wd_trajectory", "schema_version": 9, "steps": [0], "lams": [0.1]}', "schema version 9"),
    ('{"kind": "l2advisor.wd_trajectory", "schema_version": 1, "steps": [3], "lams": [0.1]}', "start at 0"),
    ('{"kind": "l2advisor.wd_trajectory", "schema_version": 1, "steps": [0, 5], "lams": [0.1]}', "one length"),
    ('{"kind": "l2advisor.wd_trajectory", "schema_version": 1, "steps": [0], "lams": [-1]}', ">= 0"),
    ('{"kind": "l2advisor.wd_trajectory", "schema_version": 1, "lams": [0.1]}', "lacks its steps"),
])
def test_a_broken_file_is_one_sentence(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "wd.json"
    path.write_text(content)
    with pytest.raises(InputError, match=says):
        read_trajectory(path)


def test_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_trajectory(tmp_path / "nope.json")
    assert json.loads(json.dumps(WeightDecayTrajectory((0,), (0.0,)).to_dict()))["lams"] == [0.0]


def test_autol2_loss_only_trigger_with_sparse_measurements() -> None:
    """Loss logged every 5 steps (None in between), no accuracy: checks every 5 steps see one
    value each. A loss that never improves decays; one that keeps improving never does."""
    for losses, decays in ((lambda i: 1.0, True), (lambda i: 1.0 / (i + 1), False)):
        auto = AutoL2(optimizer(), lam0=0.1, check_every=5, patience=2, refractory_tau=0.0, smoothing="none")
        for i in range(60):
            auto.step(losses(i) if i % 5 == 1 else None)
        assert bool(auto.events) is decays
    # steps without any measurement never decay (a stale value is not re-measured)
    auto = AutoL2(optimizer(), lam0=0.1, check_every=5, patience=2, refractory_tau=0.0, smoothing="none")
    auto.step(1.0)
    for _ in range(100):
        auto.step(None)
    assert auto.events == [] and auto.step_count == 101


def test_autol2_lr_argument_sets_the_clock() -> None:
    auto = AutoL2(optimizer(), lam0=0.1)
    auto.step(1.0, lr=0.5)
    auto.step(1.0)  # the optimizer's lr, 0.1
    assert auto.tau == pytest.approx(0.5 * 0.1 + 0.1 * 0.1)
