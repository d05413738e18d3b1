"""The household roster exported from the national monitoring system (one record per household)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dixian.contract.events import Yuan
from dixian.contract.ids import HouseholdId, ResidentId, VillageCode, check_village_of_household
from dixian.contract.vocabulary import HouseholdType, MonitoringCategory, MonitoringStatus

RiskType = Literal[
    "因病", "因学", "因残", "因自然灾害", "因意外事故", "因产业项目失败", "因务工就业不稳", "缺劳动力", "其他"
]


class Member(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    member_id: ResidentId
    relation: Literal["户主", "配偶", "子女", "父母", "孙辈", "兄弟姐妹", "其他"]
    name: str | None = Field(None, min_length=2, max_length=20, pattern=r"^[\u4e00-\u9fff·]+$")  # 姓名
    can_work: bool = True
    disabled: bool = False
    seriously_ill: bool = False
    insured: bool = True
    in_school: bool = False


class Household(BaseModel):
    """One household of the roster; keyed by ``household_id`` on the compacted households topic."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    household_id: HouseholdId
    village_code: VillageCode
    household_type: HouseholdType
    monitoring_category: MonitoringCategory | None = None
    monitoring_status: MonitoringStatus = MonitoringStatus.NOT_MONITORED
    risk_types: tuple[RiskType, ...] = Field((), max_length=5)
    per_capita_income: Yuan = Decimal(0)
    # income composition per person and year (工资性, 经营净, 财产净, 转移净收入), when the export has it;
    # the four add up to the per-capita net income
    wage_income: Yuan | None = None
    business_income: Yuan | None = None
    property_income: Yuan | None = None
    transfer_income: Yuan | None = None
    prev_year_income: Yuan | None = None  # 上年人均纯收入: the income growth indicators
    housing_safe: bool = True
    water_safe: bool = True
    dibao: bool = False
    tekun: bool = False
    members: tuple[Member, ...] = Field(min_length=1, max_length=30)

    @field_validator("village_code")
    @classmethod
    def _village_of_household(cls, v: str, info: ValidationInfo) -> str:
        return check_village_of_household(v, info.data.get("household_id"))

    @model_validator(mode="after")
    def _consistent(self) -> Household:
        if (self.monitoring_status == MonitoringStatus.NOT_MONITORED) != (self.monitoring_category is None):
            raise PydanticCustomError(
                "monitoring_inconsistent",
                "监测对象类别与监测状态不一致 / monitoring category and status disagree",
            )
        parts = (self.wage_income, self.business_income, self.property_income, self.transfer_income)
        known = [p for p in parts if p is not None]
        if known and len(known) < len(parts):
            raise PydanticCustomError(
                "income_parts_incomplete",
                "收入构成须四项齐全（工资性、经营净、财产净、转移净收入）/ all four income parts, or none",
            )
        if known and abs(sum(known) - self.per_capita_income) > 1:
            raise PydanticCustomError(
                "income_parts_mismatch",
                "收入构成四项之和与人均纯收入不符 / the income parts do not add up to the per-capita income",
            )
        if self.monitoring_category == MonitoringCategory.UNSTABLE and (
            self.household_type != HouseholdType.FORMERLY_POOR
        ):
            raise PydanticCustomError(
                "category_type_mismatch",
                "脱贫不稳定户必须是脱贫户 / only a formerly poor household can be 脱贫不稳定户",
            )
        return self

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def head_name(self) -> str | None:
        """The householder's name (户主姓名), as the roster gives it."""
        return next((m.name for m in self.members if m.relation == "户主"), None)
