"""The embedded runner: refused records reach the local dead-letter file with their reason, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from connectors.sinks import LocalSink, read_local
from dixian.config import Settings
from dixian.contract import Dept
from dixian.topics import Topics
from streams.embedded import run_embedded
from tests.helpers import settlement


def _write(local: Path, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    async def go() -> None:
        sink = LocalSink(local)
        await sink.start()
        await sink.send(topic, records)
        await sink.stop()

    asyncio.run(go())


def test_refused_records_reach_the_local_dead_letter_file_once(tmp_path: Path) -> None:
    topics = Topics(Settings(data_dir=tmp_path))
    local = tmp_path / "local"
    good = settlement()
    _write(local, topics.dept(Dept.MEDICAL_INSURANCE), [(b"k", orjson.dumps(good)), (b"k", b"[1, 2]")])
    _write(local, topics.households, [(b"k", orjson.dumps({"household_id": "1", "members": []}))])
    _write(local, topics.conclusions, [(b"k", b"[]")])
    # a refusal of the ingestion stage, which the stream stage must leave alone
    _write(
        local,
        topics.dead_letter,
        [(b"medical_insurance", orjson.dumps({"source": "file", "code": "bad_date"}))],
    )

    for _ in range(2):  # a second run replaces its own letters, never doubles them
        result = run_embedded(local, topics)
        letters = [orjson.loads(v) for _, v in read_local(local / f"{topics.dead_letter}.jsonl")]
        stream = sorted((x["dept"], x["code"]) for x in letters if x["source"] == "stream")
        # "[1, 2]" is a batch record of two events, each refused on its own
        assert stream == [
            ("conclusions", "not_object"),
            ("medical_insurance", "not_object"),
            ("medical_insurance", "not_object"),
            ("roster", "household_id_format"),
        ]
        assert sorted(x["raw"] for x in letters if x.get("dept") == "medical_insurance") == ["1", "2"]
        assert [x["code"] for x in letters if x["source"] == "file"] == ["bad_date"]
        assert sum(result.dead_letters.values()) == len(stream)
        assert all(x["problems"] and x["raw"] for x in letters if x["source"] == "stream")
        assert result.consumed["medical_insurance"] == 3
        assert result.applied["medical_insurance"] == 1
