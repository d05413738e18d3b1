"""Workbooks the village queue hands out: the county's asset-check list (财产检索名单)."""

from __future__ import annotations

from typing import Any

from dixian import sheets
from dixian.contract.vocabulary import ClueState

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ASSET_COLUMNS = [
    ("household_id", "户编号"),
    ("head_name", "户主姓名"),
    ("village_name", "行政村"),
    ("village_code", "行政村代码"),
    ("township_name", "乡镇"),
    ("township_code", "乡镇代码"),
    ("household_type", "农户类型"),
    ("persons", "家庭人口"),
    ("category", "拟纳入类别"),
    ("state", "当前环节"),
    ("concluded_at", "结论时间"),
    ("clue_id", "线索编号"),
]


def asset_check_xlsx(county: str, rows: list[dict[str, Any]]) -> bytes:
    """The county's asset-check list as a workbook."""
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook()
    ws = wb.active
    ws.title = "财产检索名单"
    ws.append([f"{county} 需开展财产检索的拟纳入监测对象（不含低保、特困）"])
    ws.append([label for _, label in ASSET_COLUMNS])
    for r in rows:
        ws.append([ClueState(r[k]).zh if k == "state" else r[k] for k, _ in ASSET_COLUMNS])
    for col, width in zip("ABCDEFGHIJKL", (26, 10, 12, 16, 12, 12, 10, 10, 16, 14, 22, 28), strict=True):
        ws.column_dimensions[col].width = width
    wb.properties.creator = "dixian"
    return sheets.workbook_bytes(wb)
