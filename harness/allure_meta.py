"""What Allure shows beside the results: categories that tell a product failure from broken
infrastructure and from a cell not run here, and the run's environment. Written by the controller
into the Allure results dir at the end of every run (allure-pytest writes neither).

allure-pytest marks an AssertionError `failed` (a check of the node failed: the product) and any
other exception `broken` (the harness or its node could not do its part); a guest kernel crash is
broken infrastructure whatever its exception (harness/broken.py names it in the message).
"""
from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Iterable, Mapping

CATEGORIES = [
    {"name": "Broken infrastructure: the guest kernel crashed",
     "matchedStatuses": ["failed", "broken"], "messageRegex": "(?s).*(guest kernel crash|Kernel panic|Oops:).*"},
    {"name": "Product failures: a check of the node failed", "matchedStatuses": ["failed"]},
    {"name": "Harness or node errors: setup could not finish", "matchedStatuses": ["broken"]},
    {"name": "Not run here: the node lacks what the cell needs", "matchedStatuses": ["skipped"]},
]


def environment(commit: str | None, targets: Iterable[Mapping[str, str]], versions: Mapping[str, str]) -> str:
    """environment.properties: one `key = value` per line (Allure's Java properties format)."""
    rows = {"commit": commit or "unknown", "python": platform.python_version(), **versions}
    for t in targets:
        rows[f"node.{t['name']}"] = f"{t.get('kind', '?')}, platform {t.get('platform', '?')}, login {t.get('login', '?')}"
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in rows.items())


def _key(k: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in k)


def _value(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", " ")


def write(allure_dir: Path, env_text: str) -> None:
    allure_dir.mkdir(parents=True, exist_ok=True)
    (allure_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=1))
    (allure_dir / "environment.properties").write_text(env_text)
