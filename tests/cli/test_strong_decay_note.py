"""A weight decay whose per-step shrink takes half the weights or more is said before training
(`tune --lam-high 5` at lr 0.1 searched up to lr*lam = 0.5 without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.decay_checks import step_shrink, strong_decay_note

runner = CliRunner()


def words(text: str) -> str:
    return " ".join(text.split())


def test_shrink_per_step_counts_momentum_for_sgd_only() -> None:
    assert step_shrink(1.0, 0.1, 0.0, "sgd") == pytest.approx(0.1)
    assert step_shrink(1.0, 0.1, 0.9, "sgd") == pytest.approx(1.0)  # the decay term carried 10 steps
    assert step_shrink(1.0, 0.1, 0.9, "adamw") == pytest.approx(0.1)  # decoupled: (1 - lr*lam) w


@pytest.mark.parametrize(("lam", "lr", "momentum", "optimizer", "said"), [
    (5.0, 0.1, 0.0, "sgd", "lr*lam = 0.5: each step's decay alone takes 50% of every decayed weight"),
    (0.6, 0.1, 0.9, "sgd", "lr*lam = 0.06, 0.6 with momentum 0.9: each step's decay alone takes 60%"),
    (2000.0, 0.001, 0.9, "adamw", "lr*lam = 2: each step's decay alone takes all of every decayed weight or more"),
])
def test_strong_decay_is_named_with_its_shrink(lam, lr, momentum, optimizer, said) -> None:
    note = strong_decay_note(lam, lr, momentum, optimizer, "--lam-high")
    assert note is not None and note.startswith(f"--lam-high {lam:g} at lr {lr:g}") and said in note


@pytest.mark.parametrize(("lam", "lr", "momentum", "optimizer"), [
    (0.1, 0.1, 0.0, "sgd"),  # the tune default's top: lr*lam = 0.01
    (4.9, 0.1, 0.0, "sgd"),  # just under half
    (0.3, 0.1, 0.9, "adamw"),  # AdamW's decay does not ride the momentum
    (float("nan"), 0.1, 0.0, "sgd"),  # not this check's to judge (the flags' own checks refuse it)
])
def test_ordinary_decay_says_nothing(lam, lr, momentum, optimizer) -> None:
    assert strong_decay_note(lam, lr, momentum, optimizer, "--weight-decay") is None


def test_train_says_it_before_training(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    strong = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), "--device", "cpu", "--budget", "20",
                                 "--weight-decay", "6", "--eval-every", "10"])
    text = words(strong.stderr)
    assert "--weight-decay 6 at lr 0.1 is lr*lam = 0.6" in text
    assert text.index("--weight-decay 6") < text.index("Threads:")  # before the data and training
    plain = runner.invoke(app, ["train", str(tiny_model), "--out", str(tmp_path / "plain"), "--device", "cpu",
                                "--budget", "20", "--weight-decay", "0.01", "--eval-every", "10"])
    assert plain.exit_code == 0, plain.output
    assert "each step's decay" not in words(plain.stderr)


def test_tune_names_the_top_of_its_range(tiny_model: Path, tmp_path: Path) -> None:
    args = ["tune", str(tiny_model), "--budget", "20", "--trials", "1", "--device", "cpu", "--eval-every", "10"]
    strong = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--lam-high", "5"])
    assert strong.exit_code == 0, strong.output
    assert "--lam-high 5 at lr 0.1 is lr*lam = 0.5" in words(strong.stderr)
    default = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert default.exit_code == 0, default.output
    assert "each step's decay" not in words(default.stderr)


def test_probe_names_a_hand_ladder_at_its_largest_lr(tiny_model: Path, tmp_path: Path) -> None:
    args = ["probe", str(tiny_model), "--device", "cpu", "--plan", "--seeds", "0"]
    strong = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--lambdas", "0.5,6", "--lrs", "0.05,0.1"])
    assert "--lambdas' largest 6 at lr 0.1 is lr*lam = 0.6" in words(strong.stderr), strong.output
    weak = runner.invoke(app, [*args, "--out", str(tmp_path / "b"), "--lambdas", "0.5,6", "--lrs", "0.05,0.08"])
    assert "each step's decay" not in words(weak.stderr), weak.output


def test_a_validation_set_too_small_for_the_tolerance_is_said(tmp_path: Path) -> None:
    """A 3-image validation set probed and advised "at least 1.0000" without a word."""
    from tests.conftest import TINY_MODEL, write_model

    ladder = ["--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0", "--device", "cpu", "--no-early-stop"]
    tiny_val = write_model(tmp_path, TINY_MODEL.replace("_blobs(128, 2)", "_blobs(10, 2)"), "small.py")
    said = words(runner.invoke(app, ["probe", str(tiny_val), "--out", str(tmp_path / "s"), *ladder]).stderr)
    assert "the validation set has 10 examples: accuracy moves in steps of 0.1, 20x the tolerance (0.005)" in said
    advised = runner.invoke(app, ["train", str(tiny_val), "--out", str(tmp_path / "t"), "--budget", "400",
                                  "--advise", "--device", "cpu"])  # train --advise probes the same way
    assert "the validation set has 10 examples" in words(advised.stderr), advised.output
    usual = write_model(tmp_path, TINY_MODEL, "usual.py")  # the control: 128 examples, steps of 0.0078
    said = words(runner.invoke(app, ["probe", str(usual), "--out", str(tmp_path / "u"), *ladder]).stderr)
    assert "the validation set has" not in said


@pytest.mark.parametrize(("share", "n_classes", "said"), [
    (0.85, 2, True), (0.75, 2, False),  # two classes: uneven from 80% (1.6 x an even half)
    (0.5, 10, True), (0.45, 10, False),  # many classes: from half the labels
    (0.42, 4, False), (0.55, 4, True), (1.0, 1, False)])
def test_uneven_classes_are_said_from_a_share_that_dominates_accuracy(share: float, n_classes: int,
                                                                      said: bool) -> None:
    from l2advisor.probing.notices import uneven_classes_note

    note = uneven_classes_note(share, n_classes)
    assert (note is not None) == said
    if said:
        assert f"{share:.0%} of the training labels ({n_classes} classes)" in note


def test_probe_says_when_one_class_dominates_accuracy(tmp_path: Path) -> None:
    """A reviewer's 80/10/5/3/2 % task was advised on plain accuracy without a word; the control, the
    even 4-class blobs, says nothing."""
    from tests.conftest import TINY_MODEL, write_model

    ladder = ["--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0", "--device", "cpu", "--no-early-stop"]
    skewed = TINY_MODEL.replace("y = torch.randint(0, 4, (n,), generator=g)",
                                "y = torch.multinomial(torch.tensor([0.8, 0.1, 0.06, 0.04]), n, True, generator=g)")
    assert skewed != TINY_MODEL
    uneven = write_model(tmp_path, skewed, "uneven.py")
    said = words(runner.invoke(app, ["probe", str(uneven), "--out", str(tmp_path / "s"), *ladder]).stderr)
    assert "the most frequent class is" in said and "(4 classes): accuracy weighs the other classes little" in said
    even = write_model(tmp_path, TINY_MODEL, "even.py")
    said = words(runner.invoke(app, ["probe", str(even), "--out", str(tmp_path / "e"), *ladder]).stderr)
    assert "the most frequent class is" not in said
