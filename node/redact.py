"""The one redaction: known secret values and secret-shaped text masked in text, JSON, XML and
files' bytes. Pure (no I/O); every output of the project goes through it (harness.artifacts,
harness.outputs at the end of a run, chaos.run's journals).

Here in node/ because it is the lowest package both chaos/ and harness/ may import.

Checksums stay readable: a sha256 is 64 hex digits and is never masked by shape. A macaroon is
masked by shape only when it says so: the serialized macaroon starts with 0x02 0x01 ("0201" in
hex, "AgE" in base64) and is longer than a sha256. A node's 64-hex macaroon is masked as a known
value (learned from the node), never by its shape.
"""
from __future__ import annotations

import html
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterable

MASK = "***"
MIN_SECRET = 6          # a shorter "secret" would mask ordinary words

# key names whose value is a secret (as a substring of the key: rpcpassword, DB_PASS, x-api-key)
_WORDS = (r"password|passwd|passphrase|secret|token|macaroon|api[_-]?key|credentials?|private[_-]?key"
          r"|privkey|mnemonic|auth[_-]?key")


def _key(words: str) -> str:
    """A key holding one of `words`, or ending in pass/pwd. Bounded and possessive: a long run of
    word characters costs linear time, not the cubic time of nested stars."""
    return (rf"(?:(?=[\w.-]{{0,64}}?(?:{words}))[\w.-]{{1,80}}+"
            rf"|[\w.-]{{0,60}}?(?:pass|pwd)(?![\w.-]))")


_KEY = _key(_WORDS)
# quoted keys (JSON, a repr) also name headers and rpcauth, which have their own unquoted patterns
_QKEY = _key(rf"{_WORDS}|rpcauth|cookie|authorization")
_QKEY_RE = re.compile(rf"(?i){_QKEY}\Z")
_LIST_KEY_RE = re.compile(r"(?i)[\w.-]*(?:mnemonic|seed_words|cipher_seed)[\w.-]*\Z")
# command-line flags taking the secret as the next word (exact names: --password-stdin stays)
_FLAGS = (r"-{1,2}(?:rpc)?password|-{1,2}passphrase|--token|--secret|--api-?key|--auth-?token"
          r"|--access-token|--macaroon|-{1,2}rpcauth|--http-password|--ftp-password|--proxy-password")
_DQ = r'"(?:[^"\\\n]|\\.)*"'        # a double-quoted string (JSON/shell escapes)
_SQ = r"'(?:[^'\\\n]|\\.)*'"        # a single-quoted one (Python repr)
_HEX_MACAROON = r"\b0201[0-9a-fA-F]{62,}\b"     # longer than 64: never a sha256


def _m(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern:
    return re.compile(pattern, flags)


PATTERNS: list[tuple[re.Pattern, str]] = [
    # whole PEM / PGP private-key blocks (an unterminated one to the end: a log cut mid-key)
    (_m(r"(-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----)[\s\S]*?(?:-----END \2-----|\Z)"),
     rf"\1\n{MASK}\n-----END \2-----"),
    # bitcoin.conf rpcauth=user:salt$hmac -> keep the user
    (_m(r"(rpcauth\s*[=:]\s*[\"']?[^:\s\"']+:)[^\s\"',]+"), rf"\1{MASK}"),
    # "key": "value" / 'key': 'value' (JSON, Python repr, YAML flow), escapes included
    (_m(rf"""((["']){_QKEY}\2\s*[:=,]\s*)(?:{_DQ}|{_SQ})"""), rf'\1"{MASK}"'),
    # "key": [ ... ] of strings (a seed mnemonic) and "key": 1234 (a numeric PIN)
    (_m(rf"""((["']){_QKEY}\2\s*:\s*)(?:\[[^\]]*\]|-?\d+(?:\.\d+)?\b)"""), rf'\1"{MASK}"'),
    # Authorization (any scheme: Basic, Bearer, token, Digest's quoted params) and Cookie: to the end
    (_m(r"((?:proxy-)?authorization\s*[:=]\s*(?:[a-z][\w-]*\s+(?=\S))?)(?:=\"[^\"\r\n]*\"|[^\r\n\"'<])+"),
     rf"\1{MASK}"),
    (_m(r"(\bset-cookie\s*[:=]\s*[^=;\s\"']+=)[^;\r\n\"'<]+"), rf"\1{MASK}"),
    (_m(r"((?<![\w-])cookie\s*[:=]\s*)[^\r\n\"'<]+"), rf"\1{MASK}"),
    # key = value at the start of a line (INI, env, YAML, bitcoin.conf): the value may hold spaces
    (_m(rf"^([ \t]*(?:export[ \t]+|-[ \t]+)?{_KEY}[ \t]*[=:][ \t]*+)(?!$)(?!\*\*\*$)[^\r\n]+",
        re.IGNORECASE | re.MULTILINE), rf"\1{MASK}"),
    # key=value / key: value / key => value inside a line: a quoted value whole, else one word
    (_m(rf"""((?<![\w.-]){_KEY}\s*(?>=>|[=:])[ \t]*+)(?!{re.escape(MASK)})(?:{_DQ}|{_SQ}|[^\s"',;&}}<)\]]+)"""),
     rf"\1{MASK}"),
    # --password VALUE, bitcoin-cli -rpcpassword VALUE, sshpass -p VALUE
    (_m(rf"""((?<![\w-])(?:{_FLAGS})[ \t]+)(?:{_DQ}|{_SQ}|[^\s"']+)"""), rf"\1{MASK}"),
    (_m(r"""((?<![\w-])sshpass[ \t]+-p[ \t]*)(?:"[^"]*"|'[^']*'|\S+)"""), rf"\1{MASK}"),
    # curl -u user:pass / --user user:pass / -uuser:pass -> keep the user
    (_m(r"""((?<![\w-])(?:-u|--user|--proxy-user)[ \t]*["']?[^\s:"']+:)[^\s"']+"""), rf"\1{MASK}"),
    # scheme://user:pass@host (the password may hold '@' or '/': up to the token's last '@')
    (_m(r"""(\b[a-z][a-z0-9+.-]{0,30}://[^/\s:@"'<>]{0,256}:)(?!\d+(?:[/?#]|$))[^\s"'<>]{0,256}(@)"""),
     rf"\1{MASK}\2"),
    # macaroons by their shape: hex starting 0201 (longer than a sha256), base64 starting AgE
    (_m(_HEX_MACAROON), MASK),
    (re.compile(r"(?<![\w+/])AgE[A-Za-z0-9+/_-]{40,}={0,2}"), MASK),
    # well-known token shapes: GitHub, GitLab, Slack, AWS access key ids
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|glpat-[\w-]{20,}"
                r"|xox[abprs]-[\w-]{10,}|AKIA[0-9A-Z]{16})\b"), MASK),
    # Tor's onion service key (ADD_ONION / hs_ed25519_secret_key as text)
    (re.compile(r"(ED25519-V3:)[A-Za-z0-9+/]{40,}={0,2}"), rf"\1{MASK}"),
]


def variants(value: str) -> set[str]:
    """The forms a value takes in our outputs: raw, JSON-escaped, XML-escaped, URL-encoded."""
    return {value, json.dumps(value)[1:-1], html.escape(value, quote=False), html.escape(value),
            urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}


def known_values(secrets: Iterable[str]) -> list[str]:
    """Every form of every secret long enough to be one, the longest first."""
    out = set()
    for s in secrets:
        s = (s or "").strip()
        if len(s) >= MIN_SECRET:
            out |= {v for v in variants(s) if len(v) >= MIN_SECRET}
    return sorted(out, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Known values first (they may sit anywhere), then the secret-shaped patterns."""
    return _apply(text, known_values(secrets))


def _apply(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, MASK)
    for pat, repl in PATTERNS:
        text = pat.sub(repl, text)
    return text


def secret_key(key: str) -> bool:
    """Is this a key whose value is a secret ("password", "rpcpass", "credentials", "Cookie")?"""
    return bool(_QKEY_RE.match(key))


def redact_obj(obj, secrets: Iterable[str] = ()):
    """A JSON value redacted string by string; a secret key's value is masked whole."""
    return _walk(obj, known_values(secrets))


def _secret_value(key, value) -> bool:
    if isinstance(value, bool) or value in ("", None):
        return False
    if isinstance(value, list):
        return bool(_LIST_KEY_RE.match(str(key))) and all(isinstance(v, str) for v in value)
    return isinstance(value, (str, int, float)) and secret_key(str(key))


def _walk(obj, values: list[str]):
    if isinstance(obj, dict):
        # {"name": "password", "value": "..."}: Allure's parameters, environment lists
        named = isinstance(obj.get("name"), str) and secret_key(obj["name"])
        return {_walk(k, values): MASK if _secret_value(k, v) or (named and k == "value" and v)
                else _walk(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_walk(v, values) for v in obj]
    return _apply(obj, values) if isinstance(obj, str) else obj


def redact_json(text: str, secrets: Iterable[str] = ()) -> str:
    """JSON text redacted through its values, so it stays valid JSON; raises ValueError if not JSON."""
    obj = json.loads(text)
    clean = redact_obj(obj, secrets)
    if clean == obj:
        return text
    indent = _indent(text)
    return json.dumps(clean, indent=indent, ensure_ascii=False) + ("\n" if text.endswith("\n") else "")


def _indent(text: str) -> int | None:
    lines = text.strip().splitlines()
    if len(lines) < 2:
        return None
    return (len(lines[1]) - len(lines[1].lstrip(" "))) or None


def redact_jsonl(text: str, secrets: Iterable[str] = ()) -> str:
    """One JSON document a line (a timeline, a history); a line that is not JSON as text."""
    out = []
    for line in text.splitlines(keepends=True):
        try:
            body = line.rstrip("\r\n")
            out.append(redact_json(body, secrets) + line[len(body):] if body.strip() else line)
        except ValueError:
            out.append(redact(line, secrets))
    return "".join(out)


def redact_xml(text: str, secrets: Iterable[str] = ()) -> str:
    """XML redacted through its text and attributes, so it stays well-formed; ValueError if not XML."""
    try:
        root = ET.fromstring(text.encode())
    except ET.ParseError as e:
        raise ValueError(str(e)) from None
    values, changed = known_values(secrets), False
    for el in root.iter():
        for attr in ("text", "tail"):
            old = getattr(el, attr)
            if old and (new := _apply(old, values)) != old:
                setattr(el, attr, new)
                changed = True
        for k, v in el.attrib.items():
            if (new := _apply(v, values)) != v:
                el.attrib[k] = new
                changed = True
    if not changed:
        return text
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")


def binary(data: bytes) -> bool:
    """Binary content (an image, a core, a disk): a NUL byte in its first 8 KiB."""
    return b"\0" in data[:8192]


def redact_bytes(data: bytes, name: str, secrets: Iterable[str] = ()) -> bytes | None:
    """A file's new bytes, or None when it is binary or needs no change. JSON and XML by their
    structure (they stay valid), JSON lines line by line, anything else as text; bytes that
    are not UTF-8 pass through unchanged (surrogateescape)."""
    if binary(data):
        return None
    text = data.decode("utf-8", "surrogateescape")
    out = None
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    parse = {"json": redact_json, "jsonl": redact_jsonl, "xml": redact_xml}.get(kind)
    if parse:
        try:
            out = parse(text, secrets)
        except ValueError:
            out = None           # not what its name says (podman inspect's error text): as text
    if out is None:
        out = redact(text, secrets)
    return None if out == text else out.encode("utf-8", "surrogateescape")
