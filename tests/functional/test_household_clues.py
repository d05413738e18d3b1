"""One household, one clue: every alert and every other source of a household joins its open clue
as a risk item; the county's decision is written back to the household ledger. On SQLite and on a
real PostgreSQL server alike."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from dixian.contract.alerts import Alert
from dixian.contract.vocabulary import ClueState
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    COUNTY_A,
    OFFICER_A,
    TOWNSHIP_A,
    Clock,
    alert,
    asset_passed,
    china,
    decide_case,
    dump_store,
    household,
    open_test_store,
    store_differences,
    store_url,
    stores_of,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 7, 1))
    for store in stores_of(request.param, tmp_path, clock):
        store.ledger.upsert(
            [household(1), household(2, monitoring_category="边缘易致贫户", monitoring_status="监测中")]
        )
        yield store, clock


def _open(store: Store, household_id: str) -> list[dict[str, object]]:
    return store.db.query("SELECT * FROM clues WHERE household_id = ? AND state <> 'closed'", (household_id,))


def test_two_alerts_of_different_rules_and_departments_make_one_clue_with_two_items(
    world: tuple[Store, Clock],
) -> None:
    store, _ = world
    medical = alert(1, reported=date(2022, 6, 28))
    job = alert(1, rule="HR-JOB-LOSS", risk_label="因失业", severity="medium", reported=date(2022, 6, 20))
    job = job.model_copy(update={"department": "hrss", "title": "家庭成员失业"})
    counts = store.clues.upsert_alerts([medical, job])
    assert (counts.inserted, counts.joined) == (1, 1)
    (clue,) = _open(store, medical.household_id)
    # the first to arrive opens the clue (a rebuild reads them in the same order); the deadlines
    # run from the earliest item
    assert (clue["clue_id"], clue["items"], clue["severity"]) == (medical.alert_id, 2, "high")
    assert (clue["visit_by"], clue["decide_by"]) == ("2022-06-25", "2022-07-05")
    items = store.clues.items(str(clue["clue_id"]))
    assert [(i["rule_id"], i["department"]) for i in items] == [
        ("HR-JOB-LOSS", "hrss"),
        ("MED-OOP-HIGH", "medical_insurance"),
    ]
    # a replay adds nothing; a higher revision refreshes its item and never the workflow
    assert store.clues.upsert_alerts([medical, job]).unchanged == 2
    assert store.clues.upsert_alerts([medical.model_copy(update={"revision": 2, "hits": 2})]).updated == 1
    assert [i["hits"] for i in store.clues.items(str(clue["clue_id"]))] == [1, 2]
    assert store.db.one("SELECT COUNT(*) AS n FROM clues") == {"n": 1}


def test_an_item_that_arrives_after_the_visit_flags_the_clue_and_keeps_its_clock(
    world: tuple[Store, Clock],
) -> None:
    store, _ = world
    first = alert(1)
    store.clues.upsert_alerts([first])
    store.clues.act(OFFICER_A, first.alert_id, Request("visit", note="见到户主"))
    before = store.clues.get(OFFICER_A, first.alert_id)
    assert not before["new_risk"]
    later = alert(1, rule="HH-INCOME-UNDER-LINE", risk_label="因灾", reported=date(2022, 6, 10))
    assert store.clues.upsert_alerts([later]).joined == 1
    after = store.clues.get(OFFICER_A, first.alert_id)
    assert (after["new_risk"], after["items"], after["state"]) == (1, 2, ClueState.VISITED.value)
    assert (after["visit_by"], after["decide_by"]) == (before["visit_by"], before["decide_by"])
    flags = {i["item_id"]: i["after_visit"] for i in store.clues.items(first.alert_id)}
    assert flags == {first.alert_id: 0, later.alert_id: 1}


def test_applications_and_cadre_findings_join_the_open_clue_and_a_new_one_opens_after_closing(
    world: tuple[Store, Clock],
) -> None:
    store, clock = world
    hid = household(1).household_id
    clue_id, created = store.clues.create(OFFICER_A, hid, "application", "户主住院，申请纳入")
    assert created
    again, created = store.clues.create(OFFICER_A, hid, "cadre", "入户发现房屋开裂")
    assert (again, created) == (clue_id, True)
    assert store.clues.create(OFFICER_A, hid, "cadre", "入户发现房屋开裂") == (clue_id, False)  # same day
    store.clues.upsert_alerts([alert(1)])
    assert [c["items"] for c in _open(store, hid)] == [3]
    for step in (
        Request("visit", note="见到户主"),
        Request("conclude", proposal="no_risk", note="已核实，无风险"),
        Request("village_review", decision="approve"),
    ):
        store.clues.act(OFFICER_A, clue_id, step)
    store.clues.act(TOWNSHIP_A, clue_id, Request("township_review", decision="approve"))
    store.clues.act(COUNTY_A, clue_id, Request("county_decide", decision="approve"))
    assert _open(store, hid) == []
    clock.at = china(2022, 9, 1)
    store.clues.upsert_alerts([alert(1, rule="HR-JOB-LOSS", reported=date(2022, 8, 30))])
    (fresh,) = _open(store, hid)
    assert (fresh["clue_id"] != clue_id, fresh["items"]) == (True, 1)


def test_a_county_inclusion_is_written_to_the_ledger_and_marks_the_next_risk(
    world: tuple[Store, Clock],
) -> None:
    store, clock = world
    a = alert(1)
    store.clues.upsert_alerts([a])
    assert not store.clues.get(OFFICER_A, a.alert_id)["monitored_risk"]
    store.clues.act(OFFICER_A, a.alert_id, Request("visit", note="见到户主"))
    store.clues.act(OFFICER_A, a.alert_id, Request("conclude", proposal="include", category="突发严重困难户"))
    store.clues.act(OFFICER_A, a.alert_id, Request("village_review", decision="approve"))
    clock.at = china(2022, 7, 7)
    store.clues.act(OFFICER_A, a.alert_id, Request("notice_end", decision="approve"))
    store.clues.act(TOWNSHIP_A, a.alert_id, Request("township_review", decision="approve"))
    asset_passed(store, a.alert_id)
    store.clues.act(COUNTY_A, a.alert_id, Request("county_decide", decision="approve"))
    hh = store.ledger.household(a.household_id)
    assert hh is not None
    assert (hh["status"], hh["category"]) == ("监测中", "突发严重困难户")
    # any later risk of the household, from any department or source, is a monitored household's
    clock.at = china(2022, 8, 10)
    clue_id, _ = store.clues.create(OFFICER_A, a.household_id, "cadre", "走访发现家中又有人生病")
    assert store.clues.get(OFFICER_A, clue_id)["monitored_risk"] == 1


def test_a_monitored_households_out_patient_bill_is_marked_whatever_the_rule(
    world: tuple[Store, Clock],
) -> None:
    store, _ = world
    bill = alert(2, rule="MI-OUTPATIENT-CHRONIC", severity="low")
    store.clues.upsert_alerts([bill])
    assert store.clues.get(OFFICER_A, bill.alert_id)["monitored_risk"] == 1


def test_a_monitoring_object_from_the_roster_without_a_plan_is_flagged(world: tuple[Store, Clock]) -> None:
    from screening.plans import plans  # noqa: PLC0415

    store, clock = world
    listed = {p["household_id"]: p for p in plans(store, OFFICER_A)}
    roster_object = listed[household(2).household_id]
    assert (roster_object["no_plan"], roster_object["late"]) == (True, True)
    assert household(1).household_id not in listed  # not a monitoring object
    # its next case, decided as 已是监测对象, opens its plan (due in 10 days)
    cid, _ = store.clues.create(OFFICER_A, household(2).household_id, "cadre", "走访发现家中老人住院")
    decide_case(store, clock, cid, "already_monitored", note="老人住院，已落实医保报销")
    listed = {p["household_id"]: p for p in plans(store, OFFICER_A)}
    planned = listed[household(2).household_id]
    assert (planned["clue_id"], planned.get("no_plan", False), planned["measures"]) == (cid, False, 0)
    # a second such case does not open a second plan
    cid2, _ = store.clues.create(OFFICER_A, household(2).household_id, "application", "又有家人生病")
    decide_case(store, clock, cid2, "already_monitored", note="落实临时救助")
    assert [
        p["clue_id"] for p in plans(store, OFFICER_A) if p["household_id"] == household(2).household_id
    ] == [cid]


def _two_parts_of_a_month() -> tuple[list[Alert], list[Alert]]:
    """Households with several risks each (deadlines earlier and later than their first item's), a
    higher revision and a replay inside one part; household 1's clue is visited between the parts."""
    risks = [
        ("MED-OOP-HIGH", "因病", "high"),
        ("HR-JOB-LOSS", "因失业", "medium"),
        ("HH-INCOME", "因灾", "low"),
    ]
    first = [
        alert(n, rule=rule, risk_label=label, severity=severity, reported=date(2022, 6, 27 - 7 * k + n))
        for n in (1, 2, 3)
        for k, (rule, label, severity) in enumerate(risks)
    ]
    first += [first[0].model_copy(update={"revision": 2, "hits": 2}), first[1]]
    second = [
        alert(1, rule="DIS-NEW", risk_label="因残", severity="medium", reported=date(2022, 6, 2)),
        first[4].model_copy(update={"revision": 3, "hits": 3}),
        alert(4, severity="low", reported=date(2022, 6, 20)),
        alert(2, rule="DIS-NEW", risk_label="因残", severity="low", reported=date(2022, 6, 1)),
        alert(4, rule="HR-JOB-LOSS", risk_label="因失业", severity="medium", reported=date(2022, 6, 5)),
    ]
    return first, second


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_alerts_in_one_batch_make_the_store_that_they_make_one_at_a_time(kind: str, tmp_path: Path) -> None:
    # the sink writes a batch's new alerts with a few statements (Clues._add): what it keeps in memory
    # between them must end as the per-alert path's rows
    first, second = _two_parts_of_a_month()
    dumps = []
    for size in (len(first), 1):
        for store in stores_of(kind, tmp_path / f"batch-{size}", Clock(china(2022, 7, 1))):
            store.ledger.upsert(
                [
                    household(1),
                    household(2, monitoring_category="边缘易致贫户", monitoring_status="监测中"),
                    household(3),
                ]
            )
            for part in (first, second):
                for i in range(0, len(part), size):
                    store.clues.upsert_alerts(part[i : i + size])
                if part is first:
                    store.clues.act(OFFICER_A, first[0].alert_id, Request("visit", note="见到户主"))
            dumps.append(dump_store(store))
    batched, single = dumps
    assert store_differences(batched, single) == []
    clues = {c["household_id"]: c for c in sorted(batched["clues"], key=lambda c: str(c["household_id"]))}
    assert [(c["items"], c["new_risk"], c["monitored_risk"]) for c in clues.values()] == [
        (4, 1, 0),  # household 1: visited, then a new risk
        (4, 0, 1),  # household 2: a monitoring object
        (3, 0, 0),
        (2, 0, 0),  # household 4: not in the ledger
    ]
    assert [c["severity"] for c in clues.values()] == ["high", "high", "high", "medium"]
    # household 1's clock stays as it was at the visit, though its later item is earlier
    one = first[0].household_id
    assert clues[one]["visit_by"] == min(a.visit_by for a in first if a.household_id == one).isoformat()
    assert clues[one]["visit_by"] > second[0].visit_by.isoformat()
    # household 2's clue was never visited: its deadline runs from its earliest item, in either part
    two = first[3].household_id
    earliest = min(a.visit_by for a in first + second if a.household_id == two)
    assert (clues[two]["visit_by"], earliest) == (earliest.isoformat(), second[3].visit_by)


def test_a_sink_batch_waits_for_an_officer_opening_the_households_clue_and_joins_it(tmp_path: Path) -> None:
    # PostgreSQL (SQLite's writers are serialised anyway): while an officer's record that opens a
    # household's clue is not committed, a sink batch must not open a second clue for the household
    clock = Clock(china(2022, 7, 1))
    for url in store_url("postgresql", tmp_path):
        officer, sink = open_test_store(url, clock), open_test_store(url, clock)
        try:
            officer.ledger.upsert([household(1)])
            hid = household(1).household_id
            done = threading.Event()

            def sink_batch(sink: Store, done: threading.Event) -> None:
                sink.clues.upsert_alerts([alert(1)])
                done.set()

            with officer.db.transaction():
                officer.clues.create(OFFICER_A, hid, "cadre", "入户发现房屋开裂")
                batch = threading.Thread(target=sink_batch, args=(sink, done))
                batch.start()
                assert not done.wait(1.0), "the sink's batch did not wait for the officer's transaction"
            batch.join(timeout=30)
            assert done.is_set()
            assert [c["items"] for c in _open(officer, hid)] == [2]
        finally:
            officer.db.close()
            sink.db.close()
