"""`pip install -e .` installs every package of the project (pyproject.toml's package discovery),
so `chaos validate` and `python -m ...` work from any directory without PYTHONPATH."""
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def packages() -> list[str]:
    """Every directory with an __init__.py under a top-level one that has one (setuptools' find)."""
    tops = [p.parent for p in ROOT.glob("*/__init__.py")]
    return sorted(".".join(i.parent.relative_to(ROOT).parts) for t in tops for i in t.rglob("__init__.py"))


def test_every_package_is_installed():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = packages()
    assert {"chaos", "harness.report", "matrix", "node", "reconciler.standin", "vm"} <= set(found)
    missing = [p for p in found if not any(fnmatchcase(p, pat) for pat in find["include"])]
    assert missing == [], f"pyproject.toml [tool.setuptools.packages.find] include lacks {missing}"
