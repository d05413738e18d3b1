"""Builders and fixtures for the screening-queue tests, against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from dixian.contract import Household
from dixian.contract.alerts import Alert, TriggeringEvent
from dixian.contract.events import CHINA_TZ
from dixian.contract.vocabulary import Role
from screening.auth import Actor
from screening.store import Store, open_store
from tests.helpers import missing, resident_id

VILLAGE_A = "450321101201"
VILLAGE_B = "450321101202"  # same township as A
VILLAGE_C = "450323102201"  # another county

OFFICER_A = Actor("cun-a", "村干部A", Role.VILLAGE, VILLAGE_A)
OFFICER_B = Actor("cun-b", "村干部B", Role.VILLAGE, VILLAGE_B)
TOWNSHIP_A = Actor("zhen", "乡镇审核", Role.TOWNSHIP, VILLAGE_A[:9])
COUNTY_A = Actor("xian", "县级审定", Role.COUNTY, VILLAGE_A[:6])
CITY = Actor("ops", "运维", Role.OPERATOR, "4503")


class Clock:
    """A controllable China-time clock for deadline tests."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def advance(self, days: float = 0, hours: float = 0) -> None:
        self.at += timedelta(days=days, hours=hours)


def decide_case(
    store: Store,
    clock: Clock,
    clue_id: str,
    proposal: str,
    *,
    category: str | None = None,
    note: str = "核实",
) -> None:
    """Take a village-A clue through visit, conclusion, reviews (and the 5-day notice where the
    proposal needs one) to the county's approval."""
    from screening.workflow import Request  # noqa: PLC0415

    to_county(store, clock, clue_id, proposal, category=category, note=note)
    if proposal == "include":
        asset_passed(store, clue_id)
    store.clues.act(COUNTY_A, clue_id, Request("county_decide", decision="approve"))


def to_county(
    store: Store,
    clock: Clock,
    clue_id: str,
    proposal: str,
    *,
    category: str | None = None,
    note: str = "核实",
) -> None:
    """A village-A clue through visit, conclusion, reviews (and the 5-day notice where the proposal
    needs one), waiting for the county's decision."""
    from screening.workflow import NEEDS_NOTICE, Request  # noqa: PLC0415

    store.clues.act(OFFICER_A, clue_id, Request("visit", note="见到户主"))
    store.clues.act(OFFICER_A, clue_id, Request("conclude", proposal=proposal, category=category, note=note))
    store.clues.act(OFFICER_A, clue_id, Request("village_review", decision="approve"))
    if proposal in NEEDS_NOTICE:
        clock.advance(days=5)
        store.clues.act(OFFICER_A, clue_id, Request("notice_end", decision="approve"))
    store.clues.act(TOWNSHIP_A, clue_id, Request("township_review", decision="approve"))


def asset_passed(store: Store, clue_id: str) -> None:
    """The county records a passed asset check (财产检索), which an inclusion needs."""
    from screening.assets import record_asset_check  # noqa: PLC0415

    record_asset_check(store, COUNTY_A, clue_id, "passed", store.today())


def include(store: Store, clock: Clock, clue_id: str, category: str = "边缘易致贫户") -> None:
    """A village-A clue to the county's inclusion (which opens the household's assistance plan)."""
    decide_case(store, clock, clue_id, "include", category=category)


def china(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, 0, tzinfo=CHINA_TZ)


def postgres_base_url() -> str:
    url = os.environ.get("DIXIAN_TEST_POSTGRES_URL")
    if not url:
        missing("no PostgreSQL for the store tests: set DIXIAN_TEST_POSTGRES_URL (make test starts a server)")
    return url


def fresh_postgres_url() -> Iterator[str]:
    """A schema of its own on the test server, dropped afterwards."""
    base = postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'screening.sqlite'}"
    else:
        yield from fresh_postgres_url()


def open_test_store(url: str, clock: Clock) -> Store:
    return open_store(url, clock)


def stores_of(kind: str, tmp_path: Path, clock: Clock) -> Iterator[Store]:
    """An open store of ``kind`` (sqlite or postgresql), closed after the test."""
    for url in store_url(kind, tmp_path):
        store = open_test_store(url, clock)
        yield store
        store.db.close()


def alert(
    n: int = 1,
    *,
    village: str = VILLAGE_A,
    rule: str = "MED-OOP-HIGH",
    revision: int = 1,
    hits: int = 1,
    reported: date = date(2022, 6, 30),
    risk_label: str = "因病",
    severity: str = "high",
) -> Alert:
    hid = f"{village}{n:04d}"
    start = date(2022, 6, 1)
    return Alert(
        alert_id=Alert.make_id(hid, rule, start),
        revision=revision,
        household_id=hid,
        village_code=village,
        township_code=village[:9],
        county_code=village[:6],
        rule_id=rule,
        rule_version=1,
        catalogue_version="test",
        department="medical_insurance",
        title="个人自付医疗费用过高",
        explanation="近12个月个人自付医疗费用超过上年农村居民人均可支配收入的50%。",
        risk_type="因病" if risk_label == "因病" else None,
        risk_label=risk_label,
        guarantee=None,
        severity=severity,  # type: ignore[arg-type]
        window_start=start,
        window_end=start + timedelta(days=180),
        hits=hits,
        triggering_events=(
            TriggeringEvent(
                event_id=f"ev-{n}-{revision}",
                event_type="medical.settlement",
                dept="medical_insurance",
                occurred_at=reported - timedelta(days=5),
                reported_at=datetime.combine(reported, datetime.min.time(), CHINA_TZ),
                member_masked="450321********1234",
            ),
        ),
        evidence={"out_of_pocket_12m": 8200.0 + revision},
        parameters={"share": 0.5},
        visit_by=reported + timedelta(days=5),
        decide_by=reported + timedelta(days=15),
    )


def household(n: int = 1, *, village: str = VILLAGE_A, kind: str = "一般农户", **extra: Any) -> Household:
    return Household.model_validate(
        {
            "household_id": f"{village}{n:04d}",
            "village_code": village,
            "household_type": kind,
            "per_capita_income": "9000",
            "members": [{"member_id": resident_id(seq=f"{n % 1000:03d}"), "relation": "户主"}],
            **extra,
        }
    )


def chromium() -> str:
    path = os.environ.get("DIXIAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        missing("no Chromium: install Debian's chromium (deploy/system-deps.sh does)")
    return path


ORDINARY_FORM: dict[str, Any] = {
    "persons_confirmed": "yes",
    "income_pc_estimate": "15000",
    "housing_safe": "yes",
    "water_safe": "yes",
    "all_insured": "yes",
    "children_in_school": "yes",
    "risks_found": ["无"],
}
MONITORED_FORM: dict[str, Any] = {
    "record_correct": "yes",
    "assistance_received": ["产业帮扶", "健康帮扶"],
    "income_pc_estimate": "12800",
    "income_stable_6_months": "yes",
    "elimination_assessment": "可以标注风险消除",
}


def serve_queue(args: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`dixian screening serve` in its own process on a free port, once /healthz answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dixian", "screening", "serve", *args, "--port", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DIXIAN_SCREENING_METRICS_PORT": "0", **env},  # none unless asked for
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
            return proc, base
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "web server did not start"
            time.sleep(0.2)


def phone_login(playwright: Any, base: str, username: str, password: str) -> tuple[Any, Any]:
    """Debian's Chromium on a phone-sized page, logged in as ``username``: (browser, page)."""
    browser = playwright.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    return browser, page


def ui_conclude_and_review(page: Any, proposal: str, note: str, after_review: str) -> None:
    """On a visited clue's page: record the conclusion, then the village review's approval."""
    from playwright.sync_api import expect  # noqa: PLC0415

    page.select_option("#proposal", proposal)
    page.fill("#note-conclude", note)
    page.click("#form-conclude button")
    expect(page.locator("#state")).to_have_text("待村级评议")
    page.select_option("#decision-village_review", "approve")
    page.click("#form-village_review button")
    expect(page.locator("#state")).to_have_text(after_review)


# what a rebuilt store is compared on (screening.rebuild)
Dump = dict[str, list[dict[str, Any]]]
TABLES = {
    "clues": "clue_id",
    "risk_items": "item_id",
    "steps": "clue_id, seq",
    "plans": "clue_id",
    "measures": "clue_id, seq",
    "campaigns": "campaign_id",
    "households": "household_id",
}
# when the store received or changed a row: a rebuild's own times for what arrived after a clue's
# last step (screening.rebuild says so)
STORE_TIMES = {"received_at", "updated_at"}


def dump_store(store: Store) -> Dump:
    """Every row of the store's queue and ledger tables, without the store's own times."""
    return {
        table: [
            {k: v for k, v in row.items() if k not in STORE_TIMES}
            for row in store.db.query(f"SELECT * FROM {table} ORDER BY {order}")
        ]
        for table, order in TABLES.items()
    }


def store_differences(
    got: dict[str, list[dict[str, Any]]], want: dict[str, list[dict[str, Any]]]
) -> list[str]:
    out = []
    for table, rows in want.items():
        if len(got[table]) != len(rows):
            out.append(f"{table}: {len(got[table])} rows, want {len(rows)}")
            continue
        for g, w in zip(got[table], rows, strict=True):
            out += [f"{table} {w.get('clue_id') or w.get('household_id')} {k}: {g.get(k)!r} != {v!r}"
                    for k, v in w.items() if g.get(k) != v]  # fmt: skip
    return out


def supervisor_messages(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    """What a process sent to the notify socket ``sock`` until ``wanted`` came or ``timeout`` passed."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while wanted not in got:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            got += sock.recv(4096).decode().split("\n")
        except TimeoutError:
            break
    return got
