"""The goss files rendered by the real (pinned) goss with the vars the harness writes
(harness/goss_vars.py), and goss's errors on a broken file named by file and line."""
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

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


# The companions moved to the seeds' UI ports since (seed 003: 8334, 8081, 50002); electrumx gave
# up its own ssl listener on 50002 for the electrs UI. The literal files, read with those ports.
SEED_PORTS = {"3001": "8334", "3002": "8081", "3003": "50002"}


def _seed_ports(text: str) -> str:
    kept, skip_deeper = [], None
    for line in text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip())
        if skip_deeper is not None and line.strip() and indent > skip_deeper:
            continue                                  # a child of electrumx's old ssl port
        skip_deeper = indent if "tcp:50002:" in line else None
        if skip_deeper is None:
            kept.append(line)
    return re.sub(r"\b(3001|3002|3003)\b", lambda m: SEED_PORTS[m.group(1)], "".join(kept))


def _units_as_commands(doc: dict) -> dict:
    """The literal files' `service: {unit: running}` as the templates now check it: a command
    through the apps' systemctl (goss's service: asks the system scope only)."""
    out = {k: v for k, v in doc.items() if k != "service"}
    out["command"] = dict(out.get("command") or {})
    for unit in doc.get("service") or {}:
        out["command"][f"{unit} is active"] = {"exec": f"systemctl is-active {unit}", "exit-status": 0,
                                               "stdout": None, "stderr": None, "timeout": 30000}
    return out


def _ports_as_addrs(doc: dict) -> dict:
    """The literal files' `port: {tcp:N: {listening: true}}` as the templates now check it: a TCP
    connect on loopback (goss's port: tells tcp from tcp6; rootless podman listens on tcp6 `*`)."""
    out = {k: v for k, v in doc.items() if k != "port"}
    out["addr"] = {f"tcp://127.0.0.1:{key.removeprefix('tcp:')}": {"reachable": True, "timeout": 2000}
                   for key, want in (doc.get("port") or {}).items() if want == {"listening": True}}
    return out


@pytest.mark.parametrize("app_id", [a.id for a in M.apps.values() if a.goss])
def test_reference_vars_render_the_literal_files(app_id, tmp_path):
    """Same resources, same properties as the hand-written files the templates replaced (whose
    `service:` checks are commands now, their `port:` checks connects), with the rootful
    reference's names."""
    binary = pinned_goss().path
    name = M.app(app_id).goss
    old = subprocess.run(["git", "-C", str(ROOT), "show", f"{LITERAL}:goss/{name}"], capture_output=True,
                         text=True, timeout=30)
    if old.returncode != 0:
        pytest.skip(f"commit {LITERAL} is not in this clone: {old.stderr.strip()}")
    (tmp_path / "literal.yaml").write_text(_seed_ports(old.stdout))
    expected = goss(binary, "-g", str(tmp_path / "literal.yaml"), "render")
    assert expected.returncode == 0 and "service:" in expected.stdout
    got = yaml.safe_load(render(binary, GOSS_DIR / name, ROOTFUL, app_id, tmp_path))
    assert "service" not in got and "port" not in got
    assert got == _ports_as_addrs(_units_as_commands(yaml.safe_load(expected.stdout)))


def test_other_names_render_other_resources(tmp_path):
    binary = pinned_goss().path
    names = Names(container_template="{app}", quadlet_dir="/home/archipelago/.config/containers/systemd")
    ref = render(binary, GOSS_DIR / "lnd.yaml", ROOTFUL, "lnd", tmp_path)
    out = render(binary, GOSS_DIR / "lnd.yaml", names, "lnd", tmp_path)
    assert "archy-lnd.service is active:" in ref and "archy-lnd.service" not in out
    assert "    lnd.service is active:" in out and "    archy-lnd-ui.service is active:" in out
    assert "/home/archipelago/.config/containers/systemd/lnd.container:" in out
    assert "--format json lnd |" in out and "--format json archy-lnd |" in ref


def test_the_rootless_reference_renders_valid_goss_with_its_root_side_tools(tmp_path):
    """goss (root) reaches the login's units and podman through runuser: the rendered file is valid
    YAML whose commands carry the prefix, with $(id -u LOGIN) left to goss's shell."""
    from node import platform
    binary = pinned_goss().path
    p = platform.load("reference")
    c = p.commands(p.login)
    app = M.app("lnd")
    v = tmp_path / "vars.json"
    v.write_text(json.dumps(app_vars(p.names, app, [M.app(x) for x in app.companions],
                                     podman=c.root_podman, systemctl=c.root_systemctl)))
    r = goss(binary, "--vars", str(v), "-g", str(GOSS_DIR / "lnd.yaml"), "render")
    assert r.returncode == 0, r.stderr
    commands = yaml.safe_load(r.stdout)["command"]
    runuser = "runuser -u archipelago -- env XDG_RUNTIME_DIR=/run/user/$(id -u archipelago) "
    assert commands["lnd.service is active"]["exec"] == f"{runuser}systemctl --user is-active lnd.service"
    assert commands["archy-lnd-ui.service is active"]["exec"] == \
        f"{runuser}systemctl --user is-active archy-lnd-ui.service"
    fm3 = commands["lnd runs outside the reconciler's cgroup (FM3)"]["exec"]
    assert fm3.startswith(f"cat /proc/$({runuser}podman inspect --type container --format json lnd |")
    for other in (a for a in M.apps.values() if a.goss):      # every file renders to valid YAML
        v.write_text(json.dumps(app_vars(p.names, other, [M.app(x) for x in other.companions],
                                         podman=c.root_podman, systemctl=c.root_systemctl)))
        r = goss(binary, "--vars", str(v), "-g", str(GOSS_DIR / other.goss), "render")
        assert r.returncode == 0 and yaml.safe_load(r.stdout)["command"], (other.id, r.stderr)


@pytest.mark.parametrize("old, new, needle, expected", [
    ("{{ .Vars.app.unit }}", "{{ .Vars.app.uint }}", ".Vars.app.uint",
     ':{line}:10: template error: at <.Vars.app.uint>: map has no entry for key "uint"'),
    ("{{- end }}\n{{- range .Vars.companions }}{{ range", "{{- end }\n{{- range .Vars.companions }}{{ range", "{{- end }", ':{line}: template error: unexpected "}" in end'),
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
    edit(spec, "    exit-status: 0\n", "    exit-status: [0\n")
    v = tmp_path / "vars.json"
    v.write_text(json.dumps(app_vars(ROOTFUL, M.app("lnd"), [M.app("archy-lnd-ui")])))
    r = goss(binary, "--vars", str(v), "-g", str(spec), "validate", "-f", "json")
    assert r.returncode == RC_FILE_ERROR
    assert file_error("lnd.yaml", r.stderr + r.stdout).startswith("goss/lnd.yaml: YAML error at line ")
