"""The queue's web server as an attacker tries it: no existence oracle on any route of the OpenAPI
document, no 500 (and no traceback) for input the parsers cannot take, security headers on every
answer. Runs on every `make test` (tier: security)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.topics import Topics
from screening.campaigns import create_campaign
from screening.store import Store
from screening.tasks import add_rectification
from screening.web import create_app
from screening.web.app import SECURITY_HEADERS
from screening.web.openapi import SPEC
from tests.screening_helpers import (
    CITY,
    VILLAGE_A,
    VILLAGE_C,
    Clock,
    alert,
    china,
    household,
    open_test_store,
)

PASSWORD = "pw-security-1"
BODIES = {  # valid bodies, so that the refusal comes from the id and not from the body
    "actions": {"action": "visit", "note": "越界"},
    "measures": {"group": "employment", "description": "越界登记", "start_on": "2022-07-01"},
    "measures/{seq}": {"status": "done", "result": "越界结项"},
    "corrections/{seq}": {"corrected_on": "2022-07-01"},
    "in-person": {"visited_on": "2022-07-01", "note": "越界入户"},
    "notification": {"notified_on": "2022-07-01", "method": "visit"},
    "asset-check": {"result": "passed", "checked_on": "2022-07-01"},
    "corrections": {"field": "members", "recorded": "3人", "found": "4人", "evidence": "户口簿"},
    "progress": {"month": "2022-06", "status": "on_track", "progress": "越界报送"},
    "close": {"result": "越界整改", "closed_on": "2022-07-01"},
}
FIXED = {"seq": "1"}  # path parameters that are not record ids: fixed, so the id decides the answer
# per path parameter: a value the account (village A) may not see that exists, and one that does not
HIDDEN = {
    "clue_id": (alert(3, village=VILLAGE_C).alert_id, "alrt-" + "7" * 20),
    "village_code": (VILLAGE_C, "450399999999"),
    "county_code": (VILLAGE_C[:6], "450399"),
    "task_id": ("19", "999"),  # 19: a task of other counties (粤桂协作: 龙胜, 资源)
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", Clock(china(2022, 7, 1)))
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    s.ledger.upsert([household(1), household(3, village=VILLAGE_C)])
    s.clues.upsert_alerts([alert(1), alert(3, village=VILLAGE_C)])
    c = create_campaign(
        s, CITY, "外县排查", [VILLAGE_C[:6]], date(2022, 7, 1), date(2022, 7, 31), ["ordinary"]
    )
    HIDDEN["campaign_id"] = (c.campaign_id, "cmp-" + "7" * 12)
    rect = add_rectification(
        s, CITY, VILLAGE_C[:6], "supervision", date(2022, 7, 1), "外县问题", "外县", date(2022, 7, 9)
    )
    HIDDEN["rect_id"] = (rect, f"zg-{VILLAGE_C[:6]}-0099")
    return s


async def _token(client: TestClient) -> dict[str, str]:  # type: ignore[type-arg]
    r = await client.post("/api/v1/login", json={"username": "cun-a", "password": PASSWORD})
    assert r.status == 200
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


def _routes_with_ids() -> list[tuple[str, str]]:
    return [(m, p) for p, methods in SPEC["paths"].items() if "{" in p for m in methods]


def test_every_route_with_an_id_is_covered() -> None:
    params = {name for _, p in _routes_with_ids() for name in re.findall(r"{(\w+)}", p)}
    assert params <= set(HIDDEN) | {"campaign_id", "rect_id"} | set(FIXED), params


@pytest.mark.asyncio
async def test_an_id_out_of_scope_is_answered_as_an_unknown_id_on_every_route(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await _token(client)
    for method, template in _routes_with_ids():
        (name,) = [n for n in re.findall(r"{(\w+)}", template) if n not in FIXED]
        hidden, unknown = HIDDEN[name]
        path = template
        for fixed, fixed_value in FIXED.items():
            path = path.replace("{" + fixed + "}", fixed_value)
        answers = []
        for value in (hidden, unknown):
            last = template.rsplit("/", 1)[-1]
            key = "/".join(template.rsplit("/", 2)[-2:]) if last.startswith("{") else last
            body = json.dumps(BODIES.get(key) if method == "post" else None)
            r = await client.request(
                method, path.replace("{" + name + "}", value), data=body, headers=headers
            )
            answers.append((r.status, (await r.text()).replace(value, "<id>")))
        assert answers[0] == answers[1], (method, path, answers)
        assert answers[0][0] in (403, 404), (method, path, answers)


@pytest.mark.asyncio
async def test_input_the_parsers_cannot_take_is_a_4xx_in_chinese_never_a_500(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await _token(client)
    deep = "[" * 100_000 + "]" * 100_000
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/login", {"data": deep, "headers": {"Content-Type": "application/json"}}),
        ("POST", f"/api/v1/clues/{alert(1).alert_id}/actions", {"data": deep, "headers": headers}),
        (
            "POST",
            "/api/v1/login",
            {
                "data": b'{"username": "a"}',
                "headers": {"Content-Type": "application/json; charset=x-nonsense"},
            },
        ),
        ("POST", "/api/v1/login", {"data": b"\xff\xfe\xfa", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/logout", {"data": {"csrf": "0" * 64}}),
        ("GET", "/clues/abc%0D%0ASet-Cookie:%20x=1", {}),
        ("GET", "/villages/4503211012%22/notice", {"headers": headers}),
        ("GET", "/api/v1/counties/450321%0D%0A/asset-check", {"headers": headers}),
        ("GET", "/api/v1/clues?page=-1", {"headers": headers}),
        ("GET", "/api/v1/clues?size=NaN", {"headers": headers}),
    ]
    for method, url, kw in cases:
        r = await client.request(method, url, allow_redirects=False, **kw)
        text = await r.text()
        assert 300 <= r.status < 500, (method, url, r.status, text[:300])
        assert "Traceback" not in text
        assert "Internal Server Error" not in text
        if r.status >= 400:
            assert re.search(r"[\u4e00-\u9fff]", text), (url, text[:200])  # says it in Chinese
        assert "\r\n" not in r.headers.get("Content-Disposition", "")


@pytest.mark.asyncio
async def test_every_answer_carries_the_security_headers_and_no_server_version(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await _token(client)
    for url, kw in (("/login", {}), ("/api/v1/clues", {"headers": headers}), ("/no/such/page", {})):
        r = await client.get(url, allow_redirects=False, **kw)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (url, name)
        assert r.headers["Cache-Control"] == "no-store"
        assert "aiohttp" not in r.headers.get("Server", "")
        assert "Python" not in r.headers.get("Server", "")


@pytest.mark.asyncio
async def test_numbers_typed_into_free_text_are_masked_in_store_page_and_conclusions(
    client: TestClient,  # type: ignore[type-arg]
    store: Store,
    tmp_path: Path,
) -> None:
    headers = await _token(client)
    typed = "户主身份证450321199001011234，电话13812345678，银行卡6228480012345678901"
    r = await client.post(
        "/api/v1/clues",
        json={"household_id": household(1).household_id, "source": "cadre", "note": typed},
        headers=headers,
    )
    assert r.status == 201, await r.text()
    clue_id = (await r.json())["clue_id"]
    r = await client.post(
        f"/api/v1/clues/{clue_id}/actions",
        json={"action": "visit", "note": "再次核实：" + typed},
        headers=headers,
    )
    assert r.status == 200, await r.text()
    stored = repr(store.db.query("SELECT * FROM steps")) + repr(store.db.query("SELECT * FROM risk_items"))
    # what went out to screening.conclusions (the app's outbox publishes to the local sink here)
    outbox = tmp_path / "local" / f"{Topics(Settings()).conclusions}.jsonl"
    for _ in range(100):
        if store.clues.pending_conclusions() == [] and outbox.exists():
            break
        await asyncio.sleep(0.05)
    published = outbox.read_text(encoding="utf-8")
    page = await (await client.get(f"/api/v1/clues/{clue_id}", headers=headers)).text()
    for where in (stored, published, page):
        for number in ("450321199001011234", "13812345678", "6228480012345678901"):
            assert number not in where
        assert "已按隐私规定隐去号码" in where  # and the officer is told


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("proxies", "headers", "secure"),
    [
        (frozenset({"127.0.0.1"}), {"X-Forwarded-Proto": "https"}, True),  # behind our TLS proxy
        (frozenset({"127.0.0.1"}), {}, False),  # plain HTTP on a test machine
        (frozenset(), {"X-Forwarded-Proto": "https"}, False),  # the header from someone not trusted
    ],
)
async def test_the_session_cookie_is_secure_whenever_served_over_https(
    store: Store, tmp_path: Path, proxies: frozenset[str], headers: dict[str, str], secure: bool
) -> None:
    app = create_app(store, LocalSink(tmp_path / "local"), Topics(Settings()), trusted_proxies=proxies)
    async with TestClient(TestServer(app)) as c:
        r = await c.post(
            "/login",
            data={"username": "cun-a", "password": PASSWORD, "next": "/"},
            headers=headers,
            allow_redirects=False,
        )
        assert r.status == 302
        cookie = r.headers["Set-Cookie"]
        assert ("Secure" in cookie) is secure, cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie


@pytest.mark.asyncio
async def test_the_public_forms_rate_limit_survives_a_restart(store: Store, tmp_path: Path) -> None:
    body = {
        "village_code": VILLAGE_A,
        "household_id": household(1).household_id,
        "description": "家中老人住院，申请纳入监测",
        "consent": True,
    }

    async def submit(times: int) -> list[int]:
        app = create_app(store, LocalSink(tmp_path / "local"), Topics(Settings()))
        async with TestClient(TestServer(app)) as c:
            return [(await c.post("/api/v1/applications", json=body)).status for _ in range(times)]

    first = await submit(10)
    assert all(s in (200, 201) for s in first), first
    assert await submit(1) == [429]  # a new server process on the same store: still limited
    row = store.db.one("SELECT client FROM submissions LIMIT 1")
    assert row is not None
    assert "127.0.0.1" not in row["client"]  # the address is kept only as a digest
