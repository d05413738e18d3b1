"""Validation at the edge: raw mappings in, typed events or precise bilingual problems out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dixian.contract.departments import Dept
from dixian.contract.events import MODEL_BY_TYPE, DeptEvent

# Chinese label of every reason code: pydantic's built-in error types and the project's own codes.
REASON_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "int_parsing": "不是整数",
    "int_type": "不是整数",
    "int_from_float": "不是整数",
    "float_parsing": "不是数字",
    "float_type": "不是数字",
    "decimal_parsing": "不是有效金额",
    "decimal_type": "不是有效金额",
    "decimal_max_places": "金额最多两位小数",
    "decimal_max_digits": "金额位数过多",
    "date_parsing": "日期格式错误(应为YYYY-MM-DD)",
    "date_from_datetime_parsing": "日期格式错误(应为YYYY-MM-DD)",
    "date_from_datetime_inexact": "日期不能带时间",
    "date_type": "日期格式错误(应为YYYY-MM-DD)",
    "datetime_parsing": "时间格式错误(应为YYYY-MM-DD HH:MM:SS)",
    "datetime_from_date_parsing": "时间格式错误(应为YYYY-MM-DD HH:MM:SS)",
    "datetime_type": "时间格式错误(应为YYYY-MM-DD HH:MM:SS)",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "bool_parsing": "应为是/否",
    "bool_type": "应为是/否",
    "greater_than_equal": "数值过小",
    "greater_than": "数值过小",
    "less_than_equal": "数值过大",
    "less_than": "数值过大",
    "string_too_short": "长度过短",
    "string_too_long": "长度过长",
    "string_pattern_mismatch": "格式不符",
    "string_type": "应为文本",
    "union_tag_invalid": "未知的事件类型",
    "union_tag_not_found": "缺少事件类型",
    "encoding": "编码错误",
    "column_count": "列数不符",
    "not_json": "不是有效的JSON",
    "not_object": "不是JSON对象",
    "resident_id_format": "身份证号格式错误",
    "resident_id_region": "身份证号地区码无效",
    "resident_id_birthdate": "身份证号出生日期无效",
    "resident_id_checksum": "身份证号校验位错误",
    "village_code_format": "村代码格式错误",
    "village_code_region": "村代码不是村级代码",
    "household_id_format": "户编号格式错误",
    "village_household_mismatch": "村代码与户编号不符",
    "reported_before_occurred": "报送时间早于发生日期",
    "reported_in_future": "报送时间晚于当前时间",
    "ownership_conflict": "一数一源冲突",
    "request_refused": "整批拒收",
    "dept_mismatch": "部门不一致",
    "unknown_event_type": "未知事件类型",
    "key_mismatch": "记录键与户编号不一致",
    "household_inconsistent": "同户字段不一致",
    "head_count": "户主人数错误",
    "monitoring_inconsistent": "监测类别与状态不一致",
    "category_type_mismatch": "监测类别与户类型不符",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a record was refused: which field, a stable code, and the reason in both languages."""

    field: str
    code: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.field}: {self.zh} / {self.en}"


class ContractError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def problems_from(exc: ValidationError) -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        # Skip the discriminator's own segment (e.g. 'medical.settlement') in field paths.
        loc = [str(p) for p in err["loc"] if str(p) not in MODEL_BY_TYPE]
        field = ".".join(loc) or "event_type"
        msg = str(err["msg"])
        if " / " in msg:
            zh, en = msg.split(" / ", 1)
        else:
            zh, en = REASON_ZH.get(err["type"], "取值无效"), msg
        out.append(Problem(field=field, code=str(err["type"]), zh=zh, en=en))
    return out


def parse_event(data: Mapping[str, Any], *, dept: Dept) -> DeptEvent:
    """Validate one department event as published by ``dept``.

    Raises :class:`ContractError` naming every problem: unknown event type, an event type the
    department does not own (一数一源), a member-level event without a member, or field errors.
    """
    event_type = data.get("event_type")
    model = MODEL_BY_TYPE.get(str(event_type)) if event_type is not None else None
    if model is None:
        raise ContractError(
            [
                Problem(
                    "event_type",
                    "unknown_event_type",
                    f"未知的事件类型: {event_type!r}",
                    f"unknown event type {event_type!r}",
                )
            ]
        )
    if model.owner != dept:
        raise ContractError(
            [
                Problem(
                    "event_type",
                    "ownership_conflict",
                    f"一数一源: 事件类型 {event_type} 的数据源是{model.owner.zh}, 不能由{dept.zh}报送",
                    f"one source per item: {event_type} is owned by {model.owner.value}, not {dept.value}",
                )
            ]
        )
    claimed = data.get("dept")
    if claimed not in (None, "", dept.value):
        raise ContractError(
            [
                Problem(
                    "dept",
                    "dept_mismatch",
                    f"部门字段 {claimed!r} 与报送部门 {dept.value} 不一致",
                    f"dept field {claimed!r} differs from the publishing department {dept.value}",
                )
            ]
        )
    record = dict(data)
    record["dept"] = dept.value
    try:
        # The model is known from the event type: validate against it directly, not the union.
        event: DeptEvent = model.model_validate(record)  # type: ignore[assignment]
    except ValidationError as exc:
        raise ContractError(problems_from(exc)) from None
    if model.member_level and event.member_id is None:
        raise ContractError(
            [
                Problem(
                    "member_id",
                    "missing",
                    "缺少成员身份证号",
                    "this event type needs the member's resident ID",
                )
            ]
        )
    return event
