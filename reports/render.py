"""Reports to files: an XLSX workbook (one sheet per table, native Excel charts, byte-identical for
the same data) and a self-contained HTML page with SVG charts whose text the reader's browser draws."""

from __future__ import annotations

import io
import logging
import re
import warnings
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from dixian import sheets
from reports.model import Chart, Report, Table

CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
CJK_FAMILY = "Noto Sans CJK SC"


# The SVG names these; the reader's browser draws the text with the first it has.
BROWSER_FAMILIES = [CJK_FAMILY, "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
                    "sans-serif"]  # fmt: skip


def _matplotlib() -> Any:
    """pyplot set up for charts whose text stays text (SVG): laid out with Noto Sans CJK when this
    machine has it, else with matplotlib's own font (widths approximate), and drawn by the viewer's
    browser in its CJK font either way, so no system font is needed to make a report."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import font_manager, pyplot  # noqa: PLC0415

    # the families the browser may have are looked up here too: "not found" is expected, not news
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    if CJK_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        for p in CJK_FONT_FILES:
            if Path(p).exists():
                font_manager.fontManager.addfont(p)
    pyplot.rcParams["font.family"] = BROWSER_FAMILIES
    pyplot.rcParams["axes.unicode_minus"] = False
    pyplot.rcParams["svg.fonttype"] = "none"  # text as <text>, not paths
    pyplot.rcParams["svg.hashsalt"] = "dixian"
    return pyplot


def chart_svg(chart: Chart) -> str:
    plt = _matplotlib()
    n = max(1, len(chart.labels))
    horizontal = chart.kind == "barh"
    width = 9.0 if horizontal else max(7.0, min(16.0, 0.55 * n + 3))
    height = max(3.2, 0.38 * n + 1.2) if horizontal else 4.4
    with warnings.catch_warnings():  # a machine without a CJK font lays the text out in another one
        warnings.filterwarnings("ignore", message="(Glyph|findfont)")
        return _draw(plt, chart, n, horizontal, width, height)


def _draw(plt: Any, chart: Chart, n: int, horizontal: bool, width: float, height: float) -> str:
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    xs = list(range(len(chart.labels)))
    colours = ["#9b1c1c", "#e3a008", "#3f83f8", "#31c48d", "#9061f9"]
    bottom = [0.0] * len(xs)  # the stacks' tops so far
    if chart.kind == "line":
        for i, (name, values) in enumerate(chart.series.items()):
            ys = [float("nan") if v is None else v for v in values]  # no data: a gap in the line
            ax.plot(xs, ys, marker="o", color=colours[i % len(colours)], label=name)
            for x, v in zip(xs, values, strict=True):
                label = "无数据" if v is None else f"{v:.1f}%" if chart.percent else f"{v:g}"
                ax.annotate(label, (x, v or 0), textcoords="offset points", xytext=(0, 6), ha="center",
                            fontsize=9, color="#6b7280" if v is None else "#111827")  # fmt: skip
    elif horizontal:
        for i, (name, values) in enumerate(chart.series.items()):
            ax.barh(xs, [v or 0.0 for v in values], color=colours[i % len(colours)], label=name)
        ax.invert_yaxis()
    else:
        for i, (name, values) in enumerate(chart.series.items()):
            heights = [v or 0.0 for v in values]
            ax.bar(xs, heights, bottom=bottom if chart.kind == "stacked" else None,
                   color=colours[i % len(colours)], label=name)  # fmt: skip
            if chart.kind == "stacked":
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    known = [float(v) for vs in chart.series.values() for v in vs if v is not None]
    top = max([*known, *(bottom if chart.kind == "stacked" else [])], default=0.0)
    if min(known, default=0.0) >= 0:  # counts and rates: the axis starts at 0, never below
        (ax.set_xlim if horizontal else ax.set_ylim)(0, top * 1.15 if top > 0 else 1)
    if horizontal:
        ax.set_yticks(xs, chart.labels)
        ax.set_xlabel(chart.y_label)
    else:
        ax.set_xticks(xs, chart.labels, rotation=35 if n > 6 else 0, ha="right" if n > 6 else "center")
        ax.set_ylabel(chart.y_label)
    ax.set_title(chart.title, fontsize=13)
    ax.spines[["top", "right"]].set_visible(False)
    if len(chart.series) > 1:
        ax.legend(frameon=False)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]  # no XML prologue inside the page


# ---- XLSX -------------------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    return "" if value is None else value


def workbook_bytes(report: Report, stamp: datetime) -> bytes:
    """The workbook; the same report gives the same bytes (fixed document times, zip entry times)."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.chart import BarChart, Reference  # noqa: PLC0415
    from openpyxl.styles import Alignment, Font, PatternFill  # noqa: PLC0415

    wb = Workbook()
    cover = wb.active
    cover.title = "封面"
    cover.append([report.title])
    cover["A1"].font = Font(bold=True, size=16)
    cover.append(["统计期", report.period])
    cover.append(["范围", report.scope])
    cover.append(["状态", "已结束（可复现）" if report.closed else "线索仍在办理中，数字仍会变化"])
    cover.append([])
    cover.append(["指标", "本期", "上期"])
    for label, this, prev in report.headline:
        cover.append([label, this, "—" if prev is None else prev])
    cover.append([])
    for note in report.notes:
        cover.append([note])
    cover.column_dimensions["A"].width = 28
    head_fill = PatternFill("solid", fgColor="F3E5E5")
    for table in report.tables:
        ws = wb.create_sheet(table.sheet[:31])
        ws.append([table.title])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([label for _, label in table.columns])
        for c in ws[2]:
            c.font = Font(bold=True)
            c.fill = head_fill
            c.alignment = Alignment(wrap_text=True, vertical="center")
        for row in table.rows:
            ws.append([_cell(row.get(k)) for k, _ in table.columns])
        if table.note:
            ws.append([])
            ws.append([table.note])
        ws.freeze_panes = "A3"
        for i, (key, label) in enumerate(table.columns):
            longest = max([len(str(label))] + [len(str(r.get(key, ""))) for r in table.rows[:200]])
            ws.column_dimensions[ws.cell(row=2, column=i + 1).column_letter].width = min(
                48, max(8, longest * 1.6)
            )
        _native_chart(ws, table, BarChart, Reference)
    wb.properties.creator = "dixian"
    wb.properties.created = stamp
    return normalize_xlsx(sheets.workbook_bytes(wb), stamp)


def _native_chart(ws: Any, table: Table, bar_chart: Any, reference: Any) -> None:
    """An Excel bar chart for the county tables (drawn by Excel/WPS with its own fonts)."""
    keys = [k for k, _ in table.columns]
    if not table.rows or "name" not in keys or table.sheet not in ("核查处置-县", "监测对象-县"):
        return
    value_key = "received" if "received" in keys else "monitored_h"
    col = keys.index(value_key) + 1
    chart = bar_chart()
    chart.title = dict(table.columns)[value_key]
    chart.height, chart.width = 8, 18
    last = 2 + len(table.rows)
    chart.add_data(reference(ws, min_col=col, min_row=2, max_row=last), titles_from_data=True)
    chart.set_categories(reference(ws, min_col=keys.index("name") + 1, min_row=3, max_row=last))
    ws.add_chart(chart, f"A{last + 4}")


def normalize_xlsx(data: bytes, stamp: datetime) -> bytes:
    """openpyxl stamps 'modified' and every zip entry with the current time: pin both to ``stamp``."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode()
                text = re.sub(
                    r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rf"\g<1>{iso}\g<2>", text
                )
                text = re.sub(r"(<dcterms:created[^>]*>)[^<]*(</dcterms:created>)", rf"\g<1>{iso}\g<2>", text)
                body = text.encode()
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, body)
    return out.getvalue()


# ---- HTML -------------------------------------------------------------------------------------------
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def html_page(report: Report, *, row_limit: int = 300) -> str:
    charts, empty = [], []
    for c in report.charts:
        drawn = c.drawn()
        if drawn is None:
            empty.append(f"{c.title}：{c.why_not_drawn()}")
        else:
            charts.append({"title": c.title, "svg": Markup(chart_svg(drawn))})
    return _env.get_template("report.html").render(
        report=report, charts=charts, empty_charts=empty, row_limit=row_limit
    )


def write(report: Report, out_dir: Path, stem: str, stamp: datetime) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx, html = out_dir / f"{stem}.xlsx", out_dir / f"{stem}.html"
    xlsx.write_bytes(workbook_bytes(report, stamp))
    html.write_text(html_page(report), encoding="utf-8")
    return xlsx, html
