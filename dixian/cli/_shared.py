"""What every command group of the CLI shares: the settings in force, the console, option helpers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dixian.config import Settings
from dixian.privacy import install_log_masking

if TYPE_CHECKING:
    from aiohttp import web

T = TypeVar("T")
console = Console(stderr=True)  # progress, messages and errors; results go to standard output
stdout = Console()
REPO_ROOT = Path(__file__).resolve().parents[2]


def settings_of(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)
    return settings


def override(ctx: typer.Context, **values: Any) -> Settings:
    """The settings in force with a command's options in place (None: not given), validated like the
    environment's, so an option can never pass a value the setting refuses."""
    try:
        return settings_of(ctx).override(**values)
    except (ValidationError, ValueError) as exc:
        fail(f"配置错误 / configuration error: {exc}")


def or_exit(step: Callable[[], T], error: type[Exception] | tuple[type[Exception], ...]) -> T:
    """The step's result; on ``error`` its message (which says what to do) in red and exit code 1."""
    try:
        return step()
    except error as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]{message}[/]", highlight=False)
    raise typer.Exit(code)


def setup_logging(settings: Settings) -> None:
    install_log_masking()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def env_help(field: str, text: str) -> dict[str, Any]:
    """Option keywords for an option that overrides setting ``field``: it reads the same variable as
    the settings, and its default is the setting's (there is no second default here)."""
    return {
        "envvar": f"DIXIAN_{field.upper()}",
        "show_envvar": True,
        "help": f"{text} (default: the setting)",
    }


def supervised(app: web.Application) -> web.Application:
    """An aiohttp application that tells systemd (Type=notify) when it serves and when it stops, and
    feeds the unit's watchdog from its event loop (``dixian.service``)."""
    import asyncio  # noqa: PLC0415

    from dixian.service import keep_watchdog_fed, notify  # noqa: PLC0415

    tasks: list[asyncio.Task[None]] = []

    async def started(_: web.Application) -> None:
        tasks.append(asyncio.get_running_loop().create_task(keep_watchdog_fed()))
        notify("READY=1")

    async def stopping(_: web.Application) -> None:
        notify("STOPPING=1")
        for t in tasks:
            t.cancel()

    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    return app


def progress_bar(on: Console | None = None) -> Progress:
    """The commands' progress bar: what, how far (n of total), time spent and an estimate of what is
    left, on standard error (or the console ``on``)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=on or console,
    )


@contextmanager
def steps_bar(title: str, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar over a command's steps; the callable moves it one step on and names the step."""
    with progress_bar() as bar:
        task = bar.add_task(title, total=total)
        started = False

        def step(name: str) -> None:
            nonlocal started
            bar.update(task, advance=1 if started else 0, description=f"{title} · {name}")
            started = True

        yield step
        bar.update(task, completed=total)
