"""A broker of a test's own (for tests that kill it): the project's single-node KRaft broker on free
ports with its own data directory, started, killed with SIGKILL and restarted by deploy/kafka."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "kafka" / "kafka.sh"


class OwnBroker:
    def __init__(self, directory: Path, port: int, controller_port: int) -> None:
        self.directory = directory
        self.port = port
        self.controller_port = controller_port
        self.bootstrap = f"127.0.0.1:{port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DIXIAN_KAFKA_PORT": str(self.port),
            "DIXIAN_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "DIXIAN_KAFKA_DIR": str(self.directory),
        }

    def start(self) -> None:
        done = subprocess.run(
            ["bash", str(SCRIPT), "start"], check=False, env=self._env(), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"the test broker did not start ({done.returncode}):\n{done.stderr[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the broker dies as a machine does, with no shutdown."""
        pid = int((self.directory / "broker.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        raise RuntimeError(f"broker {pid} still alive after SIGKILL")

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=self._env(), check=False, capture_output=True)
