"""Monthly report generation time and memory for a city of N households (target: 1M in < 2 min).

    python bench/report_bench.py [--households 1000000] [--clue-share 0.02] [--rebuild]

Set-up (cached in var/bench/report-<N>/ and not timed): the household ledger of a simulated city
(dixian.simulate.build_city: Guilin's 17 counties, real household mix) is loaded into the alert store
(SQLite); clues are made for a share of households in June 2022 with rules of the shipped catalogue,
and a tenth of them are worked through the whole workflow (visit → … → county decision) with the
store's own API; feed counters for every department are recorded for six months. Timed: building
the monthly report for 2022-06 (all sections, problem-data checks over the whole ledger) and writing
the XLSX and HTML (with charts).
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from dixian.contract import Dept, Household
from dixian.contract.alerts import Alert, TriggeringEvent
from dixian.contract.events import CHINA_TZ
from dixian.contract.feedruns import FeedRun
from dixian.contract.vocabulary import Role
from dixian.simulate import build_city
from reports.monthly import Sources, monthly_report
from reports.render import write
from rules.catalogue import load_catalogue
from screening.assets import record_asset_check
from screening.auth import Actor
from screening.store import Store, open_store
from screening.workflow import Request


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(directory: Path, households: int, clue_share: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    city = build_city(households, seed=11)
    clock = [datetime(2022, 6, 30, 20, tzinfo=CHINA_TZ)]
    store = open_store(f"sqlite:///{directory / 'store.sqlite'}", lambda: clock[0])
    batch: list[Household] = []
    for hh in city.households:
        batch.append(
            Household.model_validate(
                {
                    "household_id": hh.household_id,
                    "village_code": hh.village_code,
                    "household_type": hh.household_type,
                    "monitoring_category": hh.monitoring_category or None,
                    "monitoring_status": hh.monitoring_status,
                    "risk_types": hh.risk_types,
                    "per_capita_income": hh.per_capita_income,
                    "housing_safe": hh.housing_safe,
                    "water_safe": hh.water_safe,
                    "dibao": hh.dibao,
                    "tekun": hh.tekun,
                    "members": [
                        {
                            "member_id": m.member_id,
                            "relation": m.relation,
                            "can_work": m.can_work,
                            "disabled": m.disabled,
                            "seriously_ill": m.seriously_ill,
                            "insured": m.insured,
                            "in_school": m.in_school,
                        }
                        for m in hh.members
                    ],
                }
            )
        )
        if len(batch) == 20_000:
            store.ledger.upsert(batch)
            batch = []
    store.ledger.upsert(batch)
    print(f"ledger: {households:,} households loaded in {time.perf_counter() - t0:.0f}s", flush=True)

    rng = random.Random(11)
    rules = [c.rule for c in load_catalogue().active]
    picked = rng.sample(city.households, int(households * clue_share))
    alerts = []
    for hh in picked:
        rule = rng.choice(rules)
        reported = date(2022, 6, rng.randint(1, 30))
        start = date(2022, 6, 1)
        alerts.append(
            Alert(
                alert_id=Alert.make_id(hh.household_id, rule.id, start),
                revision=1,
                household_id=hh.household_id,
                village_code=hh.village_code,
                township_code=hh.village_code[:9],
                county_code=hh.village_code[:6],
                rule_id=rule.id,
                rule_version=1,
                catalogue_version="bench",
                department=rule.department.value,
                title=rule.title,
                explanation=rule.explanation,
                risk_type=rule.risk_type,
                risk_label=rule.label,
                guarantee=rule.guarantee,
                severity=rule.severity,
                window_start=start,
                window_end=start + timedelta(days=rule.suppression_days),
                hits=rng.randint(1, 3),
                triggering_events=(
                    TriggeringEvent(
                        event_id=f"b-{hh.household_id}",
                        event_type="medical.settlement",
                        dept=rule.department.value,
                        occurred_at=reported,
                        reported_at=datetime.combine(reported, datetime.min.time(), CHINA_TZ),
                    ),
                ),
                evidence={},
                parameters={},
                visit_by=reported + timedelta(days=5),
                decide_by=reported + timedelta(days=15),
            )
        )
    for i in range(0, len(alerts), 5000):
        store.clues.upsert_alerts(alerts[i : i + 5000])
    worked = alerts[: len(alerts) // 10]
    steps = [
        ("visit", {"note": "入户核实"}),
        ("conclude", {"proposal": "include", "category": "边缘易致贫户"}),
        ("village_review", {"decision": "approve"}),
        ("notice_end", {"decision": "approve"}),
        ("township_review", {"decision": "approve"}),
        ("county_decide", {"decision": "approve"}),
    ]
    for a in worked:
        clock[0] = datetime.combine(
            a.visit_by - timedelta(days=5), datetime.min.time(), CHINA_TZ
        ) + timedelta(hours=9)
        for action, fields in steps:
            role = {"township_review": Role.TOWNSHIP, "county_decide": Role.COUNTY}.get(action, Role.VILLAGE)
            if action == "notice_end":
                clock[0] += timedelta(days=5)
            if action == "county_decide":  # an inclusion needs the county's asset check
                county = Actor("bench", "", Role.COUNTY, a.village_code[:6])
                record_asset_check(store, county, a.alert_id, "passed", clock[0].date())
            store.clues.act(
                Actor("bench", "", role, a.village_code[: {Role.VILLAGE: 12, Role.TOWNSHIP: 9}.get(role, 6)]),
                a.alert_id,
                Request(action, **fields),
            )  # type: ignore[arg-type]
    runs = []
    for m in ("2022-01", "2022-02", "2022-03", "2022-04", "2022-05", "2022-06"):
        at = datetime.fromisoformat(f"{m}-28T10:00:00+08:00")
        for d in Dept:
            rows = households // 10
            runs.append(
                FeedRun(
                    run_id=f"bench-{m}-{d.value}",
                    dept=d.value,
                    month=m,
                    source="file",
                    file="x.csv",
                    encoding="utf-8",
                    status="complete",
                    started_at=at,
                    updated_at=at,
                    rows_read=rows,
                    accepted=rows - rows // 50,
                    duplicates=rows // 200,
                    rejected=rows // 50 - rows // 200,
                    late=rows // 100,
                    rejections={"resident_id_checksum": rows // 50 - rows // 200},
                )
            )
    store.feeds.upsert(runs)
    store.db.close()
    print(
        f"set-up: {len(alerts):,} clues ({len(worked):,} worked to a decision)"
        f" in {time.perf_counter() - t0:.0f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--clue-share", type=float, default=0.02)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    directory = args.dir or Path("var/bench") / f"report-{args.households}"
    if args.rebuild or not (directory / "ready").exists():
        shutil.rmtree(directory, ignore_errors=True)  # never reuse a half-built set-up
        build(directory, args.households, args.clue_share)
        (directory / "ready").touch()
    rss0 = peak_rss_mib()
    store = Store(open_store(f"sqlite:///{directory / 'store.sqlite'}").db)
    src = Sources(store)
    t0 = time.perf_counter()
    report = monthly_report(src, "2022-06", date(2022, 8, 1))
    t1 = time.perf_counter()
    xlsx, html = write(report, directory / "out", "monthly-2022-06", datetime(2022, 6, 30, 23, 59, 59))
    t2 = time.perf_counter()
    problems = len(report.table("问题数据清单").rows)
    print(
        f"monthly report, {args.households:,} households: figures {t1 - t0:.1f}s + XLSX/HTML {t2 - t1:.1f}s"
        f" = {t2 - t0:.1f}s; {report.table('核查处置-村').total('received'):,.0f} clues,"
        f" {problems:,} problem rows;"
        f" peak RSS {peak_rss_mib():.0f} MiB (before: {rss0:.0f}); {xlsx.stat().st_size / 1e6:.1f} MB XLSX,"
        f" {html.stat().st_size / 1e6:.1f} MB HTML"
    )


if __name__ == "__main__":
    main()
