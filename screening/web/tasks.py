"""Pages and API of the plan's task list and rectification items (``screening.tasks``): the city
office and the counties report each task's monthly progress on ``/tasks``; supervision findings are
recorded and closed on ``/rectifications``."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import Field

from dixian.contract.vocabulary import Role
from screening import tasks as plan
from screening.auth import Actor
from screening.refusal import NotFound, Refusal
from screening.store import Store
from screening.web.common import (
    STORE,
    Handler,
    actor_of,
    in_thread,
    json_response,
    render,
)
from screening.web.pages import PostedForm, date_field, written_form
from screening.web.requests import Body, parse


def _board_scope(actor: Actor) -> str | None:
    """The county whose units a board shows (None: every unit, for the city office)."""
    if actor.role == Role.COUNTY:
        return actor.scope
    if actor.role == Role.OPERATOR:
        return None
    raise Refusal("wrong_role", "重点任务调度由县级账号和市专项行动办公室查看")


def _task_id(request: web.Request) -> int:
    text = request.match_info["task_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise NotFound("重点任务清单中没有这一项")
    return int(text)


def _board(store: Store, actor: Actor) -> list[dict[str, Any]]:
    return plan.board(store, store.today(), _board_scope(actor))


async def tasks_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    store, actor = request.app[STORE], actor_of(request)
    rows = await in_thread(_board, store, actor)
    return render(
        request,
        "tasks.html",
        status,
        rows=rows,
        PROGRESS_ZH={p.value: p.zh for p in plan.Progress},
        report_day=plan.REPORT_DAY,
        groups=plan.groups(),
        error=error,
        flash=request.query.get("done", ""),
    )


async def _form(request: web.Request, write: Any, page: Any, back: str, done: str) -> web.StreamResponse:
    refused = await written_form(request, write, page)
    if isinstance(refused, web.StreamResponse):
        return refused
    raise web.HTTPSeeOther(f"{back}?done={quote(done)}")


async def progress_post(request: web.Request) -> web.StreamResponse:
    task_id = _task_id(request)

    def write(store: Store, actor: Actor, form: PostedForm) -> None:
        plan.report_progress(
            store,
            actor,
            task_id,
            str(form.get("month", "")),
            str(form.get("status", "")),
            str(form.get("progress", "")),
        )

    return await _form(request, write, tasks_page, "/tasks", f"已报送第 {task_id} 项进展")


async def rectifications_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    store, actor = request.app[STORE], actor_of(request)
    rows = await in_thread(
        plan.rectifications, store, actor, store.today(), request.query.get("status") or None
    )
    return render(
        request,
        "rectifications.html",
        status,
        rows=rows,
        SOURCE_ZH={s.value: s.zh for s in plan.FindingSource},
        groups=plan.groups(),
        counties=sorted({g.county_code for g in plan.groups()}),
        error=error,
        flash=request.query.get("done", ""),
    )


async def rectification_post(request: web.Request) -> web.StreamResponse:
    def write(store: Store, actor: Actor, form: PostedForm) -> None:
        plan.add_rectification(
            store,
            actor,
            str(form.get("county", "")),
            str(form.get("source", "")),
            date_field(form.get("found_on"), "发现日期") or date.min,
            str(form.get("finding", "")),
            str(form.get("owner", "")),
            date_field(form.get("deadline"), "整改期限") or date.min,
        )

    return await _form(request, write, rectifications_page, "/rectifications", "已登记整改事项")


async def rectification_close_post(request: web.Request) -> web.StreamResponse:
    rect_id = request.match_info["rect_id"]

    def write(store: Store, actor: Actor, form: PostedForm) -> None:
        when = date_field(form.get("closed_on"), "完成日期") or date.min
        plan.close_rectification(store, actor, rect_id, str(form.get("result", "")), when)

    return await _form(request, write, rectifications_page, "/rectifications", "已报送整改完成")


# ---- API -------------------------------------------------------------------------------------------
class ProgressBody(Body):
    month: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    status: Literal["done", "on_track", "behind"]
    progress: str = Field(max_length=500)


class RectificationBody(Body):
    county_code: str = Field(max_length=6)
    source: Literal["supervision", "unannounced", "review"]
    found_on: date
    finding: str = Field(max_length=500)
    owner: str = Field(max_length=500)
    deadline: date


class CloseBody(Body):
    result: str = Field(max_length=500)
    closed_on: date


def _board_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "task_id": r["task"].id,
            "section": r["task"].section,
            "title": r["task"].title,
            "from": r["task"].start.isoformat(),
            "to": r["task"].end.isoformat(),
            "city_units": r["task"].city_units,
            "overdue": r["overdue"],
            "unreported": r["unreported"],
            "units": r["units"],
        }
        for r in rows
    ]


async def api_tasks(request: web.Request) -> web.Response:
    rows = await in_thread(_board, request.app[STORE], actor_of(request))
    return json_response({"report_day": plan.REPORT_DAY, "tasks": _board_json(rows)})


async def api_progress(request: web.Request) -> web.Response:
    actor = actor_of(request)
    if actor.role not in (Role.COUNTY, Role.OPERATOR):  # before the id: a refusal reveals nothing
        raise Refusal("wrong_role", "重点任务进展由县级账号或市专项行动办公室（运维账号）报送")
    task_id = _task_id(request)
    body = parse(ProgressBody, await request.read())
    store = request.app[STORE]
    await in_thread(plan.report_progress, store, actor, task_id, body.month, body.status, body.progress)
    rows = await in_thread(_board, store, actor)
    return json_response({"task": next(t for t in _board_json(rows) if t["task_id"] == task_id)})


async def api_rectifications(request: web.Request) -> web.Response:
    store = request.app[STORE]
    rows = await in_thread(
        plan.rectifications, store, actor_of(request), store.today(), request.query.get("status") or None
    )
    return json_response({"rectifications": rows})


async def api_add_rectification(request: web.Request) -> web.Response:
    body = parse(RectificationBody, await request.read())
    store = request.app[STORE]
    rect_id = await in_thread(
        plan.add_rectification,
        store,
        actor_of(request),
        body.county_code,
        body.source,
        body.found_on,
        body.finding,
        body.owner,
        body.deadline,
    )
    return json_response({"rect_id": rect_id}, status=201)


async def api_close_rectification(request: web.Request) -> web.Response:
    actor = actor_of(request)
    if actor.role not in (Role.COUNTY, Role.OPERATOR):  # before the id: a refusal reveals nothing
        raise Refusal("wrong_role", "整改情况由县级账号报送")
    body = parse(CloseBody, await request.read())
    store = request.app[STORE]
    rect_id = request.match_info["rect_id"]
    await in_thread(plan.close_rectification, store, actor, rect_id, body.result, body.closed_on)
    return json_response({"rect_id": rect_id, "status": "done"})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/tasks", tasks_page),
    ("POST", "/tasks/{task_id}/progress", progress_post),
    ("GET", "/rectifications", rectifications_page),
    ("POST", "/rectifications", rectification_post),
    ("POST", "/rectifications/{rect_id}/close", rectification_close_post),
    ("GET", "/api/v1/tasks", api_tasks),
    ("POST", "/api/v1/tasks/{task_id}/progress", api_progress),
    ("GET", "/api/v1/rectifications", api_rectifications),
    ("POST", "/api/v1/rectifications", api_add_rectification),
    ("POST", "/api/v1/rectifications/{rect_id}/close", api_close_rectification),
]
