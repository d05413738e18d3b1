"""The line departments that publish change data, with their Chinese names."""

from __future__ import annotations

from dixian.contract.vocabulary import Labelled


class Dept(Labelled):
    MEDICAL_INSURANCE = "medical_insurance", "医保局"
    HRSS = "hrss", "人社局"
    DISABILITY = "disability", "残联"
    HOUSING = "housing", "住建局"
    WATER = "water", "水利局"
    EDUCATION = "education", "教育局"
    CIVIL_AFFAIRS = "civil_affairs", "民政局"
    EMERGENCY = "emergency", "应急管理局"
    PUBLIC_SECURITY = "public_security", "公安局"
    HEALTH = "health", "卫健委"
    AGRICULTURE = "agriculture", "农业农村局"
