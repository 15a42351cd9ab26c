"""The bottom package: talking to a node, and the process helpers every layer above may use."""
