"""chaos.run refuses, before any process starts, an experiment Chaos Toolkit's own lint
(`chaos validate`: chaoslib's ensure_experiment_is_valid) rejects, or one of a shape it cannot
read: one line naming the file and what is wrong."""
import json
from pathlib import Path

import pytest

from chaos.run import ExperimentError, environment, run, validate

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((REPO / "chaos" / "experiments").glob("*.json"))
LINT = "fails Chaos Toolkit's lint (chaos validate): "


def act(**provider):
    return {"type": "action", "name": "a", "provider": {"type": "python", "module": "chaos.actions",
                                                        "func": "rpc", "arguments": {"f": "install", "app": "lnd"},
                                                        **provider}}


def exp(**change):
    return {"title": "t", "description": "d", "method": [act()], **change}


BAD = {
    "no title": (exp(title=""), LINT + "experiment requires a title"),
    "no description": ({"title": "t", "method": []}, LINT + "experiment requires a description"),
    "no method": ({"title": "t", "description": "d"}, LINT + "an experiment requires a method, which can be "
                                                            "empty for only checking steady state hypothesis"),
    "empty tag": (exp(tags=["archy", ""]), LINT + "experiment tags must be a non-empty string"),
    "unknown function": (exp(method=[act(func="no_such_func")]),
                         LINT + "The python module 'chaos.actions' does not expose a function called "
                                "'no_such_func' in action 'a'"),
    "unknown module": (exp(method=[act(module="chaos.nope")]),
                       LINT + "could not find Python module 'chaos.nope' in activity 'a'"),
    "activity without a type": (exp(method=[{"name": "a", "provider": act()["provider"]}]),
                                LINT + "an activity must have a type"),
    "missing env configuration": (exp(configuration={"x": {"type": "env", "key": "ARCHY_NO_SUCH_KEY"}}),
                                  LINT + "Configuration makes reference to an environment key that does "
                                         "not exist: ARCHY_NO_SUCH_KEY"),
    "method not a list": (exp(method=5), "'method' must be a JSON list"),
    "an activity that is a string": (exp(method=["kill"]), "method[0] must be a JSON object (an activity)"),
    "rollback that is a number": (exp(rollbacks=[act(), 3]), "rollbacks[1] must be a JSON object (an activity)"),
    "hypothesis a list": (exp(**{"steady-state-hypothesis": []}), "'steady-state-hypothesis' must be a JSON object"),
    "hypothesis probes an object": (exp(**{"steady-state-hypothesis": {"title": "h", "probes": {}}}),
                                    "'steady-state-hypothesis.probes' must be a JSON list"),
    "configuration a list": (exp(configuration=[]), "'configuration' must be a JSON object"),
    "provider a number": (exp(method=[{"type": "action", "name": "a", "provider": 5}]),
                          "Chaos Toolkit cannot read it (AttributeError: 'int' object has no attribute 'get'); "
                          "compare it with chaos/experiments/*.json"),
}


@pytest.mark.parametrize("experiment, message", BAD.values(), ids=BAD.keys())
def test_refused_in_one_line(experiment, message):
    with pytest.raises(ExperimentError) as e:
        validate(experiment, "x.json", {})
    assert str(e.value) == f"x.json: {message}"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_the_shipped_experiments_pass(path):
    validate(json.loads(path.read_text()), path, environment("vm://vm0", Path("history.jsonl")))


def test_configuration_is_read_from_the_runs_environment():
    e = exp(configuration={"node": {"type": "env", "key": "ARCHY_NODE_URL"}})
    validate(e, "x.json", environment("vm://vm0", Path("h")))       # the run sets ARCHY_NODE_URL
    with pytest.raises(ExperimentError, match="ARCHY_NODE_URL"):
        validate(e, "x.json", {})


def test_run_refuses_before_it_writes_anything(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(exp(method=[act(func="no_such_func")])))
    with pytest.raises(ExperimentError, match=r"bad\.json: fails Chaos Toolkit's lint"):
        run(f, "vm://vm0", tmp_path / "out")       # no process: the unit guard would refuse one
    assert not (tmp_path / "out").exists()
