"""The monthly export for the national monitoring system (全国防返贫监测信息系统): per county, the
households the county identified, eliminated or rolled back in the month, with their category, risk
types and dates, as XLSX and CSV with Chinese headers, to be entered there."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dixian import sheets
from dixian.contract.vocabulary import Outcome
from dixian.geo import county_name
from reports import queries
from reports.monthly import month_bounds
from screening.store import Store

# the county decisions the national system records (an exclusion or a non-inclusion changes nothing there)
EXPORTED = {
    Outcome.INCLUDED: "识别纳入",
    Outcome.ELIMINATED: "风险消除",
    Outcome.ROLLED_BACK: "回退（恢复监测）",
}
COLUMNS = [
    ("county_code", "县级代码"),
    ("county", "县（市、区）"),
    ("township_code", "乡镇代码"),
    ("village_code", "行政村代码"),
    ("household_id", "户编号"),
    ("head_name", "户主姓名"),
    ("persons", "家庭人口"),
    ("household_type", "农户类型"),
    ("action", "办理事项"),
    ("category", "监测对象类别"),
    ("risk_types", "风险类型"),
    ("clue_date", "发现日期"),
    ("decided_on", "县级审定日期"),
    ("clue_id", "线索编号"),
]


@dataclass(frozen=True)
class NationalExport:
    month: str
    county: str | None
    rows: list[dict[str, Any]]


def national_export(store: Store, month: str, county: str | None = None) -> NationalExport:
    start, end = month_bounds(month)
    rows = queries.decisions_to_export(store, start, end, [o.value for o in EXPORTED], county)
    risks: dict[str, list[str]] = {}
    for item in queries.risk_labels(store, [r["clue_id"] for r in rows]):
        label = item["risk_label"].split("(")[0]
        if label != "待核实" and label not in risks.setdefault(item["clue_id"], []):
            risks[item["clue_id"]].append(label)
    out = [
        {
            "county_code": r["county_code"],
            "county": county_name(r["county_code"]),
            "township_code": r["township_code"],
            "village_code": r["village_code"],
            "household_id": r["household_id"],
            "head_name": r["head_name"] or "",
            "persons": r["persons"],
            "household_type": r["household_type"] or "",
            "action": EXPORTED[Outcome(r["outcome"])],
            "category": r["category"] or r["clue_category"] or r["ledger_category"] or "",
            "risk_types": "、".join(risks.get(r["clue_id"], [])),
            "clue_date": r["clue_date"],
            "decided_on": date.fromisoformat(r["at"][:10]).isoformat(),
            "clue_id": r["clue_id"],
        }
        for r in rows
    ]
    return NationalExport(month, county, out)


def write_national(export: NationalExport, out_dir: Path) -> tuple[Path, Path]:
    """``national-<month>[-<county>].xlsx`` and ``.csv`` (UTF-8 with BOM, as Excel opens it)."""
    from openpyxl import Workbook  # noqa: PLC0415

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"national-{export.month}" + (f"-{export.county}" if export.county else "")
    headers = [label for _, label in COLUMNS]
    wb = Workbook()
    ws = wb.active
    ws.title = "监测对象变动"
    ws.append(headers)
    for r in export.rows:
        ws.append([r[k] for k, _ in COLUMNS])
    for col, width in zip(
        "ABCDEFGHIJKLMN", (10, 14, 12, 15, 20, 10, 8, 10, 16, 16, 22, 12, 12, 28), strict=True
    ):
        ws.column_dimensions[col].width = width
    wb.properties.creator = "dixian"
    xlsx = out_dir / f"{stem}.xlsx"
    sheets.save_workbook(wb, xlsx)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(headers)
    w.writerows([sheets.csv_cell(r[k]) for k, _ in COLUMNS] for r in export.rows)
    path = out_dir / f"{stem}.csv"
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return xlsx, path
