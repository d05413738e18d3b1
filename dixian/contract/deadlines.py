"""The deadlines of the identification workflow (识别认定), in days: the plan's figures, once."""

from __future__ import annotations

from dataclasses import dataclass

VISIT_DAYS = 5  # home visit within 2-5 days of the clue (the default; DIXIAN_VISIT_DAYS sets it)
VISIT_DAYS_RANGE = (2, 5)
DECIDE_DAYS = 15  # clue to county decision at most 15 days
NOTICE_DAYS = 5  # public notice in the village for at least 5 days
PLAN_DAYS = 10  # an assistance plan within 10 days of inclusion
NOTIFY_DAYS = 7  # the household told of the county's decision within a week (the plan sets no figure)


@dataclass(frozen=True)
class Deadlines:
    """What the alert builder takes from the deployment: the deadlines an alert carries, counted from
    the day the department reported, and the key its id is made with (every worker, the embedded
    runner and the backtest of one deployment share it, so they give the same ids)."""

    visit_days: int = VISIT_DAYS
    decide_days: int = DECIDE_DAYS
    # None (development, tests, the demo): ids are an unkeyed digest, as before keys existed.
    # Production requires DIXIAN_ID_SECRET: ids then mean nothing without it.
    id_key: bytes | None = None
