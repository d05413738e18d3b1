"""Ingestion end to end without a broker (LocalSink), checked against the simulator's manifest."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.ingest import Ingester, IngestSummary
from connectors.mapping import MappingError
from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.simulate import simulate
from dixian.topics import Topics


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


async def _ingest(settings: Settings, dept: str, path: Path, **kw: Any) -> IngestSummary:
    sink = LocalSink(settings.data_dir / "local")
    await sink.start()
    ing = Ingester(settings, sink)
    try:
        return await ing.ingest_file(dept, path, **kw)
    finally:
        ing.close()
        await sink.stop()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sim")
    return out, simulate(out, households=3000, month="2022-06", seed=7, malformed=0.08)


def test_every_feed_reconciles_with_what_was_injected(
    local_settings: Settings, city: tuple[Path, dict[str, Any]]
) -> None:
    out, manifest = city
    topics = Topics(local_settings)
    local = local_settings.data_dir / "local"
    for feed in manifest["feeds"]:
        s = asyncio.run(_ingest(local_settings, feed["dept"], out / feed["file"], month="2022-06"))
        assert s.reconciles
        assert (s.rows_read, s.accepted, s.duplicates, s.rejected_total) == (
            feed["rows"],
            feed["valid_unique"],
            feed["duplicates"],
            sum(feed["malformed"].values()),
        ), feed["dept"]
        published = _lines(local / f"{topics.dept(Dept(feed['dept']))}.jsonl")
        assert len(published) == s.accepted
        # per event type, what the report's rule denominators read
        assert sum(s.by_type.values()) == s.accepted
        assert s.by_type == Counter(p["value"]["event_type"] for p in published), feed["dept"]
        assert all(p["key"] == p["value"]["household_id"] for p in published)
    letters = _lines(local / f"{topics.dead_letter}.jsonl")
    assert len(letters) == sum(sum(f["malformed"].values()) for f in manifest["feeds"])
    first = letters[0]["value"]
    assert first["file"]
    assert first["row"] >= 2
    assert first["reason_zh"]
    assert first["reason_en"]
    assert first["raw"]


def test_reingesting_a_file_adds_nothing(local_settings: Settings, city: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = city
    feed = next(f for f in manifest["feeds"] if f["dept"] == "water")  # content-derived ids, GBK
    first = asyncio.run(_ingest(local_settings, "water", out / feed["file"]))
    published = _lines(local_settings.local_dir / f"{Topics(local_settings).dept(Dept.WATER)}.jsonl")
    again = asyncio.run(_ingest(local_settings, "water", out / feed["file"]))
    assert first.accepted == feed["valid_unique"]
    # the same delivery: recognised, not read or published again, its counts as they were
    assert again.already_ingested
    assert (again.accepted, again.duplicates) == (first.accepted, feed["duplicates"])
    assert again.reconciles
    assert _lines(local_settings.local_dir / f"{Topics(local_settings).dept(Dept.WATER)}.jsonl") == published


def test_roster_ingests_one_record_per_household(
    local_settings: Settings, city: tuple[Path, dict[str, Any]]
) -> None:
    out, manifest = city
    s = asyncio.run(_ingest(local_settings, "roster", out / "roster.csv"))
    assert s.reconciles
    assert s.accepted == manifest["members"]
    assert s.rejected_total == 0
    records = _lines(local_settings.data_dir / "local" / "households.jsonl")
    assert len(records) == manifest["households"]
    assert sum(len(r["value"]["members"]) for r in records) == manifest["members"]


def test_file_missing_a_required_column_publishes_nothing(local_settings: Settings, tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(
        "户编号,身份证号,发生日期\n4503211012010001,11010519491231002X,2022-06-01\n", encoding="utf-8"
    )
    with pytest.raises(MappingError, match="行政村代码"):
        asyncio.run(_ingest(local_settings, "medical_insurance", p))
    assert not (local_settings.data_dir / "local" / "dept.medical_insurance.jsonl").exists()


def test_ownership_conflict_in_a_file_is_dead_lettered(local_settings: Settings, tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_text(
        "户编号,行政村代码,事件类型,发生日期,报送时间,鉴定等级\n"
        "4503211012010001,450321101201,housing.dwelling_rated,2022-06-01,2022-06-30 10:00:00,C\n",
        encoding="utf-8",
    )
    s = asyncio.run(_ingest(local_settings, "water", p))
    assert s.ownership_conflicts == 1
    assert s.rejected["ownership_conflict"] == 1
    assert s.reconciles


CIVIL_HEADER = "业务流水号,户编号,身份证号,行政村代码,事件类型,发生日期,报送时间,救助类型,救助金额\n"


def _civil_row(n: int, kind: str = "低保", amount: str = "500") -> str:
    return (
        f"MZ{n},450321101201{n:04d},,450321101201,纳入救助,2022-06-01,2022-06-30 10:00:00,{kind},{amount}\n"
    )


def test_snapshot_mode_publishes_only_changes_and_removals(local_settings: Settings, tmp_path: Path) -> None:
    june = tmp_path / "june.csv"
    june.write_text(CIVIL_HEADER + _civil_row(1) + _civil_row(2) + _civil_row(3), encoding="utf-8")
    july = tmp_path / "july.csv"
    # 1 unchanged, 2 changed amount, 3 gone (left 低保), 4 new, 5 invalid
    july.write_text(
        CIVIL_HEADER
        + _civil_row(1)
        + _civil_row(2, amount="650")
        + _civil_row(4)
        + _civil_row(5, kind="救济粮"),
        encoding="utf-8",
    )
    s1 = asyncio.run(_ingest(local_settings, "civil_affairs", june, snapshot=True))
    assert (s1.accepted, s1.unchanged) == (3, 0)
    s2 = asyncio.run(_ingest(local_settings, "civil_affairs", july, snapshot=True))
    assert (s2.rows_read, s2.accepted, s2.unchanged, s2.rejected_total, s2.removed) == (4, 2, 1, 1, 1)
    assert s2.reconciles
    events = [r["value"] for r in _lines(local_settings.data_dir / "local" / "dept.civil_affairs.jsonl")]
    ended = [e for e in events if e["event_type"] == "assistance.ended"]
    assert [e["household_id"] for e in ended] == ["4503211012010003"]
    # the rejected row does not become the baseline: fixed next month, it is published then
    aug = tmp_path / "aug.csv"
    aug.write_text(
        CIVIL_HEADER + _civil_row(1) + _civil_row(2, amount="650") + _civil_row(4) + _civil_row(5),
        encoding="utf-8",
    )
    s3 = asyncio.run(_ingest(local_settings, "civil_affairs", aug, snapshot=True))
    assert (s3.accepted, s3.unchanged, s3.removed) == (1, 3, 0)


def test_an_empty_json_lines_delivery_is_zero_rows_not_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "education-2022-06.jsonl"
    empty.write_bytes(b"")

    async def run() -> int:
        sink = LocalSink(tmp_path / "local")
        await sink.start()
        ing = Ingester(Settings(data_dir=tmp_path / "data"), sink)
        try:
            summary = await ing.ingest_file("education", empty, month="2022-06")
        finally:
            ing.close()
            await sink.stop()
        assert summary.reconciles
        return summary.rows_read

    assert asyncio.run(run()) == 0
