"""``dixian report …``: the monthly cross-department report and the quarterly bulletin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from dixian.cli._shared import console, settings_of, steps_bar

report_app = typer.Typer(
    help="Monthly cross-department report and quarterly bulletin (XLSX + HTML).", no_args_is_help=True
)


ReportOutOption = Annotated[
    Path | None,
    typer.Option(
        envvar="DIXIAN_REPORT_OUT", show_envvar=True, help="Output directory (default: DATA_DIR/reports)"
    ),
]


def _check_month_and_county(month: str, county: str | None) -> None:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        console.print(f"[red]月份格式应为 YYYY-MM / month must be YYYY-MM, got {month!r}[/]")
        raise typer.Exit(2)
    if county is not None and not re.fullmatch(r"\d{6}", county):
        console.print(f"[red]县级代码应为6位数字 / county code must be 6 digits, got {county!r}[/]")
        raise typer.Exit(2)


@report_app.command("monthly")
def report_monthly(
    ctx: typer.Context,
    month: Annotated[str, typer.Option(envvar="DIXIAN_REPORT_MONTH", show_envvar=True, help="Month YYYY-MM")],
    county: Annotated[
        str | None,
        typer.Option(
            envvar="DIXIAN_REPORT_COUNTY",
            show_envvar=True,
            help="One county's 6-digit code (default: the whole city)",
        ),
    ] = None,
    out: ReportOutOption = None,
) -> None:
    """Feeds, early warning, screening, monitoring objects, data quality, department feedback (Chinese)."""
    from reports.monthly import REPORT_STEPS  # noqa: PLC0415
    from reports.publish import monthly  # noqa: PLC0415

    _check_month_and_county(month, county)
    with steps_bar(f"{month} 月报", REPORT_STEPS + 1) as step:
        report, xlsx, html = monthly(settings_of(ctx), month, county, out, step)
    console.print(
        ("" if report.closed else "[yellow]本月线索仍在办理中，数字仍会变化 / not closed yet[/]\n")
        + f"{report.title}"
    )
    console.print(f"  XLSX: {xlsx}\n  HTML: {html}")


@report_app.command("quarterly")
def report_quarterly(
    ctx: typer.Context,
    quarter: Annotated[
        str,
        typer.Option(envvar="DIXIAN_REPORT_QUARTER", show_envvar=True, help="Quarter YYYYQn, e.g. 2022Q2"),
    ],
    out: ReportOutOption = None,
) -> None:
    """Counties ranked by timeliness, data quality and elimination accuracy; red and black lists."""
    from reports.publish import quarterly  # noqa: PLC0415
    from reports.quarterly import QUARTER_STEPS  # noqa: PLC0415

    if not re.fullmatch(r"\d{4}Q[1-4]", quarter):
        console.print(f"[red]季度格式应为 YYYYQn / quarter must be YYYYQn, got {quarter!r}[/]")
        raise typer.Exit(2)
    with steps_bar(f"{quarter} 季度通报", QUARTER_STEPS + 1) as step:
        report, xlsx, html = quarterly(settings_of(ctx), quarter, out, step)
    console.print(f"{report.title}\n  XLSX: {xlsx}\n  HTML: {html}")


@report_app.command("national")
def report_national(
    ctx: typer.Context,
    month: Annotated[str, typer.Option(envvar="DIXIAN_REPORT_MONTH", show_envvar=True, help="Month YYYY-MM")],
    county: Annotated[
        str | None,
        typer.Option(
            envvar="DIXIAN_REPORT_COUNTY", show_envvar=True, help="One county's 6-digit code (default: all)"
        ),
    ] = None,
    out: ReportOutOption = None,
) -> None:
    """The month's county decisions (识别纳入, 风险消除, 回退) for the national monitoring system."""
    from reports.national import national_export, write_national  # noqa: PLC0415
    from screening.audit import AuditAction, cli_user  # noqa: PLC0415
    from screening.store import store_for  # noqa: PLC0415

    _check_month_and_county(month, county)
    settings = settings_of(ctx)
    store = store_for(settings)
    try:
        export = national_export(store, month, county)
        xlsx, csv_path = write_national(export, out or settings.reports_dir)
        store.audit.record(cli_user(), AuditAction.EXPORT, xlsx.name, f"{len(export.rows)} households")
    finally:
        store.db.close()
    console.print(
        f"{month} 监测对象变动 {len(export.rows)} 户 / households\n  XLSX: {xlsx}\n  CSV: {csv_path}"
    )
