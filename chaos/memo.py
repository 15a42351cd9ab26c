"""Facts an injection records for the probes and rollbacks that follow it in the same run.

`chaos run` is one process per experiment, so a module-level dict lives exactly as long
as the run. Values are hashes, pids, offsets — never secret material.
"""
from __future__ import annotations

_facts: dict[str, object] = {}


def put(key: str, value) -> None:
    _facts[key] = value


def get(key: str, default=None):
    return _facts.get(key, default)


def pop(key: str, default=None):
    return _facts.pop(key, default)
