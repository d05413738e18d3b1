"""The audit log: sign-ins, failed sign-ins (with no typed name when it is no account), sign-outs,
account changes, exports and reports are recorded with who, when, what and from where; only city
operators read it, on a page and through the API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from connectors.sinks import LocalSink
from dixian.cli import app as cli
from dixian.config import Settings
from dixian.topics import Topics
from screening.store import Store
from screening.web import create_app
from tests.screening_helpers import VILLAGE_A, Clock, alert, china, household, open_test_store

PASSWORD = "a-long-password-1"
ID_NUMBER = "450321199001011234"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", Clock(china(2022, 7, 1)))
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    s.accounts.add("xian", "county", VILLAGE_A[:6], PASSWORD)
    s.accounts.add("ops", "operator", "4503", PASSWORD)
    s.ledger.upsert([household(1)])
    s.clues.upsert_alerts([alert(1)])
    return s


@pytest_asyncio.fixture
async def client(store: Store, tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(create_app(store, LocalSink(tmp_path / "l"), Topics(Settings())))) as c:
        yield c


async def _token(client: TestClient, user: str, password: str = PASSWORD) -> dict[str, str]:  # type: ignore[type-arg]
    r = await client.post("/api/v1/login", json={"username": user, "password": password})
    if r.status != 200:
        return {}
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


@pytest.mark.asyncio
async def test_sign_ins_exports_and_account_changes_are_audited(client: TestClient) -> None:  # type: ignore[type-arg]
    assert await _token(client, "cun-a", "wrong-password") == {}
    assert await _token(client, ID_NUMBER, "whatever") == {}  # an ID number typed as the account
    county = await _token(client, "xian")
    r = await client.get(f"/api/v1/counties/{VILLAGE_A[:6]}/asset-check?format=xlsx", headers=county)
    assert r.status == 200
    assert (await client.post("/api/v1/logout", headers=county)).status in (200, 204)
    ops = await _token(client, "ops")
    r = await client.get("/api/v1/audit", headers=ops)
    assert r.status == 200
    entries = (await r.json())["entries"]
    got = [(e["username"], e["action"], e["target"]) for e in reversed(entries)]
    cli_user = "cli:" + _user()
    assert got[:3] == [(cli_user, "account_added", name) for name in ("cun-a", "xian", "ops")]
    assert got[3:] == [
        ("cun-a", "login_failed", ""),
        ("", "login_failed", ""),
        ("xian", "login", ""),
        ("xian", "export", f"asset-check-{VILLAGE_A[:6]}.xlsx"),
        ("xian", "logout", ""),
        ("ops", "login", ""),
    ]
    assert {e["detail"] for e in entries if e["action"] == "login_failed"} == {
        "密码错误",
        "没有这个账号（所填账号名不记录）",
    }
    assert all(e["client"] == "127.0.0.1" for e in entries if not e["username"].startswith("cli:"))
    assert ID_NUMBER not in str(entries)
    signed_in = await client.post("/login", data={"username": "ops", "password": PASSWORD, "next": "/audit"})
    assert signed_in.status == 200  # the page, after the redirect
    page = await client.get("/audit")
    assert page.status == 200
    assert "登录失败" in await page.text()


@pytest.mark.asyncio
async def test_only_operators_read_the_audit_log(client: TestClient) -> None:  # type: ignore[type-arg]
    for user in ("cun-a", "xian"):
        r = await client.get("/api/v1/audit", headers=await _token(client, user))
        assert r.status == 403
        assert "运维" in (await r.json())["message"]
    r = await client.get("/api/v1/audit?limit=0", headers=await _token(client, "ops"))
    assert r.status == 400


def test_the_command_line_audits_account_changes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = {"DIXIAN_SCREENING_DB": url, "DIXIAN_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    added = runner.invoke(
        cli, ["users", "add", "cun-x", "--role", "village", "--scope", VILLAGE_A, "--password-stdin"],
        input=PASSWORD + "\n", env=env,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert runner.invoke(cli, ["users", "disable", "cun-x"], env=env).exit_code == 0
    store = open_test_store(url, Clock(china(2022, 7, 1)))
    try:
        rows = store.db.query("SELECT username, action, target FROM audit ORDER BY entry_id")
    finally:
        store.db.close()
    assert [(r["action"], r["target"]) for r in rows] == [
        ("account_added", "cun-x"),
        ("account_disabled", "cun-x"),
    ]
    assert {r["username"] for r in rows} == {"cli:" + _user()}


def _user() -> str:
    import getpass  # noqa: PLC0415

    return os.environ.get("USER") or getpass.getuser()
