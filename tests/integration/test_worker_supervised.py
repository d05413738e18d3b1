"""The worker under a supervisor (systemd Type=notify, WatchdogSec): READY once the table is
recovered and it consumes, watchdog pings from its event loop, STOPPING and a clean exit on SIGTERM."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from dixian.config import Settings
from streams.kafka_run import start_worker
from tests.integration.month import free_port
from tests.screening_helpers import supervisor_messages

pytestmark = pytest.mark.integration


def test_the_worker_reports_to_its_supervisor(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"}
        w = start_worker(settings, "supervised", tmp_path / "logs", free_port(), extra_env=env)
        try:
            got = supervisor_messages(sock, "READY=1", 180)
            assert "READY=1" in got, w.log_text()[-3000:]
            assert "Worker ready" in w.log_text()  # READY came after Faust's recovery
            assert "WATCHDOG=1" in got + supervisor_messages(sock, "WATCHDOG=1", 5)
            w.proc.send_signal(signal.SIGTERM)
            assert "STOPPING=1" in supervisor_messages(sock, "STOPPING=1", 30)
            assert w.proc.wait(timeout=60) == 0, w.log_text()[-3000:]
        finally:
            w.stop()
