"""Workbooks the village queue hands out: the county's asset-check list (财产检索名单) with the results
recorded so far, and its correction list for the national system (账实不符更正清单)."""

from __future__ import annotations

from typing import Any

from dixian import sheets
from dixian.contract.vocabulary import AssetResult, ClueState, CorrectionField, CorrectionStatus, labels

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
    ("asset_result", "检索结果"),
    ("asset_checked_on", "检索日期"),
    ("asset_reason", "未通过原因"),
    ("asset_found", "查到的财产"),
    ("clue_id", "线索编号"),
]


def _cell(key: str, value: Any) -> Any:
    if key == "state":
        return ClueState(value).zh
    if key == "asset_result":
        return labels(AssetResult).get(value, value) if value else "待检索"
    return value


def asset_check_xlsx(county: str, rows: list[dict[str, Any]]) -> bytes:
    """The county's asset-check list as a workbook."""
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook()
    ws = wb.active
    ws.title = "财产检索名单"
    ws.append([f"{county} 需开展财产检索的拟纳入监测对象（不含低保、特困）"])
    ws.append([label for _, label in ASSET_COLUMNS])
    for r in rows:
        ws.append([_cell(k, r[k]) for k, _ in ASSET_COLUMNS])
    widths = (26, 10, 12, 16, 12, 12, 10, 10, 16, 14, 22, 10, 12, 24, 24, 28)
    for col, width in zip("ABCDEFGHIJKLMNOP", widths, strict=True):
        ws.column_dimensions[col].width = width
    wb.properties.creator = "dixian"
    return sheets.workbook_bytes(wb)


CORRECTION_COLUMNS = [
    ("township_name", "乡镇"),
    ("village_name", "行政村"),
    ("household_id", "户编号"),
    ("head_name", "户主姓名"),
    ("field", "更正内容"),
    ("recorded", "系统登记值"),
    ("found", "核实值"),
    ("evidence", "佐证"),
    ("found_on", "发现日期"),
    ("status", "状态"),
    ("corrected_on", "更正日期"),
    ("clue_id", "线索编号"),
]


def corrections_xlsx(county: str, rows: list[dict[str, Any]]) -> bytes:
    """The county's correction list (账实不符) to enter into the national monitoring system."""
    from openpyxl import Workbook  # noqa: PLC0415

    field_zh, status_zh = labels(CorrectionField), labels(CorrectionStatus)
    wb = Workbook()
    ws = wb.active
    ws.title = "账实不符更正清单"
    ws.append([f"{county} 账实不符更正清单（请在全国防返贫监测信息系统中更正后登记）"])
    ws.append([label for _, label in CORRECTION_COLUMNS])
    for r in rows:
        ws.append(
            [
                field_zh.get(r[k], r[k])
                if k == "field"
                else status_zh.get(r[k], r[k])
                if k == "status"
                else r.get(k)
                for k, _ in CORRECTION_COLUMNS
            ]
        )
    for col, width in zip("ABCDEFGHIJKL", (12, 12, 20, 10, 14, 20, 24, 30, 12, 16, 12, 28), strict=True):
        ws.column_dimensions[col].width = width
    wb.properties.creator = "dixian"
    return sheets.workbook_bytes(wb)
