"""Chaos Toolkit extension for Archipelago nodes, and the twelve experiments (chaos/experiments/).

Run one experiment with the stock CLI (the node is named through the environment only; `make setup`
installs the project's packages, so no PYTHONPATH is needed):

    ARCHY_NODE_URL='ssh://archipelago@host:22?disposable=1&known_hosts=~/.ssh/known_hosts' \\
    .venv/bin/chaos --no-version-check run --rollback-strategy always \\
        --journal-path journal.json chaos/experiments/kill9_tor.json

or judged on its journal (the CLI's exit status alone is not trusted, see chaos/verdict.py; a file
that fails Chaos Toolkit's own lint is refused before anything starts):

    .venv/bin/python -m chaos.run chaos/experiments/*.json --node vm://vm0

Modules: actions (injections, rollbacks), probes (steady state, waits), history (Jepsen-style
invoke/ok/fail/info log and checker), ops (recorded lifecycle RPCs), observe (node state ->
per-app states), target (node from configuration), verdict (journal and experiment checks),
run (one experiment per process), memo (facts shared by the activities of one run), catalog (the
experiments by name: the apps each judges, its broken variant), summary (results/chaos/summary.jsonl).
The node must already run the stack (ARCHY_CHAOS_STACK, default bitcoin-knots,lnd);
tests/chaos prepares it.
"""
