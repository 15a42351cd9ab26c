"""Failure artifacts: journal, podman logs/inspect, unit files, the VM serial log.

Everything written or attached goes through `redact` first: known secret values (read from the
node's secrets dir, or registered by tests) and secret-shaped text are masked (node.redact, the
one redaction). At the end of the run harness.outputs redacts every file again with the secrets
learned by every process.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import allure

from node import redact as node_redact
from node.api import Node, NodeError
from node.commands import ROOT, Commands
from node.names import Names
from node.redact import MIN_SECRET

_known: set[str] = set()


def register_secret(value: str) -> None:
    """Mask this exact value wherever it appears (ignored when too short to be a secret)."""
    if value and len(value.strip()) >= MIN_SECRET:
        _known.add(value.strip())


def known() -> set[str]:
    """The secret values this process has learned (to hand to the controller; never logged)."""
    return set(_known)


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """node.redact with this process's learned secrets (and `extra`)."""
    return node_redact.redact(text, (*_known, *extra))


def learn_node_secrets(node: Node, timeout: float = 30) -> None:
    """Register the node's secret values so they are masked; the values are never logged. Each
    file is read as text and as hex (a binary macaroon reaches outputs as hex)."""
    r = node.run(node.cmd.as_root(f"for f in {shlex.quote(node.names.secrets_dir)}/*; do [ -f \"$f\" ] && cat \"$f\" && echo "
                                  "&& od -An -v -tx1 \"$f\" | tr -d ' \\n' && echo; done"), timeout=timeout)
    for line in r.stdout.splitlines():
        register_secret(line)
        for part in re.split(r"[\s:=$\"',{}]", line):  # "user:salt$hash" and JSON files hold several
            if len(part) >= 12:
                register_secret(part)


def _capture(node: Node, cmd: str, timeout: float = 60) -> str:
    try:
        r = node.run(cmd, timeout=timeout)
        return r.stdout + (f"\n[stderr]\n{r.stderr}" if r.stderr.strip() else "") + f"\n[rc {r.rc}]\n"
    except NodeError as e:  # collection must never hide the failure it documents
        return f"[could not collect: {e}]\n"


def commands(app: str | None, cursor: str | None, names: Names, cmd: Commands = ROOT) -> dict[str, str]:
    """The artifact files and the node commands producing them (pure, for one app or all)."""
    after = f"--after-cursor={shlex.quote(cursor)}" if cursor else "-b -n 3000"
    # every container of the platform carries the label, whatever its name
    label = f"--filter label={names.app_label}={shlex.quote(app)}" if app else f"--filter label={names.app_label}"
    units = shlex.quote(f"{names.container(app)}*") if app else " ".join(map(shlex.quote, names.unit_globs()))
    podman, systemctl = cmd.podman, cmd.systemctl
    # the daemon is a system unit: with the apps in the user scope it is asked for separately
    daemon = "" if cmd.user_scope else f" {names.daemon_unit}"
    daemon_status = (cmd.as_root(f"systemctl status --no-pager -n 20 {names.daemon_unit}") + " 2>&1; "
                     if cmd.user_scope else "")
    return {
        "journal.txt": f"{cmd.journalctl} --no-pager -o short-iso {after}",
        "podman-ps.txt": f"{podman} ps -a --external",
        "podman-logs.txt": (f"for c in $({podman} ps -a {label} --format '{{{{.Names}}}}'); do "
                            f"echo \"== $c\"; {podman} logs --tail 300 \"$c\" 2>&1; done"),
        "podman-inspect.json": f"{podman} inspect $({podman} ps -aq {label}) 2>&1",
        "units.txt": (f"{daemon_status}{systemctl} status --no-pager -n 20 {units}{daemon} 2>&1; "
                      f"for u in $({systemctl} list-units --all --plain --no-legend {units} "
                      f"| awk '{{print $1}}'); do {systemctl} cat \"$u\" 2>&1; done; "
                      f"ls -l {names.quadlet_dir}/ 2>&1"),
    }


def collect(node: Node, dest: Path, app: str | None = None, cursor: str | None = None,
            attach: bool = True) -> list[Path]:
    """Write redacted artifacts under dest; attach them to the current Allure test."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        learn_node_secrets(node)
    except NodeError:
        pass
    files = {name: _capture(node, cmd) for name, cmd in commands(app, cursor, node.names, cmd=node.cmd).items()}
    serial = getattr(node, "serial_log", None) or getattr(getattr(node, "vm", None), "serial_log", None)
    if serial and Path(serial).is_file():
        files["serial.log"] = Path(serial).read_text(errors="replace")[-200_000:]
    written = []
    for name, text in files.items():
        p = dest / name
        p.write_text(redact(text))
        written.append(p)
    if attach:
        _attach(written)
    return written


def _attach(paths: list[Path]) -> None:
    for p in paths:
        kind = allure.attachment_type.JSON if p.suffix == ".json" else allure.attachment_type.TEXT
        allure.attach.file(str(p), name=p.name, attachment_type=kind)
