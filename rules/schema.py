"""What a rule file may say. Validation errors become ``file:line: problem`` messages."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dixian.contract import MODEL_BY_TYPE, Dept
from dixian.contract.roster import RiskType
from dixian.contract.vocabulary import DisasterSubtype, Guarantee, RuleState, Severity

RISK_TYPES: tuple[str, ...] = get_args(RiskType)  # the official list, defined once in the contract


class Example(BaseModel):
    """An input and whether the rule fires on it; every example runs in `dixian rules test`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    event_type: str | None = None  # default: the rule's first event type
    event: dict[str, Any] = Field(default_factory=dict)  # event fields over a valid sample event
    household: dict[str, Any] = Field(default_factory=dict)  # HouseholdContext fields
    member: dict[str, Any] = Field(default_factory=dict)  # MemberContext fields
    region: str = Field("450321101201", pattern=r"^[0-9]{2,12}$")
    date: str = Field("2022-06-15", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    fires: bool


# The facts a compound rule pairs, and the event type each fact comes from (the roster's seriously
# ill members are illness facts too, undated).
COMPOUND_FACTS = {"job_loss": "employment.job_lost", "serious_illness": "health.serious_illness"}


class Compound(BaseModel):
    """A rule over two kinds of fact that arrive on different departments' topics. It has one hit per
    pair of facts no more than ``within_days`` apart, dated by the later of the two, so the same facts
    give the same alerts whichever department's record is processed first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    facts: tuple[Literal["job_loss", "serious_illness"], Literal["job_loss", "serious_illness"]]
    within_days: int = Field(ge=1, le=3660)

    @model_validator(mode="after")
    def _two_kinds(self) -> Compound:
        if self.facts[0] == self.facts[1]:
            raise ValueError("a compound rule pairs two different kinds of fact")
        return self


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]{2,3}-[A-Z0-9]+(-[A-Z0-9]+)*$")
    version: int = Field(ge=1)
    state: RuleState
    title: str = Field(min_length=4)
    explanation: str = Field(min_length=4)
    department: Dept
    risk_type: RiskType | None = None
    risk_subtype: str | None = (
        None  # 因自然灾害: a subtype, or "event.disaster_type" to take it from the event
    )
    note: str | None = None  # required with 其他
    guarantee: Guarantee | None = None
    severity: Severity
    suppression_days: int = Field(ge=1, le=366)
    event_types: list[str] = Field(min_length=1)
    parameters: list[str] = Field(default_factory=list)
    compound: Compound | None = None
    when: Any
    examples: list[Example] = Field(default_factory=list)

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in MODEL_BY_TYPE]
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {', '.join(sorted(MODEL_BY_TYPE))}")
        return v

    @model_validator(mode="after")
    def _classification(self) -> Rule:
        if (self.risk_type is None) == (self.guarantee is None):
            raise ValueError(
                f"a rule has exactly one of risk_type (official list) or guarantee ({', '.join(Guarantee)})"
            )
        if self.risk_type == "其他" and not self.note:
            raise ValueError("risk_type 其他 needs a note saying what the risk is")
        if self.risk_type == "因自然灾害":
            if not self.risk_subtype:
                raise ValueError("risk_type 因自然灾害 needs risk_subtype (a subtype or event.disaster_type)")
            if self.risk_subtype not in set(DisasterSubtype) and self.risk_subtype != "event.disaster_type":
                raise ValueError(
                    f"risk_subtype must be one of {', '.join(DisasterSubtype)} or event.disaster_type"
                )
        elif self.risk_subtype:
            raise ValueError("risk_subtype only applies to 因自然灾害")
        if self.compound is not None:
            needed = sorted(COMPOUND_FACTS[f] for f in self.compound.facts)
            if sorted(self.event_types) != needed:
                raise ValueError(f"a compound rule over {', '.join(self.compound.facts)} listens to {needed}")
        if not any(e.fires for e in self.examples):
            raise ValueError("examples: give at least one input that fires")
        if self.when != "always" and all(e.fires for e in self.examples):
            raise ValueError("examples: give at least one input that does not fire")
        return self

    @cached_property
    def label(self) -> str:
        """The risk (or guarantee) in Chinese, as officers read it."""
        if self.guarantee:
            return self.guarantee.zh
        assert self.risk_type is not None
        if self.risk_type == "因自然灾害" and self.risk_subtype in set(DisasterSubtype):
            return f"因自然灾害({DisasterSubtype(self.risk_subtype).zh})"
        return self.risk_type
