from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from dixian.config import Settings


def test_secrets_masked() -> None:
    s = Settings(ingest_secret=SecretStr("s3cr3t-value"))
    assert s.masked()["ingest_secret"] == "**********"
    assert "s3cr3t" not in repr(s.masked())


def test_placeholder_secret_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")
    Settings(environment="production", ingest_secret=SecretStr("a-real-secret-0123456789"))


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
            clock_date="2022-07-01",  # type: ignore[arg-type]
        )
