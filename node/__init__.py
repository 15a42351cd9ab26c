"""The bottom of the controller side: talking to a node.

api (the Node API, errors, the one bounded `poll`), ssh (SSHNode, pinned host keys), target (the one
parser from a node URL to a Target, the one `connect`), driver (the platform's JSON-RPC), names (every
name on the node), capabilities, proc (the one process-group terminator). Imports nothing of the project but `matrix`.
"""
