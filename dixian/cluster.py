"""The secured three-broker cluster of ``deploy/kafka/cluster.sh``: its folder, its principals'
passwords, and bringing it up with users, ACLs and replicated topics.

Layout of the cluster folder (``DIXIAN_CLUSTER_DIR``, default ``<data_dir>/cluster``)::

    tls/ca.pem                 the CA the clients trust (a test CA unless real files were put there)
    tls/broker.pem             the brokers' key and certificate (CN=dixian-broker)
    secrets/<principal>.password   one SCRAM password per principal (mode 600)
    node1/ node2/ node3/       each broker's properties, data and logs
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from dixian.acls import OPERATOR, Acl, plan, principals
from dixian.config import Settings
from dixian.kafka_access import KafkaAccess

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "deploy" / "kafka" / "cluster.sh"


class ClusterError(RuntimeError):
    """A step of bringing the cluster up failed; the message says which and where to look."""


class Cluster:
    def __init__(self, settings: Settings, directory: Path | None = None, port: int | None = None) -> None:
        self.settings = settings
        env_dir = os.environ.get("DIXIAN_CLUSTER_DIR")
        self.directory = (
            directory or (Path(env_dir) if env_dir else settings.data_dir / "cluster")
        ).resolve()
        self.port = port or int(os.environ.get("DIXIAN_CLUSTER_PORT", "29092"))

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + 10 * i}" for i in range(3))

    @property
    def ca_file(self) -> Path:
        return self.directory / "tls" / "ca.pem"

    def password(self, principal: str) -> str:
        """The principal's SCRAM password, made (random, 192 bits) the first time it is asked for."""
        f = self.directory / "secrets" / f"{principal}.password"
        if not f.exists():
            f.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(24))
        return f.read_text().strip()

    def access(self, principal: str) -> KafkaAccess:
        return KafkaAccess(
            self.bootstrap, "SASL_SSL", "SCRAM-SHA-512", principal, self.password(principal), self.ca_file
        )

    def settings_for(self, principal: str) -> Settings:
        """This deployment's settings, connecting as ``principal``."""
        return self.settings.override(
            kafka_bootstrap=self.bootstrap,
            kafka_security="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_username=principal,
            kafka_password=self.password(principal),
            kafka_ca_file=self.ca_file,
            replication_factor=3,
        )

    def environ(self, principal: str) -> dict[str, str]:
        """The ``DIXIAN_KAFKA_*`` variables of a process running as ``principal`` (an EnvironmentFile)."""
        a = self.access(principal)
        return {
            "DIXIAN_KAFKA_BOOTSTRAP": a.bootstrap,
            "DIXIAN_KAFKA_SECURITY": a.protocol,
            "DIXIAN_KAFKA_SASL_MECHANISM": a.mechanism,
            "DIXIAN_KAFKA_USERNAME": a.username,
            "DIXIAN_KAFKA_PASSWORD": a.password,
            "DIXIAN_KAFKA_CA_FILE": str(a.ca_file),
            "DIXIAN_REPLICATION_FACTOR": "3",
        }

    def script(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        env = {
            **os.environ,
            "DIXIAN_CLUSTER_DIR": str(self.directory),
            "DIXIAN_CLUSTER_PORT": str(self.port),
            "DIXIAN_CACHE_DIR": str(self.settings.cache_dir),
        }
        done = subprocess.run(
            ["bash", str(SCRIPT), *args], input=stdin, env=env, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise ClusterError(
                f"cluster.sh {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def start(self, *, fresh: bool = False) -> list[str]:
        """Start the brokers, then set every principal's password, apply the ACL plan and create the
        topics with three replicas. Idempotent. Returns what each step reported."""
        import asyncio  # noqa: PLC0415

        from connectors.kafka import ensure_topics  # noqa: PLC0415
        from dixian.topics import Topics  # noqa: PLC0415

        self.script("start", *(["--fresh"] if fresh else []))
        users = "".join(f"{p} {self.password(p)}\n" for p in principals() if p != OPERATOR)
        report = [
            self.script("users", stdin=users).strip(),
            self.script("acls", stdin=self.plan_text()).strip(),
        ]
        operator = self.settings_for(OPERATOR)
        created = asyncio.run(ensure_topics(operator.kafka, Topics(operator).all(), replication=3))
        report.append(f"topics: {len(created)} created with 3 replicas, min.insync.replicas=2")
        return report

    def plan(self) -> list[Acl]:
        return plan(self.settings)

    def plan_text(self) -> str:
        return "".join(a.line() + "\n" for a in self.plan())

    def applied_acls(self) -> list[str]:
        return self.script("list-acls").splitlines()
