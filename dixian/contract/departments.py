"""The line departments that publish change data, with their Chinese names."""

from __future__ import annotations

from enum import StrEnum


class Dept(StrEnum):
    MEDICAL_INSURANCE = "medical_insurance"
    HRSS = "hrss"
    DISABILITY = "disability"
    HOUSING = "housing"
    WATER = "water"
    EDUCATION = "education"
    CIVIL_AFFAIRS = "civil_affairs"
    EMERGENCY = "emergency"
    PUBLIC_SECURITY = "public_security"
    HEALTH = "health"

    @property
    def zh(self) -> str:
        return DEPT_ZH[self]


DEPT_ZH: dict[Dept, str] = {
    Dept.MEDICAL_INSURANCE: "医保局",
    Dept.HRSS: "人社局",
    Dept.DISABILITY: "残联",
    Dept.HOUSING: "住建局",
    Dept.WATER: "水利局",
    Dept.EDUCATION: "教育局",
    Dept.CIVIL_AFFAIRS: "民政局",
    Dept.EMERGENCY: "应急管理局",
    Dept.PUBLIC_SECURITY: "公安局",
    Dept.HEALTH: "卫健委",
}
