"""UI HTTPS proxy: nginx serves /apps/<id>/ over TLS with the node's self-signed certificate,
and the route reaches this app's UI (not a default page or another app)."""
from __future__ import annotations

import re

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import FULL_LINE, GridEvent


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    ui, port = probes.ui_target(ctx.matrix, app)
    url = f"https://127.0.0.1{app.proxy_path}"
    problems = []
    page = node.run(f"curl -sk --max-time 10 -w '\\n%{{http_code}}' {url}", timeout=30)
    body, _, code = page.stdout.rpartition("\n")
    if code.strip() != "200":
        problems.append(f"{url}: HTTP {code.strip() or 'none'} (curl rc {page.rc}), expected 200")
    # The route must land on this app's UI, not a default page or another app: the proxied page
    # has the title of the page on the UI's own port (an app's status endpoint may live elsewhere).
    direct = node.run(f"curl -s --max-time 10 http://127.0.0.1:{port}/", timeout=30)
    want, got = probes.page_title(direct.stdout), probes.page_title(body)
    if want is None:
        problems.append(f"{ui.id} UI on port {port} has no <title> to recognise it by (curl rc {direct.rc})")
    elif got != want:
        problems.append(f"{url} serves the page titled {got!r}, expected {ui.id}'s UI titled {want!r}")
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


EVENT = GridEvent("ui_https_proxy", run, starts_from=FULL_LINE, read_only=True)
