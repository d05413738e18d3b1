"""Township and village names (the geography's area table): read from the city's table, refused
rows named by line and field, and shown beside the codes on the queue, the clue, the notice, the
asset-check list, campaign coverage and the monthly report."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from aiohttp.test_utils import TestClient
from typer.testing import CliRunner

from dixian.cli import app as cli
from screening.areas import read_area_table
from screening.campaigns import coverage, create_campaign
from screening.store import Store
from tests.screening_helpers import CITY, VILLAGE_A, Clock, alert, china, household, open_test_store

PASSWORD = "village-pass-1"
TABLE = (
    "代码,名称\n"
    "450300000000,桂林市\n"  # city and county rows: named by the geography, skipped quietly
    f"{VILLAGE_A[:6]}000000,阳朔县\n"
    f"{VILLAGE_A[:9]}000,白沙镇\n"  # the national table pads a township's code to 12 digits
    f"{VILLAGE_A},遇龙村\n"
    "450101001001,南宁的村\n"  # another city
    f"{VILLAGE_A[:9]}999,Village 9\n"  # not a Chinese name
)


def _table(tmp_path: Path) -> Path:
    path = tmp_path / "areas.csv"
    path.write_text(TABLE, encoding="utf-8")
    return path


def test_the_area_table_is_read_and_bad_rows_are_named(tmp_path: Path) -> None:
    names, problems = read_area_table(_table(tmp_path))
    assert names == {VILLAGE_A[:9]: "白沙镇", VILLAGE_A: "遇龙村"}
    assert [(p.line, p.field) for p in problems] == [(6, "代码"), (7, "名称")]
    assert "not a township or village code of the city" in problems[0].reason
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,村名\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="需要“代码”和“名称”两列"):
        read_area_table(bad)


def test_the_cli_loads_names_and_exits_1_when_rows_were_skipped(tmp_path: Path) -> None:
    env = {"DIXIAN_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(
        cli, ["screening", "areas", str(_table(tmp_path))], env=env, terminal_width=200
    )
    assert result.exit_code == 1, result.output
    assert "loaded 2 names (1 townships, 1 villages); 2 rows skipped" in result.output
    assert "areas.csv line 6" in result.output
    result = CliRunner().invoke(cli, ["screening", "areas", str(tmp_path / "missing.csv")], env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", Clock(china(2022, 7, 1)))
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    s.ledger.upsert([household(1)])
    s.clues.upsert_alerts([alert(1)])
    names, _ = read_area_table(_table(tmp_path))
    s.areas.load(names)
    return s


@pytest.mark.asyncio
async def test_pages_show_names_beside_codes(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    r = await client.post("/login", data={"username": "cun-a", "password": PASSWORD, "next": "/"})
    assert r.status == 200
    queue = await (await client.get("/")).text()
    assert "阳朔县白沙镇遇龙村" in queue
    clue = await (await client.get(f"/clues/{alert(1).alert_id}")).text()
    assert f"阳朔县白沙镇遇龙村（{VILLAGE_A}）" in clue
    notice = await (await client.get(f"/villages/{VILLAGE_A}/notice")).text()
    assert "阳朔县白沙镇遇龙村 防返贫监测对象识别" in notice
    # a code the table does not name shows as the code
    assert store.areas.label("450321101299") == "450321101299"


def test_campaign_coverage_names_townships_and_villages(store: Store) -> None:
    c = create_campaign(store, CITY, "排查", ["4503"], date(2022, 7, 1), date(2022, 7, 31), ["ordinary"])
    assert [r["name"] for r in coverage(store, CITY, c.campaign_id, "township")] == ["白沙镇"]
    assert [r["name"] for r in coverage(store, CITY, c.campaign_id, "village")] == ["遇龙村"]
    assert [r["name"] for r in coverage(store, CITY, c.campaign_id, "county")] == ["阳朔县"]


@pytest.mark.asyncio
async def test_the_asset_check_list_names_township_and_village(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    from dixian.contract.vocabulary import Role  # noqa: PLC0415
    from screening.auth import Actor  # noqa: PLC0415
    from screening.workflow import Request  # noqa: PLC0415

    officer = Actor("cun-a", "村干部", Role.VILLAGE, VILLAGE_A)
    store.clues.act(officer, alert(1).alert_id, Request("visit", note="见到户主"))
    store.clues.act(
        officer, alert(1).alert_id, Request("conclude", proposal="include", category="边缘易致贫户")
    )
    store.accounts.add("xian", "county", VILLAGE_A[:6], PASSWORD)
    r = await client.post("/login", data={"username": "xian", "password": PASSWORD, "next": "/"})
    assert r.status == 200
    r = await client.get(f"/counties/{VILLAGE_A[:6]}/asset-check?format=xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(await r.read())).active
    header, first = [c.value for c in ws[2]], [c.value for c in ws[3]]
    assert (first[header.index("行政村")], first[header.index("乡镇")]) == ("遇龙村", "白沙镇")
