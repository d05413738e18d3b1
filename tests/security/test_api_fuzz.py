"""Property-based fuzzing of the queue's API from its own OpenAPI document (schemathesis): for every
operation, generated path parameters, queries and bodies — valid and not — sent to the real web
server with a signed-in village account never get a 5xx, every answer conforms to the document
(status, content type, body schema), and every refusal the API answers in JSON says what is wrong
in Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from screening.web.openapi import SPEC
from tests.screening_helpers import VILLAGE_A, Clock, alert, china, household, open_test_store, serve_queue

PASSWORD = "fuzz-pass-12345"
CJK = re.compile(r"[\u4e00-\u9fff]")
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{root / 'q.sqlite'}"
    store = open_test_store(url, Clock(china(2022, 7, 1)))
    store.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    store.ledger.upsert([household(n) for n in range(1, 4)])
    store.clues.upsert_alerts([alert(n) for n in range(1, 4)])
    store.db.close()
    env = {"DIXIAN_SCREENING_DB": url, "DIXIAN_CLOCK_DATE": "2022-07-01"}
    proc, base = serve_queue(["--local", str(root / "local")], env, root / "serve.log")
    try:
        r = requests.post(
            f"{base}/api/v1/login", json={"username": "cun-a", "password": PASSWORD}, timeout=10
        )
        r.raise_for_status()
        yield base, {"Authorization": f"Bearer {r.json()['token']}"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(
    case: schemathesis.Case, server: tuple[str, dict[str, str]]
) -> None:
    base, auth = server
    if case.path == "/api/v1/logout":
        return  # would end the session the other operations use
    response = case.call(base_url=base, headers={**(case.headers or {}), **auth})
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, (where, response.status_code, response.text[:300])
    # the answer is one the document describes: its status, content type and body schema
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        message = response.json().get("message", "")
        assert CJK.search(message), (where, response.status_code, response.text[:300])
