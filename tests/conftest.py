"""Fixtures shared by every tier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.topics import Topics
from screening.store import Store
from screening.web import create_app


@pytest_asyncio.fixture
async def client(store: Store, tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    """The queue's web server over the test module's ``store``, steps published to local files."""
    app = create_app(store, LocalSink(tmp_path / "local"), Topics(Settings()))
    async with TestClient(TestServer(app)) as c:
        yield c
