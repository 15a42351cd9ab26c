"""Run a goss steady-state file with the real `goss` on the node and name every failing resource.

`parse` is pure (unit-tested on recorded goss 0.4.9 output); `validate` is the I/O edge: it
copies the YAML to the node, runs `goss -g FILE validate -f json` under a timeout and parses it.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from node.api import Node, NodeError
from node.names import HARNESS

GOSS_DIR = Path(__file__).resolve().parent.parent / "goss"
REMOTE_DIR = HARNESS.scratch("goss")
RC_FAIL, RC_FILE_ERROR, RC_RETRY_TIMEOUT = 1, 78, 3


class GossError(NodeError):
    """goss could not judge: missing binary, bad file, unparsable output."""


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
    """The last JSON object in the output (with `-r`, goss may print one per attempt)."""
    starts = [i for i, line in enumerate(output.splitlines()) if line.startswith("{")]
    lines = output.splitlines()
    for i in reversed(starts):
        try:
            return json.loads("\n".join(lines[i:]))
        except ValueError:
            continue
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


def validate(node: Node, spec: str | Path, *, retry_timeout: float | None = None,
             timeout: float = 120) -> Report:
    """Copy `spec` (a file under goss/ or a path) to the node and validate it there.

    retry_timeout: let goss itself retry until the state passes (after a reboot, a restart).
    """
    path = Path(spec)
    if not path.is_absolute() and not path.exists():
        path = GOSS_DIR / path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise GossError(f"{path}: cannot read goss file: {e.strerror}") from None
    remote = f"{REMOTE_DIR}/{path.name}"
    node.put_file(remote, data, 0o600)
    retry = f" -r {int(retry_timeout)}s -s 2s" if retry_timeout else ""
    budget = timeout + (retry_timeout or 0)
    # as root (goss reads the platform's files and processes); the timeout outside sudo: a
    # sudoers rule for `timeout` would allow any command
    goss = node.cmd.as_root(f"goss -g {shlex.quote(remote)} validate -f json --no-color{retry}")
    cmd = (f"command -v goss >/dev/null || {{ echo 'goss is not installed on the node' >&2; exit 127; }}; "
           f"timeout -k 5 {int(budget)} {goss}")
    res = node.run(cmd, timeout=budget + 15)
    if res.rc not in (0, RC_FAIL, RC_RETRY_TIMEOUT):
        why = (res.stderr.strip() or res.stdout.strip()).splitlines()[-2:]
        raise GossError(f"goss on {node.name} could not validate {path.name} (rc {res.rc}): "
                        + " | ".join(why))
    return parse(res.stdout)
