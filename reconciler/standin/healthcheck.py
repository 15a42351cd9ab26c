"""/usr/local/bin/healthcheck: exit 0 iff the stand-in's status says healthy (Quadlet HealthCmd)."""
import json
import os
import sys
import urllib.request

from .settings import SettingsError, parse_ports


def main() -> int:
    try:
        ports = parse_ports(os.environ.get("STANDIN_PORTS", ""))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    for key, value in os.environ.items():
        if key.startswith("STANDIN_PORT_") and value.isdigit():
            ports[key[len("STANDIN_PORT_"):].lower()] = int(value)
    port = ports.get("status") or ports.get("ui")
    if not port:
        print("healthcheck: no status or ui port in STANDIN_PORTS", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=3) as resp:
            status = json.load(resp)
    except (OSError, ValueError) as exc:
        print(f"healthcheck: status on port {port}: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    if status.get("healthy") is True:
        return 0
    print(f"healthcheck: unhealthy (state {status.get('state')})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
