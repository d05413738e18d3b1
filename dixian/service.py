"""Telling a supervisor how a long-running process is doing: the systemd notify protocol.

Under a unit with ``Type=notify`` systemd passes ``NOTIFY_SOCKET``; a process says ``READY=1`` once it
serves, ``STOPPING=1`` when it begins a graceful stop, and, with ``WatchdogSec=``, ``WATCHDOG=1`` at
least every half period from its event loop: a loop that stalls stops pinging and systemd restarts the
process. Outside systemd every call is a no-op. (The protocol is one datagram per message on a Unix
socket; no library is needed.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket


def notify(*states: str) -> bool:
    """Send ``states`` (e.g. ``"READY=1"``, ``"STATUS=…"``); whether a supervisor was there to hear."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s, contextlib.suppress(OSError):
        s.sendto("\n".join(states).encode(), address)
        return True
    return False


def watchdog_interval() -> float | None:
    """Seconds between pings the supervisor asked for (half its watchdog period), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return max(0.5, int(usec) / 2_000_000)


async def keep_watchdog_fed() -> None:
    """Ping the watchdog from the event loop until cancelled (returns at once if none was asked for)."""
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
