"""Pure HTTP header logic for the UI cells: parse a raw response head, judge the frame policy.

The iframe cell's rule: the page the proxy serves must let the dashboard (same origin) frame it
and nothing else. CSP `frame-ancestors` wins over X-Frame-Options in browsers that know both,
so each header that is present must say the same thing, and at least one must be present.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, list[str]]      # lower-case name -> values in order

    def get(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])


def parse_head(raw: str) -> Response:
    """The last response head in `curl -s -D -` output (after redirects / 100-continue)."""
    blocks = [b for b in raw.replace("\r\n", "\n").split("\n\n") if b.strip().startswith("HTTP/")]
    if not blocks:
        raise ValueError(f"no HTTP status line in response head: {raw[:120]!r}")
    lines = blocks[-1].strip().split("\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"bad HTTP status line: {lines[0]!r}")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Response(int(parts[1]), headers)


def frame_ancestors(csp_values: list[str]) -> list[list[str]] | None:
    """Source lists of every `frame-ancestors` directive across CSP headers (None: no directive)."""
    found = []
    for value in csp_values:
        for directive in value.split(";"):
            tokens = directive.split()
            if tokens and tokens[0].lower() == "frame-ancestors":
                found.append([t.lower() for t in tokens[1:]])
    return found or None


def frame_policy_problems(resp: Response, expected_ancestors: str = "'self'",
                          expected_xfo: str = "SAMEORIGIN") -> list[str]:
    """What is wrong with the page's frame policy; [] when only the same origin may frame it."""
    problems = []
    want = sorted(expected_ancestors.lower().split())
    fa = frame_ancestors(resp.get("content-security-policy"))
    xfo = [v.strip().upper() for v in resp.get("x-frame-options")]
    if fa is None and not xfo:
        return ["neither CSP frame-ancestors nor X-Frame-Options is set: any site may frame the page"]
    for sources in fa or []:
        if sorted(sources) != want:
            problems.append(f"CSP frame-ancestors is {' '.join(sources) or '(empty)'!s}, "
                            f"expected {expected_ancestors}")
    if len(set(xfo)) > 1:
        problems.append(f"conflicting X-Frame-Options headers: {', '.join(xfo)}")
    for value in sorted(set(xfo)):
        if value != expected_xfo.upper():
            problems.append(f"X-Frame-Options is {value}, expected {expected_xfo.upper()}")
    return problems
