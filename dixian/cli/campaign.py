"""``dixian campaign …``: screening campaigns (集中排查), one visit item per household in scope."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dixian.cli._shared import console, settings_of, stdout, steps_bar
from dixian.contract.vocabulary import Role
from dixian.geo import CITY_SCOPE
from screening.auth import Actor
from screening.refusal import Refusal
from screening.store import store_for

campaign_app = typer.Typer(
    help="Screening campaigns (集中排查): one visit item per household in scope.", no_args_is_help=True
)


def _cli_actor() -> Actor:
    """The operator at this terminal: the whole city, as a city operator account."""
    return Actor(f"cli:{getpass.getuser()}"[:40], "命令行", Role.OPERATOR, CITY_SCOPE)


@campaign_app.command("create")
def campaign_create(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_CAMPAIGN_NAME", show_envvar=True, help="Campaign name, e.g. '2022年防返贫集中排查'"
        ),
    ],
    scope: Annotated[
        list[str],
        typer.Option(
            envvar="DIXIAN_CAMPAIGN_SCOPE",
            show_envvar=True,
            help="City (4503) or county codes; repeat for several",
        ),
    ],
    date_from: Annotated[
        str,
        typer.Option("--from", envvar="DIXIAN_CAMPAIGN_FROM", show_envvar=True, help="First day YYYY-MM-DD"),
    ],
    date_to: Annotated[
        str,
        typer.Option(
            "--to", envvar="DIXIAN_CAMPAIGN_TO", show_envvar=True, help="Last day YYYY-MM-DD (visit deadline)"
        ),
    ],
    kinds: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_CAMPAIGN_KINDS",
            show_envvar=True,
            help="Household kinds covered: ordinary, formerly_poor, monitored (comma separated)",
        ),
    ] = "ordinary,formerly_poor,monitored",
) -> None:
    """Create a campaign: one visit item per household of the ledger in scope, in the village queues."""
    from screening.campaigns import CAMPAIGN_STEPS, create_campaign  # noqa: PLC0415

    try:
        start, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    except ValueError:
        console.print("[red]日期格式应为 YYYY-MM-DD / dates must be YYYY-MM-DD[/]")
        raise typer.Exit(2) from None
    store = store_for(settings_of(ctx))
    try:
        with steps_bar("集中排查 / campaign", CAMPAIGN_STEPS) as step:
            c = create_campaign(
                store, _cli_actor(), name, scope, start, end, [k.strip() for k in kinds.split(",")], step
            )
    except Refusal as exc:
        console.print(f"[red]{exc.zh}[/]")
        raise typer.Exit(2) from None
    kinds_text = ", ".join(c.kinds)
    console.print(
        f"campaign {c.campaign_id}: {c.items} visit items ({kinds_text}), {c.period_from} – {c.period_to}"
    )


@campaign_app.command("list")
def campaign_list(ctx: typer.Context) -> None:
    """Campaigns with their periods and number of visit items."""
    from screening.campaigns import campaigns  # noqa: PLC0415

    table = Table("name", "period", "kinds", "items")
    table.add_column("id", no_wrap=True, min_width=16)
    table.columns.insert(0, table.columns.pop())
    for c in campaigns(store_for(settings_of(ctx)), _cli_actor()):
        table.add_row(
            c.campaign_id, c.name, f"{c.period_from} – {c.period_to}", ",".join(c.kinds), str(c.items)
        )
    stdout.print(table)


@campaign_app.command("summary")
def campaign_summary(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument()],
    out: Annotated[
        Path, typer.Option(envvar="DIXIAN_CAMPAIGN_OUT", show_envvar=True, help="XLSX file to write")
    ] = Path("campaign-summary.xlsx"),
) -> None:
    """Coverage by county, township and village, and the look-back list, as a workbook."""
    from screening.campaigns import coverage, summary_xlsx  # noqa: PLC0415

    store, actor = store_for(settings_of(ctx)), _cli_actor()
    try:
        out.write_bytes(summary_xlsx(store, actor, campaign_id))
    except Refusal as exc:
        console.print(f"[red]{exc.zh}[/]")
        raise typer.Exit(2) from None
    rows = coverage(store, actor, campaign_id, "county")
    total, visited = sum(r["total"] for r in rows), sum(r["visited"] for r in rows)
    console.print(f"{visited}/{total} visited ({100 * visited / max(total, 1):.1f}%); workbook: {out}")
