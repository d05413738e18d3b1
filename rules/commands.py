"""`dixian rules …`: check, test, explain, backtest, publish. Presentation lives here; the CLI
parses options and calls these; each returns the process exit code."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.kafka import read_topic
from connectors.sinks import read_local
from dixian.config import Settings
from dixian.contract import DEPT_ZH, Dept, Household
from dixian.topics import Topics
from rules.catalogue import Catalogue, load_catalogue
from rules.describe import describe_rule
from rules.engine import RuleEngine
from rules.examples import run_examples
from rules.loader import LoadError
from streams.core import HouseholdState, apply_event, apply_roster, context_for, intake

out = Console()


def _load(directory: Path | None, err: Console) -> Catalogue | None:
    try:
        return load_catalogue(directory)
    except LoadError as exc:
        for e in exc.errors:
            err.print(f"[red]{e}[/]", highlight=False)
        err.print(f"{len(exc.errors)} problem(s); nothing was loaded. Fix the lines above and run again.")
        return None


def check(directory: Path | None, err: Console) -> int:
    catalogue = _load(directory, err)
    if catalogue is None:
        return 1
    depts = Counter(r.rule.department for r in catalogue.rules)
    out.print(
        f"✔ {catalogue.source}: {len(catalogue.rules)} rules ({len(catalogue.active)} active) over "
        f"{len(depts)} departments, {len(catalogue.params.params)} parameters; version {catalogue.version}"
    )
    return 0


def test(directory: Path | None, err: Console) -> int:
    catalogue = _load(directory, err)
    if catalogue is None:
        return 1
    results = run_examples(catalogue)
    failed = [r for r in results if not r.ok]
    for r in failed:
        err.print(
            f"[red]✘ {r.rule.file}:{r.rule.line} {r.rule.id} example {r.example.name!r}: expected "
            f"{'fires' if r.example.fires else 'does not fire'}; durable_rules "
            f"{'fired' if r.engine_fired else 'did not fire'}, reference "
            f"{'fired' if r.reference_fired else 'did not fire'}[/]",
            highlight=False,
        )
    out.print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed "
        f"({len(catalogue.rules)} rules, each example through durable_rules and the reference evaluator)"
    )
    return 1 if failed else 0


def explain(rule_id: str, directory: Path | None, region: str, on: date | None, err: Console) -> int:
    catalogue = _load(directory, err)
    if catalogue is None:
        return 1
    rule = catalogue.get(rule_id)
    if rule is None:
        known = ", ".join(r.id for r in catalogue.rules)
        err.print(f"[red]没有规则 {rule_id} / no rule {rule_id}[/]; known: {known}")
        return 2
    t = Table(show_header=False, title=f"{rule.rule.id} {rule.rule.title}")
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    for label, text in describe_rule(rule, catalogue).items():
        t.add_row(label, text)
    out.print(t)
    for name in rule.rule.parameters:
        p = catalogue.params.params[name]
        pt = Table(
            "地区 region", "起始 from", "取值 value", "来源 source", title=f"{p.title} ({name}, {p.unit})"
        )
        for pv in sorted(p.values, key=lambda x: (x.region, x.valid_from)):
            pt.add_row(pv.region, pv.valid_from.isoformat(), f"{pv.value:g}", pv.source)
        out.print(pt)
        if on is not None:
            chosen = catalogue.params.value(name, region, on)
            out.print(
                f"  → {region} 于 {on}: {chosen.value:g} ({chosen.region} from {chosen.valid_from})"
                if chosen
                else f"  → {region} 于 {on}: 无取值 (no value: the rule cannot fire there)"
            )
    ex = Table("示例 example", "应触发 fires", title="示例 examples")
    for e in rule.rule.examples:
        ex.add_row(e.name, "是" if e.fires else "否")
    out.print(ex)
    return 0


# ---- backtest ------------------------------------------------------------------------------------------
def backtest(settings: Settings, candidate: Path, *, local_dir: Path | None, err: Console) -> int:
    """Replay stored events through the active and the candidate catalogue; per-rule hit counts."""
    active = _load(None, err)
    cand = _load(candidate, err)
    if active is None or cand is None:
        return 1
    topics = Topics(settings)

    def records(topic: str) -> list[bytes]:
        if local_dir is not None:
            return [v for _, v in read_local(local_dir / f"{topic}.jsonl")]
        return [v for _, v in asyncio.run(read_topic(settings.kafka_bootstrap, topic)) if v is not None]

    states: dict[str, HouseholdState] = {}
    for raw in records(topics.households):
        hh = Household.model_validate_json(raw)
        states[hh.household_id] = apply_roster(states.get(hh.household_id), hh)
    events = []
    for dept in Dept:
        for raw in records(topics.dept(dept)):
            got = intake(raw, dept)
            if got.value is not None:
                events.append(got.value)
    # Historical replay in event-time order: rolling aggregates see the past as it was.
    events.sort(key=lambda e: (e.occurred_at, e.reported_at, e.event_id))
    engines = {"active": RuleEngine(active), "candidate": RuleEngine(cand)}
    hits: dict[str, Counter[str]] = {k: Counter() for k in engines}
    evaluations = 0
    with Progress(
        TextColumn("[bold]回测 backtest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        task = bar.add_task("events", total=len(events))
        for i, event in enumerate(events, start=1):
            state, applied = apply_event(states.get(event.household_id), event)
            states[event.household_id] = state
            if not applied:
                continue
            household, member = context_for(state, event)
            evaluations += 1
            for name, engine in engines.items():
                for h in engine.evaluate(event, household, member):
                    hits[name][h.rule_id] += 1
            if i % 2000 == 0:
                bar.update(task, completed=i)
        bar.update(task, completed=len(events))
    for engine in engines.values():
        engine.close()
    _print_backtest(active, cand, hits, evaluations)
    return 0


def _print_backtest(
    active: Catalogue, cand: Catalogue, hits: dict[str, Counter[str]], evaluations: int
) -> None:
    ids = sorted({r.id for r in active.rules} | {r.id for r in cand.rules})
    t = Table(title=f"回测 backtest: {evaluations} events evaluated")
    t.add_column("规则 rule", no_wrap=True)
    t.add_column("部门 dept", no_wrap=True)
    t.add_column(f"现行 active {active.version}", justify="right")
    t.add_column(f"候选 candidate {cand.version}", justify="right")
    t.add_column("差异 Δ", justify="right", no_wrap=True)
    t.add_column("状态变化 state", no_wrap=True, min_width=15)
    for rid in ids:
        a_rule, c_rule = active.get(rid), cand.get(rid)
        r = c_rule or a_rule
        assert r is not None
        state_a = a_rule.rule.state if a_rule else "—"
        state_c = c_rule.rule.state if c_rule else "—"
        a, c = hits["active"][rid], hits["candidate"][rid]
        delta = c - a
        t.add_row(
            rid,
            DEPT_ZH[r.rule.department],
            str(a),
            str(c),
            f"[{'green' if delta == 0 else 'yellow'}]{delta:+d}[/]",
            "" if state_a == state_c else f"{state_a}→{state_c}",
        )
    t.add_row(
        "合计 total",
        "",
        str(sum(hits["active"].values())),
        str(sum(hits["candidate"].values())),
        f"{sum(hits['candidate'].values()) - sum(hits['active'].values()):+d}",
        "",
    )
    out.print(t)


# ---- publish -------------------------------------------------------------------------------------------
CATALOGUE_KEY = b"catalogue"


def publish(settings: Settings, directory: Path | None, err: Console) -> int:
    """Validate a catalogue (checks and every example) and put it on the compacted control topic."""
    catalogue = _load(directory, err)
    if catalogue is None:
        err.print("[red]拒绝发布 / refused: the catalogue is invalid[/]")
        return 1
    failed = [r for r in run_examples(catalogue) if not r.ok]
    if failed:
        err.print(f"[red]拒绝发布 / refused: {len(failed)} example(s) fail; run `dixian rules test`[/]")
        return 1
    from connectors.kafka import idempotent_producer  # noqa: PLC0415

    async def send() -> None:
        producer = idempotent_producer(settings.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                Topics(settings).rules_control, orjson.dumps(catalogue.as_data()), key=CATALOGUE_KEY
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    out.print(
        f"✔ published catalogue {catalogue.version} ({len(catalogue.active)} active rules) to "
        f"{Topics(settings).rules_control}; running workers switch between events"
    )
    return 0
