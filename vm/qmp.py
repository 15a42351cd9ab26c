"""Bounded QMP calls through qemu.qmp's asyncio client.

QEMU's QMP socket serves one client at a time, so every call opens, negotiates, runs and closes;
that keeps the socket free for the CLI (`python -m vm status`) while a test holds the VM.
asyncio.wait_for bounds every step (the legacy sync client can block forever on connect).
"""
import asyncio
import concurrent.futures
import socket
from pathlib import Path
from typing import Any, Awaitable, Callable

from qemu.qmp import QMPClient
from qemu.qmp.error import QMPError

from .errors import VMError, VMTimeout


def accepts(sock: Path, timeout: float = 2) -> bool:
    """True when QEMU listens on the QMP socket (a bare connect, closed at once: QEMU is up)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(sock))
            return True
        except OSError:
            return False


def call(sock: Path, cmd: str, args: dict | None = None, timeout: float = 10) -> Any:
    """Run one QMP command and return its 'return' value."""
    async def one(q: QMPClient):
        return await q.execute(cmd, args or {})
    return session(sock, one, timeout=timeout, what=cmd)


def session(sock: Path, body: Callable[[QMPClient], Awaitable[Any]], *, timeout: float, what: str) -> Any:
    """Run `body(client)` against the QMP socket with a hard deadline for the whole exchange."""
    async def run():
        q = QMPClient("archy")
        try:
            await q.connect(str(sock))
            return await body(q)
        finally:
            try:
                await q.disconnect()
            except (EOFError, OSError, QMPError):
                pass              # QEMU closed its end first (quit)

    async def bounded():
        return await asyncio.wait_for(run(), timeout)

    try:
        return _run_coroutine(bounded)
    except (asyncio.TimeoutError, TimeoutError):
        raise VMTimeout(f"QMP {what} on {sock} did not answer within {timeout:.0f} s") from None
    except (QMPError, OSError, EOFError) as e:
        raise VMError(f"QMP {what} on {sock} failed: {e}") from None


def _run_coroutine(factory):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # called from inside an event loop (e.g. an async caller): run in a helper thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, factory()).result()
