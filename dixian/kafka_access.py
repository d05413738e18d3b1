"""How a process reaches Kafka: the bootstrap servers and, on a secured cluster, TLS and SASL/SCRAM.

Every Kafka client of the project (producers, consumers, admin clients, the Faust app) is made with
``KafkaAccess.options()``, so one set of settings decides the protocol for all of them. A bare
bootstrap string stands for a plaintext broker (the development broker and the demo).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Protocol = Literal["PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    bootstrap: str
    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.protocol == "SASL_SSL":
            missing = [n for n, v in (("username", self.username), ("password", self.password)) if not v]
            if missing:
                raise ValueError(
                    f"Kafka over SASL_SSL needs DIXIAN_KAFKA_{missing[0].upper()}: set the principal's"
                    " name and password (deploy/kafka/cluster.sh env <principal> prints them)"
                )
            if self.ca_file is not None and not self.ca_file.is_file():
                raise ValueError(f"DIXIAN_KAFKA_CA_FILE {self.ca_file} does not exist")

    @property
    def secured(self) -> bool:
        return self.protocol != "PLAINTEXT"

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS that verifies the brokers' certificates against the cluster's CA (or the system's)."""
        if not self.secured:
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client: servers, protocol and credentials."""
        opts: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.secured:
            opts |= {
                "security_protocol": self.protocol,
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
                "ssl_context": self.ssl_context(),
            }
        return opts


KafkaTarget = KafkaAccess | str


def access(target: KafkaTarget) -> KafkaAccess:
    """A bootstrap string means a plaintext broker; a ``KafkaAccess`` is used as it is."""
    return target if isinstance(target, KafkaAccess) else KafkaAccess(target)
