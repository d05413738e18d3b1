"""The department push endpoint, served by a real aiohttp server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from connectors.http import create_push_app
from connectors.ingest import Ingester
from connectors.sinks import LocalSink
from connectors.stores import TokenStore
from dixian.config import Settings
from tests.helpers import settlement


@dataclass
class Push:
    session: ClientSession
    base: str
    tokens: dict[str, str]
    settings: Settings

    async def post(
        self, dept: str, body: Any, token: str | None, ctype: str = "application/json"
    ) -> tuple[int, Any]:
        headers = {"Content-Type": ctype}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        async with self.session.post(
            f"{self.base}/api/v1/feeds/{dept}/events", data=data, headers=headers
        ) as r:
            return r.status, await r.json()


@pytest_asyncio.fixture
async def push(local_settings: Settings) -> AsyncIterator[Push]:
    sink = LocalSink(local_settings.data_dir / "local")
    await sink.start()
    ingester = Ingester(local_settings, sink)
    store = TokenStore(
        local_settings.data_dir / "tokens.sqlite", local_settings.ingest_secret.get_secret_value().encode()
    )
    tokens = {d: store.issue(d, d, "2022-06-30") for d in ("medical_insurance", "water")}
    server = TestServer(create_push_app(ingester, store, max_body=64 * 1024), host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as session:
        yield Push(session, str(server.make_url("")).rstrip("/"), tokens, local_settings)
    await server.close()
    ingester.close()
    store.close()
    await sink.stop()


@pytest.mark.asyncio
async def test_valid_push_accepted_and_repeat_is_duplicate(push: Push) -> None:
    body = [settlement(event_id=None)]
    status, out = await push.post("medical_insurance", body, push.tokens["medical_insurance"])
    assert (status, out["accepted"], out["rejected"]) == (200, 1, 0)
    # the same request again (a retry) is the same delivery: its event is its own, not a duplicate
    status, out = await push.post("medical_insurance", body, push.tokens["medical_insurance"])
    assert (status, out["accepted"], out["duplicates"]) == (200, 1, 0)
    local = push.settings.data_dir / "local"
    assert len((local / "dept.medical_insurance.jsonl").read_bytes().splitlines()) == 1  # published once
    # another request holding the same event: the department sent it twice
    other = [*body, settlement(event_id="medi-0000000002", occurred_at="2022-06-13")]
    status, out = await push.post("medical_insurance", other, push.tokens["medical_insurance"])
    assert (status, out["accepted"], out["duplicates"]) == (200, 1, 1)


@pytest.mark.asyncio
async def test_missing_and_wrong_tokens_refused(push: Push) -> None:
    status, out = await push.post("medical_insurance", [settlement()], None)
    assert status == 401
    assert out["error"] == "missing_token"
    assert "令牌" in out["message"]
    status, out = await push.post("medical_insurance", [settlement()], "dxp_not-a-token")
    assert status == 401
    assert out["error"] == "invalid_token"


@pytest.mark.asyncio
async def test_token_publishes_only_its_own_feed(push: Push) -> None:
    status, out = await push.post("medical_insurance", [settlement()], push.tokens["water"])
    assert status == 403
    assert out["error"] == "wrong_feed"
    assert "水利局" in out["message"]


@pytest.mark.asyncio
async def test_other_departments_event_type_refused_whole(push: Push) -> None:
    foreign = settlement(event_type="water.assessed", litres_per_person_day=20)
    status, out = await push.post(
        "medical_insurance", [settlement(), foreign], push.tokens["medical_insurance"]
    )
    assert status == 403
    assert out["error"] == "ownership_conflict"
    assert out["rows"] == [{"index": 2, "event_type": "water.assessed", "owner": "water"}]
    local = push.settings.data_dir / "local"
    assert not (local / "dept.medical_insurance.jsonl").exists()  # nothing of that request published
    letters = [orjson.loads(x)["value"] for x in (local / "deadletter.jsonl").read_bytes().splitlines()]
    assert sorted(x["code"] for x in letters) == ["ownership_conflict", "request_refused"]


@pytest.mark.asyncio
async def test_oversized_body_refused(push: Push) -> None:
    body = [settlement(source_ref=str(i)) for i in range(400)]  # ~ 200 KB > 64 KB limit
    status, out = await push.post("medical_insurance", body, push.tokens["medical_insurance"])
    assert status == 413
    assert out["error"] == "too_large"
    assert "分批" in out["message"]


@pytest.mark.asyncio
async def test_partial_batch_lists_each_problem(push: Push) -> None:
    body = [settlement(), settlement(village_code="123"), "not an object"]
    status, out = await push.post("medical_insurance", body, push.tokens["medical_insurance"])
    assert status == 207
    assert (out["accepted"], out["rejected"]) == (1, 2)
    assert {(p["row"], p["field"]) for p in out["problems"]} == {(2, "village_code"), (3, "(row)")}


@pytest.mark.asyncio
async def test_bad_bodies(push: Push) -> None:
    token = push.tokens["medical_insurance"]
    assert (await push.post("medical_insurance", b"{oops", token))[0] == 400
    assert (await push.post("medical_insurance", {"a": 1}, token))[0] == 400
    assert (await push.post("medical_insurance", b"x", token, ctype="text/plain"))[0] == 415
    status, out = await push.post("medical_insurance", [settlement(visit="x")], token)
    assert status == 422
    assert out["accepted"] == 0
    lines = (
        orjson.dumps(settlement(event_id=None))
        + b"\n"
        + orjson.dumps(settlement(event_id=None, source_ref="2"))
    )
    status, out = await push.post("medical_insurance", lines, token, ctype="application/x-ndjson")
    assert status == 200
    assert out["accepted"] == 2
    assert (await push.post("tax", [settlement()], token))[0] == 404


@pytest.mark.asyncio
async def test_a_date_in_2099_and_a_village_that_contradicts_the_household_are_refused(push: Push) -> None:
    """Each refused with the field and the reason; the valid row of the same push goes in."""
    body = [
        settlement(event_id="medi-future-0001", occurred_at="2099-06-12", reported_at="2099-06-30 18:00:00"),
        settlement(event_id="medi-wrongvil-01", village_code="450321101202"),  # the household is in 201
        settlement(event_id="medi-backwards1", occurred_at="2022-07-02", reported_at="2022-06-30 18:00:00"),
        settlement(event_id="medi-good-00001"),
    ]
    status, out = await push.post("medical_insurance", body, push.tokens["medical_insurance"])
    assert (status, out["accepted"], out["rejected"]) == (207, 1, 3)
    got = {(p["row"], p["field"], p["code"]) for p in out["problems"]}
    assert got == {
        (1, "reported_at", "reported_in_future"),
        (2, "village_code", "village_household_mismatch"),
        (3, "reported_at", "reported_before_occurred"),
    }
    assert any("2099-06-30" in p["zh"] for p in out["problems"])
