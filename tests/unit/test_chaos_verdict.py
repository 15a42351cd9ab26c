"""chaos.verdict against journals recorded with the stock CLI (tests/chaos/traps/record.py):
each trap makes `chaos run` report success, or skip what matters, while nothing was tested."""
import json
from pathlib import Path

import pytest

from chaos import verdict
from chaos.run import ExperimentError, load_experiment

REPO = Path(__file__).resolve().parents[2]
TRAPS = REPO / "tests" / "chaos" / "traps"
EXPERIMENTS = sorted((REPO / "chaos" / "experiments").glob("*.json"))


def journal(name):
    return json.loads((TRAPS / "journals" / f"{name}.json").read_text())


def exit_code(name):
    return json.loads((TRAPS / "journals" / "exit_codes.json").read_text())[name]


# trap -> (what check_journal must say, what lint_experiment must say)
EXPECT = {
    "trap1_steady_not_met_before": ("did not hold BEFORE", None),
    "trap2_action_raises": ("(trap 2)", None),
    "trap3_after_stops_at_first_failure": ("deviated", "first hypothesis probe must be nothing_lost"),
    "trap4_rollbacks_skipped": ("0 of 1 rollbacks ran", "rollbacks need runtime.rollbacks.strategy=always"),
    "trap5_timeout_not_enforced": ("past its declared timeout", "timeout key is never enforced"),
    "trap6_control_fails_quietly": (None, "controls are not allowed"),
    "trap7_inline_secret": (None, "is inline"),
    "trap8_runtime_resets_strategy": ("0 of 1 rollbacks ran", "resets it to default"),
}


@pytest.mark.parametrize("trap", sorted(EXPECT))
def test_every_trap_is_caught(trap):
    j = journal(trap)
    in_journal, in_lint = EXPECT[trap]
    if in_journal:
        assert any(in_journal in p for p in verdict.check_journal(j)), verdict.check_journal(j)
    if in_lint:
        assert any(in_lint in p for p in verdict.lint_experiment(j["experiment"]))


@pytest.mark.parametrize("trap", ["trap1_steady_not_met_before", "trap2_action_raises",
                                  "trap5_timeout_not_enforced", "trap6_control_fails_quietly",
                                  "trap7_inline_secret"])
def test_stock_cli_calls_these_a_success(trap):
    """Why the checker exists: chaos itself exits 0 on these."""
    assert exit_code(trap) == 0 and journal(trap)["status"] == "completed"


def test_a_real_pass_has_no_journal_problem():
    assert verdict.check_journal(journal("good_local")) == []


def test_inline_secret_lands_in_the_journal_and_is_redacted():
    secret = "trap7-Secret-Value-5f3a"
    text = (TRAPS / "journals" / "trap7_inline_secret.json").read_text()
    assert verdict.leaked(text, [secret]) == ["a 23-character secret"]
    clean = verdict.redact(text, [secret])
    assert secret not in clean and verdict.REDACTED in clean and verdict.leaked(clean, [secret]) == []


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_suite_experiments_fall_into_no_trap(path):
    exp = json.loads(path.read_text())
    assert verdict.lint_experiment(exp) == []
    meta = verdict.metadata(exp)
    assert meta["scenario"] == path.stem and meta["broken_variant"] and "destructive" in meta["needs"]
    assert all(v.get("type") == "env" for v in exp["configuration"].values())


def test_sixteen_scenarios():
    assert len(EXPERIMENTS) == 16


def test_bad_experiment_file_gets_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "title": "x",\n  "method": [\n}\n')
    with pytest.raises(ExperimentError, match=r"bad\.json:4: invalid JSON"):
        load_experiment(bad)
    with pytest.raises(ExperimentError, match="cannot read"):
        load_experiment(tmp_path / "missing.json")


def test_interrupt_reasons_come_from_the_log():
    log = ("[2026-11-22 05:45:01 DEBUG] [activity:215] Running action: route-gone\n"
           "[2026-11-22 05:45:40 CRITICAL] [run:558] injection failed, nothing would be tested: "
           "https://127.0.0.1/apps/x/ still answers 200 60s after its snippet was deleted\n")
    assert verdict.interrupt_reasons(log) == [
        "injection failed, nothing would be tested: https://127.0.0.1/apps/x/ still answers 200 60s after its snippet was deleted"]
    assert verdict.interrupt_reasons("all fine\n") == []


def test_interrupt_reasons_skip_the_traceback_copy():
    log = ('    raise InterruptExecution(f"injection failed, nothing would be tested: {msg}")\n'
           "    chaoslib.exceptions.InterruptExecution: injection failed, nothing would be tested: x\n"
           "[2026-11-22 07:37:23 CRITICAL] [run:558] injection failed, nothing would be tested: x\n")
    assert verdict.interrupt_reasons(log) == ["injection failed, nothing would be tested: x"]


def test_a_run_may_take_its_activities_timeouts_and_never_less_than_the_floor():
    short = {"method": [{"provider": {"arguments": {"timeout": 300}}}]}
    long = {"method": [{"provider": {"arguments": {"timeout": 1200}}}, {"provider": {"arguments": {"timeout": 900}}}],
            "rollbacks": [{"provider": {"arguments": {}}}, {"provider": {"arguments": None}}, {"provider": None}]}
    assert verdict.budget(short) == 1500
    assert verdict.budget(long) == 2700
