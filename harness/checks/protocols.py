"""Checks through the apps' own protocols, run on the node (curl, bash, coreutils: no python3 there).

Each kind of app is asked the way its users ask the real one:
- bitcoind: JSON-RPC `getblockchaininfo` with the RPC user the node's profile names and the
  password the node keeps in a root-only file. Warm-up is error -28, as bitcoind answers while it
  loads: not ready yet, not a failure.
- lnd: REST `GET /v1/getinfo` with the admin macaroon, hex, in `Grpc-Metadata-macaroon`; ready =
  `synced_to_chain`. https first (real lnd: self-signed, `curl -k`), then plain http (the stand-in).
- electrumx: `server.version`, then `blockchain.headers.subscribe` (its view of bitcoind), as
  newline-delimited JSON-RPC over TCP (bash's /dev/tcp under `timeout`).
- every other app and the UI companions: an HTTP GET of the UI page.

Secrets stay on the node: the password and the macaroon are read there as root into a shell
variable and reach curl as its config on stdin (`curl -K -`), never on a command line (`ps`, the
harness's command log); nothing of them comes back to the controller.

`parse_*` turn a reply into an `Answer` (pure; tests/unit holds the real apps' reply shapes),
`*_command` build the shell text (pure), `probe` and `wait_ready` run them.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from matrix.model import App
from node.api import poll

READY, NOT_YET, FAILED = "ready", "not-yet", "failed"
WARMUP = -28                    # bitcoind's RPC_IN_WARMUP
CRED_RC = 97                    # our own exit code: a credential file could not be read on the node
# Kinds by the matrix's `profile` (what the app is); every other profile is answered over HTTP.
KINDS = {"bitcoind": "bitcoind", "lnd": "lnd", "electrumx": "electrumx"}
PORTS = {"bitcoind": "rpc", "lnd": "rest", "electrumx": "tcp"}   # kind -> the matrix port asked
PROTOCOL = {"bitcoind": "bitcoind JSON-RPC getblockchaininfo", "lnd": "lnd REST /v1/getinfo",
            "electrumx": "electrum server.version", "http": "HTTP GET of its page"}
_WAIT = {7: "connection refused", 28: "timed out", 52: "empty reply", 56: "connection reset",
         124: "timed out"}
# lnd answers these while it starts or its wallet is locked: not ready yet.
_LND_STARTING = ("starting up", "not yet ready", "waiting to start", "wallet locked")
# What a recovery from an unclean shutdown says (bitcoind's warm-up and log, the stand-ins' log);
# grep -E syntax too, for the journal.
RECOVERY_WORDS = ("unclean shutdown|not shut down cleanly|replaying blocks|rolling forward"
                  "|rewinding blocks|reindexing")
RECOVERY = re.compile(RECOVERY_WORDS, re.I)


@dataclass(frozen=True)
class Answer:
    state: str                       # READY | NOT_YET | FAILED
    detail: str                      # one line: what the app answered
    height: int | None = None        # bitcoind `blocks`, lnd `block_height`, electrumx's tip height
    synced: bool | None = None       # bitcoind: out of initial block download; lnd: synced_to_chain
    facts: dict[str, Any] = field(default_factory=dict, compare=False)   # warm-up message, warnings, ...

    @property
    def ready(self) -> bool:
        return self.state == READY


def kind(app: App) -> str:
    return KINDS.get(app.profile, "http")


# ------------------------------------------------------------------ pure: replies
def split_http(out: str) -> tuple[int | None, str]:
    """curl's `-w '\\n%{http_code}'` output -> (status, body); None when no status came back."""
    body, _, code = out.rpartition("\n")
    code = code.strip()
    return (int(code) if code.isdigit() and code != "000" else None), body


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _snip(text: str, n: int = 120) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[:n] + "…"


def _transport(rc: int, err: str) -> Answer | None:
    """A command that got no reply: not up yet (refused, timed out) or failed (credentials, curl)."""
    if rc == 0:
        return None
    if rc == CRED_RC:
        return Answer(FAILED, _snip(err, 240) or "a credential file could not be read on the node")
    if rc in _WAIT:
        return Answer(NOT_YET, f"no answer ({_WAIT[rc]})")
    return Answer(FAILED, f"exit {rc}: {_snip(err) or 'no reply'}")


def parse_bitcoind(rc: int, out: str, err: str = "") -> Answer:
    """A `getblockchaininfo` reply (JSON-RPC 1.0 over HTTP, as bitcoind answers it)."""
    if (t := _transport(rc, err)) is not None:
        return t
    code, body = split_http(out)
    if code == 401:
        return Answer(FAILED, "HTTP 401: the RPC user and password the node keeps were refused "
                              "(bitcoin.conf rpcauth out of date?)")
    reply = _json(body)
    if not isinstance(reply, dict):
        return Answer(FAILED, f"HTTP {code}: not a JSON-RPC reply ({_snip(body) or 'empty'})")
    error = reply.get("error")
    if error:
        c, msg = (error.get("code"), error.get("message")) if isinstance(error, dict) else (None, error)
        if c == WARMUP:
            return Answer(NOT_YET, f"warming up (RPC {WARMUP}: {msg})", facts={"warmup": str(msg)})
        return Answer(FAILED, f"RPC error {c}: {msg}")
    return chain_state(reply.get("result"))


def chain_state(res: Any) -> Answer:
    """getblockchaininfo's result: the height, whether it is in initial block download, warnings."""
    if not isinstance(res, dict) or type(res.get("blocks")) is not int:
        return Answer(FAILED, f"no block height in the answer ({_snip(json.dumps(res))})")
    blocks, headers = res["blocks"], res.get("headers")
    if type(headers) is int and blocks > headers:
        return Answer(FAILED, f"blocks {blocks} beyond headers {headers} "
                              f"(a node never holds blocks it has no header for)", blocks)
    ibd, progress = res.get("initialblockdownload"), res.get("verificationprogress")
    synced = ibd is False if isinstance(ibd, bool) else isinstance(progress, (int, float)) and progress >= 0.9999
    raw = res.get("warnings")
    warnings = tuple(str(w) for w in raw if w) if isinstance(raw, list) else ((str(raw),) if raw else ())
    detail = f"height {blocks}" + ("" if synced else f", initial block download (progress {progress})")
    detail += f", warnings: {'; '.join(warnings)}" if warnings else ""
    return Answer(READY, detail, blocks, synced,
                  {"headers": headers, "progress": progress, "warnings": warnings, "tip": res.get("bestblockhash")})


def parse_lnd(rc: int, out: str, err: str = "") -> Answer:
    """A `GET /v1/getinfo` reply: lnd's REST gateway answers gRPC errors as `{"code", "message"}`."""
    if (t := _transport(rc, err)) is not None:
        return t
    code, body = split_http(out)
    reply = _json(body)
    if code != 200 or not isinstance(reply, dict):
        msg = str(reply.get("message") or reply.get("error") or "") if isinstance(reply, dict) else _snip(body)
        if code in (401, 403) or "macaroon" in msg or "verification failed" in msg:
            return Answer(FAILED, f"HTTP {code}: {msg} (the admin macaroon the node keeps was refused)")
        if any(s in msg for s in _LND_STARTING):
            return Answer(NOT_YET, f"HTTP {code}: {msg}")
        return Answer(FAILED, f"HTTP {code}: {msg or 'no JSON body'}")
    height = reply.get("block_height") if type(reply.get("block_height")) is int else None
    if reply.get("synced_to_chain") is True:
        return Answer(READY, f"synced to chain at height {height}", height, True)
    return Answer(NOT_YET, f"not synced to chain (synced_to_chain {reply.get('synced_to_chain')}, "
                           f"block_height {height})", height, False)


def parse_electrumx(rc: int, out: str, err: str = "") -> Answer:
    """Replies to server.version (id 0) and blockchain.headers.subscribe (id 1), one JSON per line."""
    replies = {r.get("id"): r for r in map(_json, out.splitlines()) if isinstance(r, dict)}
    version = replies.get(0)
    if version is None:
        why = _WAIT.get(rc) or ("connection refused" if "refused" in err.lower() else _snip(err) or f"exit {rc}")
        return Answer(NOT_YET, f"no server.version answer ({why})")
    if version.get("error"):
        return Answer(FAILED, f"server.version: {_error_message(version['error'])}")
    res = version.get("result")
    if not (isinstance(res, list) and len(res) >= 2):
        return Answer(FAILED, f"server.version answered {_snip(json.dumps(res))}")
    tip = (replies.get(1) or {}).get("result")
    if isinstance(tip, dict) and type(tip.get("height")) is int:
        return Answer(READY, f"{res[0]}, protocol {res[1]}, chain tip {tip['height']}", tip["height"])
    why = _error_message((replies.get(1) or {}).get("error")) or "no answer"
    return Answer(READY, f"{res[0]}, protocol {res[1]}, no chain tip ({why})", facts={"tip_error": why})


def _error_message(error: Any) -> str:
    return str(error.get("message")) if isinstance(error, dict) else str(error or "")


def parse_http(rc: int, out: str, err: str = "") -> Answer:
    """The UI page: 200 with a page is ready; a proxy's 502-504 is not yet."""
    if (t := _transport(rc, err)) is not None:
        return t
    code, body = split_http(out)
    if code == 200 and body.strip():
        return Answer(READY, f"HTTP 200, {len(body.encode())} bytes")
    if code in (502, 503, 504):
        return Answer(NOT_YET, f"HTTP {code}")
    return Answer(FAILED, f"HTTP {code or 'none'}" + (" with an empty page" if code == 200 else ""))


PARSERS: dict[str, Callable[[int, str, str], Answer]] = {
    "bitcoind": parse_bitcoind, "lnd": parse_lnd, "electrumx": parse_electrumx, "http": parse_http}


def sees(app_kind: str, cap: str, answer: Answer) -> bool | None:
    """The app's own view of an integration, when its protocol shows one: lnd's `synced_to_chain`
    (its bitcoind), electrumx's chain tip (its bitcoind). None: its protocol does not show it."""
    if cap == "bitcoin" and app_kind == "lnd":
        return answer.synced is True
    if cap == "bitcoin" and app_kind == "electrumx":
        return answer.ready and answer.height is not None
    return None


def recovery_signs(before: Answer | None, answers: Iterable[Answer]) -> list[str]:
    """What bitcoind's answers say about a recovery from an unclean shutdown: a warm-up message or
    warning of a replay/reindex, or initial block download again after it was synced. (A lower
    height than before is a data problem in any case: probes.height_problems.)"""
    out: list[str] = []
    for a in answers:
        signs = [f"warm-up {m!r}" for m in [a.facts.get("warmup") or ""] if RECOVERY.search(m)]
        signs += [f"warning {w!r}" for w in a.facts.get("warnings", ()) if RECOVERY.search(w)]
        if before is not None and before.synced and a.ready and a.synced is False:
            signs.append("back in initial block download")
        out += [s for s in signs if s not in out]
    return out


# ------------------------------------------------------------------ pure: commands
CURL = "curl -sS --max-time {t} -w '\\n%{{http_code}}'"
_USER = re.compile(r"[A-Za-z0-9._-]+")


def _no_secret(message: str) -> str:
    """The shell text that fails the command with our own code (the message names a path, no value)."""
    return f"{{ echo {shlex.quote(message)} >&2; exit {CRED_RC}; }}"


def bitcoind_command(user: str, password_file: str, as_root: Callable[[str], str], port: int,
                     timeout: float = 10) -> str:
    """getblockchaininfo with the node's credentials; the password goes from the root-only file
    into a shell variable and on to curl's config on stdin (printf is a shell builtin: no argv)."""
    if not _USER.fullmatch(user):
        raise ValueError(f"bitcoind RPC user {user!r}: only letters, digits, '.', '_' and '-' are supported")
    body = json.dumps({"jsonrpc": "1.0", "id": "archy", "method": "getblockchaininfo", "params": []})
    read = as_root(f"head -n 1 {shlex.quote(password_file)}")
    config = shlex.quote(f's/\\r$//; s/[\\\\"]/\\\\&/g; s/^/user = "{user}:/; s/$/"/')
    return (f"pw=$({read}) && [ -n \"$pw\" ] || "
            f"{_no_secret(f'cannot read the bitcoind RPC password {password_file} as root')}; "
            f"printf '%s\\n' \"$pw\" | sed {config} | {CURL.format(t=int(timeout))} -K - "
            f"-H 'content-type: text/plain;' --data-binary {shlex.quote(body)} http://127.0.0.1:{port}/")


def lnd_command(macaroon_file: str, as_root: Callable[[str], str], port: int, timeout: float = 10) -> str:
    """GET /v1/getinfo with the admin macaroon as hex: a hex text file as it is, a binary one
    (real lnd's admin.macaroon) through od; https first (real lnd), then http (the stand-in)."""
    read = as_root(f"cat {shlex.quote(macaroon_file)}")
    return (f"mac=$(if {read} | tr -d '\\r\\n' | grep -qaxE '[0-9a-fA-F]+'; then {read} | tr -d '\\r\\n'; "
            f"else {read} | od -An -v -tx1 | tr -d ' \\n'; fi); [ -n \"$mac\" ] || "
            f"{_no_secret(f'cannot read the lnd macaroon {macaroon_file} as root')}; "
            f"get() {{ printf 'header = \"Grpc-Metadata-macaroon: %s\"\\n' \"$mac\" | "
            f"{CURL.format(t=int(timeout))} -K - \"$@\"; }}; "
            f"out=$(get -k https://127.0.0.1:{port}/v1/getinfo 2>/dev/null) && {{ printf '%s' \"$out\"; exit 0; }}; "
            f"get http://127.0.0.1:{port}/v1/getinfo")


def electrumx_command(port: int, timeout: float = 10) -> str:
    reqs = [json.dumps({"jsonrpc": "2.0", "id": 0, "method": "server.version", "params": ["lifecycle-harness", "1.4"]}),
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "blockchain.headers.subscribe", "params": []})]
    script = 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 7; printf "%s\\n%s\\n" "$2" "$3" >&3; head -n 2 <&3'
    return (f"timeout -k 2 {int(timeout)} bash -c {shlex.quote(script)} electrum-probe {int(port)} "
            + " ".join(shlex.quote(r) for r in reqs))


def http_command(port: int, timeout: float = 10) -> str:
    return f"{CURL.format(t=int(timeout))} http://127.0.0.1:{int(port)}/"


def port_of(app: App) -> int:
    """The port the app's protocol is asked on (the UI page's for HTTP apps)."""
    k = kind(app)
    names = [PORTS[k]] if k in PORTS else [p.name for p in app.ports if p.ui] or [p.name for p in app.ports]
    found = [p.port for p in app.ports if p.name in names[:1]]
    if not found:
        raise AssertionError(f"{app.id}: the matrix gives it no {names[0] if names else 'port'} port "
                             f"to ask over {PROTOCOL[k]}")
    return found[0]


def command(names, cmd, app: App, timeout: float = 10) -> str:
    """The shell text that asks `app` through its own protocol (names: node.names, cmd: node.cmd)."""
    k, port = kind(app), port_of(app)
    if k == "bitcoind":
        return bitcoind_command(names.bitcoin_rpc_user, names.bitcoin_rpc_password, cmd.as_root, port, timeout)
    if k == "lnd":
        return lnd_command(names.lnd_macaroon, cmd.as_root, port, timeout)
    if k == "electrumx":
        return electrumx_command(port, timeout)
    return http_command(port, timeout)


# ------------------------------------------------------------------ on the node
def probe(node, app: App, timeout: float = 10) -> Answer:
    """Ask the app once; never raises for what the app answers (a node error still raises)."""
    k = kind(app)
    res = node.run(command(node.names, node.cmd, app, timeout), timeout=2 * timeout + 15)
    return PARSERS[k](res.rc, res.stdout, res.stderr)


def wait_ready(node, app: App, timeout: float, seen: list[Answer] | None = None,
               pred: Callable[[Answer], bool] = lambda a: a.ready, what: str = "ready") -> Answer:
    """Ask until `pred` holds; every answer goes to `seen` (warm-up messages are evidence too)."""
    last = Answer(NOT_YET, "not asked yet")

    def ok() -> bool:
        nonlocal last
        last = probe(node, app)
        if seen is not None:
            seen.append(last)
        return pred(last)

    if not poll(ok, timeout, 2.0):
        raise AssertionError(f"{app.id}: not {what} within {timeout:.0f}s through {PROTOCOL[kind(app)]} "
                             f"(last answer: {last.detail})")
    return last
