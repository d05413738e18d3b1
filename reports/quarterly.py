"""The quarterly bulletin (季度通报): counties ranked by timeliness, data quality and elimination
accuracy, with the red list (红榜) and black list (黑榜); weights and thresholds in params.yaml."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from dixian.contract.deadlines import DECIDE_DAYS
from dixian.geo import KEY_COUNTIES, county_name
from reports import queries
from reports.model import Chart, Report, Table
from reports.monthly import Sources, _area_rows, _clues, load_yaml, month_bounds, quality_tables


def quarter_months(quarter: str) -> list[str]:
    year, q = int(quarter[:4]), int(quarter[-1])
    return [f"{year:04d}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


def _score(metrics: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """The weighted score, or None when the county has no timeliness figure (too few clues due): the
    other metrics alone say nothing of how it worked its clues. A county without eliminations has its
    accuracy weight spread over the other two (said in the notes)."""
    if metrics["timeliness"] is None or metrics["data_quality"] is None:
        return None
    present = {k: v for k, v in metrics.items() if v is not None}
    total = sum(weights[k] for k in present)
    return round(sum(weights[k] * v for k, v in present.items()) / total, 1)


QUARTER_STEPS = 4  # the sections ``quarterly_report`` announces through ``step``


def quarterly_report(
    src: Sources, quarter: str, today: date, step: Callable[[str], None] | None = None
) -> Report:
    """The quarter's bulletin; ``step`` is told as each of its ``QUARTER_STEPS`` sections starts."""
    say = step or (lambda _: None)
    cfg = load_yaml("params.yaml")["quarterly"]
    months = quarter_months(quarter)
    start, _ = month_bounds(months[0])
    _, end = month_bounds(months[-1])
    settled = end + timedelta(days=DECIDE_DAYS)  # the quarter's last clues' 15 days are over
    closed = today >= settled
    as_of = settled if closed else today
    say("时效 / timeliness")
    clues = _clues(src, start, end, None)
    timeliness = {r["code"]: r for r in _area_rows(clues, "county_code", as_of, {})}
    say("数据质量 / data quality")
    problems, _, _ = quality_tables(src, months[-1], None)
    problems_by_county = Counter(p["county_code"] for p in problems.rows)
    households = queries.households_per_county(src.store)
    say("风险消除 / eliminations")
    eliminations = Counter(queries.decisions_per_county(src.store, start, end, "eliminated"))
    wrong = Counter(p["county_code"] for p in problems.rows if p["check"] == "DQ-ELIMINATED-WITHIN-2-MONTHS")
    wrong.update(queries.decisions_per_county(src.store, start, end, "rolled_back"))
    say("排名 / ranking")
    rows: list[dict[str, Any]] = []
    for county in sorted(set(households) | set(timeliness)):
        t = timeliness.get(county)
        due = t["due"] if t else 0  # decided, or past their 15 days
        tim = round(100.0 * t["decided_in_15"] / due, 1) if t and due >= cfg["min_clues"] else None
        n = households.get(county, 0)
        rate = 1000.0 * problems_by_county[county] / n if n else 0.0
        dq = round(max(0.0, 100.0 - rate * cfg["problems_per_1000_factor"]), 1) if n else None
        el = eliminations[county]
        acc = round(100.0 * max(0, el - wrong[county]) / el, 1) if el else None
        metrics = {"timeliness": tim, "data_quality": dq, "elimination_accuracy": acc}
        rows.append(
            {
                "code": county,
                "name": county_name(county),
                "key": "是" if county in KEY_COUNTIES else "",
                "clues": t["received"] if t else 0,
                "due": due,
                "timeliness": tim,
                "problems_per_1000": round(rate, 1),
                "data_quality": dq,
                "eliminations": el,
                "elimination_accuracy": acc,
                "score": _score(metrics, cfg["weights"]),
            }
        )
    scored = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], r["code"]))
    unscored = sorted((r for r in rows if r["score"] is None), key=lambda r: r["code"])
    for i, r in enumerate(scored, 1):
        r["rank"] = i
    for r in unscored:
        r["rank"] = "无数据"  # not ranked: too few clues due to score it on
    ranked = scored + unscored
    red_cfg, black_cfg = cfg["red_list"], cfg["black_list"]
    red = [r for r in scored if r["score"] >= red_cfg["min_score"]][: red_cfg["max_counties"]]
    black = [
        r
        for r in reversed(scored)  # the worst first
        if r not in red
        and (
            r["score"] < black_cfg["max_score"]
            or any(
                r[k] is not None and r[k] < black_cfg["any_metric_below"]
                for k in ("timeliness", "data_quality", "elimination_accuracy")
            )
        )
    ][: black_cfg["max_counties"]]
    for r in ranked:
        r["list"] = "红榜" if r in red else "黑榜" if r in black else ""
    cols = [
        ("rank", "名次"),
        ("code", "代码"),
        ("name", "县（市、区）"),
        ("key", "重点帮扶县"),
        ("score", "综合得分"),
        ("list", "红黑榜"),
        ("clues", "预警线索"),
        ("due", "已到认定期限"),
        ("timeliness", "时效(15天内认定%)"),
        ("problems_per_1000", "每千户问题数据"),
        ("data_quality", "数据质量得分"),
        ("eliminations", "风险消除户"),
        ("elimination_accuracy", "消除准确率(%)"),
    ]
    w = cfg["weights"]
    ranking = Table(
        "县区排名",
        f"{quarter} 各县（市、区）排名",
        cols,
        ranked,
        note=(
            f"综合得分 = 时效×{w['timeliness']} + 数据质量×{w['data_quality']}"
            f" + 消除准确率×{w['elimination_accuracy']}"
            "（无风险消除的县，消除准确率的权重按其余两项折算）。"
            f"参评：已到认定期限的线索不少于{cfg['min_clues']}条，否则不排名，显示“无数据”，不上红黑榜。"
            f"红榜：综合得分≥{red_cfg['min_score']}的前{red_cfg['max_counties']}名；"
            f"黑榜：综合得分<{black_cfg['max_score']}或任一单项<{black_cfg['any_metric_below']}的"
            f"末{black_cfg['max_counties']}名。"
        ),
    )
    key_t = Table(
        "重点帮扶县",
        f"{quarter} 重点帮扶县（龙胜、资源、全州）",
        cols,
        [r for r in ranked if r["code"] in KEY_COUNTIES],
        note="名次为在全市的名次；线索不足的县显示“无数据”。",
    )
    red_t = Table("红榜", f"{quarter} 红榜", cols, red)
    black_t = Table("黑榜", f"{quarter} 黑榜", cols, black)
    return Report(
        title=f"桂林市防返贫动态监测季度通报（{quarter}）",
        period=quarter,
        scope="桂林市",
        closed=closed,
        generated_for=min(today, end - timedelta(days=1)).isoformat(),
        headline=[
            ("参评县（市、区）", len(scored), None),
            ("红榜", len(red), None),
            ("黑榜", len(black), None),
            ("预警线索", len(clues), None),
        ],
        tables=[ranking, key_t, red_t, black_t],
        charts=[
            Chart(
                "各县综合得分",
                "barh",
                [r["name"] for r in scored],
                {"综合得分": [r["score"] for r in scored]},
                "分",
            )
        ],
        notes=[
            "时效：统计期内线索中，认定期限已到的，15天内完成县级审定的比例。",
            "数据质量：期末问题数据按每千户计。消除准确率：统计期内风险消除中，未在2个月内消除、未被回退的比例。",
            "本期已结束，期末线索的15天期限已届满，报表可复现。"
            if closed
            else "本期线索仍在办理中，数字仍会变化。",
        ],
    )
