"""The alert store and workflow, run identically against SQLite and a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dixian.contract.vocabulary import ClueState, Role
from screening.auth import Actor
from screening.refusal import NotFound, Refusal, ScopeError
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    CITY,
    COUNTY_A,
    OFFICER_A,
    TOWNSHIP_A,
    VILLAGE_A,
    VILLAGE_B,
    VILLAGE_C,
    Clock,
    alert,
    asset_passed,
    china,
    household,
    open_test_store,
    store_url,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_and_clock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 7, 1))
    for url in store_url(request.param, tmp_path):
        store = open_test_store(url, clock)
        yield store, clock
        store.db.close()


@pytest.fixture
def store(store_and_clock: tuple[Store, Clock]) -> Store:
    return store_and_clock[0]


def test_migrations_apply_once(store: Store) -> None:
    assert store.db.schema_version() >= 1
    assert store.db.migrate() == []  # a second start applies nothing


def test_upserts_are_idempotent_and_keep_the_highest_revision(store: Store) -> None:
    first = store.clues.upsert_alerts([alert(1), alert(2)])
    assert (first.inserted, first.updated) == (2, 0)
    replay = store.clues.upsert_alerts([alert(1), alert(2)])
    assert (replay.inserted, replay.updated, replay.unchanged) == (0, 0, 2)
    newer = store.clues.upsert_alerts([alert(1, revision=3, hits=3), alert(1, revision=2, hits=2)])
    assert (newer.inserted, newer.updated) == (0, 1)
    older = store.clues.upsert_alerts([alert(1, revision=2, hits=2)])
    assert older.updated == 0
    c = store.clues.get(OFFICER_A, alert(1).alert_id)
    assert (c["revision"], c["hits"]) == (3, 3)
    assert store.db.one("SELECT COUNT(*) AS n FROM clues")["n"] == 2  # type: ignore[index]


def test_a_new_revision_never_resets_the_workflow(store: Store) -> None:
    store.clues.upsert_alerts([alert(1)])
    store.clues.act(OFFICER_A, alert(1).alert_id, Request("visit", note="入户核实"))
    store.clues.upsert_alerts([alert(1, revision=2, hits=2)])
    c = store.clues.get(OFFICER_A, alert(1).alert_id)
    assert c.state == ClueState.VISITED
    assert c["hits"] == 2


def _walk_to_township(store: Store, clue_id: str, proposal: str = "no_risk") -> None:
    store.clues.act(OFFICER_A, clue_id, Request("visit", note="见到户主"))
    store.clues.act(OFFICER_A, clue_id, Request("conclude", proposal=proposal, note="医保报销后负担可承受"))
    store.clues.act(OFFICER_A, clue_id, Request("village_review", decision="approve"))


def test_full_path_records_every_step_and_publishes_each_once(store: Store) -> None:
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    _walk_to_township(store, cid)
    store.clues.act(TOWNSHIP_A, cid, Request("township_review", decision="approve"))
    store.clues.act(COUNTY_A, cid, Request("county_decide", decision="approve", note="同意排除"))
    c = store.clues.get(OFFICER_A, cid)
    assert c.state == ClueState.CLOSED
    assert c["outcome"] == "excluded"
    steps = store.clues.steps(cid)
    assert [s["step"] for s in steps] == [
        "visit",
        "conclude",
        "village_review",
        "township_review",
        "county_decide",
    ]
    assert [s["actor"] for s in steps] == ["cun-a", "cun-a", "cun-a", "zhen", "xian"]
    pending = store.clues.pending_conclusions()
    assert [p.conclusion_id for p in pending] == [f"{cid}#{i}" for i in range(1, 6)]
    assert pending[-1].outcome == "excluded"
    assert pending[0].outcome is None
    store.clues.mark_published(p.conclusion_id for p in pending)
    assert store.clues.pending_conclusions() == []


def test_inclusion_goes_through_a_five_day_notice(store_and_clock: tuple[Store, Clock]) -> None:
    store, clock = store_and_clock
    store.ledger.upsert([household(1)])
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    store.clues.act(OFFICER_A, cid, Request("visit", note="见到户主"))
    store.clues.act(OFFICER_A, cid, Request("conclude", proposal="include", category="边缘易致贫户"))
    store.clues.act(OFFICER_A, cid, Request("village_review", decision="approve"))
    assert store.clues.get(OFFICER_A, cid).state == ClueState.NOTICE
    assert [r["household_id"] for r in store.clues.notice(OFFICER_A, VILLAGE_A)] == [alert(1).household_id]
    clock.advance(days=4)
    with pytest.raises(Refusal) as exc:
        store.clues.act(OFFICER_A, cid, Request("notice_end", decision="approve"))
    assert exc.value.code == "notice_too_short"
    assert "5 天" in exc.value.zh
    clock.advance(days=1)
    store.clues.act(OFFICER_A, cid, Request("notice_end", decision="approve"))
    store.clues.act(TOWNSHIP_A, cid, Request("township_review", decision="approve"))
    asset_passed(store, cid)
    store.clues.act(COUNTY_A, cid, Request("county_decide", decision="approve"))
    c = store.clues.get(OFFICER_A, cid)
    assert c["outcome"] == "included"
    assert c["category"] == "边缘易致贫户"
    assert store.clues.pending_conclusions()[-1].category == "边缘易致贫户"


@pytest.mark.parametrize(
    ("actor", "request_", "code"),
    [
        (OFFICER_A, Request("conclude", proposal="no_risk", note="x"), "out_of_order"),
        (OFFICER_A, Request("visit", note=""), "note_required"),
        (TOWNSHIP_A, Request("visit", note="越权走访"), "wrong_role"),
        (OFFICER_A, Request("fly"), "unknown_action"),
    ],
)
def test_refused_actions_change_nothing(store: Store, actor: Actor, request_: Request, code: str) -> None:
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    before = store.clues.get(CITY, cid).row
    with pytest.raises(Refusal) as exc:
        store.clues.act(actor, cid, request_)
    assert exc.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.zh)  # the officer reads Chinese
    assert store.clues.get(CITY, cid).row == before
    assert store.clues.steps(cid) == []
    assert store.clues.pending_conclusions() == []


def test_exclusion_without_a_reason_is_refused(store: Store) -> None:
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    store.clues.act(OFFICER_A, cid, Request("visit", note="见到户主"))
    with pytest.raises(Refusal) as exc:
        store.clues.act(OFFICER_A, cid, Request("conclude", proposal="no_risk", note=""))
    assert exc.value.code == "note_required"
    assert "排除" in exc.value.zh
    assert store.clues.get(OFFICER_A, cid).state == ClueState.VISITED


def test_scope_is_enforced_on_reads_and_writes(store: Store) -> None:
    store.clues.upsert_alerts(
        [alert(1, village=VILLAGE_A), alert(2, village=VILLAGE_B), alert(3, village=VILLAGE_C)]
    )
    b = alert(2, village=VILLAGE_B).alert_id
    # an id out of scope is refused exactly as an unknown id is (no existence oracle)
    with pytest.raises(NotFound) as out_of_scope:
        store.clues.get(OFFICER_A, b)
    with pytest.raises(NotFound) as unknown:
        store.clues.get(OFFICER_A, "alrt-" + "0" * 20)
    assert out_of_scope.value.zh.replace(b, "") == unknown.value.zh.replace("alrt-" + "0" * 20, "")
    with pytest.raises(NotFound):
        store.clues.act(OFFICER_A, b, Request("visit", note="越界"))
    with pytest.raises(ScopeError):
        store.clues.queue(OFFICER_A, village=VILLAGE_B)
    with pytest.raises(ScopeError):
        store.clues.notice(OFFICER_A, VILLAGE_B)
    with pytest.raises(NotFound):
        store.clues.get(OFFICER_A, "alrt-nope")
    assert {c["village_code"] for c in store.clues.queue(OFFICER_A)} == {VILLAGE_A}
    assert {c["village_code"] for c in store.clues.queue(TOWNSHIP_A)} == {VILLAGE_A, VILLAGE_B}
    assert {c["village_code"] for c in store.clues.queue(CITY)} == {VILLAGE_A, VILLAGE_B, VILLAGE_C}
    assert store.clues.steps(b) == []


def test_queue_is_sorted_by_urgency(store_and_clock: tuple[Store, Clock]) -> None:
    from datetime import date  # noqa: PLC0415

    store, _clock = store_and_clock
    store.clues.upsert_alerts(
        [
            alert(1, reported=date(2022, 6, 30), severity="low"),
            alert(2, reported=date(2022, 6, 20), severity="low"),  # visit overdue
            alert(3, reported=date(2022, 6, 30), severity="high"),
        ]
    )
    q = store.clues.queue(OFFICER_A)
    assert [c["household_id"][-1] for c in q] == ["2", "3", "1"]
    assert q[0].deadline.overdue
    assert "超期" in q[0].deadline.label
    assert not q[1].deadline.overdue


def test_notice_shows_no_health_detail_and_asset_check_skips_dibao(store: Store) -> None:
    store.ledger.upsert([household(1), household(2, dibao=True)])
    store.clues.upsert_alerts([alert(1), alert(2)])
    for n in (1, 2):
        cid = alert(n).alert_id
        store.clues.act(OFFICER_A, cid, Request("visit", note="见到户主"))
        store.clues.act(OFFICER_A, cid, Request("conclude", proposal="include", category="突发严重困难户"))
        store.clues.act(OFFICER_A, cid, Request("village_review", decision="approve"))
    notice = store.clues.notice(OFFICER_A, VILLAGE_A)
    assert len(notice) == 2
    text = repr(notice)
    assert "因病" not in text
    assert "450321********" not in text
    assert "健康" not in text  # not even a marker that something was withheld
    assert "不予公示" not in text
    assert "家庭生活困难" in text
    assert [r["household_id"] for r in store.clues.asset_check(COUNTY_A, VILLAGE_A[:6])] == [
        alert(1).household_id
    ]
    with pytest.raises(ScopeError):
        store.clues.asset_check(OFFICER_A, VILLAGE_A[:6])


def test_accounts_and_sessions(store_and_clock: tuple[Store, Clock]) -> None:
    store, clock = store_and_clock
    store.accounts.add("cun-a", "village", VILLAGE_A, "correct horse", "村干部A")
    with pytest.raises(ValueError, match="already exists"):
        store.accounts.add("cun-a", "village", VILLAGE_A, "correct horse")
    with pytest.raises(ValueError, match="12-digit"):
        store.accounts.add("cun-x", "village", VILLAGE_A[:9], "correct horse")
    assert store.accounts.login("cun-a", "wrong password") is None
    assert store.accounts.login("nobody", "correct horse") is None
    token = store.accounts.login("cun-a", "correct horse")
    assert token is not None
    actor = store.accounts.actor(token)
    assert actor is not None
    assert actor.scope == VILLAGE_A
    assert actor.role == Role.VILLAGE
    row = store.db.one("SELECT password_hash FROM accounts WHERE username = 'cun-a'")
    assert row is not None
    assert "correct horse" not in row["password_hash"]
    assert store.db.one("SELECT * FROM sessions WHERE token_hash = ?", (token,)) is None  # only its hash
    clock.advance(hours=13)
    assert store.accounts.actor(token) is None  # expired
    token2 = store.accounts.login("cun-a", "correct horse")
    assert token2 is not None
    store.accounts.set_disabled("cun-a", True)
    assert store.accounts.actor(token2) is None
    assert store.accounts.login("cun-a", "correct horse") is None


def test_repeated_wrong_passwords_lock_the_account_for_a_while(store_and_clock: tuple[Store, Clock]) -> None:
    store, clock = store_and_clock
    store.accounts.add("cun-a", "village", VILLAGE_A, "correct horse")
    for _ in range(4):
        assert store.accounts.login("cun-a", "guess") is None
    assert store.accounts.login("cun-a", "correct horse") is not None  # 4 failures: not locked, counter reset
    for _ in range(5):
        assert store.accounts.login("cun-a", "guess") is None
    assert store.accounts.login("cun-a", "correct horse") is None  # locked
    clock.advance(hours=0.24)
    assert store.accounts.login("cun-a", "correct horse") is None
    clock.advance(hours=0.02)
    assert store.accounts.login("cun-a", "correct horse") is not None  # 15 minutes later
