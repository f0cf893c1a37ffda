"""The results store: round trip, resume, and the reader under truncation and corruption.

The property tests model what a crash or a bad disk does to a JSON-lines file: a cut at
any byte (a kill mid-write), a line split in two, a byte overwritten with a control byte,
garbage written into the middle. The reader may refuse (InputError, naming the line) or
skip a partial last line with a warning; it must never crash and never return an
evaluation that was not written. (A changed digit inside a number is undetectable without
checksums and is not modelled.) The pure fit's properties: tests/science/test_core_properties.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2advisor.errors import InputError
from l2advisor.runs.rundir import curve_from_state, load_probe_curves, results_path
from l2advisor.runs.store import (
    SCHEMA_VERSION,
    make_header,
    open_results,
    read_json,
    read_results,
    settings_diff,
    write_json,
)

SETTINGS = {"lr": 0.1, "probe": {"horizon": 2.0, "seeds": [0, 1]}}
PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def header() -> dict[str, Any]:
    return make_header("probe", SETTINGS, "cpu")


def eval_record(run: str, step: int, value: float) -> dict[str, Any]:
    return {"type": "eval", "run": run, "step": step, "tau": 0.01 * step, "lam": 0.1, "lr": 0.1,
            "train_loss": value, "train_acc": 0.5, "val_loss": 1.0, "val_metric": value, "weight_norm_sq": 3.0,
            "seconds": 0.001 * step}


def start_record(run: str, lam: float = 0.1, seed: int = 0) -> dict[str, Any]:
    return {"type": "start", "run": run, "lam": lam, "lr": 0.1, "seed": seed, "max_steps": 10, "eval_every": 1}


def write(path: Path, records: list[dict[str, Any]]) -> None:
    with open_results(path, header(), force=True) as writer:
        for record in records:
            writer.write(record)


# ---- round trip and resume ----

def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, [start_record("a"), eval_record("a", 0, math.nan), eval_record("a", 1, 0.7),
                 {"type": "end", "run": "a", "status": "finished", "steps": 1, "seconds": 0.1, "message": ""},
                 {"type": "note", "text": "anything"}, start_record("b", seed=1), eval_record("b", 0, math.inf)])
    results = read_results(path)
    assert results.header["schema_version"] == SCHEMA_VERSION and results.header["settings"] == SETTINGS
    assert results.header["versions"]["torch"] and results.warnings == []
    a, b = results.runs["a"], results.runs["b"]
    assert a.done and a.status == "finished" and [r["val_metric"] for r in a.evals] == [None, 0.7]
    assert not b.done and b.status == "running" and b.evals[0]["train_loss"] is None  # inf is stored as null
    curve = curve_from_state(a)
    assert math.isnan(curve.val_metric[0]) and curve.val_metric[1] == 0.7 and curve.seed == 0


def test_resume_appends_and_a_restart_replaces_the_attempt(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, [start_record("a"), eval_record("a", 0, 0.1), eval_record("a", 1, 0.2)])
    with open_results(path, header()) as writer:  # same settings: resume, no second header
        writer.write(start_record("a"))
        writer.write(eval_record("a", 0, 0.1))
    lines = path.read_text().splitlines()
    assert sum('"header"' in line for line in lines) == 1 and len(lines) == 6
    assert [r["step"] for r in read_results(path).runs["a"].evals] == [0]


def test_other_settings_are_refused_with_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, [start_record("a")])
    other = make_header("probe", {"lr": 0.1, "probe": {"horizon": 4.0, "seeds": [0, 1]}}, "cpu")
    with pytest.raises(InputError, match=r"probe\.horizon: 2\.0 -> 4\.0.*--force"):
        open_results(path, other)
    open_results(path, other, force=True).close()  # starts over
    assert read_results(path).header["settings"]["probe"]["horizon"] == 4.0 and not read_results(path).runs


def test_compatible_settings_replace_the_header_and_keep_the_runs(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, [start_record("a"), eval_record("a", 0, 0.3)])
    other = make_header("probe", {"lr": 0.1, "probe": {"horizon": 4.0, "seeds": [0, 1]}}, "cpu")
    seen: list[tuple[dict, dict]] = []

    def horizon_only(old: dict, new: dict) -> bool:
        seen.append((old, new))
        return settings_diff(old, new) == ["probe.horizon: 2.0 -> 4.0"]

    with open_results(path, other, compatible=horizon_only) as writer:
        assert writer.previous_settings == SETTINGS
        writer.write(eval_record("a", 1, 0.4))
    results = read_results(path)
    assert seen == [(SETTINGS, other["settings"])] and results.header["settings"]["probe"]["horizon"] == 4.0
    assert [r["val_metric"] for r in results.runs["a"].evals] == [0.3, 0.4]  # the run kept, appended to
    assert sum('"header"' in line for line in path.read_text().splitlines()) == 1
    with open_results(path, other, compatible=horizon_only) as writer:  # now the same: a plain resume
        assert writer.previous_settings is None
    third = make_header("probe", {"lr": 0.2, "probe": {"horizon": 4.0, "seeds": [0, 1]}}, "cpu")
    with pytest.raises(InputError, match=r"lr: 0\.1 -> 0\.2"):  # not what `compatible` allows
        open_results(path, third, compatible=horizon_only)


def test_settings_diff_names_nested_keys() -> None:
    assert settings_diff({"a": 1, "p": {"h": 2, "s": [0]}}, {"a": 1, "p": {"h": 3, "s": [0]}, "n": None}) == \
        ["p.h: 2 -> 3"]
    assert settings_diff({"a": 1}, {"b": 2}) == ["a: 1 -> None", "b: None -> 2"]


def test_partial_last_line_is_skipped_then_dropped_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, [start_record("a"), eval_record("a", 0, 0.1)])
    with open(path, "a") as handle:
        handle.write('{"type": "eval", "run": "a", "st')  # killed in the middle of a write
    results = read_results(path)
    assert len(results.runs["a"].evals) == 1 and "partial last line 4" in results.warnings[0]
    with open_results(path, header()) as writer:
        writer.write(eval_record("a", 1, 0.2))
    results = read_results(path)  # before the fix the new record was glued to the partial one
    assert [r["step"] for r in results.runs["a"].evals] == [0, 1] and results.warnings == []


@pytest.mark.parametrize("content,message", [
    (None, "No results file at"),
    (b"", "has no header line"),
    (b'{"type": "eval", "run": "a", "step": 0}\n', "has no header line"),
    (b'[1, 2]\n', "line 1 is not a valid results record"),
    (b"HEADER\n", "line 1 is not a valid results record"),
])
def test_unreadable_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "probes.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_results(path)


@pytest.mark.parametrize("bad_line,message", [
    (b'{"type": "eval", "run": "a", "step": 1, "val_metric": "high"}', "line 4 is not a valid results record"),
    (b'{"type": "eval", "run": ["a"], "step": 1}', "line 4 is not a valid results record"),
    (b'{"type": "eval", "run": "a", "step": 1, "tau": 0.\xff}', "line 4 is not a valid results record"),
    (b'{"type": "checkpoint", "run": "a"}', "line 4 has an unknown record type 'checkpoint'"),
    (b"[" * 5000, "line 4 is not a valid results record"),
], ids=["text for a number", "a list for a run id", "bad UTF-8", "unknown type", "nested too deep"])
def test_corrupt_lines_are_refused_with_their_number(tmp_path: Path, bad_line: bytes, message: str) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, [start_record("a"), eval_record("a", 0, 0.1)])
    path.write_bytes(path.read_bytes() + bad_line + b"\n" + json.dumps(eval_record("a", 2, 0.3)).encode() + b"\n")
    with pytest.raises(InputError, match=message):
        read_results(path)


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    path.write_text(json.dumps({**header(), "schema_version": 2}) + "\n")
    with pytest.raises(InputError, match="schema version 2; this l2advisor .* reads version 1"):
        read_results(path)


def test_summary_files(tmp_path: Path) -> None:
    path = tmp_path / "fit.json"
    write_json(path, {"c": 0.5, "alpha": math.nan})
    assert read_json(path)["alpha"] is None and not (tmp_path / "fit.json.tmp").exists()
    for text, message in (("[1]", "not an l2advisor summary"), ("{", "not valid JSON"),
                          ('{"schema_version": 7}', "schema version 7")):
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            read_json(path)
    with pytest.raises(InputError, match="No file at"):
        read_json(tmp_path / "missing.json")


def test_probe_curves_need_a_finished_probe(tmp_path: Path) -> None:
    write(results_path(tmp_path), [start_record("a"), eval_record("a", 0, 0.1)])  # running, not done
    with pytest.raises(InputError, match="has no finished probe yet"):
        load_probe_curves(tmp_path)


# ---- property tests: truncation and corruption ----

values = st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.just(math.inf))


@st.composite
def result_files(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A plausible record sequence: runs with evals, ends, restarts and notes."""
    records: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 4))):
        run = f"lr=0.1/lam={0.4 / 2 ** index:g}/seed={index % 2}"
        for attempt in range(draw(st.integers(1, 2))):  # a second attempt: a restart after a crash
            records.append(start_record(run, 0.4 / 2 ** index, index % 2))
            for step in range(draw(st.integers(0, 5))):
                records.append(eval_record(run, step, draw(values)))
            if attempt == 0 and draw(st.booleans()):
                records.append({"type": "note", "text": draw(st.text(max_size=10))})
        if draw(st.booleans()):
            records.append({"type": "end", "run": run, "status": draw(st.sampled_from(["finished", "diverged"])),
                            "steps": 5, "seconds": 0.5, "message": draw(st.text(max_size=10))})
    return records


def key(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def written(path: Path) -> tuple[bytes, set[str], set[str]]:
    """The file's bytes and the evaluation and end records it holds, as canonical strings."""
    data = path.read_bytes()
    lines = [json.loads(line) for line in data.decode().splitlines()]
    return (data, {key(r) for r in lines if r["type"] == "eval"}, {key(r) for r in lines if r["type"] == "end"})


def check_no_invention(path: Path, evals: set[str], ends: set[str]) -> Any:
    """Read: an InputError is fine; anything else returned must have been written."""
    try:
        results = read_results(path)
    except InputError:
        return None
    for state in results.runs.values():
        assert all(key(r) in evals for r in state.evals)
        assert state.end is None or key(state.end) in ends
        assert state.meta["type"] == "start" and state.meta["run"] == state.run_id
        curve_from_state(state)  # the records have the shape the rest of l2advisor relies on
    return results


def expected_evals(data: bytes) -> dict[str, list[str]]:
    """What a reader must keep of a file cut short: every complete record, restarts applied."""
    runs: dict[str, list[str]] = {}
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # only the cut last line can be partial
        if record["type"] == "start":
            runs[record["run"]] = []
        elif record["type"] == "eval" and record["run"] in runs:
            runs[record["run"]].append(key(record))
    return runs


@pytest.mark.property
@PROPERTY
@given(records=result_files(), cut=st.floats(0, 1), zeros=st.integers(0, 4))
def test_truncation_never_crashes_invents_or_loses(tmp_path: Path, records: list, cut: float, zeros: int) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, records)
    data, evals, ends = written(path)
    end = int(cut * len(data))
    cut_data = data[:end] + b"\0" * zeros  # a crash may also leave zero-filled blocks behind
    path.write_bytes(cut_data)
    results = check_no_invention(path, evals, ends)
    header_end = data.index(b"\n") + 1
    if end >= header_end:  # past the header: the partial last line is skipped, never refused
        assert results is not None
        kept = {rid: [key(r) for r in state.evals] for rid, state in results.runs.items()}
        assert kept == expected_evals(cut_data)  # nothing complete was lost
        with open_results(path, header()) as writer:  # and the run can go on appending
            writer.write(eval_record("new", 0, 0.5))
        assert read_results(path).warnings == []


corruptions = st.sampled_from(["control byte", "split line", "garbage", "garbage line"])


@pytest.mark.property
@PROPERTY
@given(records=result_files(), kind=corruptions, where=st.floats(0, 1), size=st.integers(1, 20),
       junk=st.binary(max_size=20))
def test_corruption_never_crashes_or_invents(tmp_path: Path, records: list, kind: str, where: float, size: int,
                                             junk: bytes) -> None:
    path = tmp_path / "probes.jsonl"
    write(path, records)
    data, evals, ends = written(path)
    at = min(int(where * len(data)), len(data) - 1)
    control = bytes([1 + at % 8])  # never valid anywhere in JSON text
    if kind == "control byte":
        data = data[:at] + control + data[at + 1:]
    elif kind == "split line":
        data = data[:at] + b"\n" + data[at:]
    elif kind == "garbage":  # junk with a control byte in each line it touches
        data = data[:at] + control + junk.replace(b"\n", b"\n" + control) + data[at:]
    else:
        data = data[:at] + control + junk[:size].replace(b"\n", b"") + b"\n" + data[at:]
    path.write_bytes(data)
    check_no_invention(path, evals, ends)


def test_header_versions_read_optuna_without_importing_it() -> None:
    """Start-up of every probe and training run: the header's optuna version comes from the
    package metadata (importing optuna took seconds); the same string optuna reports."""
    import subprocess
    import sys

    code = ("import sys; from l2advisor.runs.store import versions; v = versions(); "
            "assert 'optuna' not in sys.modules; import optuna; assert v['optuna'] == optuna.__version__; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("left,said", [("train.jsonl", "holds plain `train` runs (train.jsonl"),
                                       ("optuna.db", "holds an Optuna study (`tune` lists it again when rerun)"),
                                       (None, None)])
def test_a_directory_without_probes_says_what_it_holds(tmp_path: Path, left: str | None, said: str | None) -> None:
    """A reviewer's `report` on a directory of plain `train` runs was told only to run `probe` first."""
    if left is not None:
        (tmp_path / left).write_text("")
    with pytest.raises(InputError) as refused:
        read_results(tmp_path / "probes.jsonl")
    text = str(refused.value)
    assert text.startswith(f"No results file at {tmp_path / 'probes.jsonl'}; run `l2advisor probe` first")
    assert (said in text and "`report` draws probes" in text) if said else text.endswith("first.")
