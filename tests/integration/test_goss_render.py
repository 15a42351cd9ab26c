"""The goss files rendered by the real (pinned) goss with the vars the harness writes
(harness/goss_vars.py), and goss's errors on a broken file named by file and line."""
import json
import subprocess
from pathlib import Path

import pytest

from harness.goss import GOSS_DIR, RC_FILE_ERROR, file_error
from harness.goss_vars import app_vars
from helpers import edit, line_of, pinned_goss
from matrix.model import load
from node.names import ROOTFUL, Names

M = load()
LITERAL = "7a64fd5"        # the last commit whose goss files named everything by hand
ROOT = Path(__file__).resolve().parents[2]


def goss(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)


def render(binary: Path, spec: Path, names: Names, app_id: str, tmp_path: Path) -> str:
    app = M.app(app_id)
    v = tmp_path / f"{app_id}.vars.json"
    v.write_text(json.dumps(app_vars(names, app, [M.app(c) for c in app.companions])))
    r = goss(binary, "--vars", str(v), "-g", str(spec), "render")
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("app_id", [a.id for a in M.apps.values() if a.goss])
def test_reference_vars_render_the_literal_files(app_id, tmp_path):
    """Same resources, same properties as the hand-written files the templates replaced."""
    binary = pinned_goss().path
    name = M.app(app_id).goss
    old = subprocess.run(["git", "-C", str(ROOT), "show", f"{LITERAL}:goss/{name}"], capture_output=True,
                         text=True, timeout=30)
    if old.returncode != 0:
        pytest.skip(f"commit {LITERAL} is not in this clone: {old.stderr.strip()}")
    (tmp_path / "literal.yaml").write_text(old.stdout)
    expected = goss(binary, "-g", str(tmp_path / "literal.yaml"), "render")
    assert expected.returncode == 0 and "service:" in expected.stdout
    assert render(binary, GOSS_DIR / name, ROOTFUL, app_id, tmp_path) == expected.stdout


def test_other_names_render_other_resources(tmp_path):
    binary = pinned_goss().path
    names = Names(container_template="{app}", quadlet_dir="/home/archipelago/.config/containers/systemd")
    ref = render(binary, GOSS_DIR / "lnd.yaml", ROOTFUL, "lnd", tmp_path)
    out = render(binary, GOSS_DIR / "lnd.yaml", names, "lnd", tmp_path)
    assert "archy-lnd.service:" in ref and "archy-lnd.service" not in out
    assert "    lnd.service:" in out and "    archy-lnd-ui.service:" in out
    assert "/home/archipelago/.config/containers/systemd/lnd.container:" in out
    assert "--format json lnd |" in out and "--format json archy-lnd |" in ref


@pytest.mark.parametrize("old, new, needle, expected", [
    ("{{ .Vars.app.unit }}", "{{ .Vars.app.uint }}", ".Vars.app.uint",
     ':{line}:10: template error: at <.Vars.app.uint>: map has no entry for key "uint"'),
    ("{{- end }}\nport:", "{{- end }\nport:", "{{- end }", ':{line}: template error: unexpected "}" in end'),
])
def test_a_broken_template_names_its_file_and_line(old, new, needle, expected, tmp_path):
    binary = pinned_goss().path
    spec = tmp_path / "lnd.yaml"
    spec.write_text((GOSS_DIR / "lnd.yaml").read_text())
    edit(spec, old, new)
    v = tmp_path / "vars.json"
    v.write_text(json.dumps(app_vars(ROOTFUL, M.app("lnd"), [M.app("archy-lnd-ui")])))
    r = goss(binary, "--vars", str(v), "-g", str(spec), "validate", "-f", "json")
    assert r.returncode == RC_FILE_ERROR
    got = file_error("lnd.yaml", r.stderr + r.stdout)
    assert got is not None
    assert got == "goss/lnd.yaml" + expected.replace("{line}", str(line_of(spec, needle)))


def test_malformed_yaml_is_named(tmp_path):
    binary = pinned_goss().path
    spec = tmp_path / "lnd.yaml"
    spec.write_text((GOSS_DIR / "lnd.yaml").read_text())
    edit(spec, "    running: true\n", "    running: [true\n")
    v = tmp_path / "vars.json"
    v.write_text(json.dumps(app_vars(ROOTFUL, M.app("lnd"), [M.app("archy-lnd-ui")])))
    r = goss(binary, "--vars", str(v), "-g", str(spec), "validate", "-f", "json")
    assert r.returncode == RC_FILE_ERROR
    assert file_error("lnd.yaml", r.stderr + r.stdout).startswith("goss/lnd.yaml: YAML error at line ")
