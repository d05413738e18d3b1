"""What a report is made of: titled tables (one worksheet each) and charts drawn from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class Table:
    sheet: str  # worksheet name (≤ 31 characters)
    title: str
    columns: list[tuple[str, str]]  # (key, Chinese label)
    rows: list[dict[str, Any]]
    note: str = ""

    def column(self, key: str) -> list[Any]:
        return [r.get(key) for r in self.rows]

    def total(self, key: str) -> float:
        return float(sum(r.get(key) or 0 for r in self.rows))


@dataclass
class Chart:
    title: str
    kind: Literal["bar", "stacked", "line", "barh"]
    labels: list[str]
    series: dict[str, list[float | None]]  # legend label → values (None: no data, drawn as a gap)
    y_label: str = ""
    percent: bool = False

    def drawn(self) -> Chart | None:
        """The chart as drawn: a series with no data at all is left out, and so is a series of
        counts that are all 0 (a rate of 0% is a value and stays); a chart with nothing left is not
        drawn (None: the page says why instead of showing an empty frame)."""

        def shown(values: list[float | None]) -> bool:
            known = [v for v in values if v is not None]
            return bool(known) and (self.percent or any(known))

        series = {k: v for k, v in self.series.items() if shown(v)}
        if not self.labels or not series:
            return None
        return Chart(self.title, self.kind, self.labels, series, self.y_label, self.percent)

    def why_not_drawn(self) -> str:
        known = [v for vs in self.series.values() for v in vs if v is not None]
        return "均为0，未绘制" if self.labels and known else "无数据，未绘制"


@dataclass
class Report:
    title: str
    period: str  # 2022-06 or 2022Q2
    scope: str  # 桂林市 or a county name
    closed: bool
    generated_for: str  # the day the period is judged from
    headline: list[tuple[str, Any, Any]]  # (label, this period, previous period)
    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, sheet: str) -> Table:
        return next(t for t in self.tables if t.sheet == sheet)
