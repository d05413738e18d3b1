from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from dixian.config import Settings

SECURED = {
    "kafka_security": "SASL_SSL",
    "kafka_username": "worker",
    "kafka_password": SecretStr("pw-0123456789"),
}


def test_secrets_masked() -> None:
    s = Settings(ingest_secret=SecretStr("s3cr3t-value"))
    assert s.masked()["ingest_secret"] == "**********"
    assert "s3cr3t" not in repr(s.masked())


def test_placeholder_secret_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")
    Settings(
        environment="production",
        ingest_secret=SecretStr("a-real-secret-0123456789"),
        id_secret=SecretStr("a-real-id-secret-0123"),
        **SECURED,
    )


def test_plaintext_kafka_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="DIXIAN_KAFKA_SECURITY is PLAINTEXT"):
        Settings(
            environment="production",
            ingest_secret=SecretStr("a-real-secret-0123456789"),
            id_secret=SecretStr("a-real-id-secret-0123"),
        )


def test_sasl_without_a_principal_is_refused_and_the_password_is_masked() -> None:
    with pytest.raises(ValidationError, match="DIXIAN_KAFKA_USERNAME"):
        Settings(kafka_security="SASL_SSL")
    s = Settings(**SECURED)  # type: ignore[arg-type]
    assert s.masked()["kafka_password"] == "**********"
    assert "pw-0123456789" not in repr(s.kafka) + repr(s.masked())
    opts = s.kafka.options()
    assert opts["security_protocol"] == "SASL_SSL"
    assert opts["sasl_plain_username"] == "worker"
    assert opts["ssl_context"].check_hostname


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIXIAN_PARTITIONS", "12")
    monkeypatch.setenv("DIXIAN_TOPIC_PREFIX", "guilin.")
    s = Settings()
    assert s.partitions == 12
    assert s.topic_prefix == "guilin."


def test_a_shifted_clock_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="DIXIAN_CLOCK_DATE"):
        Settings(
            environment="production",
            ingest_secret=SecretStr("a-real-secret-0123456789"),
            id_secret=SecretStr("a-real-id-secret-0123"),
            clock_date="2022-07-01",  # type: ignore[arg-type]
            **SECURED,
        )


def test_environ_round_trips_every_setting() -> None:
    s = Settings(partitions=12, topic_prefix="guilin.", **SECURED)  # type: ignore[arg-type]
    assert Settings(**{k.removeprefix("DIXIAN_").lower(): v for k, v in s.environ().items()}) == s


def test_the_worker_commits_as_often_as_the_setting_says(tmp_path: Path) -> None:
    from streams.app import faust_app  # noqa: PLC0415

    app = faust_app(Settings(data_dir=tmp_path, commit_interval_s=60))
    assert app.conf.broker_commit_interval == 60
    assert faust_app(Settings(data_dir=tmp_path)).conf.broker_commit_interval == 1.0
    with pytest.raises(ValidationError, match="commit_interval_s"):
        Settings(commit_interval_s=0)
