"""The command line ends its process without the interpreter's teardown (quick_exit.py), and
that loses nothing: the exit handlers run, buffered output arrives, the status is the one
`sys.exit` gives, and a non-daemon thread still running is waited for as Python would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l2advisor.cli.quick_exit import exit_status
from tests.conftest import TINY_MODEL, write_model

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
# the script: an exit handler that writes a file, stdout left in its buffer (no newline, a pipe
# is block-buffered), an optional non-daemon thread that writes after 0.3 s, then quick_exit
SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from l2advisor.cli.quick_exit import quick_exit
out = Path(sys.argv[1])
atexit.register(lambda: (out / "handler").write_text("ran"))
sys.stdout.write("buffered, no newline")
if sys.argv[2] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), (out / "thread").write_text("done"))).start()
if sys.argv[2] == "no handlers API":  # a Python without atexit._run_exitfuncs
    del atexit._run_exitfuncs
quick_exit(eval(sys.argv[3]))
"""


def _run(tmp_path: Path, thread: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), thread, code], capture_output=True,
                          text=True, env=ENV, timeout=60)


@pytest.mark.parametrize(("code", "status"), [("None", 0), ("0", 0), ("2", 2), ("'said once'", 1)])
def test_the_handlers_run_the_output_arrives_and_the_status_is_sys_exits(tmp_path: Path, code: str,
                                                                          status: int) -> None:
    done = _run(tmp_path, "no thread", code)
    assert done.returncode == status, done.stderr
    assert done.stdout == "buffered, no newline"
    assert (tmp_path / "handler").read_text() == "ran"
    assert ("said once" in done.stderr) == (code == "'said once'")


def test_a_running_thread_is_waited_for(tmp_path: Path) -> None:
    done = _run(tmp_path, "thread", "3")
    assert done.returncode == 3, done.stderr
    assert (tmp_path / "thread").read_text() == "done"  # os._exit would have ended it first
    assert (tmp_path / "handler").read_text() == "ran" and done.stdout == "buffered, no newline"


def test_without_the_handlers_api_it_ends_the_ordinary_way_and_loses_nothing(tmp_path: Path) -> None:
    done = _run(tmp_path, "no handlers API", "4")
    assert done.returncode == 4, done.stderr
    assert (tmp_path / "handler").read_text() == "ran"  # os._exit without the handlers would lose it
    assert done.stdout == "buffered, no newline"


def test_exit_status_follows_sys_exit(capsys: pytest.CaptureFixture[str]) -> None:
    assert [exit_status(None), exit_status(0), exit_status(2), exit_status(True)] == [0, 0, 2, 1]
    assert exit_status("the reason") == 1
    assert capsys.readouterr().err == "the reason\n"


def test_a_command_through_a_pipe_keeps_its_output_and_its_records(tmp_path: Path) -> None:
    model = write_model(tmp_path, TINY_MODEL)
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "l2advisor", "train", str(model), "--budget", "40",
                           "--weight-decay", "0.001", "--eval-every", "10", "--out", str(run), "--json"],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["steps"] == 40
    lines = [json.loads(line) for line in next(run.glob("*.jsonl")).read_text().splitlines()]
    steps = [line["step"] for line in lines if "step" in line]
    assert steps[-1] == 40 and len(steps) >= 5


def test_a_users_mistake_still_exits_2_in_one_sentence(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "l2advisor", "train", str(tmp_path / "missing.py"), "--weight-decay", "0.001", "--budget",
                           "10"], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 2
    assert "missing.py" in done.stderr and "Traceback" not in done.stderr
