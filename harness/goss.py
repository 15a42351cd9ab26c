"""Run a goss steady-state file with goss on the node and name every failing resource.

`parse`, `file_error` and `validate_command` are pure (unit-tested on recorded goss 0.4.9
output); `validate` is the I/O edge: it writes the app's goss file and its vars
(harness/goss_vars.py, from the node's Names) into this session's goss dir on the node
(harness/goss_session.py: the node's own goss or the pinned one copied there) and runs
`goss --vars VARS -g FILE validate -f json --max-concurrent 4` as root under a timeout.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from harness import goss_session
from harness.goss_vars import app_vars
from matrix.model import App, Matrix
from node.api import Node, NodeError

GOSS_DIR = Path(__file__).resolve().parent.parent / "goss"
RC_FAIL, RC_FILE_ERROR, RC_RETRY_TIMEOUT = 1, 78, 3
# goss runs 50 checks at once by default. A TCG guest runs its vCPUs on one host thread, so 30
# checks that each start podman or python starve one another past their own timeouts (the
# rootless grid's fresh_install failed on `podman inspect` timing out at 60 s under load);
# a few at a time keeps each check's timeout about the check.
MAX_CONCURRENT = 4


class GossError(NodeError):
    """goss could not judge: a bad goss file, a run that failed, unparsable output."""


@dataclass(frozen=True)
class Failure:
    resource_type: str
    resource_id: str
    property: str
    detail: str                  # goss's own compact explanation (expected / found)

    def __str__(self) -> str:
        return f"{self.resource_type} {self.resource_id} {self.property}: {self.detail}"


@dataclass(frozen=True)
class Report:
    tests: int
    failures: tuple[Failure, ...]
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.tests > 0 and not self.failures

    def summary(self) -> str:
        if self.tests == 0:
            return "goss ran no test"
        if not self.failures:
            return f"goss: {self.tests} tests passed"
        return (f"goss: {len(self.failures)} of {self.tests} failed: "
                + "; ".join(str(f) for f in self.failures))


def _json_document(output: str) -> dict:
    """The last JSON object in the output. With `-r`, goss prints one per attempt, each followed
    by a "Retrying in ..." line, and ends a timed-out run with an "Error: timeout ..." line."""
    lines = output.splitlines()
    decoder = json.JSONDecoder()
    for i in reversed([i for i, line in enumerate(lines) if line.startswith("{")]):
        try:
            doc, _ = decoder.raw_decode("\n".join(lines[i:]))
        except ValueError:
            continue
        if isinstance(doc, dict):
            return doc
    raise ValueError("no JSON document in goss output")


def _detail(result: dict) -> str:
    """goss's own compact explanation without the 'Type: id: property:' prefix it repeats."""
    line = result.get("summary-line-compact") or result.get("summary-line")
    if line:
        prefix = f"{result.get('resource-type')}: {result.get('resource-id')}: {result.get('property')}:"
        return " ".join(str(line).removeprefix(prefix).split())
    if result.get("err"):
        return f"error: {result['err']}"
    mr = result.get("matcher-result") or {}
    return f"{mr.get('message') or 'expected'} {json.dumps(mr.get('expected'))}, found {json.dumps(mr.get('actual'))}"


def parse(output: str) -> Report:
    """goss `validate -f json` output -> Report naming each failing resource."""
    try:
        doc = _json_document(output)
        results = doc["results"]
        summary = doc.get("summary", {})
    except (ValueError, KeyError, TypeError) as e:
        raise GossError(f"unparsable goss output ({e}): {output.strip()[:200]!r}") from None
    failures, skipped = [], 0
    for r in results:
        if r.get("skipped") or r.get("result") == 2:
            skipped += 1
            continue
        if not r.get("successful", False):
            failures.append(Failure(str(r.get("resource-type", "?")), str(r.get("resource-id", "?")),
                                    str(r.get("property", "?")), _detail(r)))
    tests = int(summary.get("test-count", len(results)))
    return Report(tests, tuple(failures), skipped)


_TEMPLATE_ERROR = re.compile(r"template: [^:\s]+:(\d+)(?::(\d+))?: (.*)")
_YAML_ERROR = re.compile(r"yaml: line (\d+): (.*)")


def file_error(name: str, output: str) -> str | None:
    """goss's message for a bad file (rc 78) -> `goss/NAME:LINE[:COL]: ...`, or None when it is
    not about the file. Template lines are the file's own; goss parses YAML after rendering, so a
    YAML line counts in the rendered text."""
    for line in output.splitlines():
        if m := _TEMPLATE_ERROR.search(line):
            where = m.group(1) + (f":{m.group(2)}" if m.group(2) else "")
            why = m.group(3).replace('executing "test" at ', "at ").strip()   # goss names every file "test"
            return f"goss/{name}:{where}: template error: {why}"
        if m := _YAML_ERROR.search(line):
            return (f"goss/{name}: YAML error at line {m.group(1)} of the file as rendered with "
                    f"the node's vars: {m.group(2).strip()}")
    return None


def _spec_and_vars(node: Node, matrix: Matrix, app: App) -> tuple[Path, bytes, bytes]:
    """The app's goss file and the vars it is rendered with on this node."""
    if not app.goss:
        raise GossError(f"{app.id}: no goss file in matrix/apps.yaml")
    path = GOSS_DIR / app.goss
    try:
        data = path.read_bytes()
    except OSError as e:
        raise GossError(f"{path}: cannot read goss file: {e.strerror}") from None
    # goss runs as root: the apps' tools through the login where they are its (user scope)
    v = app_vars(node.names, app, [matrix.app(c) for c in app.companions],
                 podman=node.cmd.root_podman, systemctl=node.cmd.root_systemctl)
    return path, data, json.dumps(v, indent=1).encode()


def stage(node: Node, matrix: Matrix, app: App) -> tuple[goss_session.Session, str, str]:
    """Write the app's goss file and vars into this session's goss dir: (session, file, vars)."""
    path, data, v = _spec_and_vars(node, matrix, app)
    s = goss_session.ensure(node)
    remote, remote_vars = s.path(path.name), s.path(f"{app.id}.vars.json")
    node.put_file(remote, data, 0o600)
    node.put_file(remote_vars, v, 0o600)
    return s, remote, remote_vars


def validate_command(goss: str, vars_file: str, goss_file: str, retry_timeout: float | None) -> str:
    """The goss command line (pure): JSON out, MAX_CONCURRENT checks at a time, goss's own retry."""
    q = shlex.quote
    retry = f" -r {int(retry_timeout)}s -s 2s" if retry_timeout else ""
    return (f"{q(goss)} --vars {q(vars_file)} -g {q(goss_file)} validate -f json --no-color "
            f"--max-concurrent {MAX_CONCURRENT}{retry}")


def validate(node: Node, matrix: Matrix, app: App, *, retry_timeout: float | None = None,
             timeout: float = 120) -> Report:
    """Validate `app`'s goss file on the node (as root: it reads root-only files).

    retry_timeout: let goss itself retry until the state passes (after a reboot, a restart).
    """
    s, remote, remote_vars = stage(node, matrix, app)
    budget = timeout + (retry_timeout or 0)
    # as root (goss reads the platform's files and processes); the timeout outside sudo: a
    # sudoers rule for `timeout` would allow any command
    cmd = f"timeout -k 5 {int(budget)} " + node.cmd.as_root(
        validate_command(s.goss, remote_vars, remote, retry_timeout))
    res = node.run(cmd, timeout=budget + 15)
    if res.rc not in (0, RC_FAIL, RC_RETRY_TIMEOUT):
        out = res.stderr.strip() or res.stdout.strip()
        bad = file_error(app.goss, out) if res.rc == RC_FILE_ERROR else None
        raise GossError(bad or f"goss on {node.name} could not validate {app.goss} (rc {res.rc}): "
                        + " | ".join(out.splitlines()[-2:]))
    return parse(res.stdout)
