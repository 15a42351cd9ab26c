"""The grid engine: plan the cells (install lines, the snapshot ladder, batches), bring the node
to the state each cell needs, run batched actions once and judge every cell through its event.

    plan.py     pure: cells -> steps (state, batch) from the events' declared traits
    ladder.py   the node's state: restore the nearest rung, install the rest, save rungs
    run.py      GridRun: prepare a cell (before its journal cursor), run it, judge batches
    context.py  the contract with the events: CellContext, Options
    variant.py  switch the node's reconciler to a broken variant after each golden restore

The engine knows no event by name: harness/events declares them and the caller hands the table in.
"""
