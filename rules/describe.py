"""Rules in plain Chinese, as officers and operators read them (`dixian rules explain`, the village
queue's "why this household")."""

from __future__ import annotations

from typing import Any

from rules.catalogue import Catalogue, CompiledRule
from rules.conditions import All, AnyOf, Cmp, Node, Ref

OP_ZH = {"eq": "为", "ne": "不为", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "属于"}
FIELD_ZH = {
    "household.type": "户类型",
    "household.category": "监测对象类别",
    "household.status": "监测状态",
    "household.monitored": "正在监测",
    "household.size": "家庭人口",
    "household.workers": "劳动力人数",
    "household.income_pc": "人均纯收入",
    "household.income_total": "家庭年收入",
    "household.dibao": "低保户",
    "household.tekun": "特困户",
    "household.low_income": "低收入人口(低保/特困/监测对象)",
    "household.ill_members": "大病成员人数",
    "household.disabled_members": "残疾成员人数",
    "household.oop_12m": "家庭近12个月自付医疗费用",
    "household.job_losses_12m": "家庭近12个月失业次数",
    "household.risk_count": "已登记风险类型数",
    "member.age": "成员年龄",
    "member.can_work": "成员有劳动能力",
    "member.in_roster": "成员在监测系统名单中",
    "member.oop_12m": "成员近12个月自付医疗费用",
    "event.visit": "就诊类型",
    "event.out_of_pocket": "本次个人自付",
    "event.total_cost": "本次医疗总费用",
    "event.returned_home": "是否返乡",
    "event.months": "连续断缴月数",
    "event.grade": "等级",
    "event.only_dwelling": "唯一住房",
    "event.litres_per_person_day": "人均日供水量(升)",
    "event.water_short_area": "缺水地区",
    "event.piped": "集中供水入户",
    "event.trip_minutes": "取水往返分钟",
    "event.horizontal_m": "取水水平距离(米)",
    "event.vertical_m": "取水垂直距离(米)",
    "event.days_lost_per_year": "年停水天数",
    "event.quality_ok": "水质达标",
    "event.stage": "学段",
    "event.age": "年龄",
    "event.amount": "金额",
    "event.house_damage": "房屋受损",
    "event.deaths": "死亡人数",
    "event.injuries": "受伤人数",
    "event.harvest_loss_share": "农作物受灾比例",
    "event.outcome": "伤亡情况",
    "event.category": "病种类别",
    "event.kind": "类别",
}
VALUE_ZH = {
    True: "是",
    False: "否",
    "inpatient": "住院",
    "outpatient": "门诊",
    "primary": "小学",
    "junior": "初中",
    "senior": "高中",
    "vocational": "中职",
    "college": "高职/大学",
    "badly_damaged": "严重损坏",
    "collapsed": "倒塌",
    "damaged": "一般损坏",
    "death": "死亡",
    "injury": "受伤",
}


def _value(v: Any, catalogue: Catalogue) -> str:
    if isinstance(v, Ref):
        base = _field(v.path, catalogue)
        if v.times is None:
            return base
        times = _field(v.times, catalogue) if isinstance(v.times, str) else f"{v.times:g}"
        return f"{base} × {times}"
    if isinstance(v, tuple):
        return "、".join(_value(x, catalogue) for x in v)
    return str(VALUE_ZH.get(v, v)) if isinstance(v, bool | str) else f"{v:g}"


def _field(path: str, catalogue: Catalogue) -> str:
    if path.startswith("param."):
        p = catalogue.params.params.get(path.removeprefix("param."))
        return f"「{p.title}」" if p else path
    return FIELD_ZH.get(path, path)


def describe_condition(node: Node, catalogue: Catalogue) -> str:
    if isinstance(node, Cmp):
        return f"{_field(node.path, catalogue)} {OP_ZH[node.op]} {_value(node.value, catalogue)}"
    if not node.children:
        return "每一条该类数据"
    joiner = " 且 " if isinstance(node, All) else " 或 "
    parts = [describe_condition(c, catalogue) for c in node.children]
    return joiner.join(
        f"({p})" if isinstance(c, All | AnyOf) and len(c.children) > 1 else p
        for p, c in zip(parts, node.children, strict=True)
    )


def describe_rule(rule: CompiledRule, catalogue: Catalogue) -> dict[str, str]:
    r = rule.rule
    return {
        "编号 id": f"{r.id} v{r.version}",
        "名称 title": r.title,
        "状态 state": r.state.zh,
        "数据来源部门 department": r.department.zh,
        "风险类型 risk": r.label + (f"({r.note})" if r.note else ""),
        "预警等级 severity": r.severity.zh,
        "同户同规则抑制期 suppression": f"{r.suppression_days}天",
        "适用数据 event types": "、".join(r.event_types),
        "预警条件 condition": describe_condition(rule.condition, catalogue),
        "说明 explanation": r.explanation,
        "定义位置 source": f"{rule.file}:{rule.line}",
    }
