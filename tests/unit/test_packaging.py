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


def test_the_lock_holds_every_pin_of_pyproject_with_hashes():
    """requirements.lock (make setup installs only from it) pins what pyproject.toml pins: a pin
    changed in one and not the other would install something never tested (`make lock` mends it)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lock = (ROOT / "requirements.lock").read_text()
    locked = dict(line.split(" ")[0].split("==") for line in lock.splitlines() if "==" in line and line[0].isalnum())
    norm = lambda n: n.lower().replace("_", "-").replace(".", "-")  # noqa: E731
    locked = {norm(k): v for k, v in locked.items()}
    for pin in pins:
        name, version = pin.split("==")
        assert locked.get(norm(name)) == version, f"{pin}: requirements.lock has {locked.get(norm(name))}"
    lines = lock.splitlines()
    unhashed = [ln.split(" ")[0] for i, ln in enumerate(lines) if "==" in ln and ln[0].isalnum()
                and "--hash=sha256:" not in (lines[i + 1] if i + 1 < len(lines) else "")]
    assert len(locked) > 40 and unhashed == [], f"locked without hashes: {unhashed}"


def test_the_plugin_is_the_installed_packages_pytest11_entry_point():
    import importlib.metadata
    eps = {e.name: e.value for e in importlib.metadata.entry_points(group="pytest11")}
    assert eps.get("archy") == "harness.plugin", "pip install -e . (make setup) after changing pyproject.toml"
    assert "pytest_plugins" not in (ROOT / "conftest.py").read_text().split('"""')[-1]   # no second registration
