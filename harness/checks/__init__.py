"""What the events and the ladder observe on the node and how they judge it.

    probes.py   stand-in status, units, containers, ports, data manifests, RPC calls as assertions
    headers.py  pure HTTP header logic: parse a response head, judge the frame policy
"""
