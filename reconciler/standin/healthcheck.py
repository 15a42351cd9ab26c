"""/usr/local/bin/healthcheck: exit 0 iff the stand-in's status says healthy (Quadlet HealthCmd).

Deliberately tiny (socket + json, no urllib/pathlib): podman runs it every few seconds and each
Python start costs real time under TCG; a slow probe hits HealthTimeout and fails the unit start."""
import json
import os
import socket
import sys


def status_port(env) -> int | None:
    ports = {}
    for item in env.get("STANDIN_PORTS", "").split(","):
        name, _, value = item.partition("=")
        if value.strip().isdigit():
            ports[name.strip().lower()] = int(value)
    for key, value in env.items():
        if key.startswith("STANDIN_PORT_") and value.isdigit():
            ports[key[len("STANDIN_PORT_"):].lower()] = int(value)
    return ports.get("status") or ports.get("ui")


def main() -> int:
    port = status_port(os.environ)
    if not port:
        print("healthcheck: no status or ui port in STANDIN_PORTS", file=sys.stderr)
        return 2
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        status = json.loads(body) if head.split(b" ")[1:2] == [b"200"] else {}
    except (OSError, ValueError, IndexError) as exc:
        print(f"healthcheck: status on port {port}: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    if status.get("healthy") is True:
        return 0
    print(f"healthcheck: unhealthy (state {status.get('state')})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
