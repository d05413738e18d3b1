"""Department change events: one pydantic model per event type, all sharing one envelope.

Wire format: a JSON object with ``event_type`` as the discriminator, e.g.::

    {"event_id": "mi-5c0f…", "dept": "medical_insurance", "event_type": "medical.settlement",
     "household_id": "4503210010010001", "member_id": "45032119800101…", "village_code": "450321001001",
     "occurred_at": "2022-06-12", "reported_at": "2022-06-30T18:00:00+08:00", "schema_version": 1,
     "out_of_pocket": "8200.00", "total_cost": "23100.00", "visit": "inpatient", "serious_illness": true}
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dixian.contract.departments import Dept
from dixian.contract.ids import HouseholdId, ResidentId, VillageCode, check_village_of_household

SCHEMA_VERSION: Literal[1] = 1
CHINA_TZ = timezone(timedelta(hours=8), "CST")

_FEN = Decimal("0.01")
# Amounts in yuan, kept to the fen: 8200, 8200.0 and 8200.00 are one value with one JSON form.
Yuan = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1e10"), max_digits=14, decimal_places=2),
    AfterValidator(lambda d: d.quantize(_FEN)),
]


class EventBase(BaseModel):
    """The common envelope of every department event."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    # The department that owns this event type (一数一源); set by each subclass.
    owner: ClassVar[Dept]
    # Whether the event concerns one member (member_id required) or the whole household.
    member_level: ClassVar[bool] = True

    event_id: str = Field(min_length=8, max_length=80)
    dept: Dept
    household_id: HouseholdId
    member_id: ResidentId | None = None
    village_code: VillageCode
    occurred_at: date
    reported_at: datetime
    schema_version: Literal[1] = SCHEMA_VERSION
    source_ref: str | None = Field(None, max_length=80, description="the department's own record id")

    @field_validator("village_code")
    @classmethod
    def _village_of_household(cls, v: str, info: ValidationInfo) -> str:
        return check_village_of_household(v, info.data.get("household_id"))

    @field_validator("reported_at")
    @classmethod
    def _aware(cls, v: datetime, info: ValidationInfo) -> datetime:
        # Departments deliver local times without an offset: they are China Standard Time.
        v = v.replace(tzinfo=CHINA_TZ) if v.tzinfo is None else v
        occurred = info.data.get("occurred_at")
        if isinstance(occurred, date) and v.astimezone(CHINA_TZ).date() < occurred:
            raise PydanticCustomError(
                "reported_before_occurred",
                "报送时间早于发生日期 {occurred} / reported before it occurred ({occurred})",
                {"occurred": occurred.isoformat()},
            )
        return v

    @property
    def event_type_name(self) -> str:
        return _TYPE_NAME[type(self)]


# ---- 医保 medical insurance --------------------------------------------------------------------------
class MedicalSettlement(EventBase):
    """One settled medical bill after basic insurance, critical-illness insurance and medical aid."""

    owner: ClassVar[Dept] = Dept.MEDICAL_INSURANCE
    event_type: Literal["medical.settlement"] = "medical.settlement"
    visit: Literal["inpatient", "outpatient"]
    total_cost: Yuan
    out_of_pocket: Yuan
    serious_illness: bool = False


# ---- 卫健 health -------------------------------------------------------------------------------------
class SeriousIllnessDiagnosed(EventBase):
    """A newly registered serious-illness (大病) patient. The disease itself is a health detail:
    it is carried only as a coarse category and never shown in notices or logs."""

    owner: ClassVar[Dept] = Dept.HEALTH
    event_type: Literal["health.serious_illness"] = "health.serious_illness"
    category: Literal["cancer", "chronic", "rare", "mental", "other"] = "other"


# ---- 人社 human resources and social security -------------------------------------------------------
class JobLost(EventBase):
    owner: ClassVar[Dept] = Dept.HRSS
    event_type: Literal["employment.job_lost"] = "employment.job_lost"
    returned_home: bool = False


class ContributionGap(EventBase):
    """No social-insurance contribution record for ``months`` consecutive months."""

    owner: ClassVar[Dept] = Dept.HRSS
    event_type: Literal["employment.contribution_gap"] = "employment.contribution_gap"
    months: int = Field(ge=1, le=120)


class Reemployed(EventBase):
    owner: ClassVar[Dept] = Dept.HRSS
    event_type: Literal["employment.reemployed"] = "employment.reemployed"
    monthly_wage: Yuan | None = None


# ---- 残联 disabled persons' federation --------------------------------------------------------------
DisabilityKind = Literal["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"]


class DisabilityCertified(EventBase):
    owner: ClassVar[Dept] = Dept.DISABILITY
    event_type: Literal["disability.certified"] = "disability.certified"
    grade: int = Field(ge=1, le=4, description="1 = most severe")
    kind: DisabilityKind


class DisabilityGradeChanged(EventBase):
    owner: ClassVar[Dept] = Dept.DISABILITY
    event_type: Literal["disability.grade_changed"] = "disability.grade_changed"
    old_grade: int = Field(ge=1, le=4)
    grade: int = Field(ge=1, le=4)


# ---- 住建 housing -----------------------------------------------------------------------------------
class DwellingRated(EventBase):
    """Safety appraisal of a dwelling: A safe … D dangerous (C and D are 危房)."""

    owner: ClassVar[Dept] = Dept.HOUSING
    member_level: ClassVar[bool] = False
    event_type: Literal["housing.dwelling_rated"] = "housing.dwelling_rated"
    grade: Literal["A", "B", "C", "D"]
    only_dwelling: bool = True


# ---- 水利 water -------------------------------------------------------------------------------------
class WaterAssessed(EventBase):
    """Drinking-water safety of a household, by the four rural criteria."""

    owner: ClassVar[Dept] = Dept.WATER
    member_level: ClassVar[bool] = False
    event_type: Literal["water.assessed"] = "water.assessed"
    litres_per_person_day: float = Field(ge=0, le=2000)
    water_short_area: bool = False
    piped: bool = False
    trip_minutes: float = Field(0, ge=0, le=600)
    horizontal_m: float = Field(0, ge=0, le=20000)
    vertical_m: float = Field(0, ge=0, le=2000)
    days_lost_per_year: int = Field(0, ge=0, le=366)
    quality_ok: bool = True


# ---- 教育 education ---------------------------------------------------------------------------------
class SchoolDropout(EventBase):
    owner: ClassVar[Dept] = Dept.EDUCATION
    event_type: Literal["education.dropout"] = "education.dropout"
    status: Literal["dropout", "suspected"]
    stage: Literal["primary", "junior", "senior", "vocational"]
    age: int = Field(ge=3, le=30)


class SelfPaidSchoolCost(EventBase):
    owner: ClassVar[Dept] = Dept.EDUCATION
    event_type: Literal["education.self_paid_cost"] = "education.self_paid_cost"
    stage: Literal["senior", "vocational", "college"]
    school_year: str = Field(pattern=r"^[0-9]{4}-[0-9]{4}$")
    amount: Yuan


# ---- 民政 civil affairs -----------------------------------------------------------------------------
AssistanceKind = Literal["dibao", "tekun", "temporary"]


class AssistanceGranted(EventBase):
    owner: ClassVar[Dept] = Dept.CIVIL_AFFAIRS
    member_level: ClassVar[bool] = False
    event_type: Literal["assistance.granted"] = "assistance.granted"
    kind: AssistanceKind
    amount: Yuan = Decimal(0)


class AssistanceEnded(EventBase):
    owner: ClassVar[Dept] = Dept.CIVIL_AFFAIRS
    member_level: ClassVar[bool] = False
    event_type: Literal["assistance.ended"] = "assistance.ended"
    kind: AssistanceKind


# ---- 应急管理 emergency management ------------------------------------------------------------------
DisasterType = Literal[
    "flood", "geological", "drought", "biological", "meteorological", "earthquake", "other"
]


class DisasterLoss(EventBase):
    owner: ClassVar[Dept] = Dept.EMERGENCY
    member_level: ClassVar[bool] = False
    event_type: Literal["disaster.loss"] = "disaster.loss"
    disaster_type: DisasterType
    house_damage: Literal["none", "damaged", "badly_damaged", "collapsed"] = "none"
    harvest_loss_share: float = Field(0, ge=0, le=1)
    deaths: int = Field(0, ge=0, le=100)
    injuries: int = Field(0, ge=0, le=100)
    loss_amount: Yuan = Decimal(0)


# ---- 公安 public security ---------------------------------------------------------------------------
class Casualty(EventBase):
    """Death or injury of a household member (traffic, crime, other accident)."""

    owner: ClassVar[Dept] = Dept.PUBLIC_SECURITY
    event_type: Literal["security.casualty"] = "security.casualty"
    outcome: Literal["death", "injury"]
    cause: Literal["traffic", "crime", "other"]
    age: int = Field(ge=0, le=120)


# ---- 农业农村 agriculture: registered households' industry projects, and farm losses ------------------
class IndustryProject(EventBase):
    """A registered household's industry project (到户产业项目: planting, breeding, processing …) as
    the agriculture bureau follows it: running, suspended or failed, its loss, the produce unsold."""

    owner: ClassVar[Dept] = Dept.AGRICULTURE
    member_level: ClassVar[bool] = False
    event_type: Literal["industry.project"] = "industry.project"
    project_type: Literal["planting", "breeding", "processing", "other"]
    status: Literal["running", "suspended", "failed"]
    invested: Yuan = Decimal(0)
    loss_amount: Yuan = Decimal(0)
    unsold_share: float = Field(0, ge=0, le=1, description="share of the season's produce not sold")


class FarmLoss(EventBase):
    """A loss of crops, livestock or fish the agriculture bureau assessed (disaster, animal or plant
    disease, a market collapse)."""

    owner: ClassVar[Dept] = Dept.AGRICULTURE
    member_level: ClassVar[bool] = False
    event_type: Literal["agriculture.loss"] = "agriculture.loss"
    product: Literal["crop", "livestock", "aquatic", "other"]
    cause: Literal["disaster", "disease", "market", "other"]
    disaster_type: DisasterType | None = None  # required when the cause is a disaster
    loss_share: float = Field(ge=0, le=1, description="share of the expected output lost")
    loss_amount: Yuan = Decimal(0)

    @model_validator(mode="after")
    def _disaster_named(self) -> FarmLoss:
        if self.cause == "disaster" and self.disaster_type is None:
            raise ValueError("disaster_type is required when the cause is a disaster")
        return self


EVENT_MODELS: tuple[type[EventBase], ...] = (
    MedicalSettlement,
    SeriousIllnessDiagnosed,
    JobLost,
    ContributionGap,
    Reemployed,
    DisabilityCertified,
    DisabilityGradeChanged,
    DwellingRated,
    WaterAssessed,
    SchoolDropout,
    SelfPaidSchoolCost,
    AssistanceGranted,
    AssistanceEnded,
    DisasterLoss,
    Casualty,
    IndustryProject,
    FarmLoss,
)

DeptEvent = Annotated[
    MedicalSettlement
    | SeriousIllnessDiagnosed
    | JobLost
    | ContributionGap
    | Reemployed
    | DisabilityCertified
    | DisabilityGradeChanged
    | DwellingRated
    | WaterAssessed
    | SchoolDropout
    | SelfPaidSchoolCost
    | AssistanceGranted
    | AssistanceEnded
    | DisasterLoss
    | Casualty
    | IndustryProject
    | FarmLoss,
    Field(discriminator="event_type"),
]
DEPT_EVENT_ADAPTER: TypeAdapter[DeptEvent] = TypeAdapter(DeptEvent)

MODEL_BY_TYPE: dict[str, type[EventBase]] = {
    str(m.model_fields["event_type"].default): m for m in EVENT_MODELS
}
_TYPE_NAME: dict[type[EventBase], str] = {m: t for t, m in MODEL_BY_TYPE.items()}


# Delivery metadata and the id itself are not part of an event's identity.
_ID_AND_REPORT_TIME = re.compile(r'"event_id":"(?:[^"\\]|\\.)*",|,"reported_at":"[^"]*"')


def _without_id_and_report_time(body: str) -> str:
    # Fast path for our own serialization: event_id is the first field and reported_at's value is
    # a plain timestamp string; anything else falls back to the regular expression.
    if body.startswith('{"event_id":"'):
        end = body.find('",', 13)
        start = body.find(',"reported_at":"', end)
        if end != -1 and start != -1 and "\\" not in body[13:end]:
            close = body.index('"', start + 16)
            return "{" + body[end + 2 : start] + body[close + 1 :]
    return _ID_AND_REPORT_TIME.sub("", body)


def identity_from_json(dept: str, body: str) -> str:
    """The event id for an event serialized as ``body`` (its ``model_dump_json()``).

    A hash of the canonical JSON without ``event_id`` and ``reported_at``: the same row ingested
    twice (from CSV, XLSX, JSON Lines or HTTP) gets the same id, so re-ingesting a file adds no
    duplicates, and amounts are kept to the fen so 8200 and 8200.00 agree. The department's record
    id (``source_ref``) is content, not identity: a corrected record keeps its record id but is a
    new event.
    """
    canonical = _without_id_and_report_time(body)
    return f"{dept[:4]}-{hashlib.blake2b(canonical.encode(), digest_size=12).hexdigest()}"


def event_identity(event: EventBase) -> str:
    return identity_from_json(event.dept.value, event.model_dump_json())


def now_china() -> datetime:
    return datetime.now(UTC).astimezone(CHINA_TZ)


# What officers read for each event type.
EVENT_TYPE_ZH: dict[str, str] = {
    "medical.settlement": "医保结算",
    "health.serious_illness": "确诊大病",
    "employment.job_lost": "失业/返乡",
    "employment.contribution_gap": "社保断缴",
    "employment.reemployed": "再就业",
    "disability.certified": "办理残疾证",
    "disability.grade_changed": "残疾等级变更",
    "housing.dwelling_rated": "住房安全鉴定",
    "water.assessed": "饮水安全评估",
    "education.dropout": "辍学",
    "education.self_paid_cost": "教育自付费用",
    "assistance.granted": "新增救助",
    "assistance.ended": "救助终止",
    "disaster.loss": "灾害损失",
    "security.casualty": "意外伤亡",
    "industry.project": "到户产业项目",
    "agriculture.loss": "农业生产损失",
}
