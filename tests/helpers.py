"""Builders shared by the test tiers: valid resident IDs, village codes and events."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from dixian.contract.ids import resident_id_check_char

VILLAGE = "450321101201"  # 阳朔县 (450321), township 101, village 201
HOUSEHOLD = "4503211012010001"


def resident_id(region: str = "450321", birth: str = "19800101", seq: str = "123") -> str:
    first17 = region + birth + seq
    return first17 + resident_id_check_char(first17)


def settlement(**overrides: Any) -> dict[str, Any]:
    """A valid medical-insurance settlement as a department would publish it."""
    base: dict[str, Any] = {
        "event_id": "medi-0000000001",
        "event_type": "medical.settlement",
        "household_id": HOUSEHOLD,
        "member_id": resident_id(),
        "village_code": VILLAGE,
        "occurred_at": "2022-06-12",
        "reported_at": "2022-06-30 18:00:00",
        "visit": "inpatient",
        "total_cost": "23100.00",
        "out_of_pocket": "8200.00",
        "serious_illness": True,
    }
    base.update(overrides)
    return base


def missing(msg: str) -> NoReturn:
    """A service or tool the test needs is not here: under CI that is a failure, elsewhere a skip
    that says how to get it."""
    import os  # noqa: PLC0415

    import pytest  # noqa: PLC0415

    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {msg}")
    pytest.skip(msg)


def require_tool(name: str, how: str) -> str:
    """The path of command ``name``, or ``missing`` with how to install it."""
    import shutil  # noqa: PLC0415

    return shutil.which(name) or missing(f"no {name}: {how}")


def rss_mib() -> float:
    """This process's resident memory, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")
