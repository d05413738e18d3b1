"""``dixian rules …``: check, test, explain, backtest and publish the rule catalogue. Each command
prints its result in Chinese and English and exits 0 when all is well."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated, get_args

import orjson
import typer
from rich.console import Console
from rich.table import Table

from dixian.cli._shared import console, progress_bar, settings_of, stdout
from dixian.config import Settings
from dixian.contract.roster import RiskType
from dixian.topics import Topics
from rules.catalogue import Catalogue, load_catalogue
from rules.describe import describe_rule
from rules.examples import run_examples
from rules.loader import LoadError

rules_app = typer.Typer(
    help="The early-warning rule catalogue: check, test, explain, backtest, publish.", no_args_is_help=True
)


CatalogueOption = Annotated[
    Path | None,
    typer.Option(
        "--catalogue",
        envvar="DIXIAN_RULES_DIR",
        show_envvar=True,
        help="A catalogue directory of *.yaml rule files (default: the shipped rules/catalogue)",
    ),
]


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
    stdout.print(
        f"✔ {catalogue.source}: {len(catalogue.rules)} rules ({len(catalogue.active)} active) over "
        f"{len(depts)} departments, {len(catalogue.params.params)} parameters; version {catalogue.version}"
    )
    # which official risk types the active rules cover: a type without a rule is a gap in monitoring
    table = Table(title="按官方风险类型 / by official risk type")
    table.add_column("风险类型 risk type", no_wrap=True)
    table.add_column("规则 active rules", overflow="fold")
    for risk in get_args(RiskType):
        ids = [r.id for r in catalogue.active if r.rule.risk_type == risk]
        table.add_row(risk, "、".join(ids) if ids else "[yellow]无规则 / none[/]")
    guarantees = [r.id for r in catalogue.active if r.rule.risk_type is None]
    table.add_row("三保障和饮水安全", "、".join(guarantees) or "[yellow]无规则 / none[/]")
    stdout.print(table)
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
    stdout.print(
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
    stdout.print(t)
    for name in rule.rule.parameters:
        p = catalogue.params.params[name]
        pt = Table(
            "地区 region", "起始 from", "取值 value", "来源 source", title=f"{p.title} ({name}, {p.unit})"
        )
        for pv in sorted(p.values, key=lambda x: (x.region, x.valid_from)):
            pt.add_row(pv.region, pv.valid_from.isoformat(), f"{pv.value:g}", pv.source)
        stdout.print(pt)
        if on is not None:
            chosen = catalogue.params.value(name, region, on)
            stdout.print(
                f"  → {region} 于 {on}: {chosen.value:g} ({chosen.region} from {chosen.valid_from})"
                if chosen
                else f"  → {region} 于 {on}: 无取值 (no value: the rule cannot fire there)"
            )
    ex = Table("示例 example", "应触发 fires", title="示例 examples")
    for e in rule.rule.examples:
        ex.add_row(e.name, "是" if e.fires else "否")
    stdout.print(ex)
    return 0


# ---- backtest ------------------------------------------------------------------------------------------
def backtest(settings: Settings, candidate: Path, *, local_dir: Path | None, err: Console) -> int:
    """Replay stored inputs through the active and the candidate catalogue; per-rule hit counts."""
    from streams.backtest import replay, stored_records  # noqa: PLC0415

    active = _load(None, err)
    cand = _load(candidate, err)
    if active is None or cand is None:
        return 1
    topics = Topics(settings)
    records = stored_records(topics, local_dir=local_dir, kafka=settings.kafka)
    deadlines = settings.deadlines()
    results = {}
    with progress_bar(err) as bar:
        for name, catalogue in (("active", active), ("candidate", cand)):
            task = bar.add_task(f"回测 backtest {name}", total=len(records))
            results[name] = replay(
                records,
                topics,
                catalogue,
                deadlines,
                lambda n, t=task: bar.advance(t, n),  # type: ignore[misc]
            )
    hits = {name: r.hits for name, r in results.items()}
    _print_backtest(active, cand, hits, results["active"].evaluations)
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
            r.rule.department.zh,
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
    stdout.print(t)


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
        producer = idempotent_producer(settings.kafka)
        await producer.start()
        try:
            await producer.send_and_wait(
                Topics(settings).rules_control, orjson.dumps(catalogue.as_data()), key=CATALOGUE_KEY
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    stdout.print(
        f"✔ published catalogue {catalogue.version} ({len(catalogue.active)} active rules) to "
        f"{Topics(settings).rules_control}; running workers switch between events"
    )
    return 0


# ---- the commands -----------------------------------------------------------------------------------
@rules_app.command("check")
def rules_check(catalogue: CatalogueOption = None) -> None:
    """Schema, unknown fields, condition type errors, duplicate ids, missing examples (file:line)."""
    raise typer.Exit(check(catalogue, console))


@rules_app.command("test")
def rules_test(catalogue: CatalogueOption = None) -> None:
    """Run every rule's examples through durable_rules and the reference evaluator."""
    raise typer.Exit(test(catalogue, console))


@rules_app.command("explain")
def rules_explain(
    rule_id: Annotated[str, typer.Argument(help="e.g. MI-OOP-POOR")],
    catalogue: CatalogueOption = None,
    region: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_RULES_REGION", show_envvar=True, help="Region code to resolve parameters for"
        ),
    ] = "450321",
    on: Annotated[
        str | None,
        typer.Option(
            "--date",
            envvar="DIXIAN_RULES_DATE",
            show_envvar=True,
            help="Resolve the parameters in force on this date (YYYY-MM-DD)",
        ),
    ] = None,
) -> None:
    """The rule in Chinese with its parameters by region and year."""
    from datetime import date  # noqa: PLC0415

    try:
        when = date.fromisoformat(on) if on else None
    except ValueError:
        console.print(f"[red]--date 应为 YYYY-MM-DD / must be YYYY-MM-DD, got {on!r}[/]")
        raise typer.Exit(2) from None
    raise typer.Exit(explain(rule_id, catalogue, region, when, console))


@rules_app.command("backtest")
def rules_backtest(
    ctx: typer.Context,
    candidate: Annotated[Path, typer.Argument(help="The candidate catalogue directory")],
    local: Annotated[
        Path | None,
        typer.Option(
            "--local",
            envvar="DIXIAN_BACKTEST_LOCAL",
            show_envvar=True,
            help="Replay local topic files (e.g. var/demo/local) instead of Kafka",
        ),
    ] = None,
) -> None:
    """Replay stored events against the active and a candidate catalogue; per-rule hit counts and Δ."""
    raise typer.Exit(backtest(settings_of(ctx), candidate, local_dir=local, err=console))


@rules_app.command("publish")
def rules_publish(ctx: typer.Context, catalogue: CatalogueOption = None) -> None:
    """Validate a catalogue and publish it on the control topic; workers switch without restart."""
    raise typer.Exit(publish(settings_of(ctx), catalogue, console))
