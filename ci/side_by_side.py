#!/usr/bin/env python3
"""Two sequences of commands at once: `make test`'s VM suites on one TCG VM while the rehearsal
and the grid cell run on another (a TCG VM is single-threaded: one host core each).

The foreground sequence keeps the terminal: its output streams and Ctrl-C reaches it directly.
The background sequence runs in its own session with its output in RESULTS/test-background.log
(the previous one removed, only inside the results dir), printed when it ends,
so each pytest's summary line still reaches the console (.ci/run checks every one). Commands in a
sequence run one after another whatever the previous one returned; the exit status is the first
non-zero one, foreground first. Ctrl-C or SIGTERM stops the background command with SIGINT first
(pytest's finalizers tear its VM down), then SIGTERM and SIGKILL (node.proc.stop_group).

usage: ci/side_by_side.py --results-dir DIR [--timeout S] --background 'CMD' [--background 'CMD' ...] -- 'CMD' ...
"""
from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.deletion import DeletionRefused, safe_unlink  # noqa: E402
from node.proc import stop_group  # noqa: E402

LOG = "test-background.log"


class Background(threading.Thread):
    """Runs its commands in turn, each in its own session, output appended to the log."""

    def __init__(self, cmds: list[list[str]], log: Path, deadline: float):
        super().__init__(daemon=True)
        self.cmds, self.log, self.deadline = cmds, log, deadline
        self.codes: list[int] = []
        self.current: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()       # a stop() never misses a command being started

    def run(self) -> None:
        with open(self.log, "ab") as out:
            for cmd in self.cmds:
                out.write(f"$ {shlex.join(cmd)}\n".encode())
                out.flush()
                with self.lock:
                    if self.stopping.is_set():
                        break
                    self.current = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                                    start_new_session=True)
                try:
                    code = self.current.wait(max(1.0, self.deadline - time.monotonic()))
                    self.codes.append(130 if self.stopping.is_set() and code != 0 else code)
                except subprocess.TimeoutExpired:
                    out.write(b"side_by_side: the background sequence ran past its deadline: stopping it\n")
                    out.flush()
                    self.stop()
                    self.codes.append(124)
                    break

    def stop(self) -> None:
        with self.lock:
            self.stopping.set()
            current = self.current
        if current is not None and current.poll() is None:
            stop_group(current, interrupt=180, terminate=30)


class Terminated(KeyboardInterrupt):
    """SIGTERM, which reaches only this process (Ctrl-C reaches the foreground command too)."""


def _raise_on_sigterm(signum, frame):
    raise Terminated(f"signal {signum}")


def first_failure(codes: list[int]) -> int:
    """The first non-zero exit status, or 0; pure."""
    return next((c for c in codes if c != 0), 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ci/side_by_side.py", description=__doc__.splitlines()[0])
    ap.add_argument("--results-dir", required=True, type=Path, help=f"the background sequence's output goes to {LOG} here")
    ap.add_argument("--background", action="append", default=[], metavar="CMD")
    ap.add_argument("--timeout", type=float, default=80 * 60, help="seconds either sequence may take")
    ap.add_argument("foreground", nargs="+", metavar="CMD")
    args = ap.parse_args(argv)
    fg = [shlex.split(c) for c in args.foreground]
    bg_cmds = [shlex.split(c) for c in args.background]
    if not all(fg) or not all(bg_cmds):
        ap.error("an empty command")
    log = args.results_dir / LOG
    try:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        safe_unlink(log, within=args.results_dir)      # Background appends: a fresh log per run
    except (OSError, DeletionRefused) as e:
        ap.error(f"--results-dir {args.results_dir}: {e}")
    deadline = time.monotonic() + args.timeout
    bg = Background(bg_cmds, log, deadline)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    # Started in the background by a non-interactive shell (CI's `make test &`), we inherit SIGINT
    # ignored, and so would every child: their cleanup on SIGINT would never run. A handler of our
    # own is reset to the default in each child at exec, where an ignored signal stays ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    fg_codes: list[int] = []
    current: subprocess.Popen | None = None
    try:
        bg.start()
        for cmd in fg:
            current = subprocess.Popen(cmd)        # same process group: the terminal's Ctrl-C reaches it
            try:
                fg_codes.append(current.wait(max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                print(f"side_by_side: {shlex.join(cmd)} ran past the deadline: stopping it", flush=True)
                current.send_signal(signal.SIGINT)
                _wait(current, 180)
                fg_codes.append(124)
                break
        bg.join(max(1.0, deadline - time.monotonic()) + 300)   # its own deadline stops it; this is a backstop
        if bg.is_alive():
            bg.stop()
            bg.join(300)
    except KeyboardInterrupt as stop:
        if current is not None and current.poll() is None:
            if isinstance(stop, Terminated):
                current.send_signal(signal.SIGINT)     # pass the stop on as Ctrl-C: pytest's cleanup runs
            _wait(current, 180)
        bg.stop()
        bg.join(300)
        _print_log(log)
        return 130
    _print_log(log)
    return first_failure(fg_codes) or first_failure(bg.codes) or (0 if len(bg.codes) == len(bg_cmds) else 1)


def _wait(proc: subprocess.Popen, seconds: float) -> int | None:
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


def _print_log(log: Path) -> None:
    print(f"\n----- the background sequence ({log}) -----", flush=True)
    sys.stdout.write(log.read_text(errors="replace"))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
