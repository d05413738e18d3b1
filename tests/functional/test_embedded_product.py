"""The embedded product path (``dixian run``): two months of a county's files with the queue's
conclusions in between, household state on disk between runs, the same alerts as one uninterrupted
pass of the driver over the same records in the order they arrived (the Kafka path's order: roster,
June, the county's decisions, July), and the county's decisions kept in the ledger."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sinks import read_local
from dixian.cli import app
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.deadlines import Deadlines
from dixian.pipeline import classify, run_once
from dixian.topics import Topics
from rules.live import LiveCatalogue
from screening.store import open_store
from streams.driver import Driver, InputRecord
from streams.embedded import EmbeddedResult, EmbeddedState
from streams.kafka_run import collect_alerts
from tests.embedded_helpers import include_first_clues, settings_at, simulate_months
from tests.integration.month import same


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return simulate_months(tmp_path_factory.mktemp("months"))


def test_two_months_with_conclusions_between_give_the_uninterrupted_alerts(
    months: tuple[Path, Path], tmp_path: Path
) -> None:
    june, july = months
    inbox = tmp_path / "inbox"
    shutil.copytree(june, inbox)
    settings = settings_at(tmp_path, date(2022, 7, 1))
    topics = Topics(settings)
    first = run_once(settings, inbox)
    assert first.reconciles
    assert not first.refused
    assert first.queue is not None
    assert first.queue.inserted > 50
    # what the local topics held after June: the reference's split point
    june_lines = {
        t: sum(1 for _ in read_local(settings.local_dir / f"{t}.jsonl")) for t in _dept_topics(topics)
    }
    included = include_first_clues(settings, 40)
    for p in july.iterdir():
        shutil.copy(p, inbox / p.name)
    second = run_once(settings.override(clock_date=date(2022, 8, 1)), inbox)
    assert [p.name for p in second.already if p.suffix == ".csv"][:1] == [
        "areas.csv"
    ]  # same content: not read again
    assert second.stream is not None
    assert sum(second.stream.consumed.values()) > 0

    got = collect_alerts(v for _, v in read_local(settings.local_dir / f"{topics.alerts}.jsonl"))
    want = _uninterrupted(settings, topics, june_lines)
    same(got, want)
    assert len(want.latest) > 100
    # the decisions changed July's outcome: without them (or with them after July) the alerts differ
    blind = _uninterrupted(settings, topics, june_lines, conclusions=False)
    assert want.summary() != blind.summary()

    # household state kept the county's decisions across runs, and the queue's ledger too
    state = EmbeddedState(tmp_path / "data" / "embedded" / "state.sqlite")
    store = open_store(settings.screening_url(), settings.now, settings.visit_days)
    try:
        for hid in included:
            s = state.load(hid.encode())
            assert s is not None
            assert s.status_override == "监测中"
            assert store.ledger.household(hid)["status"] == "监测中"  # the roster did not overwrite it
    finally:
        state.close()
        store.db.close()

    # a run with nothing new changes nothing
    third = run_once(settings.override(clock_date=date(2022, 8, 2)), inbox)
    assert third.stream is not None
    assert third.queue is not None
    assert (sum(third.stream.consumed.values()), len(third.stream.alerts), third.queue.inserted) == (0, 0, 0)
    assert not third.ingested


def _dept_topics(topics: Topics) -> list[str]:
    return [topics.dept(d) for d in Dept]


def _uninterrupted(settings: Settings, topics: Topics, june_lines: dict[str, int], conclusions: bool = True):  # type: ignore[no-untyped-def]
    """One pass of the driver, state in memory: roster, June's events, the conclusions, July's."""

    def records(topic: str, lo: int = 0, hi: int | None = None) -> list[InputRecord]:
        rows = list(read_local(settings.local_dir / f"{topic}.jsonl"))[lo:hi]
        return [InputRecord(topic, k, v) for k, v in rows]

    ordered = records(topics.households)
    ordered += [r for t in _dept_topics(topics) for r in records(t, 0, june_lines[t])]
    ordered += records(topics.conclusions) if conclusions else []
    ordered += [r for t in _dept_topics(topics) for r in records(t, june_lines[t])]
    live = LiveCatalogue()
    try:
        driver = Driver(topics, live, Deadlines(visit_days=settings.visit_days))
        result = EmbeddedResult()
        for i in range(0, len(ordered), 5000):
            result.add(driver.process(ordered[i : i + 5000], lambda key: result.households.get(key.decode())))
    finally:
        live.close()
    return collect_alerts(a.model_dump_json().encode() for a in result.alerts.values())


def test_files_are_recognised_by_name(tmp_path: Path) -> None:
    names = {
        "hrss-2022-07.csv": ("hrss", "2022-07"),
        "医保局_2022年07月.xlsx": ("medical_insurance", "2022-07"),
        "roster.csv": ("roster", None),
        "农户名单202207.csv": ("roster", "2022-07"),
        "areas.csv": ("areas", None),
        "public_security-2022-06.jsonl": ("public_security", "2022-06"),
    }
    for name, want in names.items():
        f = classify(tmp_path / name)
        assert f is not None, name
        assert (f.kind, f.month) == want, name
    for name in ("notes.txt", "manifest.json", "unknown-2022-07.csv", ".hidden.csv"):
        assert classify(tmp_path / name) is None, name


def test_the_cli_runs_a_folder_and_says_what_it_skipped(months: tuple[Path, Path], tmp_path: Path) -> None:
    june, _ = months
    inbox = tmp_path / "inbox"
    shutil.copytree(june, inbox)
    (inbox / "说明.txt").write_text("不是数据", encoding="utf-8")
    (inbox / "water-2022-06-broken.csv").write_bytes(b"\x00\x01 not a table")
    env = {"DIXIAN_DATA_DIR": str(tmp_path / "data"), "DIXIAN_CLOCK_DATE": "2022-07-01"}
    result = CliRunner().invoke(app, ["run", str(inbox)], env=env, terminal_width=200)
    assert result.exit_code == 2, result.output  # one file could not be read; the others went in
    assert "无法导入 / cannot ingest water-2022-06-broken.csv" in result.output
    assert "not recognised: 说明.txt" in result.output
    assert "新线索 new clues" in result.output
    assert "Traceback" not in result.output
    again = CliRunner().invoke(app, ["run", str(inbox)], env=env, terminal_width=200)
    assert "already ingested (same content): hrss-2022-06.csv" in again.output


def test_a_run_killed_at_any_moment_is_completed_by_the_next(
    months: tuple[Path, Path], tmp_path: Path
) -> None:
    """SIGKILL during ingest, stream or queue load, several times; the next run finishes the work
    and the alerts and the queue equal those of a run never interrupted."""
    june, _ = months
    clean_inbox, inbox = tmp_path / "clean-inbox", tmp_path / "inbox"
    shutil.copytree(june, clean_inbox)
    shutil.copytree(june, inbox)
    clean = settings_at(tmp_path / "clean", date(2022, 7, 1))
    run_once(clean, clean_inbox)
    env = {
        **os.environ,
        "DIXIAN_DATA_DIR": str(tmp_path / "killed" / "data"),
        "DIXIAN_CLOCK_DATE": "2022-07-01",
    }
    cli = [sys.executable, "-m", "dixian.cli", "run", str(inbox)]
    for delay in (0.4, 1.2, 2.0, 2.8, 3.6):
        proc = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = subprocess.run(cli, env=env, capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    killed = settings_at(tmp_path / "killed", date(2022, 7, 1))
    topics = Topics(clean)
    same(
        collect_alerts(v for _, v in read_local(killed.local_dir / f"{topics.alerts}.jsonl")),
        collect_alerts(v for _, v in read_local(clean.local_dir / f"{topics.alerts}.jsonl")),
    )
    for s in (clean, killed):
        store = open_store(s.screening_url(), s.now, s.visit_days)
        try:
            counts = store.db.one("SELECT COUNT(*) AS clues, SUM(items) AS items FROM clues")
            households = store.db.one("SELECT COUNT(*) AS n FROM households")
        finally:
            store.db.close()
        if s is clean:
            want = (counts, households)
        else:
            assert (counts, households) == want


def test_an_append_not_committed_is_cut_back_on_recovery(tmp_path: Path) -> None:
    """The commit protocol: sizes recorded, outputs appended, then state and positions; a process that
    dies after the append leaves a pending record, and recovery cuts the file back to its size."""
    out = tmp_path / "alerts.jsonl"
    out.write_bytes(b"old\n")
    state = EmbeddedState(tmp_path / "state.sqlite")

    class Dies(Exception):
        pass

    real = state.db.executemany

    def executemany(sql: str, *args: object) -> object:
        if sql.startswith("INSERT OR REPLACE INTO households"):
            raise Dies  # after the append, before the state is stored
        return real(sql, *args)  # type: ignore[arg-type]

    state.db = _Wrapped(state.db, executemany)  # type: ignore[assignment]
    with pytest.raises(Dies):
        state.commit({out: [b"new\n"]}, {}, {"t": (10, "h")})
    assert out.read_bytes() == b"old\nnew\n"
    state.db = state.db.inner  # type: ignore[attr-defined]
    state.db.execute("ROLLBACK")
    state.close()
    again = EmbeddedState(tmp_path / "state.sqlite")
    assert again.recover() == 1
    assert out.read_bytes() == b"old\n"
    assert again.position("t", out) == 0  # the position was not committed either
    again.close()


class _Wrapped:
    """A connection whose ``executemany`` fails where the test says (the process dying there)."""

    def __init__(self, inner: object, executemany: object) -> None:
        self.inner = inner
        self.executemany = executemany

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)
