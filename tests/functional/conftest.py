from __future__ import annotations

from pathlib import Path

import pytest

from dixian.config import Settings


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", partitions=4)
