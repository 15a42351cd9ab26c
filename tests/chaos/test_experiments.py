"""Each chaos experiment is one row: run with the stock `chaos run` in its own process, judged
on its journal by chaos.verdict (steady state before, method ran, completed, not deviated,
rollbacks succeeded, no secret in the journal). With ARCHY_CHAOS_VARIANTS=1 each experiment
must also FAIL against the broken reconciler variant lacking the repair it tests.
ARCHY_CHAOS_EXPERIMENTS=a,b runs only those (chaos/catalog.py names them). Every row, run or
skipped, lands in results/chaos/summary.jsonl (chaos/summary.py), which the results merge reads.
ARCHY_RECONCILER_VARIANT=<name> runs each experiment's own row against that broken reconciler, as
the grid does its cells, so a beta-matrix against it shows where its chaos cells catch it."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chaos import catalog, summary, verdict
from chaos import run as chaos_run
from harness import artifacts
from harness.grid import variant as run_variant
from harness.plugin import reported_node

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((REPO / "chaos" / "experiments").glob("*.json"))
# kept in `make test`: one with a clock rollback (strategy always), one repair of a derived file
FAST = {"clock_jump", "delete_nginx_snippet"}
FULL = os.environ.get("ARCHY_CHAOS_SUITE") == "all"
VARIANTS = os.environ.get("ARCHY_CHAOS_VARIANTS") == "1"
NAMED = os.environ.get("ARCHY_CHAOS_EXPERIMENTS", "").strip()
try:   # make checks CHAOS_EXPERIMENTS before anything runs; this is for a direct pytest run
    CHOSEN = catalog.select(catalog.load(), NAMED) if NAMED or FULL else FAST
except catalog.CatalogError as e:
    raise pytest.UsageError(f"ARCHY_CHAOS_EXPERIMENTS: {e}") from None
# only what runs is collected: no row of skips standing in for experiments
SELECTED = [p for p in EXPERIMENTS if p.stem in CHOSEN]
TIMEOUT = 1500   # a run's floor; a longer method's own timeouts raise it (verdict.budget)


def budget(path: Path) -> float:
    return verdict.budget(json.loads(path.read_text()), TIMEOUT)


def meta(path: Path) -> dict:
    return verdict.metadata(json.loads(path.read_text()))


def select(path: Path, chaos_node, request, kind: str, variant: str | None) -> None:
    caps = request.getfixturevalue("node").capabilities
    for need in meta(path).get("needs", []):
        if need != "destructive" and need not in caps:
            why = f"node lacks capability '{need}'"
            record(chaos_node, summary.row(path.stem, kind, variant, None, reason=why,
                                           node=reported_node(request.config), stack=chaos_node.stack))
            pytest.skip(why)


def attach(outcome: chaos_run.Outcome, label: str) -> None:
    try:
        import allure
    except ImportError:
        return
    allure.dynamic.feature("chaos")
    allure.dynamic.title(f"{label}: {outcome.experiment}")
    base = outcome.journal_path.parent / outcome.experiment
    for path, name, kind in ((outcome.journal_path, "journal (secrets redacted)", allure.attachment_type.JSON),
                             (Path(f"{base}.history.jsonl"), "operation history", allure.attachment_type.TEXT),
                             (outcome.log_path, "chaostoolkit log", allure.attachment_type.TEXT)):
        if path.exists():
            allure.attach.file(str(path), name=name, attachment_type=kind)


def record(chaos_node, row: dict) -> None:
    """Append this row to results/chaos/summary.jsonl (runtime and verdict per experiment)."""
    summary.append(chaos_node.results / summary.FILE, row)


def outcome_row(outcome: chaos_run.Outcome, chaos_node, request, kind: str, variant: str | None) -> dict:
    return summary.row(outcome.experiment, kind, variant, outcome.passed, problems=outcome.problems,
                       duration=outcome.duration, journal=outcome.journal,
                       node=reported_node(request.config), stack=chaos_node.stack)


@pytest.mark.destructive
@pytest.mark.vm
@pytest.mark.parametrize("experiment", SELECTED, ids=lambda p: p.stem)
def test_experiment(experiment: Path, chaos_node, request):
    under = run_variant.wanted()       # None: the reference reconciler
    select(experiment, chaos_node, request, summary.REFERENCE, under)
    chaos_node.reset()
    if under:
        chaos_node.set_variant(under)
    outcome = chaos_run.run(experiment, chaos_node.url, chaos_node.results / "reference",
                            timeout=budget(experiment), secrets=chaos_node.secrets(), env_extra={"ARCHY_CHAOS_STACK": ",".join(chaos_node.stack)})
    attach(outcome, "reference")
    record(chaos_node, outcome_row(outcome, chaos_node, request, summary.REFERENCE, under))
    if not outcome.passed:   # the node's journal, units and podman state, redacted and attached
        artifacts.collect(chaos_node.node, chaos_node.results / "reference" / f"{experiment.stem}.node")
    assert outcome.passed, f"{experiment.stem} did not pass:\n  - " + "\n  - ".join(outcome.problems)


# variant proofs only with ARCHY_CHAOS_VARIANTS=1 (make chaos CHAOS_VARIANTS=1): not collected otherwise
if VARIANTS:
    @pytest.mark.destructive
    @pytest.mark.vm
    @pytest.mark.parametrize("experiment", SELECTED,
                             ids=lambda p: f"{p.stem}-{meta(p)['broken_variant']}")
    def test_experiment_catches_variant(experiment: Path, chaos_node, request):
        variant = meta(experiment)["broken_variant"]
        select(experiment, chaos_node, request, summary.VARIANT, variant)
        chaos_node.reset()
        chaos_node.set_variant(variant)
        outcome = chaos_run.run(experiment, chaos_node.url, chaos_node.results / "variants",
                                timeout=budget(experiment), secrets=chaos_node.secrets(), env_extra={"ARCHY_CHAOS_STACK": ",".join(chaos_node.stack)})
        attach(outcome, f"variant {variant}")
        record(chaos_node, outcome_row(outcome, chaos_node, request, summary.VARIANT, variant))
        assert not outcome.passed, f"{experiment.stem} PASSED against {variant}: this experiment cannot fail"
        # It must fail for the repair, not because nothing ran (trap 1) or the injection broke.
        bad = verdict.wrong_reason(outcome.problems)
        if bad:   # what the variant did to the node before the fault: its journal, units, podman state
            artifacts.collect(chaos_node.node, chaos_node.results / "variants" / f"{experiment.stem}.node")
        assert not bad, f"{experiment.stem} on {variant} failed for the wrong reason: {bad}"
