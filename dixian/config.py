"""One settings object per process, read from ``DIXIAN_*`` environment variables."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dixian.contract.deadlines import VISIT_DAYS, VISIT_DAYS_RANGE, Deadlines
from dixian.contract.events import CHINA_TZ, now_china
from dixian.kafka_access import KafkaAccess, Mechanism, Protocol

# Values that must never reach production: refused unless environment == "development".
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "dev-secret"})


class Settings(BaseSettings):
    """Everything a dixian process can be configured with.

    Every field reads ``DIXIAN_<FIELD>`` (upper case), e.g. ``DIXIAN_KAFKA_BOOTSTRAP``.
    """

    model_config = SettingsConfigDict(env_prefix="DIXIAN_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated")
    kafka_security: Protocol = Field(
        "PLAINTEXT", description="PLAINTEXT (development broker) or SASL_SSL (TLS + SCRAM, the cluster)"
    )
    kafka_sasl_mechanism: Mechanism = "SCRAM-SHA-512"
    kafka_username: str = Field("", description="this process's Kafka principal (SASL_SSL)")
    kafka_password: SecretStr = Field(SecretStr(""), description="the principal's SCRAM password")
    kafka_ca_file: Path | None = Field(None, description="PEM file of the CA that signed the brokers")
    topic_prefix: str = Field("", description="prefix for every topic name, e.g. 'guilin.'")
    partitions: int = Field(4, ge=1, le=1024, description="partitions of every keyed topic")
    replication_factor: int = Field(1, ge=1, le=5)
    data_dir: Path = Field(Path("var"), description="local state: ingest dedup index, stores, reports")
    cache_dir: Path = Field(Path.home() / ".cache" / "dixian", description="downloaded jars")
    worker_id: str = Field("dixian", description="Faust app id = consumer group of the workers")
    web_port: int = Field(6066, ge=0, le=65535, description="worker's Faust web port (0 = no web server)")
    metrics_port: int = Field(9464, ge=0, le=65535, description="worker's Prometheus /metrics port (0 = off)")
    commit_interval_s: float = Field(
        1.0,
        gt=0,
        le=300,
        description="how often a worker commits the offsets of records whose outputs the broker has"
        " acknowledged (after a crash, the records since the last commit are processed again)",
    )
    session_timeout_s: float = Field(
        60.0, ge=6, le=300, description="a worker silent this long is dead: its partitions move to the others"
    )
    screening_db: str = Field(
        "",
        description="alert store URL: sqlite:///path.sqlite or postgresql://user:pass@host/db"
        " (empty: SQLite under data_dir)",
    )
    screening_host: str = Field("127.0.0.1", description="address of the village queue web server")
    screening_port: int = Field(8080, ge=0, le=65535, description="port of the village queue web server")
    screening_metrics_host: str = Field(
        "127.0.0.1",
        description="address of the queue web server's own /metrics listener (not the public port)",
    )
    screening_metrics_port: int = Field(
        9470, ge=0, le=65535, description="port of the queue web server's /metrics listener (0 = off)"
    )
    screening_secure_cookies: bool = Field(
        False,
        description="mark session cookies Secure (HTTPS only); always on when environment=production",
    )
    screening_trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="addresses of reverse proxies whose X-Forwarded-Proto is believed (comma separated)",
    )
    dead_letter_retention_days: int = Field(
        180,
        ge=1,
        le=3650,
        description="days the dead-letter topic keeps refused records (they hold raw rows)",
    )
    push_host: str = Field("127.0.0.1", description="address of the department push endpoint")
    push_port: int = Field(8701, ge=1, le=65535, description="port of the department push endpoint")
    push_metrics_host: str = Field(
        "127.0.0.1", description="address of the push endpoint's own /metrics listener (feed metrics)"
    )
    push_metrics_port: int = Field(
        9471, ge=0, le=65535, description="port of the push endpoint's /metrics listener (0 = off)"
    )
    push_max_body: int = Field(8 * 1024 * 1024, ge=1024, description="largest push request body, bytes")
    visit_days: int = Field(
        VISIT_DAYS,
        ge=VISIT_DAYS_RANGE[0],
        le=VISIT_DAYS_RANGE[1],
        description="home visit deadline in days after a clue (2-5)",
    )
    clock_date: date | None = Field(
        None, description="pretend today is this date (demos and training on a past month); empty: real date"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    ingest_secret: SecretStr = Field(
        SecretStr("dev-secret"),
        description="HMAC-SHA256 key of the stored push-token digests (a real secret in production)",
    )

    id_secret: SecretStr = Field(
        SecretStr("dev-secret"),
        description="key of alert and campaign item ids (the same for every process of a deployment;"
        " a real secret in production: ids then reveal no household)",
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        for name, secret in (("INGEST", self.ingest_secret), ("ID", self.id_secret)):
            if self.environment == "production" and secret.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"DIXIAN_{name}_SECRET is a placeholder; set a real secret before running in production"
                )
        self.kafka  # noqa: B018  (a SASL_SSL setting without its principal fails here, not at first use)
        if self.environment == "production" and self.kafka_security == "PLAINTEXT":
            raise ValueError(
                "DIXIAN_KAFKA_SECURITY is PLAINTEXT: in production every client authenticates over TLS;"
                " set DIXIAN_KAFKA_SECURITY=SASL_SSL with the process's principal (README, Production)"
            )
        if self.environment == "production" and self.clock_date is not None:
            raise ValueError(
                "DIXIAN_CLOCK_DATE shifts every deadline and is for demos and training only:"
                " unset it before running in production"
            )
        return self

    def id_key(self) -> bytes | None:
        """The key ids are made with (None: no secret set, unkeyed ids; refused in production)."""
        secret = self.id_secret.get_secret_value()
        return None if secret in PLACEHOLDER_SECRETS else secret.encode()

    def deadlines(self) -> Deadlines:
        """What the alert builder takes from these settings: deadlines and the id key."""
        return Deadlines(visit_days=self.visit_days, id_key=self.id_key())

    def override(self, **values: Any) -> Settings:
        """These settings with ``values`` (None: keep) in place, validated like the environment's."""
        given = {k: v for k, v in values.items() if v is not None}
        unknown = set(given) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"not settings: {', '.join(sorted(unknown))}")
        return type(self).model_validate(self.model_dump() | given)

    @property
    def kafka(self) -> KafkaAccess:
        """How this process reaches Kafka (servers, TLS, SASL principal)."""
        return KafkaAccess(
            self.kafka_bootstrap,
            self.kafka_security,
            self.kafka_sasl_mechanism,
            self.kafka_username,
            self.kafka_password.get_secret_value(),
            self.kafka_ca_file,
        )

    # Where each part keeps its local state, under data_dir.
    @property
    def ingest_dir(self) -> Path:
        """Connectors: dedup index, data-quality counters, snapshots, push tokens."""
        return self.data_dir / "ingest"

    @property
    def local_dir(self) -> Path:
        """The embedded default's topic files (one JSON Lines file per topic)."""
        return self.data_dir / "local"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def faust_dir(self) -> Path:
        return self.data_dir / "faust"

    def screening_url(self) -> str:
        return self.screening_db or f"sqlite:///{self.data_dir / 'screening' / 'screening.sqlite'}"

    def now(self) -> datetime:
        """The current China time, on ``clock_date`` if one is set (time of day keeps running)."""
        real = now_china()
        if self.clock_date is None:
            return real
        return datetime.combine(self.clock_date, time(real.hour, real.minute, real.second), CHINA_TZ)

    def environ(self) -> dict[str, str]:
        """These settings as ``DIXIAN_*`` variables, secrets in clear: for a child process only."""
        out: dict[str, str] = {}
        for name, value in self:
            if value is None:
                continue
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            out[f"DIXIAN_{name.upper()}"] = str(plain)
        return out

    def masked(self) -> dict[str, Any]:
        """The settings as plain values, secrets shown as ``**********``."""
        out: dict[str, Any] = {}
        for name, value in self:
            if name == "screening_db" and value:
                out[name] = redact_url(str(value))
            elif isinstance(value, SecretStr):
                out[name] = "**********" if value.get_secret_value() else ""
            elif isinstance(value, (Path, date)):
                out[name] = str(value)
            else:
                out[name] = value
        return out


def redact_url(url: str) -> str:
    """A connection URL without its password, for messages and logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
