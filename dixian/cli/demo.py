"""``dixian demo``: the main job on one machine."""

from __future__ import annotations

from typing import Annotated

import typer

from dixian.cli._shared import console, settings_of, stdout
from dixian.cli.kafka import run_kafka_script


def demo_cmd(
    ctx: typer.Context,
    households: Annotated[
        int,
        typer.Option(envvar="DIXIAN_DEMO_HOUSEHOLDS", show_envvar=True, min=100, help="Households simulated"),
    ] = 20_000,
    month: Annotated[
        str, typer.Option(envvar="DIXIAN_DEMO_MONTH", show_envvar=True, help="Month YYYY-MM")
    ] = "2022-06",
    seed: Annotated[
        int, typer.Option(envvar="DIXIAN_DEMO_SEED", show_envvar=True, help="Random seed")
    ] = 2022,
    malformed: Annotated[
        float, typer.Option(envvar="DIXIAN_DEMO_MALFORMED", show_envvar=True, help="Share of malformed rows")
    ] = 0.02,
    kafka: Annotated[
        bool,
        typer.Option(
            "--kafka",
            envvar="DIXIAN_DEMO_KAFKA",
            show_envvar=True,
            help="Then run the same month through the local broker and real workers",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            envvar="DIXIAN_DEMO_WORKERS", show_envvar=True, min=1, max=8, help="Worker processes for --kafka"
        ),
    ] = 2,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            envvar="DIXIAN_DEMO_SERVE",
            show_envvar=True,
            help="Serve the village queue's web page on the demo data (until Ctrl-C); an existing demo"
            " is served as it is, with its queue work",
        ),
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            envvar="DIXIAN_DEMO_FRESH",
            show_envvar=True,
            help="With --serve: build the demo again even if one exists",
        ),
    ] = False,
) -> None:
    """The main job on one machine, no Kafka: simulate a Guilin month, ingest it, run rules → alerts.

    With --kafka, the same month then goes through the local broker and real worker processes,
    and the demo checks that they publish exactly the same alerts."""
    from dixian.demo import existing_demo, print_demo, run_demo, run_demo_kafka  # noqa: PLC0415

    settings = settings_of(ctx)
    if serve and not fresh and not kafka and (found := existing_demo(settings)) is not None:
        from dixian.cli.queue import serve as serve_queue  # noqa: PLC0415

        out, clock = found
        stdout.print(
            f"已有演示数据 / serving the existing demo in {out} (deadlines as of {clock}); its accounts keep"
            " the password printed when it was built. To build it again: dixian demo --serve --fresh"
        )
        demo_settings = settings.override(data_dir=out, clock_date=clock)
        serve_queue(demo_settings, local_dir=demo_settings.local_dir)
        return
    result = run_demo(
        settings, households=households, month=month, seed=seed, malformed=malformed, console=console
    )
    print_demo(result, stdout)
    if not all(s.reconciles for s in result.summaries):
        raise typer.Exit(1)
    if kafka and not run_demo_kafka(
        settings,
        result,
        workers=workers,
        console=stdout,
        start_broker=lambda: run_kafka_script(settings, "start"),
    ):
        raise typer.Exit(1)
    if serve:
        from dixian.cli.queue import serve as serve_queue  # noqa: PLC0415

        demo_settings = settings.override(data_dir=result.out_dir, clock_date=result.queue.clock_date)
        serve_queue(demo_settings, local_dir=demo_settings.local_dir)
