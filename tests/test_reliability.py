"""The bad-input catalogue (issue 7): each case through the CLI, its message and exit code.

Exit code 2 for bad usage or input, 1 for a run that failed; never a traceback unless
`--debug` is given. Messages are matched with whitespace removed, since rich wraps lines.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.errors import InputError
from l2advisor.runs.lock import RunLock
from l2advisor.runs.rundir import results_path
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()
pytestmark = pytest.mark.bad_input
QUICK = ("--lambdas", "0.4,0.2", "--horizon", "2", "--seeds", "0", "--device", "cpu")  # ~0.1 s of training


def cli(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


def squash(text: str) -> str:
    return "".join(text.split())


def expect(result: object, code: int, *phrases: str) -> None:
    """Exit code, each phrase in the output (wrapping ignored), and no traceback."""
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == code, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), output  # type: ignore[attr-defined]
    for phrase in phrases:
        assert squash(phrase) in squash(output), f"{phrase!r} not in:\n{output}"


def probe(model: Path, out: Path, *extra: object) -> object:
    return cli("probe", model, "--out", out, *QUICK, *extra)


def model_with(tmp_path: Path, old: str, new: str, extra: str = "") -> Path:
    assert old in TINY_MODEL
    return write_model(tmp_path, TINY_MODEL.replace(old, new) + extra)


DATA = "return _blobs(256, 1), _blobs(128, 2)"
NET = "return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))"

FROZEN = '''
class Frozen(nn.Module):
    """The network is frozen; its one trainable parameter is never used (every probe failed at step 0)."""
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4)).requires_grad_(False)
        self.unused = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        return self.net(x)
'''

LYING_LENGTH = '''
class Lying(torch.utils.data.Dataset):
    """Says 100 items, has 50."""
    def __init__(self):
        self.inner = _blobs(50, 1)
    def __len__(self):
        return 100
    def __getitem__(self, i):
        if i >= 50:
            raise IndexError(f"item {i} of 50")
        return self.inner[i]
'''
RAGGED = '''
class Ragged(torch.utils.data.Dataset):
    """Inputs of two different shapes."""
    def __len__(self):
        return 64
    def __getitem__(self, i):
        return torch.zeros(8 if i % 2 == 0 else 9), i % 4
'''
TUPLE_OUT = '''
class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 4)
    def forward(self, x):
        return self.body(x), x
'''
UNREDUCED_LOSS = '''
def loss(outputs, targets):
    return nn.functional.cross_entropy(outputs, targets, reduction="none")
'''


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "nope.py"


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "adir.py").mkdir()
    return tmp_path / "adir.py"


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe\x81")
    return path


MODEL_FILES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "missing": (_missing, ("does not exist",)),
    "a directory": (_directory, ("is not a file",)),
    "not Python (binary)": (_binary, ("is not a Python file",)),
    "syntax error": (lambda d: write_model(d, "def build_model(:\n    pass\n"),
                     ("model.py is not valid Python", "line 1")),
    "raises at import": (lambda d: write_model(d, "import math\nx = 1\nraise ValueError('no data here')\n"),
                         ("raised ValueError: no data here", "line 3 of model.py")),
    "imports a missing package": (lambda d: write_model(d, "import not_a_real_package_xyz\n"),
                                  ("ModuleNotFoundError", "not_a_real_package_xyz")),
    "without build_model": (lambda d: write_model(d, "def build_data():\n    return [], []\n"),
                            ("has no function `build_model()`",)),
    "without build_data": (lambda d: write_model(d, "def build_model():\n    return None\n"),
                           ("has no function `build_data()`",)),
    "build_model returns an int": (lambda d: model_with(d, NET, "return 3"),
                                   ("build_model() must return a torch.nn.Module, got int",)),
    "build_data returns one dataset": (lambda d: model_with(d, DATA, "return _blobs(256, 1)"),
                                       ("must return (train_dataset, val_dataset), got TensorDataset",)),
    "build_data raises": (lambda d: model_with(d, DATA, "raise RuntimeError('disk on fire')"),
                          ("build_data() raised RuntimeError: disk on fire",)),
    "build_model raises": (lambda d: model_with(d, NET, "raise ValueError('no weights')"),
                           ("build_model() raised ValueError: no weights", "of model.py")),
    "forward returns a tuple": (lambda d: model_with(d, NET, "return Pair()", TUPLE_OUT),
                                ("must return one tensor of outputs, got a tuple of 2",)),
    "loss returns a vector": (lambda d: model_with(d, "batch_size = 32", "batch_size = 32", UNREDUCED_LOSS),
                              ("the loss must return a scalar tensor",)),
    "empty training set": (lambda d: model_with(d, DATA, "return _blobs(0, 1), _blobs(128, 2)"),
                           ("the training dataset is empty",)),
    "inputs and labels of different lengths": (
        lambda d: model_with(d, DATA, "return TensorDataset(torch.randn(100, 8), torch.zeros(90).long()), "
                                      "_blobs(128, 2)"),
        ("build_data() raised AssertionError: Size mismatch between tensors",)),
    "__len__ larger than the items": (lambda d: model_with(d, DATA, "return Lying(), _blobs(128, 2)", LYING_LENGTH),
                                      ("says it has 100 items but reading item 99 raised IndexError",
                                       "does __len__ match the items?")),
    "inputs of different shapes": (lambda d: model_with(d, DATA, "return Ragged(), _blobs(128, 2)", RAGGED),
                                   ("the training items cannot be batched together", "same shape")),
    "items are not pairs": (lambda d: model_with(d, DATA, "return [torch.zeros(8)] * 10, _blobs(128, 2)"),
                            ("each training item must be an (input, target) pair, got Tensor",)),
    "labels outside the outputs": (lambda d: model_with(d, "nn.Linear(32, 4))", "nn.Linear(32, 3))"),
                                   ("labels range over [0, 3] but the model has 3 outputs",)),
    "float labels with cross-entropy": (
        lambda d: model_with(d, DATA, "x, y = _blobs(256, 1).tensors\n    "
                                      "return TensorDataset(x, y.float()), _blobs(128, 2)"),
        ("targets must be integer class labels", "(4,) (a check batch of the first 4 items)")),
    "model cannot take the inputs": (lambda d: model_with(d, "nn.Linear(8, 32)", "nn.Linear(9, 32)"),
                                     ("the model cannot take a batch of training inputs of shape (4, 8)",)),
    "metric returns a word": (lambda d: model_with(d, "batch_size = 32", "batch_size = 32",
                                                   "\ndef metric(outputs, targets):\n    return 'good'\n"),
                              ("the metric must return one number", "got str")),
    "no trainable parameters": (lambda d: model_with(d, NET, "return nn.Sequential(nn.Identity())"),
                                ("a model without trainable parameters",)),
    "only an unused parameter is trainable": (
        lambda d: model_with(d, NET, "return Frozen()", FROZEN),
        ("the loss does not depend on any trainable parameter", "frozen (requires_grad=False)")),
    "lr written as a string": (lambda d: model_with(d, "batch_size = 32", "batch_size = 32\nlr = '0.1'"),
                               ("model.py: `lr` must be a number, got '0.1'",)),
}


@pytest.mark.parametrize("case", list(MODEL_FILES))
def test_bad_model_file(tmp_path: Path, case: str) -> None:
    make, phrases = MODEL_FILES[case]
    expect(probe(make(tmp_path), tmp_path / "run"), 2, *phrases)
    assert not results_path(tmp_path / "run").exists()  # refused before anything was written


LATE_CRASH = '''
class Late(nn.Module):
    """Fine for its first forward passes (the checks), then raises."""
    calls = 0
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 4)
    def forward(self, x):
        Late.calls += 1
        if Late.calls > 30:
            raise ValueError("boom in the middle")
        return self.body(x)
'''


AUROC_LIKE = '''
def metric(outputs, targets):
    """Needs two classes among the targets, like an AUROC."""
    if len(targets.unique()) < 2:
        raise ValueError("Only one class present in y_true")
    return float((outputs.argmax(1) == targets).float().mean())
'''


def test_a_metric_that_needs_more_than_the_first_items_is_not_refused(tmp_path: Path) -> None:
    """The check sees 4 items; data sorted by class gives them one class. Refusing the file there
    refused a metric that works on the whole validation set."""
    sorted_data = ("x, y = _blobs(256, 1).tensors\n    order = y.argsort()\n    "
                   "return TensorDataset(x[order], y[order]), _blobs(128, 2)")
    model = model_with(tmp_path, DATA, sorted_data, AUROC_LIKE)
    expect(probe(model, tmp_path / "run"), 0)


def test_a_crash_in_the_model_file_mid_probe_names_it(tmp_path: Path) -> None:
    """Every probe failed on a line of the model file: exit 1 (the file passed its checks; the
    runs failed, as in test_all_probes_failing_is_a_failed_run), naming it, and no "Next" to a fit."""
    result = probe(model_with(tmp_path, NET, "return Late()", LATE_CRASH), tmp_path / "run", "--no-batched")
    expect(result, 1, "boom in the middle", "of model.py", "failed inside model.py", "fix what fails there")
    assert "Next:" not in result.output  # type: ignore[attr-defined]
    nan_loss = "\ndef loss(outputs, targets):\n    return (outputs * float('nan')).sum()\n"
    diverged = probe(model_with(tmp_path, "batch_size = 32", "batch_size = 32", nan_loss), tmp_path / "nan")
    expect(diverged, 1, "All 2 probes failed or diverged", "fix the model file, or use a smaller lr (even the "
           "smallest lam probed")  # not the file's line; every lam diverged, so lam is not the cause
    assert "smaller lams" not in diverged.output  # type: ignore[attr-defined]


FLAGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lr zero": (("--lr", "0"), ("--lr must be a finite number > 0, got 0.0",)),
    "lr negative": (("--lr", "-0.1"), ("--lr must be a finite number > 0, got -0.1",)),  # the flag, not the file
    "lr NaN": (("--lr", "nan"), ("--lr must be a finite number > 0, got nan",)),
    "lrs with a zero": (("--lrs", "0.1,0"), ("--lrs must be finite numbers > 0, got 0.0",)),
    "lrs not numbers": (("--lrs", "0.1,fast"), ("--lrs takes comma-separated numbers, got '0.1,fast'",)),
    "lam negative": (("--lambdas", "-1"), ("--lambdas must be finite numbers > 0, got -1.0",)),
    "lam zero": (("--lambdas", "0.4,0"), ("--lambdas must be finite numbers > 0, got 0.0",)),
    "lam NaN": (("--lambdas", "nan"), ("--lambdas must be finite numbers > 0, got nan",)),
    "lam-max zero": (("--lambdas", "", "--lam-max", "0"), ("--lam-max must be a finite number > 0, got 0.0",)),
    "lam-max infinite": (("--lambdas", "", "--lam-max", "inf"), ("--lam-max must be a finite number > 0, got inf",)),
    "horizon NaN": (("--horizon", "nan"), ("--horizon must be a finite number > 0, got nan",)),
    "horizon zero": (("--horizon", "0"), ("--horizon must be a finite number > 0, got 0.0",)),
    "horizon negative": (("--horizon", "-2"), ("--horizon must be a finite number > 0, got -2.0",)),
    "horizon shorter than the evaluations": (("--horizon", "0.001"),
                                             ("--horizon 0.001 is too short", "lam=0.4",
                                              "fewer than the 10 evaluations a curve needs")),
    "probe budget zero": (("--probe-budget", "0"), ("--probe-budget must be a finite number > 0, got 0",)),
    "probe budget negative": (("--probe-budget", "-5"), ("--probe-budget must be a finite number > 0, got -5",)),
    "probe budget below one probe": (("--lambdas", "", "--lam-max", "0.1", "--probe-budget", "50"),
                                     ("--probe-budget 50 steps does not cover even the shortest probe "
                                      "(200 steps at lam=0.1)",)),
    "probe budget not a number": (("--probe-budget", "lots"), ("Invalid value for '--probe-budget'",)),
    "factor one": (("--lambdas", "", "--factor", "1"), ("--factor must be a finite number > 1, got 1.0",)),
    "tolerance negative": (("--tolerance", "-0.1"), ("--tolerance must be a finite number >= 0, got -0.1",)),
    "no seeds": (("--seeds", ""), ("--seeds must name at least one seed",)),
    "seeds not integers": (("--seeds", "0,x"), ("--seeds takes comma-separated integers, got '0,x'",)),
    "batch size zero": (("--batch-size", "0"), ("--batch-size must be a positive integer, got 0",)),
    "momentum one": (("--momentum", "1"), ("--momentum must be in [0, 1), got 1.0",)),
    "unknown optimizer": (("--optimizer", "adam"), ("--optimizer must be one of sgd, adamw, got 'adam'",)),
    "unknown device": (("--device", "tpu"), ("Unknown device 'tpu'; use auto, cpu, cuda or cuda:N",)),
    "unknown option": (("--lamda", "0.1"), ("No such option",)),
}


@pytest.mark.parametrize("case", list(FLAGS))
def test_bad_flag(tiny_model: Path, tmp_path: Path, case: str) -> None:
    flags, phrases = FLAGS[case]
    expect(probe(tiny_model, tmp_path / "run", *flags), 2, *phrases)


def test_gpu_that_is_not_there(tiny_model: Path, tmp_path: Path) -> None:
    result = probe(tiny_model, tmp_path / "run", "--device", "cuda:7")
    if torch.cuda.device_count() == 0:
        expect(result, 2, "Device 'cuda:7' was asked for but no CUDA GPU is available here")
    elif torch.cuda.device_count() <= 7:
        expect(result, 2, "Device 'cuda:7' does not exist: this machine has")


# ---- run directories: other settings, other schema, corrupt or truncated files, a lock ----

def _header_line(tiny_model: Path, tmp_path: Path, **changes: object) -> dict:
    out = tmp_path / "first"
    expect(probe(tiny_model, out), 0)
    header = json.loads(results_path(out).read_text().split("\n")[0])
    header.update(changes)
    return header


def test_results_of_other_settings(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    expect(probe(tiny_model, out), 0)
    expect(probe(tiny_model, out, "--horizon", "3"), 2, "holds results made with other settings",
           "probe.horizon: 2.0 -> 3.0", "Use --force to start over")


def test_results_of_another_schema_version(tiny_model: Path, tmp_path: Path) -> None:
    header = _header_line(tiny_model, tmp_path, schema_version=99)
    out = tmp_path / "run"
    out.mkdir()
    results_path(out).write_text(json.dumps(header) + "\n")
    expect(probe(tiny_model, out), 2, "was written with results schema version 99", "reads version 1")


def test_results_corrupt_in_the_middle(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    expect(probe(tiny_model, out), 0)
    lines = results_path(out).read_text().split("\n")
    lines[3] = lines[3][: len(lines[3]) // 2] + "\x00garbage"
    results_path(out).write_text("\n".join(lines))
    expect(probe(tiny_model, out), 2, "line 4 is not a valid results record; the file is corrupt")


def test_results_not_written_by_l2advisor(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    results_path(out).write_text('{"type": "eval", "run": "x", "step": 0}\n')
    expect(probe(tiny_model, out), 2, "has no header line; it was not written by l2advisor")


def test_results_truncated_mid_line_resume(tiny_model: Path, tmp_path: Path) -> None:
    """A partial last line (a crash mid-write) is dropped, not glued to the next record."""
    out = tmp_path / "run"
    expect(probe(tiny_model, out), 0)
    data = results_path(out).read_bytes()
    results_path(out).write_bytes(data[: len(data) - 40])  # cuts the last `end` record in half
    expect(probe(tiny_model, out), 0, "1 reused")
    expect(probe(tiny_model, out), 0, "2 reused")  # the file is whole again


def test_run_directory_in_use(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with RunLock(out):  # held through the OS lock; tests/test_faults.py does it from another process
        expect(probe(tiny_model, out), 2, "is in use by another l2advisor process", "use --out")
    expect(probe(tiny_model, out), 0)


def test_all_probes_failing_is_a_failed_run(tmp_path: Path) -> None:
    """Exit code 1, not 2: the input was accepted, the runs failed."""
    body = TINY_MODEL + '''
class Breaks(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 4)
    def forward(self, x):
        if self.training:
            raise RuntimeError("the GPU caught fire")
        return self.body(x)

def build_model():
    return Breaks()
'''
    expect(probe(write_model(tmp_path, body), tmp_path / "run"), 1,
           "RuntimeError: the GPU caught fire", "All 2 probes failed inside model.py")


def test_message_with_brackets_is_printed_as_is(tmp_path: Path) -> None:
    model = write_model(tmp_path, "items = [1]\nraise ValueError('no item [/] at items[i]')\n")
    expect(probe(model, tmp_path / "run"), 2, "no item [/] at items[i]")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    """The one case where a traceback is wanted: with `--debug` the error is raised, not
    summarised, so Python prints its traceback (the same input without it shows none, above)."""
    result = runner.invoke(app, ["--debug", "probe", str(tmp_path / "nope.py")])
    assert isinstance(result.exception, InputError) and result.exit_code == 1
    shown = "".join(traceback.format_exception(*result.exc_info))
    assert shown.startswith("Traceback") and "spec.py" in shown and "does not exist" in shown
    quiet = runner.invoke(app, ["probe", str(tmp_path / "nope.py")])
    assert quiet.exit_code == 2 and "Traceback" not in quiet.output


# ---- recommend and report: what the probes left behind ----

@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory with three finished probes."""
    base = tmp_path_factory.mktemp("probed")
    model = write_model(base, TINY_MODEL, "tiny.py")
    out = base / "run"
    expect(cli("probe", model, "--out", out, *QUICK[:1], "0.4,0.2,0.1", *QUICK[2:]), 0)
    return out


def copy_of(probed: Path, tmp_path: Path, edit: Callable[[bytes], bytes] | None = None) -> Path:
    run = tmp_path / "copy"
    run.mkdir()
    data = results_path(probed).read_bytes()
    results_path(run).write_bytes(edit(data) if edit else data)
    return run


def _unfinished(data: bytes) -> bytes:
    lines = data.split(b"\n")
    return b"\n".join(lines[:5]) + b"\n"  # header, a start and three evals: killed before any end


def _garbage_line(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[6] = b"\x00\x00\x00 disk error \xff"
    return b"\n".join(lines)


def _other_schema(data: bytes) -> bytes:
    head, rest = data.split(b"\n", 1)
    return json.dumps({**json.loads(head), "schema_version": 99}).encode() + b"\n" + rest


def _failed_at_once(data: bytes) -> bytes:
    lines = data.split(b"\n")
    start = json.loads(lines[1])
    end = {"type": "end", "run": start["run"], "status": "failed", "steps": 0, "message": "boom"}
    return b"\n".join([lines[0], lines[1], json.dumps(end).encode()]) + b"\n"  # no evaluation recorded


RECOMMEND: dict[str, tuple[Callable[[Path, Path], list[object]], tuple[str, ...]]] = {
    "no such directory": (lambda p, t: [t / "nowhere"], ("is not a directory",)),
    "a file, not a directory": (lambda p, t: [results_path(p)], ("is not a directory",)),
    "a directory without probes": (lambda p, t: [t], ("No results file at", "run `l2advisor probe` first")),
    "no finished probe": (lambda p, t: [copy_of(p, t, _unfinished)], ("has no finished probe yet",)),
    "every probe failed at once": (lambda p, t: [copy_of(p, t, _failed_at_once)],
                                   ("has no usable probe", "failed or diverged before their first evaluation",
                                    "--force")),
    "another schema version": (lambda p, t: [copy_of(p, t, _other_schema)],
                               ("was written with results schema version 99", "Re-run the probes")),
    "garbage in the middle": (lambda p, t: [copy_of(p, t, _garbage_line)],
                              ("line 7 is not a valid results record; the file is corrupt",)),
    "empty results file": (lambda p, t: [copy_of(p, t, lambda d: b"")], ("has no header line",)),
    "budget zero": (lambda p, t: [p, "--budget", "0"], ("--budget must be a finite number > 0, got 0.0",)),
    "budget negative": (lambda p, t: [p, "--budget", "-100"], ("--budget must be a finite number > 0",)),
    "budget NaN": (lambda p, t: [p, "--budget", "nan"], ("--budget must be a finite number > 0, got nan",)),
    "budget shorter than one step": (lambda p, t: [p, "--budget", "0.01", "--unit", "epochs"],
                                     ("--budget 0.01 epochs is less than one step (8 steps per epoch)",)),
    "budget in fractional steps": (lambda p, t: [p, "--budget", "10.5"],
                                   ("--budget in steps must be a whole number, got 10.5",)),
    "unknown unit": (lambda p, t: [p, "--budget", "10", "--unit", "weeks"], ("--unit must be steps or epochs",)),
    "lr zero": (lambda p, t: [p, "--budget", "1000", "--lr", "0"], ("--lr must be a finite number > 0, got 0.0",)),
}


@pytest.mark.parametrize("case", list(RECOMMEND))
def test_bad_recommend(probed: Path, tmp_path: Path, case: str) -> None:
    make, phrases = RECOMMEND[case]
    args = make(probed, tmp_path)
    expect(cli("recommend", *args, *([] if "--budget" in args else ["--budget", "1000"])), 2, *phrases)


def test_recommend_skips_a_partial_last_line(probed: Path, tmp_path: Path) -> None:
    """A truncated file (a probe killed mid-write) is read with a warning, not called corrupt.
    The cut falls in the last probe's end line, so that planned probe is unfinished: with only
    2 lams left, recommend names it and asks to resume the probes."""
    run = copy_of(probed, tmp_path, lambda d: d[:-30])
    expect(cli("recommend", run, "--budget", "1000", "--lr", "0.1"), 2,  # --lr: independent of the fit
           "skipped a partial last line", "(an interrupted write)", "1 of the 3 planned probes",
           "lr=0.1/lam=0.1/seed=0 (unfinished)", "a fit needs 3", "(it resumes)")


def test_report_on_a_missing_directory(tmp_path: Path) -> None:
    expect(cli("report", tmp_path / "nowhere"), 2, "is not a directory")


# ---- train ----

TRAIN: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "budget zero": (("--budget", "0", "--weight-decay", "0.1"), ("--budget must be a finite number > 0, got 0.0",)),
    "budget NaN": (("--budget", "nan", "--weight-decay", "0.1"), ("--budget must be a finite number > 0, got nan",)),
    "budget below one step": (("--budget", "0.001", "--unit", "epochs", "--weight-decay", "0.1"),
                              ("--budget 0.001 epochs is less than one step",)),
    "weight decay negative": (("--budget", "100", "--weight-decay", "-1"),
                              ("--weight-decay must be a finite number >= 0, got -1.0",)),
    "weight decay NaN": (("--budget", "100", "--weight-decay", "nan"),
                         ("--weight-decay must be a finite number >= 0, got nan",)),
    "no weight decay": (("--budget", "100",), ("Give --weight-decay X",)),
    "eval every zero": (("--budget", "100", "--weight-decay", "0.1", "--eval-every", "0"),
                        ("--eval-every must be >= 1 step, got 0",)),
    "AutoL2 lam0 negative": (("--budget", "100", "--autol2", "--lam0", "-1"),
                             ("Bad AutoL2 setting: --lam0 must be finite and > 0, got -1.0; see l2advisor train --help.",)),
    "AutoL2 floor above lam0": (("--budget", "100", "--autol2", "--lam0", "0.1", "--lam-min", "0.2"),
                                ("Bad AutoL2 setting: --lam-min (0.2) must not exceed --lam0 (0.1); see",)),
    "AutoL2 decay not above 1": (("--budget", "100", "--autol2", "--decay", "1"),
                                 ("Bad AutoL2 setting: --decay must be finite and > 1",)),
    "unknown device": (("--budget", "100", "--weight-decay", "0.1", "--device", "tpu"), ("Unknown device 'tpu'",)),
}


@pytest.mark.parametrize("case", list(TRAIN))
def test_bad_train(tiny_model: Path, tmp_path: Path, case: str) -> None:
    flags, phrases = TRAIN[case]
    expect(cli("train", tiny_model, "--out", tmp_path / "run", *flags), 2, *phrases)


def test_train_budget_shorter_than_one_evaluation_interval(tiny_model: Path, tmp_path: Path) -> None:
    result = cli("train", tiny_model, "--out", tmp_path / "run", "--budget", "50", "--weight-decay", "0.1",
                 "--eval-every", "100", "--device", "cpu")
    expect(result, 2, "--eval-every")


# ---- tune: the Optuna storage and the search space ----

def _not_a_database(tmp_path: Path) -> str:
    (tmp_path / "study.db").write_text("these are not the trials you are looking for\n")
    return f"sqlite:///{tmp_path / 'study.db'}"


TUNE: dict[str, tuple[Callable[[Path], tuple[str, ...]], tuple[str, ...]]] = {
    "storage of an unknown kind": (lambda t: ("--storage", "notascheme://x"),
                                   ("Cannot open the Optuna storage notascheme://x",)),
    "storage in a directory that cannot exist": (lambda t: ("--storage", "sqlite:////proc/nope/x.db"),
                                                 ("Cannot open the Optuna storage sqlite:////proc/nope/x.db",)),
    "storage file that is not a database": (lambda t: ("--storage", _not_a_database(t)),
                                            ("Cannot open the Optuna storage", "file is not a database")),
    "journal that cannot be written": (lambda t: ("--storage", "journal:/proc/nope/j.log"),
                                       ("Cannot open the Optuna storage journal:/proc/nope/j.log",)),
    "storage URL with a password": (lambda t: ("--storage", "postgresql://me:hunter2@127.0.0.1:1/db"),
                                    ("Cannot open the Optuna storage postgresql://me:***@127.0.0.1:1/db",)),
    "no trials": (lambda t: ("--trials", "0"), ("--trials must be at least 1, got 0",)),
    "lam range upside down": (lambda t: ("--lam-low", "0.1", "--lam-high", "0.01"),
                              ("--lam-low and --lam-high must satisfy 0 < low < high",)),
    "lam range from zero": (lambda t: ("--lam-low", "0"), ("--lam-low and --lam-high must satisfy 0 < low < high",)),
    "unknown pruner": (lambda t: ("--pruner", "magic"), ("--pruner must be none, median or hyperband",)),
}


@pytest.mark.parametrize("case", list(TUNE))
def test_bad_tune(tiny_model: Path, tmp_path: Path, case: str) -> None:
    make, phrases = TUNE[case]
    flags = make(tmp_path)
    result = cli("tune", tiny_model, "--out", tmp_path / "run", "--budget", "50", "--trials", "2",
                 "--device", "cpu", *flags)
    expect(result, 2, *phrases)
    assert "hunter2" not in result.output


@pytest.mark.bad_input
@pytest.mark.parametrize("command", ["probe", "train", "report"])
@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_that_cannot_be_a_directory(tiny_model: Path, probed: Path, tmp_path: Path, command: str,
                                          where: str) -> None:
    """--out at a file (or below one) is the user's mistake: one sentence, exit 2, no
    "Internal error" (it was a FileExistsError / NotADirectoryError reported as our bug)."""
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    out = taken if where == "a file" else taken / "run"
    args = {"probe": ("probe", tiny_model, "--out", out, *QUICK),
            "train": ("train", tiny_model, "--weight-decay", "0.01", "--budget", "20", "--out", out),
            "report": ("report", probed, "--out", out)}[command]
    expect(cli(*args), 2, f"Cannot use {out} as a directory")
    assert taken.read_text() == "mine"  # the user's file untouched
