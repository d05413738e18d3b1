"""The event contract: department change events, the household roster, and who owns what."""

from dixian.contract.departments import Dept
from dixian.contract.events import (
    DEPT_EVENT_ADAPTER,
    EVENT_MODELS,
    MODEL_BY_TYPE,
    DeptEvent,
    EventBase,
    event_identity,
)
from dixian.contract.roster import Household, Member
from dixian.contract.validate import ContractError, Problem, parse_event
from dixian.contract.vocabulary import HouseholdType, MonitoringCategory, MonitoringStatus

__all__ = [
    "DEPT_EVENT_ADAPTER",
    "EVENT_MODELS",
    "MODEL_BY_TYPE",
    "ContractError",
    "Dept",
    "DeptEvent",
    "EventBase",
    "Household",
    "HouseholdType",
    "Member",
    "MonitoringCategory",
    "MonitoringStatus",
    "Problem",
    "event_identity",
    "parse_event",
]
