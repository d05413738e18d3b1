"""The officers' pages and the /api/v1 API over HTTP (aiohttp test server, SQLite store, local outbox)."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import generate_latest

from connectors.sinks import read_local
from dixian.config import Settings
from dixian.contract.alerts import Conclusion
from dixian.topics import Topics
from screening.store import Store
from screening.web import ROUTES, openapi
from screening.web.common import METRICS
from tests.screening_helpers import (
    VILLAGE_A,
    VILLAGE_B,
    Clock,
    alert,
    china,
    household,
    include,
    open_test_store,
)

PASSWORD = "village-pass-1"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", Clock(china(2022, 7, 1)))
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD, "白沙村 干部")
    s.accounts.add("cun-b", "village", VILLAGE_B, PASSWORD)
    s.accounts.add("xian", "county", VILLAGE_A[:6], PASSWORD)
    s.ledger.upsert([household(1), household(2, village=VILLAGE_B)])
    s.clues.upsert_alerts([alert(1), alert(2, village=VILLAGE_B)])
    return s


async def _page_login(client: TestClient, user: str = "cun-a") -> None:  # type: ignore[type-arg]
    r = await client.post(
        "/login", data={"username": user, "password": PASSWORD, "next": "/"}, allow_redirects=False
    )
    assert r.status == 302, await r.text()


async def _api_token(client: TestClient, user: str = "cun-a") -> dict[str, str]:  # type: ignore[type-arg]
    r = await client.post("/api/v1/login", json={"username": user, "password": PASSWORD})
    assert r.status == 200
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


@pytest.mark.asyncio
async def test_unauthenticated_requests_go_to_login_or_get_401(client: TestClient) -> None:  # type: ignore[type-arg]
    r = await client.get("/", allow_redirects=False)
    assert r.status == 302
    assert r.headers["Location"].startswith("/login")
    r = await client.get("/api/v1/clues")
    assert r.status == 401
    assert "登录" in (await r.json())["message"]
    r = await client.post("/login", data={"username": "cun-a", "password": "wrong"})
    assert r.status == 401
    assert "账号或密码不正确" in await r.text()


@pytest.mark.asyncio
async def test_other_villages_clue_is_answered_as_an_unknown_id(client: TestClient) -> None:  # type: ignore[type-arg]
    """No existence oracle: an id the account may not see gets the very answer an unknown id gets
    (status and body, the id aside), on the page and on every API route."""
    other = alert(2, village=VILLAGE_B).alert_id
    unknown = "alrt-" + "0" * 20
    await _page_login(client)

    async def answer(method: str, url: str, clue_id: str, **kw: Any) -> tuple[int, str]:
        r = await client.request(method, url.format(clue_id), **kw)
        return r.status, (await r.text()).replace(clue_id, "<id>")

    assert await answer("GET", "/clues/{}", other) == await answer("GET", "/clues/{}", unknown)
    status, text = await answer("GET", "/clues/{}", other)
    assert status == 404
    assert VILLAGE_B not in text
    r = await client.get(f"/?village={VILLAGE_B}")  # an area is public: refused as out of scope
    assert r.status == 403
    assert "无权访问" in await r.text()
    headers = await _api_token(client)
    for method, url, body in (
        ("GET", "/api/v1/clues/{}", None),
        ("POST", "/api/v1/clues/{}/actions", {"action": "visit", "note": "越界"}),
        (
            "POST",
            "/api/v1/clues/{}/measures",
            {"group": "employment", "description": "越界登记", "start_on": "2022-07-01"},
        ),
    ):
        got = await answer(method, url, other, json=body, headers=headers)
        assert got == await answer(method, url, unknown, json=body, headers=headers), url
        assert got[0] == 404, url
    r = await client.get("/api/v1/clues?view=all", headers=headers)
    assert [c["village_code"] for c in (await r.json())["clues"]] == [VILLAGE_A]


@pytest.mark.asyncio
async def test_officer_records_a_visit_on_the_page_and_it_is_published(
    client: TestClient,  # type: ignore[type-arg]
    store: Store,
    tmp_path: Path,
) -> None:
    cid = alert(1).alert_id
    await _page_login(client)
    page = await (await client.get("/")).text()
    assert cid in page
    assert "走访剩" in page
    detail = await (await client.get(f"/clues/{cid}")).text()
    assert "登记入户走访" in detail
    assert "450321********1234" in detail
    r = await client.post(f"/clues/{cid}", data={"action": "visit", "note": "见到户主", "csrf": "forged"})
    assert r.status == 400
    assert "表单已过期" in await r.text()
    assert store.clues.steps(cid) == []
    r = await client.post(
        f"/clues/{cid}",
        data={
            "action": "visit",
            "note": "见到户主，已签授权书",
            "visited_on": "2022-07-01",
            "csrf": _csrf(detail),
        },
    )
    assert r.status == 200
    assert "已办理" in await r.text()
    assert [s["step"] for s in store.clues.steps(cid)] == ["visit"]
    out = tmp_path / "local" / f"{Topics(Settings()).conclusions}.jsonl"
    for _ in range(50):
        if out.exists() and out.stat().st_size:
            break
        await asyncio.sleep(0.1)
    published = [Conclusion.model_validate_json(v) for _, v in read_local(out)]
    assert [c.conclusion_id for c in published] == [f"{cid}#1"]
    assert store.clues.pending_conclusions() == []


@pytest.mark.asyncio
async def test_invalid_actions_are_refused_in_chinese_and_change_nothing(
    client: TestClient,  # type: ignore[type-arg]
    store: Store,
) -> None:
    cid = alert(1).alert_id
    headers = await _api_token(client)
    url = f"/api/v1/clues/{cid}/actions"
    r = await client.post(
        url, json={"action": "conclude", "proposal": "no_risk", "note": "x"}, headers=headers
    )
    assert r.status == 409
    assert "当前环节是“待走访”" in (await r.json())["message"]
    assert (
        await client.post(url, json={"action": "visit", "note": "见到户主"}, headers=headers)
    ).status == 200
    r = await client.post(url, json={"action": "conclude", "proposal": "no_risk"}, headers=headers)
    body = await r.json()
    assert r.status == 400
    assert body["error"] == "note_required"
    assert "排除" in body["message"]
    r = await client.post(url, json={"action": "county_decide", "decision": "approve"}, headers=headers)
    assert r.status == 403
    assert (await r.json())["error"] == "wrong_role"
    r = await client.post(url, data=b"not json", headers=headers)
    assert r.status == 400
    assert "JSON" in (await r.json())["message"]
    assert [s["step"] for s in store.clues.steps(cid)] == ["visit"]


@pytest.mark.asyncio
async def test_openapi_describes_exactly_the_api_routes(client: TestClient) -> None:  # type: ignore[type-arg]
    served = {(p, m.lower()) for m, p, _ in ROUTES if p.startswith("/api/")}
    described = {(p, m) for p, ops in openapi.SPEC["paths"].items() for m in ops}
    assert served == described
    r = await client.get("/api/openapi.json")
    assert r.status == 200
    assert (await r.json())["openapi"].startswith("3.")
    assert "POST" in await (await client.get("/api/docs")).text()


@pytest.mark.asyncio
async def test_asset_check_list_exports_as_xlsx(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    from dixian.contract.vocabulary import Role  # noqa: PLC0415
    from screening.auth import Actor  # noqa: PLC0415
    from screening.workflow import Request  # noqa: PLC0415

    officer = Actor("cun-a", "", Role.VILLAGE, VILLAGE_A)
    cid = alert(1).alert_id
    store.clues.act(officer, cid, Request("visit", note="见到户主"))
    store.clues.act(officer, cid, Request("conclude", proposal="include", category="边缘易致贫户"))
    headers = await _api_token(client, "xian")
    r = await client.get(f"/api/v1/counties/{VILLAGE_A[:6]}/asset-check?format=xlsx", headers=headers)
    assert r.status == 200
    ws = openpyxl.load_workbook(io.BytesIO(await r.read())).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][0] == "户编号"
    assert rows[2][0] == alert(1).household_id
    assert len(rows) == 3
    officer_headers = await _api_token(client)
    r = await client.get(f"/api/v1/counties/{VILLAGE_A[:6]}/asset-check", headers=officer_headers)
    assert r.status == 403


@pytest.mark.asyncio
async def test_metrics_count_queue_steps_and_refusals_without_people(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await _api_token(client)
    url = f"/api/v1/clues/{alert(1).alert_id}/actions"
    await client.post(url, json={"action": "visit", "note": "见到户主"}, headers=headers)
    await client.post(url, json={"action": "conclude", "proposal": "no_risk"}, headers=headers)
    # not on the public port (where /apply is): the metrics have a listener of their own
    public = await client.get("/metrics", allow_redirects=False)
    assert public.status in (302, 401, 404)
    assert "dixian_screening" not in await public.text()
    text = generate_latest(client.server.app[METRICS].registry).decode()
    assert 'dixian_screening_clues{county="450321",state="visited"} 1.0' in text
    assert 'dixian_screening_steps_total{role="village",step="visit"} 1.0' in text
    assert 'dixian_screening_refusals_total{code="note_required"} 1.0' in text
    assert alert(1).household_id not in text


@pytest.mark.asyncio
async def test_public_application_and_officer_recorded_clues(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    hid = household(1).household_id
    r = await client.post(
        "/apply",
        data={"village_code": VILLAGE_B, "household_id": hid, "description": "住院", "consent": "yes"},
    )
    assert r.status == 400
    assert "不匹配" in await r.text()
    r = await client.post(
        "/apply", data={"village_code": VILLAGE_A, "household_id": hid, "description": "户主住院，费用高"}
    )
    assert r.status == 400  # no consent
    r = await client.post(
        "/apply",
        data={
            "village_code": VILLAGE_A,
            "household_id": hid,
            "description": "户主住院，费用高",
            "consent": "yes",
        },
    )
    assert r.status == 200
    assert "申请已收到" in await r.text()
    headers = await _api_token(client)
    clues = (await (await client.get("/api/v1/clues", headers=headers)).json())["clues"]
    # the household already had an open clue (a department warning): the application joined it
    assert [(c["source"], c["items"]) for c in clues] == [("department_warning", 2)]
    detail = await (await client.get(f"/api/v1/clues/{clues[0]['clue_id']}", headers=headers)).json()
    assert [i["source"] for i in detail["risk_items"]] == ["department_warning", "application"]
    r = await client.post(
        "/api/v1/clues",
        json={"household_id": hid, "source": "cadre", "note": "入户发现房屋开裂"},
        headers=headers,
    )
    assert r.status == 201
    joined = await r.json()
    # one household, one clue: its deadlines still run from its first item (reported 2022-06-30)
    assert (joined["clue_id"], joined["items"], joined["decide_by"]) == (clues[0]["clue_id"], 3, "2022-07-15")
    county = await _api_token(client, "xian")
    r = await client.post(
        "/api/v1/clues", json={"household_id": hid, "source": "cadre", "note": "县里登记"}, headers=county
    )
    assert r.status == 403


@pytest.mark.asyncio
async def test_campaign_pages_and_plan_api(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    county = await _api_token(client, "xian")
    r = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "阳朔集中排查",
            "scope": [VILLAGE_A[:6]],
            "from": "2022-07-01",
            "to": "2022-07-31",
            "kinds": ["ordinary", "formerly_poor", "monitored"],
        },
        headers=county,
    )
    assert r.status == 201
    cid = (await r.json())["campaign_id"]
    assert (await r.json())["items"] == 2  # both households of the county (villages A and B)
    await _page_login(client)
    page = await (await client.get(f"/campaigns/{cid}?level=village")).text()
    assert VILLAGE_A in page
    assert "回头看" in page
    r = await client.get(f"/campaigns/{cid}/summary.xlsx")
    sheets = openpyxl.load_workbook(io.BytesIO(await r.read())).sheetnames
    assert sheets == ["概况", "按县", "按乡镇", "按村", "按排查工作组", "按安置点", "回头看"]
    headers = await _api_token(client)
    r = await client.post(
        f"/api/v1/clues/{alert(1).alert_id}/measures",
        json={"group": "employment", "description": "就业", "start_on": "2022-07-01"},
        headers=headers,
    )
    assert r.status == 404  # not included: no plan
    assert "没有帮扶计划" in (await r.json())["message"]
    assert (await (await client.get("/api/v1/plans", headers=headers)).json()) == {"plans": []}


@pytest.mark.asyncio
async def test_a_measure_is_updated_and_closed_with_its_result_on_the_page_and_the_api(
    client: TestClient,  # type: ignore[type-arg]
    store: Store,
) -> None:
    cid = alert(1).alert_id
    include(store, store.now, cid)  # type: ignore[arg-type]
    headers = await _api_token(client)
    r = await client.post(
        f"/api/v1/clues/{cid}/measures",
        json={"group": "employment", "description": "推荐到扶贫车间务工", "start_on": "2022-07-06"},
        headers=headers,
    )
    assert r.status == 201, await r.text()
    url = f"/api/v1/clues/{cid}/measures/1"
    r = await client.post(url, json={"status": "active", "end_on": "2023-06-30"}, headers=headers)
    assert (r.status, (await r.json())["status"]) == (200, "active")
    for bad, code in [
        ({"status": "done", "result": None}, "bad_request"),
        ({"status": "finished", "result": "已稳定就业"}, "bad_request"),
        ({"status": "done"}, "result_required"),
        ({"status": "done", "result": "已稳定就业", "extra": 1}, "bad_request"),
    ]:
        r = await client.post(url, json=bad, headers=headers)
        assert (r.status, (await r.json())["error"]) == (400, code), (bad, await r.text())
    r = await client.post(
        f"/api/v1/clues/{cid}/measures/0", json={"status": "done", "result": "ok"}, headers=headers
    )
    assert r.status == 404
    r = await client.post(f"/api/v1/clues/{cid}/measures/x%0A", json={"status": "done"}, headers=headers)
    assert r.status == 404
    # the page: the officer closes it with its result
    await _page_login(client)
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "实施中" in page
    assert "2023-06-30（计划）" in page
    r = await client.post(
        f"/clues/{cid}/measures/1",
        data={"csrf": _csrf(page), "status": "done", "result": "已在车间稳定务工，月收入2800元"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "已完成：已在车间稳定务工，月收入2800元" in page
    assert "form-measure-1" not in page  # closed: no more form
    assert "帮扶措施结项" in page  # the step in the record
    r = await client.post(url, json={"status": "stopped", "result": "再改"}, headers=headers)
    assert (r.status, (await r.json())["error"]) == (409, "measure_closed")
    plans = (await (await client.get("/api/v1/plans", headers=headers)).json())["plans"]
    assert [(p["done"], p["active"]) for p in plans] == [(1, 0)]


@pytest.mark.asyncio
async def test_an_online_visit_and_its_in_person_follow_up_on_the_api_and_the_page(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    cid = alert(1).alert_id
    headers = await _api_token(client)
    body = {
        "action": "visit",
        "note": "疫情防控，微信视频核实",
        "visit_mode": "wechat",
        "team": ["张三", "李四"],
    }
    r = await client.post(f"/api/v1/clues/{cid}/actions", json=body, headers=headers)
    assert r.status == 200, await r.text()
    got = await r.json()
    assert (got["visit_mode"], got["visit_team"], got["online_pending"]) == ("wechat", "张三、李四", True)
    r = await client.post(f"/api/v1/clues/{cid}/actions", json=body | {"visit_mode": "fax"}, headers=headers)
    assert r.status == 400
    await _page_login(client)
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "微信走访（线上），待补充入户核实" in page
    assert "form-in-person" in page
    assert "线上走访待入户" in await (await client.get("/")).text()
    r = await client.post(
        f"/clues/{cid}/in-person",
        data={
            "csrf": _csrf(page),
            "visited_on": "2022-07-01",
            "note": "入户核实，情况属实",
            "team1": "张三",
            "team2": "王五",
        },
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "待补充入户核实" not in page
    assert "2022-07-01 已补充入户核实" in page
    r = await client.post(
        f"/api/v1/clues/{cid}/in-person", json={"visited_on": "2022-07-01", "note": "再次"}, headers=headers
    )
    assert (r.status, (await r.json())["error"]) == (400, "not_online")


@pytest.mark.asyncio
async def test_the_queue_filters_searches_and_pages(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    store.ledger.upsert([household(n) for n in range(3, 8)])
    store.clues.upsert_alerts(
        [alert(n, risk_label="因残" if n % 2 else "因病", severity="medium") for n in range(3, 8)]
    )
    headers = await _api_token(client)

    async def listed(query: str) -> Any:
        r = await client.get(f"/api/v1/clues?view=all&{query}", headers=headers)
        assert r.status == 200, await r.text()
        return await r.json()

    page = await listed("size=2")
    assert (page["total"], page["pages"], len(page["clues"])) == (6, 3, 2)
    last = await listed("size=2&page=3")
    assert len(last["clues"]) == 2
    assert {c["clue_id"] for c in page["clues"]}.isdisjoint(c["clue_id"] for c in last["clues"])
    assert (await listed("risk=因残"))["total"] == 3
    hid = household(4).household_id
    assert [c["household_id"] for c in (await listed(f"q={hid}"))["clues"]] == [hid]
    assert (await listed("state=visited"))["total"] == 0
    assert (await listed("source=application"))["total"] == 0
    r = await client.get("/api/v1/clues?size=1000", headers=headers)
    assert r.status == 400
    assert "size" in (await r.json())["message"]
    r = await client.get(f"/api/v1/clues?village={VILLAGE_B}", headers=headers)
    assert r.status == 403
