"""The plan's task list (附件1) and supervision groups (附件2) as data; the responsible units' monthly
progress (月调度) with overdue and unreported tasks flagged; supervision findings as rectification
items (督查暗访 → 整改) with owner, deadline and status; the city page and the monthly report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from dixian.geo import COUNTIES, KEY_COUNTIES
from reports.monthly import Sources, monthly_report
from screening import tasks as plan
from screening.refusal import NotFound, Refusal
from screening.store import Store
from tests.screening_helpers import (
    CITY,
    COUNTY_A,
    OFFICER_A,
    VILLAGE_A,
    Clock,
    china,
    open_test_store,
    stores_of,
)

YANGSHUO, LINGCHUAN = "450321", "450323"
PASSWORD = "tasks-pass-1"


def test_the_plans_annexes_are_data() -> None:
    tasks = plan.tasks()
    assert [t.id for t in tasks] == list(range(1, 27))
    first = plan.task(4)
    assert (first.title, first.start, first.end) == (
        "对存在返贫致贫风险农户应纳尽纳",
        date(2022, 3, 25),
        date(2022, 4, 30),
    )
    assert first.counties == frozenset(COUNTIES)
    assert plan.task(22).counties == KEY_COUNTIES  # 倾斜支持乡村振兴重点帮扶县发展
    assert plan.task(19).counties == {"450328", "450329"}  # 粤桂协作: 龙胜县、资源县
    assert plan.task(23).monthly
    assert plan.task(9).units == [plan.CITY]
    groups = plan.groups()
    assert len(groups) == 13
    assert plan.group_of("450325") is not None
    assert plan.group_of("450325").leader.startswith("梁 锦")  # type: ignore[union-attr]
    assert all(len(g.members) == 3 for g in groups)
    with pytest.raises(NotFound):
        plan.task(99)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 5, 10))
    yield from ((s, clock) for s in stores_of(request.param, tmp_path, clock))


def test_monthly_progress_flags_overdue_and_unreported_units(world: tuple[Store, Clock]) -> None:
    store, _ = world
    plan.report_progress(store, COUNTY_A, 4, "2022-04", "done", "全县4月20日前完成入户排查")
    plan.report_progress(store, CITY, 4, "2022-04", "on_track", "市直部门配合排查")
    plan.report_progress(store, COUNTY_A, 23, "2022-03", "on_track", "3月部门预警已推送")
    plan.report_progress(
        store, COUNTY_A, 23, "2022-03", "on_track", "3月部门预警已推送，走访完成"
    )  # replaces
    for actor, task_id, month, code in (
        (OFFICER_A, 23, "2022-03", "wrong_role"),
        (COUNTY_A, 19, "2022-03", "not_responsible"),  # 粤桂协作: 龙胜、资源 only
        (COUNTY_A, 4, "2022-06", "bad_month"),  # after the task's period (and in the future)
        (COUNTY_A, 23, "2022-13", "bad_month"),
    ):
        with pytest.raises(Refusal, match=code):
            plan.report_progress(store, actor, task_id, month, "on_track", "x")
    with pytest.raises(Refusal, match="progress_required"):
        plan.report_progress(store, COUNTY_A, 23, "2022-04", "on_track", "  ")
    board = {r["task"].id: r for r in plan.board(store, date(2022, 5, 10))}
    # task 4 ended on 30 April: Yangshuo reported it done; the city units and the other counties did not
    overdue = board[4]["overdue"]
    assert "阳朔县" not in overdue
    assert "市直责任单位" in overdue
    assert "灵川县" in overdue
    units = {u["unit"]: u for u in board[23]["units"]}
    # task 23 runs monthly: March and April are due (by 5 April and 5 May); Yangshuo reported March only
    assert units[YANGSHUO]["unreported"] == ["2022-04"]
    assert units[YANGSHUO]["progress"] == "3月部门预警已推送，走访完成"
    assert units[LINGCHUAN]["unreported"] == ["2022-03", "2022-04"]
    assert board[23]["overdue"] == []  # it runs to November
    # a county sees its own units only
    mine = plan.board(store, date(2022, 5, 10), YANGSHUO)
    assert all([u["unit"] for u in r["units"]] == [YANGSHUO] for r in mine)
    assert 19 not in {r["task"].id for r in mine}


def test_findings_become_rectification_items(world: tuple[Store, Clock]) -> None:
    store, clock = world
    rid = plan.add_rectification(
        store,
        CITY,
        YANGSHUO,
        "unannounced",
        date(2022, 5, 6),
        "某村监测对象帮扶计划未制定",
        "白沙镇人民政府",
        date(2022, 5, 20),
    )
    assert rid == f"zg-{YANGSHUO}-0001"
    with pytest.raises(Refusal, match="wrong_role"):
        plan.add_rectification(
            store, COUNTY_A, YANGSHUO, "supervision", date(2022, 5, 6), "x", "y", date(2022, 5, 9)
        )
    with pytest.raises(Refusal, match="bad_date"):
        plan.add_rectification(
            store, CITY, YANGSHUO, "supervision", date(2022, 5, 6), "x", "y", date(2022, 5, 1)
        )
    other = plan.add_rectification(
        store,
        CITY,
        LINGCHUAN,
        "supervision",
        date(2022, 5, 6),
        "数据质量问题未清洗",
        "县乡村振兴局",
        date(2022, 5, 31),
    )
    (mine,) = plan.rectifications(store, COUNTY_A, store.today())
    assert (mine["rect_id"], mine["group_name"], mine["overdue"]) == (rid, "第二组", False)
    assert len(plan.rectifications(store, CITY, store.today())) == 2
    with pytest.raises(NotFound):  # another county's item: as if unknown
        plan.close_rectification(store, COUNTY_A, other, "已整改", date(2022, 5, 10))
    with pytest.raises(Refusal, match="wrong_role"):
        plan.rectifications(store, OFFICER_A, store.today())
    clock.at = china(2022, 5, 25)
    assert plan.rectifications(store, COUNTY_A, store.today())[0]["overdue"]
    june = monthly_report(Sources(store), "2022-05", date(2022, 5, 25))
    rect = {r["county_code"]: r for r in june.table("督查整改").rows}
    assert (rect[YANGSHUO]["found"], rect[YANGSHUO]["overdue"], rect[LINGCHUAN]["overdue"]) == (1, 1, 0)
    assert {k: v for k, v, _ in june.headline}["整改超期(项)"] == 1
    plan.close_rectification(store, COUNTY_A, rid, "已制定帮扶计划并落实措施", date(2022, 5, 24))
    with pytest.raises(Refusal, match="already_done"):
        plan.close_rectification(store, COUNTY_A, rid, "再次", date(2022, 5, 24))
    assert plan.rectifications(store, COUNTY_A, store.today(), "open") == []
    tasks = monthly_report(Sources(store), "2022-05", date(2022, 5, 25)).table("重点任务调度")
    overdue = {r["id"]: r["overdue"] for r in tasks.rows}
    assert "阳朔县" in overdue[4]  # nobody reported task 4 done in this store
    assert 26 not in overdue  # begins in October


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", Clock(china(2022, 5, 10)))
    s.accounts.add("xian", "county", YANGSHUO, PASSWORD)
    s.accounts.add("ops", "operator", "4503", PASSWORD)
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    return s


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_the_city_page_and_the_api(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    await client.post("/login", data={"username": "ops", "password": PASSWORD, "next": "/"})
    page = await (await client.get("/rectifications")).text()
    r = await client.post(
        "/rectifications",
        data={
            "csrf": _csrf(page),
            "county": YANGSHUO,
            "source": "supervision",
            "found_on": "2022-05-06",
            "finding": "监测对象帮扶措施不精准",
            "owner": "县乡村振兴局",
            "deadline": "2022-05-31",
        },
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    tasks = await (await client.get("/tasks")).text()
    assert "对存在返贫致贫风险农户应纳尽纳" in tasks
    assert "第十三组" in tasks  # the supervision groups
    r = await client.post(
        "/tasks/9/progress",
        data={"csrf": _csrf(tasks), "month": "2022-05", "status": "done", "progress": "监测机制文件已印发"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    await client.post("/logout", data={"csrf": _csrf(tasks)})
    await client.post("/login", data={"username": "xian", "password": PASSWORD, "next": "/"})
    page = await (await client.get("/rectifications")).text()
    assert "监测对象帮扶措施不精准" in page
    r = await client.post(
        f"/rectifications/zg-{YANGSHUO}-0001/close",
        data={"csrf": _csrf(page), "result": "已逐户调整帮扶措施", "closed_on": "2022-05-10"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    token = (
        await (await client.post("/api/v1/login", json={"username": "xian", "password": PASSWORD})).json()
    )["token"]
    headers = {"Authorization": f"Bearer {token}"}
    got = await (await client.get("/api/v1/rectifications", headers=headers)).json()
    assert [(r["rect_id"], r["status"]) for r in got["rectifications"]] == [(f"zg-{YANGSHUO}-0001", "done")]
    r = await client.post(
        "/api/v1/tasks/23/progress",
        json={"month": "2022-04", "status": "on_track", "progress": "4月走访完成"},
        headers=headers,
    )
    assert r.status == 200, await r.text()
    assert (await r.json())["task"]["units"][0]["progress"] == "4月走访完成"
    board = await (await client.get("/api/v1/tasks", headers=headers)).json()
    assert {u["unit"] for t in board["tasks"] for u in t["units"]} == {YANGSHUO}
    # a village officer has no task board
    await client.post("/logout", data={"csrf": _csrf(page)})
    await client.post("/login", data={"username": "cun-a", "password": PASSWORD, "next": "/"})
    assert (await client.get("/tasks")).status == 403
