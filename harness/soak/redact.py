"""Keep secrets out of the timeline and the reports: journal lines can carry credentials."""
import re

_PATTERNS = [
    re.compile(r"(?i)\b(rpcauth|rpcpassword|password|passwd|secret|token|macaroon|api[_-]?key|auth)"
               r"(\s*[=:]\s*|\s+)(\"[^\"]*\"|'[^']*'|\S+)"),
    re.compile(r"(?i)(authorization:\s*(?:basic|bearer)\s+)\S+"),
    re.compile(r"\b[0-9a-fA-F]{48,}\b"),             # long hex blobs (macaroons, hashes of secrets)
]


def redact(text: str, limit: int = 500) -> str:
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", str(text))
    text = _PATTERNS[1].sub(r"\1<redacted>", text)
    text = _PATTERNS[2].sub("<redacted-hex>", text)
    return text if len(text) <= limit else text[:limit] + "…"
