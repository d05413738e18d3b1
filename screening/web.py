"""The village queue's web server: server-rendered pages in Chinese for officers and reviewers, and the
JSON API (``/api/v1``, described by ``/api/openapi.json``) for the same operations.

Pages authenticate with an HttpOnly, SameSite=Strict session cookie and a per-session CSRF field on
every form; the API with ``Authorization: Bearer <token>`` from ``POST /api/v1/login``. Every read and
write goes through ``Store`` with the caller's ``Actor``: outside the caller's area is a refusal (403),
never an empty page.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from aiohttp import web

from connectors.sinks import Sink
from dixian.contract import DEPT_ZH, Dept
from dixian.contract.events import EVENT_TYPE_ZH
from dixian.topics import Topics
from rules.describe import FIELD_ZH, SEVERITY_ZH
from screening import auth, openapi
from screening.auth import Actor, ScopeError
from screening.campaigns import (
    LEVELS,
    campaigns,
    coverage,
    create_campaign,
    get_campaign,
    lookback,
    summary_xlsx,
)
from screening.forms import KIND_ZH, KINDS, measure_groups, visit_form
from screening.metrics import QueueMetrics
from screening.plans import add_measure, plan_for, plans
from screening.sink import publish_pending
from screening.store import CREATED_SOURCES, SOURCE_ZH, Clue, NotFound, Store
from screening.workflow import (
    ACTION_RULE,
    ACTION_ZH,
    CATEGORIES,
    DECISION_ZH,
    OUTCOME_ZH,
    PROPOSAL_ZH,
    ROLE_ZH,
    STATE_ZH,
    Action,
    Proposal,
    Request,
    Role,
    State,
    WorkflowError,
)

log = logging.getLogger("dixian.screening.web")
T = TypeVar("T")
COOKIE = "dixian_session"
STORE: web.AppKey[Store] = web.AppKey("store", Store)
OUTBOX: web.AppKey[Sink] = web.AppKey("outbox_sink")
TOPICS: web.AppKey[Topics] = web.AppKey("topics", Topics)
WAKEUP: web.AppKey[asyncio.Event] = web.AppKey("outbox_wakeup", asyncio.Event)
CLOCK_NOTE: web.AppKey[str] = web.AppKey("clock_note", str)
OUTBOX_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("outbox_task")
METRICS: web.AppKey[QueueMetrics] = web.AppKey("metrics", QueueMetrics)
SECURE: web.AppKey[bool] = web.AppKey("secure_cookies", bool)
ACTOR: web.RequestKey[Actor] = web.RequestKey("actor", Actor)
TOKEN: web.RequestKey[str] = web.RequestKey("token", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("screening", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(
    STATE_ZH={s.value: z for s, z in STATE_ZH.items()},
    ROLE_ZH={r.value: z for r, z in ROLE_ZH.items()},
    PROPOSAL_ZH={p.value: z for p, z in PROPOSAL_ZH.items()},
    OUTCOME_ZH=OUTCOME_ZH,
    ACTION_ZH={a.value: z for a, z in ACTION_ZH.items()},
    DECISION_ZH=DECISION_ZH,
    SEVERITY_ZH=SEVERITY_ZH,
    DEPT_ZH={d.value: DEPT_ZH[d] for d in Dept},
    CATEGORIES=CATEGORIES,
    PROPOSALS=[p.value for p in Proposal],
    EVENT_TYPE_ZH=EVENT_TYPE_ZH,
    FIELD_ZH=FIELD_ZH,
    SOURCE_ZH=SOURCE_ZH,
    STEP_ZH={"open": "登记线索", "return": "退回重新核实", "plan_measure": "登记帮扶措施"},
    KIND_ZH=KIND_ZH,
)
_env.filters["value_zh"] = lambda v: "是" if v is True else "否" if v is False else v


def render(request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
    actor: Actor | None = request.get(ACTOR)
    token: str | None = request.get(TOKEN)
    store = request.app[STORE]
    page = _env.get_template(template).render(
        actor=actor,
        csrf=auth.csrf_token(token) if token else "",
        today=store.today(),
        clock_note=request.app[CLOCK_NOTE],
        **ctx,
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


async def _db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Store calls run in a worker thread: a slow database query never stalls the event loop (the
    Database serialises its connection with a lock)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def api_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, dumps=_dumps)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; ValueError (not JSON) or TypeError (not an object)."""
    body = await request.json()
    if not isinstance(body, dict):
        raise TypeError
    return body


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


PUBLIC = {
    "/login",
    "/healthz",
    "/metrics",
    "/apply",
    "/api/v1/applications",
    "/api/v1/login",
    "/api/openapi.json",
    "/api/docs",
    "/static/style.css",
}


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    store = request.app[STORE]
    token = None
    if _is_api(request):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
    else:
        token = request.cookies.get(COOKIE)
    actor = await _db(store.actor, token) if token else None
    if actor is not None:
        assert token is not None
        request[ACTOR] = actor
        request[TOKEN] = token
    elif request.path not in PUBLIC:
        if _is_api(request):
            return api_error(
                401, "unauthenticated", "未登录或登录已过期：请先调用 POST /api/v1/login 获取令牌"
            )
        raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
    try:
        return await handler(request)
    except ScopeError as exc:
        request.app[METRICS].refused.labels("out_of_scope").inc()
        if _is_api(request):
            return api_error(403, "out_of_scope", exc.zh)
        return render(request, "error.html", 403, title="无权访问", message=exc.zh)
    except NotFound as exc:
        if _is_api(request):
            return api_error(404, "not_found", exc.zh)
        return render(request, "error.html", 404, title="未找到", message=exc.zh)


def _actor(request: web.Request) -> Actor:
    return request[ACTOR]


# ---- pages ------------------------------------------------------------------------------------------
async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", next=request.query.get("next", "/"), error="")


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    token = await _db(request.app[STORE].login, username, password)
    nxt = _safe_next(str(form.get("next", "/")))
    if token is None:
        log.info("failed login for account %r", username[:40])
        return render(
            request,
            "login.html",
            401,
            next=nxt,
            error="账号或密码不正确，或账号已停用，或连续输错5次被锁定15分钟",
        )
    resp = web.HTTPFound(nxt)
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        max_age=12 * 3600,
        path="/",
        secure=request.app[SECURE],
    )
    raise resp


def _check_csrf(request: web.Request, form: Any) -> None:
    if str(form.get("csrf", "")) != auth.csrf_token(request[TOKEN]):
        raise WorkflowError("csrf", "表单已过期，请刷新页面后重新提交", 400)


async def logout_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    _check_csrf(request, form)
    await _db(request.app[STORE].logout, request[TOKEN])
    resp = web.HTTPFound("/login")
    resp.del_cookie(COOKIE, path="/")
    raise resp


def _view(request: web.Request) -> str:
    view = request.query.get("view", "todo")
    return view if view in ("todo", "all", "closed") else "todo"


async def _list(request: web.Request) -> list[Clue]:
    actor, view = _actor(request), _view(request)
    village = request.query.get("village") or None
    clues = await _db(
        request.app[STORE].queue, actor, todo=view == "todo", village=village, include_closed=view == "closed"
    )
    if view == "closed":
        clues = [c for c in clues if c.state == State.CLOSED]
    return clues


async def queue_page(request: web.Request) -> web.Response:
    clues = await _list(request)
    overdue = sum(1 for c in clues if c.deadline.overdue)
    return render(request, "queue.html", clues=clues, view=_view(request), overdue=overdue)


def _allowed_actions(actor: Actor, clue: Clue) -> list[str]:
    return [a.value for a, (state, role) in ACTION_RULE.items() if state == clue.state and role == actor.role]


def _clue_context(store: Store, actor: Actor, clue_id: str) -> dict[str, Any]:
    clue = store.clue(actor, clue_id)
    kind = clue["household_kind"]
    return {
        "clue": clue,
        "detail": clue.detail,
        "steps": store.steps(clue["clue_id"]),
        "household": store.household(clue["household_id"]),
        "actions": _allowed_actions(actor, clue),
        "visit_form": visit_form(kind) if kind else None,
        "answers": json.loads(clue["form_json"]) if clue["form_json"] else None,
        "plan": plan_for(store, actor, clue["clue_id"]),
        "groups": measure_groups(),
    }


async def clue_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    ctx = await _db(_clue_context, request.app[STORE], _actor(request), request.match_info["clue_id"])
    return render(request, "clue.html", status, **ctx, error=error, flash=request.query.get("done", ""))


async def clue_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    clue_id = request.match_info["clue_id"]
    try:
        _check_csrf(request, form)
        fields: dict[str, Any] = {k: str(v) for k, v in form.items() if not k.startswith("form.")}
        answers = {
            k.removeprefix("form."): [str(v) for v in form.getall(k)]
            for k in set(form)
            if k.startswith("form.")
        }
        if answers:
            fields["form"] = {k: v if len(v) > 1 or k in _MULTI else v[0] for k, v in answers.items()}
        req = Request.from_mapping(fields)
        t = await _db(request.app[STORE].act, _actor(request), clue_id, req)
    except WorkflowError as exc:
        request.app[METRICS].refused.labels(exc.code).inc()
        return await clue_page(request, error=exc.zh, status=exc.status)
    request.app[METRICS].steps.labels(t.step, _actor(request).role.value).inc()
    request.app[WAKEUP].set()
    raise web.HTTPSeeOther(f"/clues/{quote(clue_id)}?done={quote(ACTION_ZH.get(Action(req.action), t.step))}")


_MULTI = {q.id for kind in KINDS for q in visit_form(kind).questions if q.type == "multi"}


def _date_field(value: Any, label: str, *, required: bool = True) -> date | None:
    text = str(value or "").strip()
    if not text:
        if required:
            raise WorkflowError("date_required", f"请填写{label}", 400)
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise WorkflowError("bad_date", f"{label}格式不对：{text}（应为 YYYY-MM-DD）", 400) from None


async def measure_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    clue_id = request.match_info["clue_id"]
    try:
        _check_csrf(request, form)
        await _db(
            add_measure,
            request.app[STORE],
            _actor(request),
            clue_id,
            str(form.get("group", "")),
            str(form.get("description", "")),
            _date_field(form.get("start_on"), "开始日期") or date.min,
            _date_field(form.get("end_on"), "结束日期", required=False),
        )
    except WorkflowError as exc:
        request.app[METRICS].refused.labels(exc.code).inc()
        return await clue_page(request, error=exc.zh, status=exc.status)
    request.app[WAKEUP].set()
    raise web.HTTPSeeOther(f"/clues/{quote(clue_id)}?done={quote('登记帮扶措施')}")


async def new_clue_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    return render(request, "new_clue.html", status, error=error, sources=CREATED_SOURCES)


async def new_clue_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        _check_csrf(request, form)
        clue_id, _ = await _db(
            request.app[STORE].create_clue,
            _actor(request),
            str(form.get("household_id", "")).strip(),
            str(form.get("source", "")),
            str(form.get("note", "")),
            authorisation_signed=form.get("authorisation_signed") == "yes",
        )
    except WorkflowError as exc:
        return await new_clue_page(request, error=exc.zh, status=exc.status)
    except NotFound as exc:
        return await new_clue_page(request, error=exc.zh, status=404)
    request.app[WAKEUP].set()
    raise web.HTTPSeeOther(f"/clues/{quote(clue_id)}?done={quote('登记线索')}")


_PUBLIC_LIMIT: dict[str, list[float]] = {}


def _rate_limited(ip: str, per_hour: int = 10) -> bool:
    import time  # noqa: PLC0415

    now = time.monotonic()
    recent = [t for t in _PUBLIC_LIMIT.get(ip, []) if now - t < 3600]
    _PUBLIC_LIMIT[ip] = [*recent, now]
    return len(recent) >= per_hour


def submit_application(store: Store, village: str, household_id: str, description: str) -> str:
    """The public form: the household number must belong to the village (say nothing else)."""
    hh = store.household(household_id)
    if hh is None or hh["village_code"] != village:
        raise WorkflowError(
            "household_mismatch",
            "户编号与所在行政村不匹配，请核对明白卡上的户编号，或联系村干部代为申请",
            400,
        )
    public = Actor("public-form", "网上申请", Role.VILLAGE, village)
    clue_id, _ = store.create_clue(public, household_id, "application", "（网上申请）" + description.strip())
    return clue_id


async def apply_page(request: web.Request) -> web.Response:
    return render(request, "apply.html", error="", done="")


async def apply_post(request: web.Request) -> web.Response:
    form = await request.post()
    if _rate_limited(request.remote or "?"):
        return render(request, "apply.html", 429, error="提交过于频繁，请稍后再试或联系村干部", done="")
    if form.get("consent") != "yes":
        return render(request, "apply.html", 400, error="请勾选同意核查家庭情况", done="")
    try:
        clue_id = await _db(
            submit_application,
            request.app[STORE],
            str(form.get("village_code", "")).strip(),
            str(form.get("household_id", "")).strip(),
            str(form.get("description", "")),
        )
    except WorkflowError as exc:
        return render(request, "apply.html", exc.status, error=exc.zh, done="")
    request.app[WAKEUP].set()
    return render(request, "apply.html", error="", done=clue_id)


async def campaigns_page(request: web.Request) -> web.Response:
    return render(request, "campaigns.html", campaigns=await _db(campaigns, request.app[STORE]))


def _level(request: web.Request) -> str:
    level = request.query.get("level", "county")
    return level if level in LEVELS else "county"


async def campaign_page(request: web.Request) -> web.Response:
    store, actor = request.app[STORE], _actor(request)
    c = await _db(get_campaign, store, request.match_info["campaign_id"])
    rows = await _db(coverage, store, actor, c.campaign_id, _level(request))
    back = await _db(lookback, store, actor, c.campaign_id)
    return render(
        request,
        "campaign.html",
        c=c,
        rows=rows,
        level=_level(request),
        KIND_ZH=KIND_ZH,
        back=back,
    )


async def campaign_xlsx(request: web.Request) -> web.Response:
    store = request.app[STORE]
    cid = request.match_info["campaign_id"]
    return web.Response(
        body=await _db(summary_xlsx, store, _actor(request), cid),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="campaign-{cid}.xlsx"'},
    )


async def plans_page(request: web.Request) -> web.Response:
    return render(request, "plans.html", plans=await _db(plans, request.app[STORE], _actor(request)))


async def api_create_clue(request: web.Request) -> web.Response:
    try:
        body = await _json_object(request)
        clue_id, created = await _db(
            request.app[STORE].create_clue,
            _actor(request),
            str(body.get("household_id", "")),
            str(body.get("source", "")),
            str(body.get("note", "")),
            authorisation_signed=bool(body.get("authorisation_signed")),
        )
    except WorkflowError as exc:
        return api_error(exc.status, exc.code, exc.zh)
    except (ValueError, TypeError):
        return api_error(400, "bad_request", '请求体须为 JSON 对象：{"household_id", "source", "note"}')
    request.app[WAKEUP].set()
    clue = await _db(request.app[STORE].clue, _actor(request), clue_id)
    return web.json_response(
        clue_json(clue) | {"created": created}, status=201 if created else 200, dumps=_dumps
    )


async def api_add_measure(request: web.Request) -> web.Response:
    try:
        body = await _json_object(request)
        seq = await _db(
            add_measure,
            request.app[STORE],
            _actor(request),
            request.match_info["clue_id"],
            str(body.get("group", "")),
            str(body.get("description", "")),
            _date_field(body.get("start_on"), "开始日期") or date.min,
            _date_field(body.get("end_on"), "结束日期", required=False),
        )
    except WorkflowError as exc:
        return api_error(exc.status, exc.code, exc.zh)
    except (ValueError, TypeError):
        return api_error(400, "bad_request", '请求体须为 JSON 对象：{"group", "description", "start_on"}')
    request.app[WAKEUP].set()
    return web.json_response({"clue_id": request.match_info["clue_id"], "seq": seq}, status=201)


async def api_plans(request: web.Request) -> web.Response:
    return web.json_response({"plans": await _db(plans, request.app[STORE], _actor(request))}, dumps=_dumps)


async def api_campaigns(request: web.Request) -> web.Response:
    found = await _db(campaigns, request.app[STORE])
    return web.json_response({"campaigns": [c.__dict__ for c in found]}, dumps=_dumps)


async def api_create_campaign(request: web.Request) -> web.Response:
    try:
        body = await _json_object(request)
        c = await _db(
            create_campaign,
            request.app[STORE],
            _actor(request),
            str(body.get("name", "")),
            [str(x) for x in body.get("scope", [])],
            _date_field(body.get("from"), "开始日期") or date.min,
            _date_field(body.get("to"), "结束日期") or date.min,
            [str(x) for x in body.get("kinds", [])],
        )
    except WorkflowError as exc:
        return api_error(exc.status, exc.code, exc.zh)
    except (ValueError, TypeError):
        return api_error(
            400, "bad_request", '请求体须为 JSON 对象：{"name", "scope": [...], "from", "to", "kinds": [...]}'
        )
    return web.json_response(c.__dict__, status=201, dumps=_dumps)


async def api_coverage(request: web.Request) -> web.Response:
    cid = request.match_info["campaign_id"]
    rows = await _db(coverage, request.app[STORE], _actor(request), cid, _level(request))
    return web.json_response({"campaign_id": cid, "level": _level(request), "areas": rows}, dumps=_dumps)


async def api_lookback(request: web.Request) -> web.Response:
    cid = request.match_info["campaign_id"]
    return web.json_response(
        {"campaign_id": cid, "households": await _db(lookback, request.app[STORE], _actor(request), cid)},
        dumps=_dumps,
    )


async def api_apply(request: web.Request) -> web.Response:
    if _rate_limited(request.remote or "?"):
        return api_error(429, "rate_limited", "提交过于频繁，请稍后再试")
    try:
        body = await _json_object(request)
        if body.get("consent") is not True:
            raise TypeError
        clue_id = await _db(
            submit_application,
            request.app[STORE],
            str(body.get("village_code", "")),
            str(body.get("household_id", "")),
            str(body.get("description", "")),
        )
    except WorkflowError as exc:
        return api_error(exc.status, exc.code, exc.zh)
    except (ValueError, TypeError):
        return api_error(
            400,
            "bad_request",
            '请求体须为 JSON：{"village_code", "household_id", "description", "consent": true}',
        )
    request.app[WAKEUP].set()
    return web.json_response({"received": clue_id}, status=201)


async def notice_page(request: web.Request) -> web.Response:
    village = request.match_info["village_code"]
    rows = await _db(request.app[STORE].notice, _actor(request), village)
    return render(request, "notice.html", village=village, rows=rows)


async def asset_check_page(request: web.Request) -> web.StreamResponse:
    county = request.match_info["county_code"]
    rows = await _db(request.app[STORE].asset_check, _actor(request), county)
    if request.query.get("format") == "xlsx":
        return _xlsx_response(county, rows)
    return render(request, "asset_check.html", county=county, rows=rows)


ASSET_COLUMNS = [
    ("household_id", "户编号"),
    ("village_code", "行政村代码"),
    ("township_code", "乡镇代码"),
    ("household_type", "农户类型"),
    ("persons", "家庭人口"),
    ("category", "拟纳入类别"),
    ("state", "当前环节"),
    ("concluded_at", "结论时间"),
    ("clue_id", "线索编号"),
]


def asset_check_xlsx(county: str, rows: list[dict[str, Any]]) -> bytes:
    """The county's asset-check list (财产检索名单) as a workbook."""
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook()
    ws = wb.active
    ws.title = "财产检索名单"
    ws.append([f"{county} 需开展财产检索的拟纳入监测对象（不含低保、特困）"])
    ws.append([label for _, label in ASSET_COLUMNS])
    for r in rows:
        ws.append([STATE_ZH[State(r[k])] if k == "state" else r[k] for k, _ in ASSET_COLUMNS])
    for col, width in zip("ABCDEFGHI", (26, 16, 12, 10, 10, 16, 14, 22, 28), strict=True):
        ws.column_dimensions[col].width = width
    wb.properties.creator = "dixian"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_response(county: str, rows: list[dict[str, Any]]) -> web.Response:
    return web.Response(
        body=asset_check_xlsx(county, rows),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="asset-check-{county}.xlsx"'},
    )


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "schema": await _db(request.app[STORE].db.schema_version)})


# ---- API --------------------------------------------------------------------------------------------
def clue_json(clue: Clue) -> dict[str, Any]:
    r = clue.row
    return {
        "clue_id": r["clue_id"],
        "source": r["source"],
        "household_id": r["household_id"],
        "village_code": r["village_code"],
        "township_code": r["township_code"],
        "county_code": r["county_code"],
        "rule_id": r["rule_id"],
        "rule_version": r["rule_version"],
        "department": r["department"],
        "title": r["title"],
        "explanation": r["explanation"],
        "risk_label": r["risk_label"],
        "severity": r["severity"],
        "hits": r["hits"],
        "revision": r["revision"],
        "state": r["state"],
        "state_zh": STATE_ZH[clue.state],
        "proposal": r["proposal"],
        "category": r["category"],
        "outcome": r["outcome"],
        "campaign_id": r["campaign_id"],
        "household_kind": r["household_kind"],
        "clue_date": r["clue_date"],
        "visit_by": r["visit_by"],
        "decide_by": r["decide_by"],
        "visited_on": r["visited_on"],
        "notice_from": r["notice_from"],
        "overdue": clue.deadline.overdue,
        "deadline": clue.deadline.label,
    }


async def api_login(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        username, password = str(body["username"]), str(body["password"])
    except (ValueError, KeyError, TypeError):
        return api_error(400, "bad_request", '请求体须为 JSON：{"username": "...", "password": "..."}')
    token = await _db(request.app[STORE].login, username, password)
    if token is None:
        return api_error(401, "bad_credentials", "账号或密码不正确，或账号已停用，或连续输错5次被锁定15分钟")
    actor = await _db(request.app[STORE].actor, token)
    assert actor is not None
    return web.json_response(
        {"token": token, "username": actor.username, "role": actor.role.value, "scope": actor.scope}
    )


async def api_logout(request: web.Request) -> web.Response:
    await _db(request.app[STORE].logout, request[TOKEN])
    return web.json_response({"ok": True})


async def api_me(request: web.Request) -> web.Response:
    a = _actor(request)
    return web.json_response({"username": a.username, "role": a.role.value, "scope": a.scope})


async def api_clues(request: web.Request) -> web.Response:
    return web.json_response({"clues": [clue_json(c) for c in await _list(request)]}, dumps=_dumps)


async def api_clue(request: web.Request) -> web.Response:
    store = request.app[STORE]
    clue = await _db(store.clue, _actor(request), request.match_info["clue_id"])
    out = clue_json(clue) | {"detail": clue.detail, "steps": await _db(store.steps, clue["clue_id"])}
    out["allowed_actions"] = _allowed_actions(_actor(request), clue)
    return web.json_response(out, dumps=_dumps)


async def api_act(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        body = await _json_object(request)
    except (ValueError, TypeError):
        return api_error(400, "bad_request", '请求体须为 JSON 对象，例如 {"action": "visit", "note": "..."}')
    try:
        req = Request.from_mapping(body)
        t = await _db(store.act, _actor(request), request.match_info["clue_id"], req)
    except WorkflowError as exc:
        request.app[METRICS].refused.labels(exc.code).inc()
        return api_error(exc.status, exc.code, exc.zh)
    request.app[METRICS].steps.labels(t.step, _actor(request).role.value).inc()
    request.app[WAKEUP].set()
    clue = await _db(store.clue, _actor(request), request.match_info["clue_id"])
    return web.json_response(clue_json(clue), dumps=_dumps)


async def api_notice(request: web.Request) -> web.Response:
    village = request.match_info["village_code"]
    return web.json_response(
        {
            "village_code": village,
            "households": await _db(request.app[STORE].notice, _actor(request), village),
        }
    )


async def api_asset_check(request: web.Request) -> web.StreamResponse:
    county = request.match_info["county_code"]
    rows = await _db(request.app[STORE].asset_check, _actor(request), county)
    if request.query.get("format") == "xlsx":
        return _xlsx_response(county, rows)
    return web.json_response({"county_code": county, "households": rows}, dumps=_dumps)


async def api_spec(request: web.Request) -> web.Response:
    return web.json_response(openapi.SPEC, dumps=_dumps)


async def api_docs(request: web.Request) -> web.Response:
    return render(request, "api_docs.html", spec=openapi.SPEC)


async def metrics(request: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # noqa: PLC0415

    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def stylesheet(request: web.Request) -> web.Response:
    from importlib import resources  # noqa: PLC0415

    css = resources.files("screening").joinpath("static", "style.css").read_text(encoding="utf-8")
    return web.Response(text=css, content_type="text/css", headers={"Cache-Control": "max-age=3600"})


# ---- the outbox publisher, in the server's process -----------------------------------------------
async def _outbox(app: web.Application) -> None:
    store, sink, topics, wakeup = app[STORE], app[OUTBOX], app[TOPICS], app[WAKEUP]
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=2.0)
        wakeup.clear()
        try:
            sent = await publish_pending(store, sink, topics)
            if sent:
                app[METRICS].published.inc(sent)
                log.info("published %d screening steps to %s", sent, topics.conclusions)
        except Exception:  # the broker may be away for a while: the steps stay pending and are retried
            log.exception("publishing screening steps failed; will retry")
            await asyncio.sleep(2.0)


async def _start_outbox(app: web.Application) -> None:
    await app[OUTBOX].start()
    app[OUTBOX_TASK] = asyncio.create_task(_outbox(app))


async def _stop_outbox(app: web.Application) -> None:
    app[OUTBOX_TASK].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[OUTBOX_TASK]
    with contextlib.suppress(Exception):
        await publish_pending(app[STORE], app[OUTBOX], app[TOPICS])
    await app[OUTBOX].stop()


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/login", login_page),
    ("POST", "/login", login_post),
    ("POST", "/logout", logout_post),
    ("GET", "/", queue_page),
    ("GET", "/clues/new", new_clue_page),
    ("POST", "/clues/new", new_clue_post),
    ("GET", "/clues/{clue_id}", clue_page),
    ("POST", "/clues/{clue_id}", clue_post),
    ("POST", "/clues/{clue_id}/measures", measure_post),
    ("GET", "/apply", apply_page),
    ("POST", "/apply", apply_post),
    ("GET", "/campaigns", campaigns_page),
    ("GET", "/campaigns/{campaign_id}", campaign_page),
    ("GET", "/campaigns/{campaign_id}/summary.xlsx", campaign_xlsx),
    ("GET", "/plans", plans_page),
    ("GET", "/villages/{village_code}/notice", notice_page),
    ("GET", "/counties/{county_code}/asset-check", asset_check_page),
    ("GET", "/healthz", healthz),
    ("GET", "/metrics", metrics),
    ("GET", "/static/style.css", stylesheet),
    ("POST", "/api/v1/login", api_login),
    ("POST", "/api/v1/logout", api_logout),
    ("GET", "/api/v1/me", api_me),
    ("GET", "/api/v1/clues", api_clues),
    ("POST", "/api/v1/clues", api_create_clue),
    ("POST", "/api/v1/clues/{clue_id}/measures", api_add_measure),
    ("GET", "/api/v1/plans", api_plans),
    ("GET", "/api/v1/campaigns", api_campaigns),
    ("POST", "/api/v1/campaigns", api_create_campaign),
    ("GET", "/api/v1/campaigns/{campaign_id}/coverage", api_coverage),
    ("GET", "/api/v1/campaigns/{campaign_id}/lookback", api_lookback),
    ("POST", "/api/v1/applications", api_apply),
    ("GET", "/api/v1/clues/{clue_id}", api_clue),
    ("POST", "/api/v1/clues/{clue_id}/actions", api_act),
    ("GET", "/api/v1/villages/{village_code}/notice", api_notice),
    ("GET", "/api/v1/counties/{county_code}/asset-check", api_asset_check),
    ("GET", "/api/openapi.json", api_spec),
    ("GET", "/api/docs", api_docs),
]


def create_app(
    store: Store, outbox: Sink, topics: Topics, clock_note: str = "", *, secure_cookies: bool = False
) -> web.Application:
    app = web.Application(middlewares=[authenticate], client_max_size=256 * 1024)
    app[STORE] = store
    app[OUTBOX] = outbox
    app[TOPICS] = topics
    app[WAKEUP] = asyncio.Event()
    app[CLOCK_NOTE] = clock_note
    app[METRICS] = QueueMetrics(store)
    app[SECURE] = secure_cookies
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app.on_startup.append(_start_outbox)
    app.on_cleanup.append(_stop_outbox)
    return app


def today_note(store: Store) -> str:
    real = date.today()
    return "" if store.today() == real else f"演示时钟：今天按 {store.today()} 计算期限"
