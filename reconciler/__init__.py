"""Archipelago reference reconciler: a level-triggered desired-state loop over Quadlet units.

Runs on the node as `python3 -m reconciler` (standard library only); see docs/architecture.md.
"""
