"""Visit forms by household kind and the assistance measure groups, from ``forms.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from dixian.contract.vocabulary import HouseholdKind
from screening.refusal import Refusal

KINDS = tuple(HouseholdKind)


@dataclass(frozen=True)
class Question:
    id: str
    label: str
    type: str  # bool | number | text | choice | multi
    required: bool
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class VisitForm:
    kind: str
    title: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class MeasureGroup:
    id: str
    label: str
    development: bool


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        resources.files("screening").joinpath("forms.yaml").read_text(encoding="utf-8")
    )
    return data


@cache
def visit_form(kind: str) -> VisitForm:
    spec = _data()["visit_forms"][kind]
    qs = tuple(
        Question(
            q["id"],
            q["label"],
            q["type"],
            bool(q.get("required")),
            tuple(q.get("choices", ())),
            q.get("min"),
            q.get("max"),
        )
        for q in spec["questions"]
    )
    return VisitForm(kind, spec["title"], qs)


@cache
def measure_groups() -> tuple[MeasureGroup, ...]:
    return tuple(MeasureGroup(g["id"], g["label"], bool(g["development"])) for g in _data()["measure_groups"])


def measure_group(group_id: str) -> MeasureGroup:
    for g in measure_groups():
        if g.id == group_id:
            return g
    raise Refusal("unknown_measure", f"未知的帮扶措施类别：{group_id or '（空）'}")


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "是"):
        return True
    if text in ("no", "false", "0", "否"):
        return False
    return None


def check_answers(kind: str, answers: dict[str, Any]) -> dict[str, Any]:
    """The answers, typed; a Refusal naming the first question that is missing or invalid."""
    form = visit_form(kind)
    out: dict[str, Any] = {}
    for q in form.questions:
        raw = answers.get(q.id)
        empty = raw in (None, "", [])
        if empty:
            if q.required:
                raise Refusal("form_incomplete", f"走访表未填写：{q.label}")
            continue
        if q.type == "bool":
            b = _bool(raw)
            if b is None:
                raise Refusal("form_invalid", f"“{q.label}”请选择是或否")
            out[q.id] = b
        elif q.type == "number":
            try:
                n = float(str(raw))
            except ValueError:
                raise Refusal("form_invalid", f"“{q.label}”应填写数字") from None
            if (q.min is not None and n < q.min) or (q.max is not None and n > q.max):
                raise Refusal("form_invalid", f"“{q.label}”超出合理范围（{q.min:g}–{q.max:g}）")
            out[q.id] = n
        elif q.type == "choice":
            if str(raw) not in q.choices:
                raise Refusal("form_invalid", f"“{q.label}”的选项无效：{raw}")
            out[q.id] = str(raw)
        elif q.type == "multi":
            values = [str(v) for v in (raw if isinstance(raw, list) else [raw])]
            bad = [v for v in values if v not in q.choices]
            if bad:
                raise Refusal("form_invalid", f"“{q.label}”的选项无效：{'、'.join(bad)}")
            if "无" in values and len(values) > 1:
                raise Refusal("form_invalid", f"“{q.label}”选了“无”就不能再选其他项")
            out[q.id] = values
        else:
            text = str(raw).strip()
            if len(text) > 500:
                raise Refusal("form_invalid", f"“{q.label}”不能超过500字")
            out[q.id] = text
    return out
