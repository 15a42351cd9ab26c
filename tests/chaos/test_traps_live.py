"""The eight traps, re-run live with the stock `chaos run` (local probes, no node): the CLI
calls them a success or skips what matters; chaos.verdict must reject every one."""
import json
import sys
from pathlib import Path

import pytest

from chaos import verdict

HERE = Path(__file__).resolve().parent / "traps"
sys.path.insert(0, str(HERE))
import record  # noqa: E402  (tests/chaos/traps/record.py)

TRAPS = sorted(p for p in HERE.glob("trap*.json"))


@pytest.mark.parametrize("exp", TRAPS, ids=lambda p: p.stem)
def test_trap_rejected(exp, tmp_path):
    out = tmp_path / "journal.json"
    record.record(exp, out)
    j = json.loads(out.read_text())
    # the local fixtures use a non-chaos.* module on purpose: that generic finding does not count
    problems = [p for p in verdict.check_journal(j) + verdict.lint_experiment(j["experiment"])
                if "only chaos.* Python providers" not in p]
    assert problems, f"{exp.stem}: the checker accepted a run that tested nothing"


def test_control_run_accepted(tmp_path):
    out = tmp_path / "journal.json"
    assert record.record(HERE / "good_local.json", out) == 0
    assert verdict.check_journal(json.loads(out.read_text())) == []
