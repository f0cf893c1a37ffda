"""`recommend` draws no figure, so it loads no matplotlib (about 0.25 s of its start): the panel's
"no predicted metric" sentence came from reporting/page.py, whose figures import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import synthetic as S
from test_cli_advice import write_run

# the command as the console script runs it, then whether matplotlib was imported
RUN = """import sys
from l2advisor.cli.app import app
try:
    app(args=sys.argv[1:], prog_name="l2advisor")
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print("MATPLOTLIB:" + str("matplotlib" in sys.modules))
"""


def _loads_matplotlib(*args: str) -> bool:
    done = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("MATPLOTLIB:"), done.stdout
    return last == "MATPLOTLIB:True"


def test_recommend_loads_no_matplotlib(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", S.family())
    assert not _loads_matplotlib("recommend", str(run_dir), "--budget", "20000")
    assert _loads_matplotlib("report", str(run_dir))  # the control: the figures do load it
