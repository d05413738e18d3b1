"""Relocation sites (易地搬迁集中安置点) as screening units beside villages: the area table marks
them, their households are screened by the site's management (the destination, as the plan says),
and campaign coverage is reported per site."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from dixian.contract.vocabulary import Role
from dixian.simulate import build_city, relocation_sites, write_areas
from screening.areas import is_site, read_area_table
from screening.auth import Actor
from screening.campaigns import coverage, create_campaign, item_id, summary_xlsx
from screening.refusal import NotFound
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    CITY,
    OFFICER_A,
    ORDINARY_FORM,
    VILLAGE_A,
    Clock,
    china,
    household,
    stores_of,
)

SITE = "450321101299"  # the community the relocated households are registered in
SITE_OFFICE = Actor("anzhi", "安置点管理", Role.VILLAGE, SITE)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 9, 1))
    for s in stores_of(request.param, tmp_path, clock):
        s.areas.load({VILLAGE_A[:9]: "白沙镇", VILLAGE_A: "遇龙村", SITE: "白沙易地扶贫搬迁安置点"})
        s.ledger.upsert([household(1), household(2, village=SITE), household(3, village=SITE)])
        yield s, clock


def test_sites_are_screened_by_their_management_and_reported_apart(world: tuple[Store, Clock]) -> None:
    store, _ = world
    assert store.areas.sites() == {SITE: "白沙易地扶贫搬迁安置点"}
    c = create_campaign(
        store, CITY, "集中排查", ["450321"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary"]
    )
    moved = item_id(c.campaign_id, household(2, village=SITE).household_id)
    with pytest.raises(NotFound):  # not the origin village's officer: as if unknown
        store.clues.act(OFFICER_A, moved, Request("visit", form=ORDINARY_FORM))
    store.clues.act(SITE_OFFICE, moved, Request("visit", form=ORDINARY_FORM))
    (site,) = coverage(store, CITY, c.campaign_id, "site")
    assert (site["code"], site["name"], site["total"], site["visited"], site["coverage_pct"]) == (
        SITE,
        "白沙易地扶贫搬迁安置点",
        2,
        1,
        50.0,
    )
    villages = {r["code"] for r in coverage(store, CITY, c.campaign_id, "village")}
    assert villages == {VILLAGE_A, SITE}  # the site is a unit beside the villages
    book = openpyxl.load_workbook(io.BytesIO(summary_xlsx(store, CITY, c.campaign_id)))
    rows = list(book["按安置点"].iter_rows(values_only=True))
    assert rows[1][:4] == (SITE, "白沙易地扶贫搬迁安置点", 2, 1)


def test_the_area_table_marks_sites_and_the_simulator_writes_them(tmp_path: Path) -> None:
    assert is_site(SITE, "白沙易地扶贫搬迁安置点")
    assert not is_site(VILLAGE_A, "遇龙村")
    assert not is_site(VILLAGE_A[:9], "安置镇")  # a township is never a site
    city = build_city(3000, 7, 2022)
    sites = relocation_sites(city)
    assert len({code[:6] for code in sites}) == len(sites) >= 10  # one per rural county
    names, problems = read_area_table(write_areas(city, tmp_path))
    assert problems == []
    assert {c for c, n in names.items() if is_site(c, n)} == set(sites)
    rows = list(csv.reader(io.StringIO((tmp_path / "areas.csv").read_text("utf-8"))))
    assert rows[0] == ["代码", "名称"]
