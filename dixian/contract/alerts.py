"""Risk clues (预警线索) for village officers, and the conclusions that come back from screening."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dixian.contract.ids import HouseholdId, VillageCode
from dixian.contract.vocabulary import ClueState, MonitoringCategory, Outcome, Proposal, Role, Severity, Step


class TriggeringEvent(BaseModel):
    model_config = ConfigDict(frozen=True)
    event_id: str
    event_type: str
    dept: str
    occurred_at: date
    reported_at: datetime
    member_masked: str | None = None  # 450321********1234: never the full resident ID


class Alert(BaseModel):
    """One clue: the hits of one rule for one household inside one suppression window.

    Windows are fixed consecutive periods of the rule's suppression days (from 2021-01-01), and
    ``alert_id`` is a function of (household, rule, window start), so replays, restarts and any
    processing order produce the same ids; a further hit inside the window updates the alert
    (``revision`` + 1). Consumers keep the highest revision per id.
    """

    model_config = ConfigDict(frozen=True)

    alert_id: str
    revision: int = Field(ge=1)
    household_id: HouseholdId
    village_code: VillageCode
    township_code: str
    county_code: str
    rule_id: str
    rule_version: int
    catalogue_version: str
    department: str  # the rule's owning department (the data source of the indicator)
    title: str
    explanation: str
    risk_type: str | None  # from the official list, or None for a three-guarantees flag
    risk_label: str  # as officers read it: 因病 / 因自然灾害(洪涝灾害) / 住房安全 …
    guarantee: str | None
    severity: Severity
    window_start: date
    window_end: date  # exclusive: a hit on or after this date opens a new alert
    hits: int = Field(ge=1)
    triggering_events: tuple[TriggeringEvent, ...]
    evidence: dict[str, Any]
    parameters: dict[str, float]
    visit_by: date  # home visit deadline
    decide_by: date  # identification decision deadline (15 days)

    @staticmethod
    def make_id(household_id: str, rule_id: str, window_start: date, key: bytes | None = None) -> str:
        """Deterministic per household, rule and window; keyed with the deployment's secret (always
        in production) nobody without the key can tell from an id which household or rule it is, or
        compute one."""
        digest = _keyed_digest(key).copy()  # a copy of the keyed state: the key is not hashed again
        digest.update(f"{household_id}|{rule_id}|{window_start.isoformat()}".encode())
        return "alrt-" + digest.hexdigest()


@lru_cache(maxsize=8)
def _keyed_digest(key: bytes | None) -> hashlib.blake2b:
    """A BLAKE2b state keyed with the deployment's secret (SHA-256 of it: a key is at most 64
    bytes), or unkeyed, made once per process and copied for each id."""
    return hashlib.blake2b(digest_size=10, key=hashlib.sha256(key).digest() if key else b"")


class Conclusion(BaseModel):
    """One recorded step of the screening of a clue (identification workflow, 识别认定), published to
    ``screening.conclusions``; only a county decision carries an ``outcome`` that changes household state.

    ``conclusion_id`` is ``<clue id>#<step number>``: republishing after a crash is a no-op downstream.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    conclusion_id: str = Field(min_length=4, max_length=80)
    household_id: HouseholdId
    village_code: VillageCode
    alert_id: str | None = None
    step: Step = Step.COUNTY_DECIDE
    proposal: Proposal | None = None
    outcome: Outcome | None = None  # only a county decision carries one
    category: MonitoringCategory | None = None
    decided_at: datetime
    decided_by: str = Field(min_length=1, max_length=80)  # an account name, never a person's ID
    note: str = Field("", max_length=500)
    # where the step took the clue, and by which role (records of earlier versions have none)
    from_state: ClueState | None = None
    to_state: ClueState | None = None
    role: Role | None = None
    # The household's case as it stood when the step was published: the clue row, its risk items,
    # plan, measures and campaign. The queue store is rebuilt from these after a total loss
    # (``screening.rebuild``); the stream processor ignores it.
    case: dict[str, Any] | None = None
