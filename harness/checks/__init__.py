"""What the events and the ladder observe on the node and how they judge it.

    protocols.py  each app asked through its own protocol on the node (bitcoind JSON-RPC, lnd REST,
                  electrum TCP, HTTP pages); pure reply parsers
    probes.py     health (protocol + systemd + podman), integrations, units, containers, ports, data
                  manifests, crash-recovery evidence, RPC calls as assertions
    headers.py    pure HTTP header logic: parse a response head, judge the frame policy
"""
