"""Notice a dead guest within seconds: a thread tails serial.log for the kernel's crash lines.

Without it a crashed guest shows only when the command in flight runs out its deadline (an
install RPC: 12 minutes). The watch calls `on_crash(line)` once, from its own thread; VMNode uses
it to cut the SSH transport so the blocked command fails at once, naming the crash.
"""
import threading
from pathlib import Path
from typing import Callable

from .machine import crash_line

POLL_S = 0.5


class CrashWatch:
    def __init__(self, serial_log: Path, since: int, on_crash: Callable[[str], None]):
        self.serial_log, self.offset, self.on_crash = serial_log, since, on_crash
        self.crash: str | None = None
        self._tail = ""                    # an unfinished last line, kept for the next read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"crashwatch:{serial_log.parent.name}",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            if (line := self.poll()) is not None:
                self.crash = line
                self.on_crash(line)
                return

    def poll(self) -> str | None:
        """Read what the serial log gained since the last poll; the crash line if one came."""
        try:
            with open(self.serial_log, "rb") as fh:
                fh.seek(self.offset)
                new = fh.read(1 << 20)
        except OSError:
            return None
        self.offset += len(new)
        text = self._tail + new.decode(errors="replace")
        complete, _, self._tail = text.rpartition("\n")
        return crash_line(complete)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
