"""The bodies the API accepts, as strict models: a wrong type is refused, never coerced (``"no"`` is
not a signed authorisation, ``null`` is not a note), unknown fields and non-finite numbers are refused,
and every refusal names the field."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dixian.contract.validate import REASON_ZH
from dixian.contract.vocabulary import ClueSource, ClueState
from screening.clues import QueueFilter
from screening.plans import MeasureChange
from screening.refusal import Refusal
from screening.workflow import Request

M = TypeVar("M", bound="Body")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class LoginBody(Body):
    username: str = Field(max_length=80)
    password: str = Field(max_length=200)


class ActionBody(Body):
    action: str = Field(max_length=40)
    note: str = Field("", max_length=2000)
    proposal: str | None = Field(None, max_length=40)
    category: str | None = Field(None, max_length=20)
    decision: str | None = Field(None, max_length=20)
    visited_on: date | None = None
    form: dict[str, Any] | None = None
    visit_mode: Literal["home", "phone", "wechat"] | None = None
    team: list[str] | None = Field(None, max_length=2)

    def request(self) -> Request:
        return Request(
            action=self.action,
            note=self.note.strip(),
            proposal=self.proposal or None,
            category=self.category or None,
            decision=self.decision or None,
            visited_on=self.visited_on,
            form=self.form,
            visit_mode=self.visit_mode,
            team=tuple(self.team) if self.team else None,
        )


class InPersonBody(Body):
    visited_on: date
    note: str = Field(max_length=2000)
    team: list[str] | None = Field(None, max_length=2)


class NewClueBody(Body):
    household_id: str = Field(max_length=40)
    source: str = Field(max_length=40)
    note: str = Field(max_length=2000)
    authorisation_signed: bool = False


class MeasureBody(Body):
    group: str = Field(max_length=40)
    description: str = Field(max_length=2000)
    start_on: date
    end_on: date | None = None


class MeasureUpdateBody(Body):
    status: Literal["active", "done", "stopped"]
    description: str | None = Field(None, max_length=2000)
    end_on: date | None = None
    result: str = Field("", max_length=2000)
    closed_on: date | None = None

    def change(self) -> MeasureChange:
        return MeasureChange(self.status, self.description, self.end_on, self.result, self.closed_on)


class NotificationBody(Body):
    notified_on: date
    method: Literal["visit", "phone", "letter"]
    note: str = Field("", max_length=500)


class AssetCheckBody(Body):
    result: Literal["passed", "failed"]
    checked_on: date
    reason: str = Field("", max_length=500)
    found: str = Field("", max_length=500)


class CorrectionBody(Body):
    field: Literal["members", "id_number", "category", "income", "other"]
    recorded: str = Field(max_length=300)
    found: str = Field(max_length=300)
    evidence: str = Field(max_length=300)


class CorrectedBody(Body):
    corrected_on: date


class CampaignBody(Body):
    name: str = Field(max_length=200)
    scope: list[str] = Field(max_length=20)
    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    kinds: list[str] = Field(max_length=3)


class ApplicationBody(Body):
    village_code: str = Field(max_length=12)
    household_id: str = Field(max_length=40)
    description: str = Field("", max_length=2000)
    consent: Literal[True]


EXAMPLES: dict[type[Body], str] = {
    LoginBody: '{"username": "...", "password": "..."}',
    ActionBody: '{"action": "visit", "note": "...", "visit_mode": "home", "team": ["张三", "李四"]}',
    InPersonBody: '{"visited_on": "2022-07-05", "note": "...", "team": ["张三", "李四"]}',
    NewClueBody: '{"household_id": "...", "source": "cadre", "note": "..."}',
    MeasureBody: '{"group": "employment", "description": "...", "start_on": "2022-07-01"}',
    MeasureUpdateBody: '{"status": "done", "result": "..."}',
    NotificationBody: '{"notified_on": "2022-07-20", "method": "visit"}',
    CorrectionBody: '{"field": "members", "recorded": "4人", "found": "5人", "evidence": "出生证明"}',
    CorrectedBody: '{"corrected_on": "2022-07-20"}',
    AssetCheckBody: '{"result": "failed", "checked_on": "2022-07-10", "reason": "...", "found": "..."}',
    CampaignBody: '{"name": "...", "scope": ["4503"], "from": "2022-09-01", "to": "2022-09-30", "kinds": []}',
    ApplicationBody: '{"village_code": "...", "household_id": "...", "description": "...", "consent": true}',
}
_REASON_EXTRA = {
    "json_invalid": "不是有效的 JSON",
    "model_type": "应为 JSON 对象",
    "finite_number": "不能是 NaN 或无穷大",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "too_long": "条目过多",
}


class QueueQuery(BaseModel):
    """The queue's query string: the view, filters, search and the page (names as in the URL)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    view: Literal["todo", "all", "closed"] = "todo"
    village: str | None = Field(None, pattern=r"^[0-9]{9}([0-9]{3})?$", description="乡镇(9位)或村(12位)代码")
    state: ClueState | None = None
    source: ClueSource | None = None
    risk: str | None = Field(None, max_length=20)
    q: str | None = Field(
        None, pattern=r"^([0-9]{1,18}|[\u4e00-\u9fff·]{1,20})$", description="户编号或户主姓名（或其开头）"
    )
    overdue: bool = False
    page: int = Field(1, ge=1, le=100_000)
    size: int = Field(50, ge=1, le=200)

    def where(self) -> QueueFilter:
        return QueueFilter(
            state=self.state,
            source=self.source,
            risk=self.risk or None,
            household=self.q,
            overdue=self.overdue,
        )


def parse_query(query: Any) -> QueueQuery:
    """The query string as ``QueueQuery``, or a ``Refusal`` (bad_request) naming each parameter."""
    try:
        return QueueQuery.model_validate({k: v for k, v in query.items() if v != ""})
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}：{REASON_ZH.get(err['type'], '取值无效')}"
            for err in exc.errors(include_url=False)[:5]
        ]
        raise Refusal("bad_request", f"查询参数有误（{'；'.join(problems)}）") from None


def parse(model: type[M], raw: bytes) -> M:
    """The body as ``model``, or a ``Refusal`` (bad_request) naming each field and why, in Chinese."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False)[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "请求体"
            reason = _REASON_EXTRA.get(err["type"]) or REASON_ZH.get(err["type"], "取值无效")
            problems.append(f"{where}：{reason}")
        raise Refusal(
            "bad_request",
            f"请求体有误（{'；'.join(problems)}）。请求体须为 JSON 对象，例如 {EXAMPLES[model]}",
        ) from None
