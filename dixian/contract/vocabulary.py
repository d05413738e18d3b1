"""The domain's vocabulary, once: every category, status, source, state, step, outcome and role the
project speaks of, each with the Chinese label officers read. Pages, reports, the workflow and the
stream core import these and never re-spell a value or a label.

Values are the wire and storage form (topics, the alert store, the API); ``.zh`` is the label.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Self


class Labelled(StrEnum):
    """A value of the vocabulary with its Chinese label (``Member = "value", "标签"``; a value that
    is already Chinese is its own label)."""

    zh: str

    def __new__(cls, value: str, zh: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh = zh or value
        return member


def labels(members: Iterable[Labelled]) -> dict[str, str]:
    """``value → label`` of a vocabulary or some of its members (for templates and tables keyed by
    stored values)."""
    return {member.value: member.zh for member in members}


# ---- households ------------------------------------------------------------------------------------
class HouseholdType(Labelled):
    FORMERLY_POOR = "脱贫户"
    ORDINARY = "一般农户"


class MonitoringCategory(Labelled):
    """The three categories of monitoring objects (监测对象)."""

    UNSTABLE = "脱贫不稳定户"
    MARGINAL = "边缘易致贫户"
    SUDDEN_HARDSHIP = "突发严重困难户"


class MonitoringStatus(Labelled):
    NOT_MONITORED = "未纳入"
    MONITORED = "监测中"
    RISK_ELIMINATED = "风险已消除"


class HouseholdKind(Labelled):
    """Which visit form a campaign uses for a household."""

    ORDINARY = "ordinary", "一般农户"
    FORMERLY_POOR = "formerly_poor", "脱贫户（未纳入监测）"
    MONITORED = "monitored", "监测对象"


# ---- risks -------------------------------------------------------------------------------------------
class Severity(Labelled):
    HIGH = "high", "高"
    MEDIUM = "medium", "中"
    LOW = "low", "低"


class Guarantee(Labelled):
    """The "three guarantees and drinking water" flags (三保障和饮水安全): not risk types."""

    HOUSING = "housing", "住房安全"
    WATER = "water", "饮水安全"
    SCHOOLING = "schooling", "义务教育"
    INSURANCE = "insurance", "基本医疗保险"


class DisasterSubtype(Labelled):
    FLOOD = "flood", "洪涝灾害"
    GEOLOGICAL = "geological", "地质灾害"
    DROUGHT = "drought", "旱灾"
    BIOLOGICAL = "biological", "生物灾害"
    METEOROLOGICAL = "meteorological", "气象灾害"
    EARTHQUAKE = "earthquake", "地震灾害"
    OTHER = "other", "其他灾害"


# Risk types whose name reveals a health detail: never on a public notice.
HEALTH_RISKS = ("因病", "因残")


class RuleState(Labelled):
    ACTIVE = "active", "启用"
    PAUSED = "paused", "暂停"
    RETIRED = "retired", "停用"


# ---- clues and their workflow ------------------------------------------------------------------------
class ClueSource(Labelled):
    """How a clue (线索) arrived."""

    DEPARTMENT_WARNING = "department_warning", "部门预警"
    APPLICATION = "application", "农户申请"
    CADRE = "cadre", "干部排查"
    CAMPAIGN = "campaign", "集中排查"


# the sources an officer records by hand (the others come from the alerts topic and campaigns)
RECORDED_SOURCES = (ClueSource.APPLICATION, ClueSource.CADRE)


class ClueState(Labelled):
    NEW = "new", "待走访"
    VISITED = "visited", "已走访，待结论"
    PROPOSED = "proposed", "待村级评议"
    NOTICE = "notice", "公示中"
    TOWNSHIP = "township", "待乡镇审核"
    COUNTY = "county", "待县级审定"
    CLOSED = "closed", "已办结"


class Role(Labelled):
    VILLAGE = "village", "村级"  # village officer (驻村工作队/村两委): one village
    TOWNSHIP = "township", "乡镇"  # township reviewer: the villages of one township
    COUNTY = "county", "县级"  # county approver: the townships of one county
    OPERATOR = "operator", "运维"  # city operator: reads everything, decides nothing


# the digits of an account's scope (an area-code prefix) by role
SCOPE_DIGITS = {Role.VILLAGE: 12, Role.TOWNSHIP: 9, Role.COUNTY: 6, Role.OPERATOR: 4}


class Proposal(Labelled):
    """The village officer's conclusion after the visit."""

    INCLUDE = "include", "拟纳入监测对象"
    ALREADY_MONITORED = "already_monitored", "已是监测对象（记录新增风险）"
    NO_RISK = "no_risk", "无返贫致贫风险（排除）"
    ELIMINATE = "eliminate", "拟风险消除"
    ROLLBACK = "rollback", "拟回退风险消除"


class Decision(Labelled):
    """A reviewer's decision at the village review, the notice, the township and the county."""

    APPROVE = "approve", "通过"
    REJECT = "reject", "不予通过"
    RETURN = "return", "退回重新核实"


class Outcome(Labelled):
    """The county's decision: what the stream processor applies to household state."""

    INCLUDED = "included", "纳入监测对象"
    NOT_INCLUDED = "not_included", "不予纳入"
    ALREADY_MONITORED = "already_monitored", "已是监测对象，记录新增风险"
    EXCLUDED = "excluded", "排除（无风险）"
    ELIMINATED = "eliminated", "风险消除"
    ROLLED_BACK = "rolled_back", "回退风险消除，恢复监测"


class Step(Labelled):
    """A recorded step of a clue's screening; every step is published to ``screening.conclusions``."""

    OPEN = "open", "登记线索"  # a clue recorded by an officer (household application, cadre screening)
    VISIT = "visit", "登记入户走访"
    CONCLUDE = "conclude", "填写核实结论"
    VILLAGE_REVIEW = "village_review", "村级民主评议"
    NOTICE_END = "notice_end", "结束公示"
    TOWNSHIP_REVIEW = "township_review", "乡镇审核"
    COUNTY_DECIDE = "county_decide", "县级审定"
    RETURN = "return", "退回重新核实"
    PLAN_MEASURE = "plan_measure", "登记帮扶措施"  # a measure added to an included household's plan
    MEASURE_UPDATE = "measure_update", "更新帮扶措施"  # a running measure's content or planned end changed
    MEASURE_CLOSE = "measure_close", "帮扶措施结项"  # a measure closed with its result
    IN_PERSON = "in_person_visit", "补充入户核实"  # the home visit that follows an online one
    NOTIFY = "notify", "入户告知"  # the household told of the county's decision
    ASSET_CHECK = "asset_check", "财产检索"  # the county's asset-check result for a proposed inclusion
    CORRECTION = "correction", "账实不符更正"  # a correction item for the national system (found / entered)


class MeasureStatus(Labelled):
    """Where a measure of an assistance plan stands."""

    ACTIVE = "active", "实施中"
    DONE = "done", "已完成"
    STOPPED = "stopped", "已终止"


class VisitMode(Labelled):
    """How a visit was made; an online one (phone, WeChat) is allowed where an epidemic prevents a
    home visit, and is followed by a home visit."""

    HOME = "home", "入户"
    PHONE = "phone", "电话"
    WECHAT = "wechat", "微信"


class CorrectionField(Labelled):
    """What a correction item (账实不符) for the national monitoring system is about."""

    MEMBERS = "members", "家庭成员"
    ID_NUMBER = "id_number", "身份证号"
    CATEGORY = "category", "监测对象类别"
    INCOME = "income", "家庭人均纯收入"
    OTHER = "other", "其他登记信息"


class CorrectionStatus(Labelled):
    OPEN = "open", "待更正"
    CORRECTED = "corrected", "已在全国系统更正"


class AssetResult(Labelled):
    """The county's asset check (财产检索) of a household proposed for inclusion."""

    PASSED = "passed", "通过"
    FAILED = "failed", "未通过"


class NotifyMethod(Labelled):
    """How a household was told of the county's decision (入户告知)."""

    VISIT = "visit", "入户告知"
    PHONE = "phone", "电话告知"
    LETTER = "letter", "书面告知"
