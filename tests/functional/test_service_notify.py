"""Supervision as systemd does it (Type=notify, WatchdogSec): the web server says READY once it
serves, feeds the watchdog from its event loop, says STOPPING on SIGTERM and exits cleanly."""

from __future__ import annotations

import signal
import socket
import urllib.request
from pathlib import Path

from tests.screening_helpers import serve_queue, supervisor_messages


def test_the_web_server_reports_to_its_supervisor(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        env = {
            "NOTIFY_SOCKET": str(path),
            "WATCHDOG_USEC": "1000000",  # a ping every half second
            "DIXIAN_DATA_DIR": str(tmp_path / "data"),
        }
        proc, _ = serve_queue(["--local", str(tmp_path / "topics")], env, tmp_path / "web.log")
        try:
            assert "READY=1" in supervisor_messages(sock, "READY=1", 10)
            pings = [m for m in supervisor_messages(sock, "never", 2.2) if m == "WATCHDOG=1"]
            assert len(pings) >= 3
            proc.send_signal(signal.SIGTERM)
            assert "STOPPING=1" in supervisor_messages(sock, "STOPPING=1", 10)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_the_web_server_serves_its_metrics_on_their_own_listener(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {"DIXIAN_SCREENING_METRICS_PORT": str(port), "DIXIAN_DATA_DIR": str(tmp_path / "data")}
    proc, base = serve_queue(["--local", str(tmp_path / "topics")], env, tmp_path / "web.log")
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "dixian_screening_steps_published_total" in text
        public = urllib.request.urlopen(f"{base}/metrics", timeout=5)  # as any page: sign in first
        assert "/login" in public.url
        assert b"dixian_screening" not in public.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
