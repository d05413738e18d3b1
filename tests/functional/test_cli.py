"""The one CLI, driven as a user would (typer's runner, no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from dixian.cli import app

runner = CliRunner()


def test_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIXIAN_INGEST_SECRET", "very-secret-value")
    result = runner.invoke(app, ["config"], terminal_width=200)
    assert result.exit_code == 0
    assert "very-secret-value" not in result.output
    assert "DIXIAN_KAFKA_BOOTSTRAP" in result.output


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_every_option_of_every_command_reads_an_environment_variable() -> None:
    import typer.main  # noqa: PLC0415

    missing = [
        f"{' '.join(path)} {param.opts[0]}"
        for path, cmd in _commands(typer.main.get_command(app))
        for param in cmd.params
        if param.param_type_name == "option" and not param.envvar and "--help" not in param.opts
    ]
    assert missing == []
    # an option that sets a value of the settings has no default of its own: the settings are the one source
    from dixian.config import Settings  # noqa: PLC0415

    setting_vars = {f"DIXIAN_{name.upper()}" for name in Settings.model_fields}
    second_defaults = [
        f"{' '.join(path)} {param.opts[0]} = {param.default!r}"
        for path, cmd in _commands(typer.main.get_command(app))
        for param in cmd.params
        if param.param_type_name == "option" and param.envvar in setting_vars and param.default is not None
    ]
    assert second_defaults == []
    result = runner.invoke(app, ["report", "monthly", "--help"], terminal_width=200)
    assert "DIXIAN_REPORT_MONTH" in result.output  # and --help says which


def test_demo_runs_end_to_end_and_reconciles(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "demo", "--households", "800"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "✘" not in result.output
    assert (tmp_path / "demo" / "local" / "deadletter.jsonl").exists()
    assert (tmp_path / "demo" / "ingest" / "quality.sqlite").exists()
    # one household, one clue: every alert is one risk item of its household's clue, no household
    # has two open clues, and there are as many clues as households with a risk; the printed demo
    # password works
    from connectors.sinks import read_local  # noqa: PLC0415
    from screening.store import open_store  # noqa: PLC0415

    alerts = [orjson.loads(v) for _, v in read_local(tmp_path / "demo" / "local" / "alerts.jsonl")]
    store = open_store(f"sqlite:///{tmp_path / 'demo' / 'screening' / 'screening.sqlite'}")
    items = store.db.query(
        "SELECT item_id, clue_id, household_id FROM risk_items WHERE source = 'department_warning'"
    )
    assert {r["item_id"] for r in items} == {a["alert_id"] for a in alerts}
    assert len({a["household_id"] for a in alerts}) < len(
        {a["alert_id"] for a in alerts}
    )  # some have several
    assert (
        store.db.query(
            "SELECT household_id FROM clues WHERE state <> 'closed' GROUP BY household_id HAVING COUNT(*) > 1"
        )
        == []
    )
    with_risk = store.db.one("SELECT COUNT(DISTINCT household_id) AS n FROM risk_items")
    assert store.db.one("SELECT COUNT(*) AS n FROM clues") == with_risk
    monitored = store.db.one("SELECT COUNT(*) AS n FROM households WHERE status IN ('监测中', '风险已消除')")
    assert store.db.one("SELECT COUNT(*) AS n FROM risk_items WHERE source = 'campaign'") == monitored
    # `dixian demo --serve` finds this demo and serves it as it is (with its queue work)
    from datetime import date  # noqa: PLC0415

    from dixian.config import Settings  # noqa: PLC0415
    from dixian.demo import existing_demo  # noqa: PLC0415

    assert existing_demo(Settings(data_dir=tmp_path)) == (tmp_path / "demo", date(2022, 7, 1))
    assert existing_demo(Settings(data_dir=tmp_path / "none")) is None
    password = result.output.split("(this run only): ")[1].split()[0]
    assert store.accounts.login("demo-village", password) is not None


def test_ingest_unreadable_file_exits_2_and_says_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("户编号\n1\n", encoding="utf-8")
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "ingest", "water", str(bad), "--local"], terminal_width=200
    )
    assert result.exit_code == 2
    assert "缺少必需的列" in result.output
    assert "nothing was published" in result.output


def test_ingest_with_the_broker_down_exits_3_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DIXIAN_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    sim = tmp_path / "sim"
    runner.invoke(app, ["simulate", "--out", str(sim), "--households", "100", "--dept", "water"])
    (feed,) = sim.glob("water-*")
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "ingest", "water", str(feed)], terminal_width=200
    )
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "dixian kafka start" in " ".join(result.output.split())


def test_ingest_local_summary(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    assert (
        runner.invoke(
            app, ["simulate", "--out", str(sim), "--households", "300", "--dept", "water"]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "ingest", "water", str(sim / "water-2022-06.csv"), "--local"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "reconciles" in result.output


def test_python_m_dixian_cli_runs_every_command_group(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    for group in (["report", "monthly"], ["campaign", "create"], ["rules", "check"]):
        done = subprocess.run(
            [sys.executable, "-m", "dixian.cli", *group, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "Usage" in done.stdout


def test_screening_serve_finds_the_demo_when_no_store_is_configured(tmp_path: Path) -> None:
    from dixian.cli.queue import the_store_to_serve  # noqa: PLC0415
    from dixian.config import Settings  # noqa: PLC0415

    settings = Settings(data_dir=tmp_path)
    assert the_store_to_serve(settings, None) == (settings, None, "")  # no demo: the configured store
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "demo.json").write_text('{"clock_date": "2022-07-01"}', encoding="utf-8")
    demo, local, note = the_store_to_serve(settings, None)
    assert (demo.data_dir, demo.clock_date, local) == (
        tmp_path / "demo",
        date(2022, 7, 1),
        tmp_path / "demo" / "local",
    )
    assert "serving the demo" in note
    # a store of one's own wins: configured, or already made at the default place
    own = Settings(data_dir=tmp_path, screening_db=f"sqlite:///{tmp_path / 'own.sqlite'}")
    assert the_store_to_serve(own, None)[0] is own
    (tmp_path / "screening").mkdir()
    (tmp_path / "screening" / "screening.sqlite").write_bytes(b"")
    assert the_store_to_serve(settings, None)[0] is settings
