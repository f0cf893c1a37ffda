"""The only reader and writer of result files: append-only JSON lines, versioned, no pickle.

A run directory holds `probes.jsonl` (or `train.jsonl`): one header line, then for each run
a `start` line, its `eval` lines (flushed as each evaluation arrives, so a crash loses at
most the last interval) and an `end` line. A run restarted after a crash writes a new
`start`; readers keep the evaluations after the last one. Summaries (`fit.json`,
`advice.json`) are whole JSON objects replaced atomically.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from l2advisor._version import __version__
from l2advisor.errors import InputError
from l2advisor.runs.settings_diff import blocking, settings_diff  # noqa: F401 - settings_diff: re-exported

SCHEMA_VERSION = 1
DONE = ("finished", "stopped", "diverged", "failed")  # a run with one of these needs no rerun
SCHEDULE_RUN = "wd-schedule="  # how the run id of `train --weight-decay-schedule` starts; the reports read it


@dataclass
class RunState:
    """Everything recorded about one run (one lam, lr, seed) in a results file."""

    run_id: str
    meta: dict[str, Any]
    evals: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return self.end["status"] if self.end else "running"

    @property
    def done(self) -> bool:
        return self.status in DONE


@dataclass
class Results:
    """A results file, read: its header, its runs in order of first start, and any warnings."""

    header: dict[str, Any]
    runs: dict[str, RunState]
    warnings: list[str]

    @property
    def momentum(self) -> float:
        """The probes' SGD momentum, from the header (0 when not recorded)."""
        return float(self.header.get("settings", {}).get("momentum") or 0.0)

    @property
    def optimizer(self) -> str:
        """The probes' optimizer, "sgd" or "adamw", from the header ("sgd" when not recorded)."""
        return str(self.header.get("settings", {}).get("optimizer") or "sgd")


def versions() -> dict[str, str]:
    """Library versions recorded in every header. Optuna's comes from its installed metadata:
    importing it took seconds of every probe's and training run's start-up, to read one string."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    found = {"l2advisor": __version__, "torch": torch.__version__, "python": platform.python_version()}
    try:
        found["optuna"] = version("optuna")
    except PackageNotFoundError:
        found["optuna"] = "not installed"
    return found


def make_header(command: str, settings: dict[str, Any], device: str) -> dict[str, Any]:
    """The first line of a results file: schema, versions, device and every setting."""
    return {"type": "header", "schema_version": SCHEMA_VERSION, "command": command,
            "l2advisor_version": __version__, "versions": versions(), "device": device,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "settings": settings}


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: they are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class ResultsWriter:
    """Appends records to a results file, one flushed JSON line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.previous_settings: dict[str, Any] | None = None  # set when open_results replaced the header
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(json_safe(record), allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_dir(path: Path) -> Path:
    """`path` as a directory, created with its parents; a path that cannot be one (a file, no
    permission) is the user's --out, said in one sentence (InputError), not a traceback."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError (a file there), NotADirectoryError, PermissionError, ...
        raise InputError(f"Cannot use {path} as a directory: {exc.strerror or exc}; choose another "
                         f"directory for the results.") from None
    return path


def open_results(path: Path, header: dict[str, Any], force: bool = False,
                 compatible: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None) -> ResultsWriter:
    """Start a new results file, or resume one written with the same settings.

    Different settings on an existing file are refused with what differs, unless `force`
    (which starts over) or `compatible(old_settings, new_settings)` says the runs the two
    share are the same runs (a probe ladder re-sized for another budget): then the header is
    replaced, the runs kept, and the writer's `previous_settings` holds the old settings.
    """
    if path.exists() and path.stat().st_size > 0 and not force:
        refuse_other_settings(path, header, compatible)
        existing = read_results(path).header.get("settings", {})
        diff = settings_diff(existing, header["settings"])
        _drop_partial_line(path)  # appending after half a line would corrupt the next record
        if diff:
            _replace_header(path, header)
        writer = ResultsWriter(path)
        writer.previous_settings = existing if diff else None
        return writer
    make_dir(path.parent)
    if force and path.exists():
        path.unlink()
    writer = ResultsWriter(path)
    writer.write(header)
    return writer


def settings_conflict(path: Path, header: dict[str, Any],
                      compatible: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None,
                      found: Results | None = None) -> str | None:
    """Why `open_results` (without force) would refuse `path` for `header`, in words (None: it
    would not): a results file written with other settings that `compatible` does not accept.
    `found`: the file as a caller already read it (else it is read here)."""
    if found is None and not (path.exists() and path.stat().st_size > 0):
        return None
    existing = (found if found is not None else read_results(path)).header.get("settings", {})
    diff = settings_diff(existing, header["settings"])
    if not diff or (compatible and compatible(existing, header["settings"])):
        return None
    return (f"{path} holds results made with other settings ("
            + blocking(diff, compatible, existing, header["settings"], path.parent) + ")")


class OtherSettings(InputError):
    """A results file written with other settings. `conflict` says how they differ; the message
    adds what to do in the command line's words (the API rewords them, api/words.py)."""

    CLI_REMEDY = "Use --force to start over, or --out for a new directory."

    def __init__(self, conflict: str) -> None:
        super().__init__(f"{conflict}. {self.CLI_REMEDY}")
        self.conflict = conflict


def refuse_other_settings(path: Path, header: dict[str, Any],
                          compatible: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None) -> None:
    """What `open_results` (without force) refuses, said before any work is done."""
    if (conflict := settings_conflict(path, header, compatible)) is not None:
        raise OtherSettings(conflict)


def _replace_header(path: Path, header: dict[str, Any]) -> None:
    """Swap the first line for `header`, atomically (a crash leaves the old file or the new)."""
    body = path.read_bytes().split(b"\n", 1)[1]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(json.dumps(json_safe(header), allow_nan=False).encode("utf-8") + b"\n" + body)
    os.replace(tmp, path)


def _drop_partial_line(path: Path) -> None:
    """Cut a partial last line (a crash in the middle of a write) off the end of the file."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def _what_is_there(directory: Path) -> str:
    """What another command left in a directory without probes (a reviewer's `report` on plain
    `train` runs, or on a `tune` study, was told only to probe)."""
    found = [what for name, what in (("train.jsonl", "plain `train` runs (train.jsonl: each run's summary was "
                                      "printed as it ended)"), ("optuna.db", "an Optuna study (`tune` lists it "
                                      "again when rerun)"))
             if (directory / name).exists()]
    return f" ({directory} holds {' and '.join(found)}; `report` draws probes)" if found else ""


def read_results(path: Path) -> Results:
    """Read a results file. A partial last line (a crash mid-write) is skipped with a warning;
    a corrupt line elsewhere, a missing header or another schema version is refused."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"No results file at {path}; run `l2advisor probe` first{_what_is_there(path.parent)}.")
    data = path.read_bytes()
    lines = data.split(b"\n")
    warnings: list[str] = []
    if lines and lines[-1] == b"":
        lines.pop()
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        try:
            record = _check_record(json.loads(line.decode("utf-8")))
        except (ValueError, RecursionError):  # also bad UTF-8 (UnicodeDecodeError is a ValueError)
            if number == len(lines) and not data.endswith(b"\n"):
                warnings.append(f"{path.name}: skipped a partial last line {number} (an interrupted write).")
                continue
            raise InputError(f"{path}: line {number} is not a valid results record; the file is corrupt (the command "
                             "that wrote it, run again with --force, starts it over without its runs; or give "
                             "another --out).") from None
        records.append((number, record))
    return Results(_header(path, records), _group_runs(path, records), warnings)


NUMERIC = ("step", "tau", "lam", "lr", "train_loss", "train_acc", "val_loss", "val_metric",
           "weight_norm_sq", "seconds", "steps")  # where present: a number or null (NaN)


def _check_record(record: Any) -> dict[str, Any]:
    """The shape every reader relies on; anything else is a corrupt line (ValueError)."""
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise ValueError("not a record")
    if record["type"] in ("start", "eval", "end") and not isinstance(record.get("run"), str):
        raise ValueError("a run record without a run id")
    if record["type"] == "header" and not isinstance(record.get("settings", {}), dict):
        raise ValueError("a header without settings")
    for key in NUMERIC if record["type"] == "eval" else ():
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{key} is not a number")
    return record


def _header(path: Path, records: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    if not records or records[0][1].get("type") != "header":
        raise InputError(f"{path} has no header line; it was not written by l2advisor.")
    header = records[0][1]
    if header.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path} was written with results schema version {header.get('schema_version')!r}; "
                         f"this l2advisor {__version__} reads version {SCHEMA_VERSION}. Re-run the probes.")
    return header


def _group_runs(path: Path, records: list[tuple[int, dict[str, Any]]]) -> dict[str, RunState]:
    runs: dict[str, RunState] = {}
    for number, record in records[1:]:
        kind, run_id = record.get("type"), record.get("run")
        if kind == "start":
            runs[run_id] = RunState(run_id, record)  # a restart discards the earlier attempt
        elif kind in ("eval", "end") and run_id in runs:
            if kind == "eval":
                runs[run_id].evals.append(record)
            else:
                runs[run_id].end = record
        elif kind not in ("eval", "end", "note"):
            raise InputError(f"{path}: line {number} has an unknown record type {kind!r}.")
    return runs


def write_json(path: Path, obj: dict[str, Any]) -> None:
    """Write a summary file atomically (a reader never sees half of it)."""
    payload = {"schema_version": SCHEMA_VERSION, "l2advisor_version": __version__, **obj}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(json_safe(payload), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    """Read a summary file written by `write_json`, checking its schema version."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"No file at {path}.") from None
    except (ValueError, RecursionError):
        raise InputError(f"{path} is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not an l2advisor summary (not a JSON object).")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path} has schema version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}.")
    return data
