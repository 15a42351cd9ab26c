"""UI HTTPS proxy: nginx serves /apps/<id>/ over TLS with the node's self-signed certificate,
and the route reaches this app's UI (not a default page or another app)."""
from __future__ import annotations

import json
import re

from harness.events import probes
from harness.events.context import CellContext


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    ui, _ = probes.ui_target(ctx.matrix, app)
    url = f"https://127.0.0.1{app.proxy_path}"
    problems = []
    page = node.run(f"curl -sk -o /dev/null --max-time 10 -w '%{{http_code}}' {url}", timeout=30)
    if page.stdout.strip() != "200":
        problems.append(f"{url}: HTTP {page.stdout.strip() or 'none'} (curl rc {page.rc}), expected 200")
    # The route must land on this app's UI: its status page through the proxy names it.
    st = node.run(f"curl -sk --max-time 10 {url}status", timeout=30)
    try:
        who = json.loads(st.stdout).get("app")
    except ValueError:
        who = None
    if who != ui.id:
        problems.append(f"{url}status answered {st.stdout.strip()[:80]!r}, expected the status of {ui.id}")
    # Self-signed: verification against the system CAs fails (curl 60), subject == issuer.
    strict = node.run(f"curl -s -o /dev/null --max-time 10 {url}", timeout=30)
    if strict.rc != 60:
        problems.append(f"{url}: expected certificate verification to fail (self-signed, curl rc 60), "
                        f"got rc {strict.rc}")
    verbose = node.run(f"curl -skv -o /dev/null --max-time 10 {url}", timeout=30).stderr
    subject = re.search(r"^\*\s+subject:\s*(.+)$", verbose, re.M)
    issuer = re.search(r"^\*\s+issuer:\s*(.+)$", verbose, re.M)
    if not subject or not issuer:
        problems.append(f"{url}: no TLS certificate seen (is nginx serving TLS on 443?)")
    elif subject.group(1).strip() != issuer.group(1).strip():
        problems.append(f"{url}: certificate is not self-signed (subject {subject.group(1).strip()!r}, "
                        f"issuer {issuer.group(1).strip()!r})")
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))
