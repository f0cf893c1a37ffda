"""`l2advisor.probe(progress=True)` with stderr in a file (a batch job's log, nohup): rich draws its
bar there once, at the end, so a long probe said nothing until it was over. It now writes a plain
line every L2ADVISOR_LOG_EVERY seconds as the probes advance, as the commands do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_api import FAST, blobs, build_model

import l2advisor


def probe_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str], every: str) -> list[str]:
    l2advisor.probe(build_model, blobs(128, 1), blobs(64, 2), out=tmp_path / every, progress=True, **FAST)
    return [line for line in capsys.readouterr().err.splitlines() if "elapsed" in line]


def test_a_bar_in_a_log_writes_lines_while_the_probes_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("L2ADVISOR_LOG_EVERY", "1e-9")  # a line at every update that advanced the steps
    lines = probe_lines(tmp_path, capsys, "often")
    done = [int(m.group(1).replace(",", "")) for m in map(re.compile(r": ([\d,]+)/[\d,]+ \(").search, lines) if m]
    assert len(done) >= 3 and done == sorted(done) and done[0] < done[-1]  # during the run, advancing
    assert all("probing" in line for line in lines)
    monkeypatch.setenv("L2ADVISOR_LOG_EVERY", "0")  # 0: no lines, the bar alone
    assert probe_lines(tmp_path, capsys, "never") == []
