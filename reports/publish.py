"""Publishing a report: open the stored data, build the report, write XLSX + HTML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

from dixian.config import Settings
from dixian.contract.events import CHINA_TZ
from reports.model import Report
from reports.monthly import Sources, month_bounds, monthly_report
from reports.quarterly import quarter_months, quarterly_report
from reports.render import write
from screening.audit import AuditAction, cli_user
from screening.store import store_for


def sources(settings: Settings) -> Sources:
    return Sources(store_for(settings))


def _stamp(report: Report, period_end_exclusive: datetime) -> datetime:
    """Closed periods carry their own end as document time (reproducible); open ones the present."""
    if report.closed:
        return period_end_exclusive - timedelta(seconds=1)
    return datetime.now(CHINA_TZ).replace(microsecond=0, tzinfo=None)


def monthly(
    settings: Settings,
    month: str,
    county: str | None,
    out_dir: Path | None,
    step: Callable[[str], None] | None = None,
) -> tuple[Report, Path, Path]:
    """The monthly report written as XLSX and HTML; ``step`` hears each section and the writing."""
    src = sources(settings)
    try:
        report = monthly_report(src, month, settings.now().date(), county, step)
        if step:
            step("写出 XLSX/HTML / writing")
        _, end = month_bounds(month)
        stamp = _stamp(report, datetime.combine(end, time()))
        stem = f"monthly-{month}" + (f"-{county}" if county else "")
        xlsx, html = write(report, out_dir or settings.reports_dir, stem, stamp)
        src.store.audit.record(cli_user(), AuditAction.REPORT, xlsx.name)
    finally:
        src.store.db.close()
    return report, xlsx, html


def quarterly(
    settings: Settings, quarter: str, out_dir: Path | None, step: Callable[[str], None] | None = None
) -> tuple[Report, Path, Path]:
    """The quarterly bulletin written as XLSX and HTML; ``step`` hears each section and the writing."""
    src = sources(settings)
    try:
        report = quarterly_report(src, quarter, settings.now().date(), step)
        if step:
            step("写出 XLSX/HTML / writing")
        _, end = month_bounds(quarter_months(quarter)[-1])
        stamp = _stamp(report, datetime.combine(end, time()))
        xlsx, html = write(report, out_dir or settings.reports_dir, f"quarterly-{quarter}", stamp)
        src.store.audit.record(cli_user(), AuditAction.REPORT, xlsx.name)
    finally:
        src.store.db.close()
    return report, xlsx, html
