"""Garbage rows never crash the ingester, and every row is accounted for."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.ingest import Ingester
from connectors.mapping import load_mapping
from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract import Dept
from tests.helpers import resident_id

MAPPING = load_mapping("medical_insurance")
HEADERS = [*MAPPING.columns, "垃圾列"]
cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", "住院", "是", "2022-06-01", "450321101201", "4503211012010001", resident_id(), "-1", "1e309"]
    ),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.booleans(),
)
rows = st.lists(st.dictionaries(st.sampled_from(HEADERS), cell, max_size=len(HEADERS)), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_garbage_rows_are_accounted_for(values: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(data_dir=Path(tmp))

        async def run() -> None:
            sink = LocalSink(Path(tmp) / "local")
            await sink.start()
            ing = Ingester(cfg, sink)
            try:
                summary = await ing.ingest_records(Dept.MEDICAL_INSURANCE, list(values))
                assert summary.rows_read == len(values)
                assert summary.reconciles
            finally:
                ing.close()
                await sink.stop()

        asyncio.run(run())
