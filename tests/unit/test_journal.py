"""Journal check: our units' error lines fail a cell unless allowed."""
from functools import partial

from harness import journal
from node.names import ROOTFUL

errors = partial(journal.errors, names=ROOTFUL)

E = [
    {"_SYSTEMD_UNIT": "archy-lnd.service", "MESSAGE": "lnd: chain backend ready", "PRIORITY": "6"},
    {"_SYSTEMD_UNIT": "archy-lnd.service", "MESSAGE": "ERROR: unable to reach bitcoind", "PRIORITY": "6"},
    {"SYSLOG_IDENTIFIER": "archipelago", "MESSAGE": "tick failed", "PRIORITY": "3"},
    {"_SYSTEMD_UNIT": "init.scope", "UNIT": "archy-mempool.service",
     "MESSAGE": "archy-mempool.service: Failed with result 'exit-code'.", "PRIORITY": "4"},
    {"_SYSTEMD_UNIT": "nginx.service", "MESSAGE": "error: not ours", "PRIORITY": "3"},
    {"CONTAINER_NAME": "archy-electrumx", "MESSAGE": [0x66, 0x61, 0x74, 0x61, 0x6c, 0xff], "PRIORITY": "6"},
    {"SYSLOG_IDENTIFIER": "systemd-coredump", "MESSAGE": "Process 42 (python3) dumped core.", "PRIORITY": "2"},
    {"_SYSTEMD_UNIT": "archipelago.service", "MESSAGE": "tick done with 0 errors", "PRIORITY": "6"},
]


def test_errors_from_our_units_only():
    assert errors(E) == [
        "archy-lnd.service: ERROR: unable to reach bitcoind",
        "archipelago: tick failed",
        "archy-mempool.service: archy-mempool.service: Failed with result 'exit-code'.",
        "archy-electrumx: fatal\ufffd",
        "systemd-coredump: Process 42 (python3) dumped core.",
    ]


def test_allowlist():
    out = errors(E, allow=[r"unable to reach bitcoind", r"Failed with result"])
    assert "archy-lnd.service: ERROR: unable to reach bitcoind" not in out
    assert len(out) == 3
