"""Deliberate faults a test switches on for one app: a broken stand-in the harness must catch.

A fault is named in `<data>/.standin-fault` (names separated by blanks, commas or lines; no file:
no fault). The app's data dir is on the node (bind-mounted at /data), so a test turns a fault on
for exactly one app, before its install or while it runs: the file is read on every answer.
It is a runtime file: no data checksum or manifest counts it. A fault changes the app's protocol
answer only; the stand-in's own /status still reports the truth, so a harness that catches the
fault must have judged by the protocol.

- `wrong-height` (bitcoind): getblockchaininfo answers `blocks` WRONG_HEIGHT_OFFSET above its own
  `headers`, a height no bitcoind can report (it never holds blocks it has no header for).
- `not-synced` (lnd): getinfo answers `synced_to_chain: false` whatever bitcoind says.
- `exit-at-start` (any profile): the program exits 1 before it listens, like a daemon refusing a
  datadir it cannot read: with the file in place every start fails, the same spec each time (a
  crash loop, unlike a bad release, whose image changed).
"""
from pathlib import Path

FAULT_FILE = ".standin-fault"
ANY = "*"
FAULTS = {"wrong-height": "bitcoind", "not-synced": "lnd", "exit-at-start": ANY}   # fault -> the profile that has it
WRONG_HEIGHT_OFFSET = 1000


def parse(text: str) -> frozenset[str]:
    """The fault names in the file's text; unknown words are ignored (the harness checks names)."""
    words = text.replace(",", " ").split()
    return frozenset(w for w in words if w in FAULTS)


def active(data: Path) -> frozenset[str]:
    try:
        return parse((data / FAULT_FILE).read_text(errors="replace"))
    except OSError:             # absent (the normal case) or unreadable: no fault
        return frozenset()
