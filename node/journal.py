"""systemd's journal as the controller reads it: `journalctl -o json` lines, the message ids of
unit jobs (sd-messages.h) and the unit an entry is about, from either manager."""
from __future__ import annotations

import json
from typing import Mapping

UNIT_STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"           # "Starting <unit>..."
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"            # "Started <unit>" (ready: Notify=healthy)
UNIT_RESTART_SCHEDULED = "5eb03494b6584870a536b337290809b3"  # "Scheduled restart job, restart counter is at N."
UNIT_FAILURE_RESULT = "d9b373ed55a64feb8242e02dbe79a49c"     # "<unit>: Failed with result '...'."


def json_lines(text: str) -> list[dict]:
    """`journalctl -o json` output, one entry per line; a line cut by a rotating journal is not
    worth failing on."""
    entries = []
    for line in text.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def unit_of(entry: Mapping) -> str:
    """The unit a manager's message is about: UNIT (the system manager) or USER_UNIT (a user's)."""
    return str(entry.get("UNIT") or entry.get("USER_UNIT") or "")
