"""`python -m matrix check|plan`: validate the data, show the grid a selection would run."""
from __future__ import annotations

import argparse
import sys

from .model import MatrixError, load, plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m matrix")
    ap.add_argument("command", choices=["check", "plan"])
    ap.add_argument("--dir", help="directory holding apps/events/cells/levels.yaml")
    ap.add_argument("--apps", help="comma-separated app ids (plan)")
    ap.add_argument("--events", help="comma-separated event ids (plan)")
    args = ap.parse_args(argv)
    try:
        m = load(args.dir)
        cells = plan(m, args.apps.split(",") if args.apps else None,
                     args.events.split(",") if args.events else None)
    except MatrixError as e:
        print(f"matrix error: {e}", file=sys.stderr)
        return 2
    if args.command == "check":
        must = sum(c.requirement == "MUST" for c in cells)
        print(f"matrix OK: {len(m.apps)} apps, {len(m.companions)} companions, {len(m.events)} events, "
              f"{len(cells)} cells ({must} MUST, {len(cells) - must} SHOULD), {len(m.levels)} levels")
    else:
        for c in cells:
            print(f"{c.id:36} {c.requirement:6} needs {','.join(c.needs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
