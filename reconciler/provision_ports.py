"""The apps' published ports, reserved from the kernel's ephemeral range (provision.py writes it); pure."""
from __future__ import annotations


def reserved_ports_conf(catalog: dict) -> str:
    """A sysctl file keeping every port an app publishes out of the kernel's ephemeral range: an
    outgoing connection given local port 50002 at boot made the UI companion's bind fail ("rootlessport
    listen tcp 0.0.0.0:50002: bind: address already in use"); 50001-50002 lie in the default 32768-60999."""
    ports = sorted({int(p["port"]) for section in ("apps", "companions")
                    for spec in (catalog.get(section) or {}).values()
                    for p in (spec.get("ports") or {}).values()})
    return ("# written by archipelago provision.py: the apps' published ports, never an ephemeral port\n"
            f"net.ipv4.ip_local_reserved_ports = {','.join(map(str, ports))}\n")
