"""Settings from the environment and parsers for the derived config files (pure)."""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

PROFILES = ("bitcoind", "lnd", "electrumx", "btcpay", "mempool", "fedimint", "ui")
REQUIRED_PORTS = {
    "bitcoind": ("rpc", "p2p", "zmqblock", "zmqtx", "status"),
    "lnd": ("rest", "p2p", "grpc", "status"),
    "electrumx": ("tcp", "status"),           # ssl only when given (the catalog gives none: 50002 is a UI's)
    "btcpay": ("ui", "status"),
    "mempool": ("ui", "status"),
    "fedimint": ("api", "ui", "status"),
    "ui": ("ui",),
}


class SettingsError(Exception):
    """A one-line configuration error; the program exits 1 with it."""


@dataclass(frozen=True)
class Settings:
    profile: str
    app: str
    data: Path
    config: Path
    bind: str
    ports: Mapping[str, int]
    flush_seconds: float = 15.0
    block_seconds: float = 5.0
    reindex_seconds: float = 10.0
    check_interval: float = 5.0
    min_free_mb: float = 50.0
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def status_port(self) -> int:
        return self.ports.get("status", self.ports.get("ui"))


def parse_ports(spec: str) -> dict[str, int]:
    """"rpc=8332,p2p=8333" -> {"rpc": 8332, "p2p": 8333}."""
    ports = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise SettingsError(f"STANDIN_PORTS: bad entry {item!r} (want name=port)")
        port = int(value)
        if not 0 < port < 65536:
            raise SettingsError(f"STANDIN_PORTS: port out of range in {item!r}")
        ports[name.strip().lower()] = port
    return ports


def _number(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number") from None
    if value < 0:
        raise SettingsError(f"{key}={raw!r} must not be negative")
    return value


def load_settings(env: Mapping[str, str], profile_arg: str | None = None) -> Settings:
    profile = profile_arg or env.get("STANDIN_PROFILE", "")
    if profile not in PROFILES:
        raise SettingsError(f"unknown profile {profile!r} (STANDIN_PROFILE or argument; one of {', '.join(PROFILES)})")
    app = env.get("STANDIN_APP") or profile
    if "/" in app or app.startswith("."):
        raise SettingsError(f"STANDIN_APP={app!r} is not an app id")
    ports = parse_ports(env.get("STANDIN_PORTS", ""))
    for key, value in env.items():
        if key.startswith("STANDIN_PORT_") and value:
            ports.update(parse_ports(f"{key[len('STANDIN_PORT_'):].lower()}={value}"))
    missing = [p for p in REQUIRED_PORTS[profile] if p not in ports]
    if missing:
        raise SettingsError(f"profile {profile}: no port for {', '.join(missing)} (set STANDIN_PORTS=name=port,...)")
    return Settings(
        profile=profile, app=app,
        data=Path(env.get("STANDIN_DATA", "/data")), config=Path(env.get("STANDIN_CONFIG", "/config")),
        bind=env.get("STANDIN_BIND", "0.0.0.0"), ports=ports,
        flush_seconds=_number(env, "STANDIN_FLUSH_SECONDS", 15.0),
        block_seconds=_number(env, "STANDIN_BLOCK_SECONDS", 5.0),
        reindex_seconds=_number(env, "STANDIN_REINDEX_SECONDS", 10.0),
        check_interval=max(0.1, _number(env, "STANDIN_CHECK_INTERVAL", 5.0)),
        min_free_mb=_number(env, "STANDIN_MIN_FREE_MB", 50.0),
        env=dict(env),
    )


def parse_conf(text: str, name: str) -> dict[str, list[str]]:
    """bitcoin.conf / lnd.conf style: key=value lines, '#' comments, blanks, [section] headers.
    Returns key -> values (keys may repeat, e.g. rpcauth). Anything else is a parse error, as in bitcoind."""
    values: dict[str, list[str]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or any(c.isspace() for c in key.strip()):
            raise SettingsError(f"{name}: parse error on line {lineno}")
        values.setdefault(key.strip(), []).append(value.strip())
    return values


def parse_env_file(text: str, name: str) -> dict[str, str]:
    """KEY=VALUE lines (optionally quoted values), '#' comments."""
    values = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{name}: parse error on line {lineno}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: unreadable ({exc.__class__.__name__})") from None


def read_conf(settings: Settings, filename: str) -> dict[str, list[str]] | None:
    text = read_text(settings.config / filename)
    return None if text is None else parse_conf(text, str(settings.config / filename))


def read_env_file(settings: Settings, filename: str, keys: tuple[str, ...]) -> dict[str, str]:
    """An env file from /config; the same keys in the environment (EnvironmentFile=) win."""
    text = read_text(settings.config / filename)
    values = {} if text is None else parse_env_file(text, str(settings.config / filename))
    values.update({k: settings.env[k] for k in keys if settings.env.get(k)})
    return values


def read_integrations(settings: Settings) -> dict:
    text = read_text(settings.config / "integrations.json")
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{settings.config / 'integrations.json'}: invalid JSON at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{settings.config / 'integrations.json'}: not a JSON object")
    return data


def from_environ(profile_arg: str | None = None) -> Settings:
    return load_settings(os.environ, profile_arg)
