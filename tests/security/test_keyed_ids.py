"""Ids shown outside the store carry no meaning without the deployment's key: alert ids and
campaign item ids are keyed with DIXIAN_ID_SECRET (required in production), the same for every
process of the deployment, so the workers, the embedded runner and the queue agree on them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from dixian.config import Settings
from dixian.contract.alerts import Alert
from dixian.contract.deadlines import Deadlines
from screening.campaigns import create_campaign, item_id
from screening.store import Store
from streams.embedded import EmbeddedResult, run_embedded
from tests.integration.month import Month
from tests.screening_helpers import CITY, Clock, china, household, stores_of

KEY = b"a-real-deployment-secret"


def test_an_alert_id_cannot_be_computed_without_the_key() -> None:
    plain = Alert.make_id("4503211012010001", "MED-OOP-HIGH", date(2022, 6, 1))
    keyed = Alert.make_id("4503211012010001", "MED-OOP-HIGH", date(2022, 6, 1), KEY)
    assert keyed != plain
    assert keyed == Alert.make_id("4503211012010001", "MED-OOP-HIGH", date(2022, 6, 1), KEY)  # deterministic
    assert keyed != Alert.make_id("4503211012010001", "MED-OOP-HIGH", date(2022, 6, 1), b"another key")


def test_production_requires_an_id_secret() -> None:
    with pytest.raises(ValueError, match="DIXIAN_ID_SECRET is a placeholder"):
        Settings(environment="production", ingest_secret="x" * 32, kafka_security="SASL_SSL",
                 kafka_username="worker", kafka_password="p" * 16)  # fmt: skip
    assert Settings(id_secret="s3cret").deadlines().id_key == b"s3cret"
    assert Settings().deadlines().id_key is None  # development: unkeyed, as before keys existed


@pytest.fixture(params=["sqlite", "postgresql"])
def keyed_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    for store in stores_of(request.param, tmp_path, Clock(china(2022, 9, 1))):
        store.id_key = KEY
        yield store


def test_campaign_item_ids_name_no_household_and_sql_and_python_agree(keyed_store: Store) -> None:
    homes = [household(n) for n in range(1, 4)]
    keyed_store.ledger.upsert(homes)
    c = create_campaign(
        keyed_store, CITY, "排查", ["4503"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary"]
    )
    ids = {r["item_id"] for r in keyed_store.db.query("SELECT item_id FROM risk_items")}
    assert ids == {item_id(c.campaign_id, h.household_id, KEY) for h in homes}
    assert not any(h.household_id in i for i in ids for h in homes)


def test_the_embedded_runner_keys_every_alert_id_and_finds_the_same_alerts(tmp_path: Path) -> None:

    month = Month(tmp_path)
    plain = run_embedded(month.local_dir, month.topics)
    keyed = run_embedded(month.local_dir, month.topics, deadlines=Deadlines(id_key=KEY))
    assert len(keyed.alerts) == len(plain.alerts) > 500
    assert not set(keyed.alerts) & set(plain.alerts)

    def what(r: EmbeddedResult) -> list[tuple[object, ...]]:
        return sorted(
            (a.household_id, a.rule_id, a.window_start, a.revision, a.hits) for a in r.alerts.values()
        )

    assert what(keyed) == what(plain)
    want = {Alert.make_id(a.household_id, a.rule_id, a.window_start, KEY) for a in keyed.alerts.values()}
    assert set(keyed.alerts) == want
