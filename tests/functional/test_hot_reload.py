"""Switching catalogues in a running engine: valid versions switch, invalid ones are refused."""

from __future__ import annotations

import copy

import orjson
import pytest

from dixian.contract import Dept, parse_event
from rules.catalogue import load_catalogue
from rules.facts import HouseholdContext
from rules.live import LiveCatalogue
from tests.helpers import HOUSEHOLD, VILLAGE, rss_mib


@pytest.fixture
def live() -> LiveCatalogue:
    lc = LiveCatalogue()
    yield lc
    lc.close()


def _water(days: int):  # type: ignore[no-untyped-def]
    return parse_event(
        {
            "event_id": "water-0000001",
            "event_type": "water.assessed",
            "household_id": HOUSEHOLD,
            "village_code": VILLAGE,
            "occurred_at": "2022-06-01",
            "reported_at": "2022-06-30 10:00:00",
            "litres_per_person_day": 80,
            "days_lost_per_year": days,
        },
        dept=Dept.WATER,
    )


def _ids(live: LiveCatalogue, days: int) -> set[str]:
    return {h.rule_id for h in live.evaluate(_water(days), HouseholdContext(), None)}


def test_valid_catalogue_switches_and_changes_outcomes(live: LiveCatalogue) -> None:
    assert "WA-RELIABILITY" in _ids(live, 40)
    data = load_catalogue().as_data()
    del data["version"]  # an edited catalogue gets its version from its content
    for p in data["parameters"]["water_days_lost_max"]["values"]:
        p["value"] = 45  # a looser limit: the shipped example "40 days fires" now fails
    offer = live.offer(orjson.dumps(data))
    assert not offer.accepted
    assert "example" in offer.reason
    data2 = copy.deepcopy(load_catalogue().as_data())
    del data2["version"]
    rule = next(r for r in data2["rules"] if r["id"] == "WA-RELIABILITY")
    rule["state"] = "paused"
    old = live.version
    offer = live.offer(orjson.dumps(data2))
    assert offer.accepted
    assert offer.version != old
    assert live.version == offer.version
    assert "WA-RELIABILITY" not in _ids(live, 40)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"rules": []}', "expected"),
        (orjson.dumps({**load_catalogue().as_data(), "version": "0000"}), "does not match its content"),
    ],
)
def test_invalid_catalogue_refused_and_old_version_kept(
    live: LiveCatalogue, payload: bytes, reason: str
) -> None:
    old = live.version
    offer = live.offer(payload)
    assert not offer.accepted
    assert reason in offer.reason
    assert live.version == old
    assert "WA-RELIABILITY" in _ids(live, 40)
    assert live.rejected[-1] == offer


def test_rule_with_a_type_error_is_refused(live: LiveCatalogue) -> None:
    data = load_catalogue().as_data()
    rule = next(r for r in data["rules"] if r["id"] == "WA-QUALITY")
    rule["when"] = {"event.quality_ok": {"gt": 3}}
    offer = live.offer(orjson.dumps({k: v for k, v in data.items() if k != "version"}))
    assert not offer.accepted
    assert "WA-QUALITY" in offer.reason


def test_hot_reloads_stay_within_the_memory_budget(live: LiveCatalogue) -> None:
    """Each accepted version costs one ruleset (~0.4 MiB of session state durable_rules keeps);
    before, every reload also built a second ruleset to run the examples (measured 26.6 MiB / 50)."""
    import gc  # noqa: PLC0415

    base = load_catalogue().as_data()
    del base["version"]
    variants = []
    for state in ("paused", "active"):
        data = copy.deepcopy(base)
        data["rules"][0]["state"] = state
        variants.append(orjson.dumps(data))
    gc.collect()
    before = rss_mib()
    for i in range(20):
        assert live.offer(variants[i % 2]).accepted
        assert "WA-RELIABILITY" in _ids(live, 40)
    gc.collect()
    assert rss_mib() - before < 15, "20 reloads must stay far below the 50 MiB budget for 50"
