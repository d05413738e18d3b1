"""The monthly report of a simulated month against counts made here, from what the simulator wrote
(its manifest and its city) and from the alerts the pipeline published — never through the report
code or its queries — on SQLite and PostgreSQL: every headline figure, the department, rule and
county tables."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.sinks import read_local
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.wire import Accepted, decode_alert
from dixian.geo import county_name
from dixian.pipeline import run_once
from dixian.simulate import build_city, income_parts, simulate
from dixian.topics import Topics
from reports.monthly import Sources, monthly_report
from rules.params import default_params
from screening.store import Store, open_store
from tests.screening_helpers import store_url

MONTH, SEED, HOUSEHOLDS = "2022-06", 23, 2500
TASKS = Path(__file__).parents[2] / "screening" / "plan" / "tasks.yaml"


@pytest.fixture(scope="module")
def month_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("truth")
    inbox = out / "inbox"
    manifest = simulate(inbox, households=HOUSEHOLDS, month=MONTH, seed=SEED, malformed=0.03, rows=500)
    return inbox, manifest


@pytest.fixture(params=["sqlite", "postgresql"])
def ran(
    request: pytest.FixtureRequest, tmp_path: Path, month_files: tuple[Path, dict[str, Any]]
) -> Iterator[tuple[Settings, Store]]:
    inbox, _ = month_files
    for url in store_url(request.param, tmp_path):
        settings = Settings(data_dir=tmp_path / "data", screening_db=url, clock_date=date(2022, 7, 20))
        assert run_once(settings, inbox, month=MONTH).reconciles
        store = open_store(url, settings.now)
        yield settings, store
        store.db.close()


def _alerts(settings: Settings) -> list[Any]:
    """The latest revision of every alert the pipeline published."""
    latest: dict[str, Any] = {}
    for _, raw in read_local(settings.local_dir / f"{Topics(settings).alerts}.jsonl"):
        got = decode_alert(raw)
        assert isinstance(got, Accepted)
        a = got.value
        if a.alert_id not in latest or a.revision > latest[a.alert_id].revision:
            latest[a.alert_id] = a
    return list(latest.values())


def _problems(income_line: float) -> int:
    """The ledger checks of reports/checks.yaml, counted from the simulator's own households."""
    n = 0
    for h in build_city(HOUSEHOLDS, SEED, 2022).households:
        risks, members = set(h.risk_types), h.members
        eliminated = h.monitoring_status == "风险已消除"
        n += "因残" in risks and not any(m.disabled for m in members)
        n += "因病" in risks and not any(m.seriously_ill for m in members)
        n += "因务工就业不稳" in risks and not any(m.can_work for m in members)
        n += "缺劳动力" in risks and all(m.can_work for m in members)
        n += sum(m.relation == "户主" for m in members) != 1
        n += eliminated and not h.housing_safe
        n += eliminated and not h.water_safe
        n += eliminated and not all(m.insured for m in members)
        n += eliminated and h.per_capita_income < income_line
        n += h.household_type == "脱贫户" and h.per_capita_income < 4000
    return n


def test_every_headline_and_table_equals_the_ground_truth(
    ran: tuple[Settings, Store], month_files: tuple[Path, dict[str, Any]]
) -> None:
    settings, store = ran
    _, manifest = month_files
    report = monthly_report(Sources(store), MONTH, date(2022, 7, 20))
    assert report.closed

    # departments: the manifest's rows, unique valid rows, duplicates and malformed rows
    feeds = {r["dept"]: r for r in report.table("部门数据报送").rows}
    truth = {Dept(f["dept"]).zh: f for f in manifest["feeds"]}
    for zh, f in truth.items():
        row = feeds[zh]
        got = (row["rows_read"], row["accepted"], row["duplicates"], row["rejected"], row["incomplete"])
        assert got == (f["rows"], f["valid_unique"], f["duplicates"], sum(f["malformed"].values()), 0), zh
    for zh in set(feeds) - set(truth):
        assert feeds[zh]["delivered"] == "未报送"
    reasons = Counter[str]()
    for f in manifest["feeds"]:
        reasons[Dept(f["dept"]).zh] += sum(f["malformed"].values())
    by_dept = Counter[str]()
    for r in report.table("拒收原因").rows:
        by_dept[r["dept"]] += r["count"]
    assert by_dept == +reasons

    # rules and counties: counted from the published alerts, each dated by its clue day (the
    # contract's 15-day deadline back); a household's alerts make one clue, dated by its first
    alerts = _alerts(settings)
    day = {a.alert_id: a.decide_by - timedelta(days=15) for a in alerts}
    first: dict[str, date] = {}
    for a in alerts:
        first[a.household_id] = min(first.get(a.household_id, day[a.alert_id]), day[a.alert_id])
    items = [a for a in alerts if day[a.alert_id].strftime("%Y-%m") == MONTH]
    households = {h for h, d in first.items() if d.strftime("%Y-%m") == MONTH}
    assert len(items) > 50
    rules = {r["rule_id"]: r for r in report.table("预警规则").rows}
    per_rule: dict[str, list[Any]] = defaultdict(list)
    for a in items:
        per_rule[a.rule_id].append(a)
    assert set(rules) == set(per_rule)
    for rule_id, alerts in per_rule.items():
        assert (rules[rule_id]["alerts"], rules[rule_id]["hits"]) == (
            len(alerts),
            sum(a.hits for a in alerts),
        )
    county = {r["code"]: r for r in report.table("核查处置-县").rows}
    per_county = Counter(h[:6] for h in households)
    assert {c: r["received"] for c, r in county.items()} == dict(per_county)
    assert all(county[c]["name"] == county_name(c) for c in per_county)

    # income: formerly poor households' growth against all households', from what the simulator wrote
    sums: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for h in build_city(HOUSEHOLDS, SEED, 2022).households:
        parts, prev = income_parts(h)
        n = len(h.members)
        for group in ("all", "poor" if h.household_type == "脱贫户" else "other"):
            k = sums[(h.village_code[:6], group)]
            k["persons"] += n
            k["income"] += h.per_capita_income * n
            k["wage"] += parts[0] * n
            if prev != "":
                k["now"] += h.per_capita_income * n
                k["prev"] += prev * n
    income = {r["code"]: r for r in report.table("收入").rows}
    assert set(income) == {c for c, _ in sums}
    for (code, group), k in sums.items():
        if group == "other":
            continue
        row = income[code]
        key = "poor" if group == "poor" else "all"
        assert row[f"{key}_growth"] == pytest.approx(100 * (k["now"] / k["prev"] - 1), abs=0.051), (
            code,
            group,
        )
        assert row[f"{key}_income"] == round(k["income"] / k["persons"]), (code, group)
        if group == "all":
            assert row["wage_share"] == pytest.approx(100 * k["wage"] / k["income"], abs=0.051)
            assert row["data"] == "有"

    # the headline, figure by figure
    city = build_city(HOUSEHOLDS, SEED, 2022).households
    monitored = [h for h in city if h.monitoring_status == "监测中"]
    line = default_params().value("monitoring_income_line", "4503", date(2022, 6, 30))
    assert line is not None
    head = {label: this for label, this, _ in report.headline}
    assert head == {
        "部门数据接收行数": sum(f["rows"] for f in manifest["feeds"]),
        "入库变动数据": sum(f["valid_unique"] for f in manifest["feeds"]),
        "拒收行数": sum(sum(f["malformed"].values()) for f in manifest["feeds"]),
        "预警线索(户)": len(households),
        "预警风险项": len(items),
        "规则命中": sum(a.hits for a in items),
        "农户申请与干部排查": 0,
        "线索纳入监测": 0,
        "监测对象(户)": len(monitored),
        "监测对象(人)": sum(len(h.members) for h in monitored),
        "风险已消除(户)": sum(h.monitoring_status == "风险已消除" for h in city),
        "问题数据(条)": _problems(float(line.value)),
        # the plan's tasks whose period ended by the day June is judged (no unit reported any done)
        "重点任务逾期(项)": sum(
            1 for t in yaml.safe_load(TASKS.read_text("utf-8"))["tasks"] if str(t["to"]) < "2022-07-16"
        ),
        "整改超期(项)": 0,
    }
