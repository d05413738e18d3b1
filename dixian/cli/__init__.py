"""The one command line: ``dixian <command>``. It parses options and delegates; each command group
lives in its own module beside this one.

Options that set a value of the settings (``dixian config`` lists them) read the same environment
variable as the settings and have no default of their own: the settings object is the one source.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dixian.cli import campaign, catalogue, demo, feeds, kafka, queue, report, run, worker
from dixian.cli._shared import env_help, fail, settings_of, stdout
from dixian.config import Settings

app = typer.Typer(
    name="dixian",
    help="底线 dixian: 防返贫动态监测预警 — early warning against relapse into poverty.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main_options(
    ctx: typer.Context,
    bootstrap: Annotated[
        str | None, typer.Option(**env_help("kafka_bootstrap", "Kafka bootstrap servers"))
    ] = None,
    topic_prefix: Annotated[
        str | None, typer.Option(**env_help("topic_prefix", "Prefix of every topic"))
    ] = None,
    partitions: Annotated[
        int | None, typer.Option(**env_help("partitions", "Partitions of keyed topics"))
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(**env_help("data_dir", "Local state directory"))] = None,
) -> None:
    given: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": topic_prefix,
        "partitions": partitions,
        "data_dir": data_dir,
    }
    try:
        ctx.obj = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        fail(f"配置错误 / configuration error: {exc}")


@app.command("config")
def config_cmd(ctx: typer.Context) -> None:
    """Print the settings in force (secrets masked) and the environment variable of each."""
    table = Table("setting", "value", "environment variable")
    for name, value in settings_of(ctx).masked().items():
        table.add_row(name, str(value), f"DIXIAN_{name.upper()}")
    stdout.print(table)


app.add_typer(kafka.kafka_app, name="kafka")
app.add_typer(kafka.cluster_app, name="cluster")
app.add_typer(kafka.topics_app, name="topics")
app.command("worker")(worker.worker_cmd)
app.command("simulate")(feeds.simulate_cmd)
app.command("ingest")(feeds.ingest_cmd)
app.add_typer(feeds.tokens_app, name="tokens")
app.command("push-server")(feeds.push_server_cmd)
app.command("demo")(demo.demo_cmd)
app.command("run")(run.run_cmd)
app.command("move-to-kafka")(run.move_cmd)
app.add_typer(catalogue.rules_app, name="rules")
app.add_typer(queue.screening_app, name="screening")
app.add_typer(queue.users_app, name="users")
app.add_typer(campaign.campaign_app, name="campaign")
app.add_typer(report.report_app, name="report")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
