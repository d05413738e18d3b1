"""The officers' pages: server-rendered Chinese HTML, sized for a phone. Every form carries the
session's CSRF field; every read and write goes through the store with the caller's ``Actor``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from aiohttp import web
from multidict import MultiDictProxy

from dixian.contract.deadlines import NOTIFY_DAYS
from dixian.contract.vocabulary import RECORDED_SOURCES, ClueState, MeasureStatus, Step, labels
from dixian.geo import county_name
from screening import auth
from screening.announcements import announcement, notify, unnotified
from screening.assets import record_asset_check
from screening.audit import AuditAction
from screening.auth import Actor
from screening.campaigns import LEVELS, campaigns, coverage, get_campaign, lookback, summary_xlsx
from screening.clues import Clue
from screening.corrections import add_correction, county_list, mark_corrected, of_clue
from screening.exports import XLSX, asset_check_xlsx, corrections_xlsx
from screening.forms import KINDS, measure_groups, visit_form
from screening.plans import MeasureChange, add_measure, plan_for, plans, update_measure
from screening.refusal import NotFound, Refusal, ScopeError
from screening.store import Store
from screening.web.common import (
    COOKIE,
    LIMITER,
    METRICS,
    SECURE,
    STORE,
    TOKEN,
    WAKEUP,
    Handler,
    actor_of,
    count_refusal,
    in_thread,
    over_https,
    render,
    seq_param,
    status_of,
)
from screening.web.requests import QueueQuery, parse_query
from screening.workflow import ACTION_RULE, Request

log = logging.getLogger("dixian.screening.web")
BAD_LOGIN = "账号或密码不正确，或账号已停用，或连续输错5次被锁定15分钟"
_MULTI = {q.id for kind in KINDS for q in visit_form(kind).questions if q.type == "multi"}


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", next=request.query.get("next", "/"), error="")


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    token = await in_thread(request.app[STORE].accounts.login, username, password, request.remote or "")
    nxt = _safe_next(str(form.get("next", "/")))
    if token is None:
        # the typed name is not logged: people type ID numbers and passwords into that field
        log.info("failed login (%d characters typed as the account name)", len(username))
        return render(request, "login.html", 401, next=nxt, error=BAD_LOGIN)
    resp = web.HTTPFound(nxt)
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        max_age=12 * 3600,
        path="/",
        secure=request.app[SECURE] or over_https(request),
    )
    raise resp


def _check_csrf(request: web.Request, form: MultiDictProxy[Any]) -> None:
    if str(form.get("csrf", "")) != auth.csrf_token(request[TOKEN]):
        raise Refusal("csrf", "表单已过期，请刷新页面后重新提交")


async def logout_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    _check_csrf(request, form)
    await in_thread(request.app[STORE].accounts.logout, request[TOKEN], request.remote or "")
    resp = web.HTTPFound("/login")
    resp.del_cookie(COOKIE, path="/")
    raise resp


def queue_view(request: web.Request) -> str:
    return parse_query(request.query).view


@dataclass(frozen=True)
class QueuePage:
    clues: list[Clue]  # this page's
    total: int
    overdue: int
    page: int
    pages: int
    query: QueueQuery


async def listed_clues(request: web.Request) -> QueuePage:
    """The queue as the page and the API list it: to do, all open, or closed; narrowed by area,
    state, source, risk, household number and overdue; one page of it."""
    actor, query = actor_of(request), parse_query(request.query)
    clues = await in_thread(
        request.app[STORE].clues.queue,
        actor,
        todo=query.view == "todo",
        village=query.village,
        include_closed=query.view == "closed",
        where=query.where(),
    )
    if query.view == "closed":
        clues = [c for c in clues if c.state == ClueState.CLOSED]
    pages = max(1, -(-len(clues) // query.size))
    start = (query.page - 1) * query.size
    return QueuePage(
        clues[start : start + query.size],
        len(clues),
        sum(1 for c in clues if c.deadline.overdue),
        query.page,
        pages,
        query,
    )


async def queue_page(request: web.Request) -> web.Response:
    listed = await listed_clues(request)
    return render(
        request,
        "queue.html",
        clues=listed.clues,
        listed=listed,
        view=listed.query.view,
        overdue=listed.overdue,
        query=listed.query,
        page_url=lambda n: (
            "/?" + urlencode([*((k, v) for k, v in request.query.items() if k != "page"), ("page", n)])
        ),
    )


def allowed_actions(actor: Actor, clue: Clue) -> list[str]:
    return [a.value for a, (state, role) in ACTION_RULE.items() if state == clue.state and role == actor.role]


def _clue_context(store: Store, actor: Actor, clue_id: str) -> dict[str, Any]:
    clue = store.clues.get(actor, clue_id)
    kind = clue["household_kind"]
    return {
        "clue": clue,
        "detail": clue.detail,
        "steps": store.clues.steps(clue["clue_id"]),
        "items": store.clues.items(clue["clue_id"]),
        "household": store.ledger.household(clue["household_id"]),
        "actions": allowed_actions(actor, clue),
        "visit_form": visit_form(kind) if kind else None,
        "answers": json.loads(clue["form_json"]) if clue["form_json"] else None,
        "plan": plan_for(store, actor, clue["clue_id"]),
        "groups": measure_groups(),
        "corrections": of_clue(store, clue["clue_id"]),
    }


async def clue_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    ctx = await in_thread(_clue_context, request.app[STORE], actor_of(request), request.match_info["clue_id"])
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
        fields.pop("team1", None)
        fields.pop("team2", None)
        if team := _team(form):
            fields["team"] = list(team)
        req = Request.from_mapping(fields)
        t = await in_thread(request.app[STORE].clues.act, actor_of(request), clue_id, req)
    except (NotFound, ScopeError):
        raise  # the error page (middleware), not the form
    except Refusal as exc:
        count_refusal(request, exc)
        return await clue_page(request, error=exc.zh, status=status_of(exc))
    request.app[METRICS].steps.labels(t.step, actor_of(request).role.value).inc()
    request.app[WAKEUP].set()
    raise web.HTTPSeeOther(f"/clues/{quote(clue_id)}?done={quote(Step(req.action).zh)}")


def date_field(value: Any, label: str, *, required: bool = True) -> date | None:
    text = str(value or "").strip()
    if not text:
        if required:
            raise Refusal("date_required", f"请填写{label}")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refusal("bad_date", f"{label}格式不对：{text}（应为 YYYY-MM-DD）") from None


PostedForm = MultiDictProxy[Any]
T = TypeVar("T")


async def written_form(
    request: web.Request,
    write: Callable[[Store, Actor, PostedForm], T],
    page: Callable[..., Awaitable[web.Response]],
) -> T | web.Response:
    """A posted form: checked (CSRF) and written in a worker thread; what ``write`` returned, or
    ``page`` re-rendered with the refusal. An unknown or out-of-scope record goes to the error page
    (middleware), not the form."""
    form = await request.post()
    try:
        _check_csrf(request, form)
        return await in_thread(write, request.app[STORE], actor_of(request), form)
    except (NotFound, ScopeError):
        raise
    except Refusal as exc:
        count_refusal(request, exc)
        return await page(request, error=exc.zh, status=status_of(exc))


async def _clue_form(
    request: web.Request,
    write: Callable[[Store, Actor, str, PostedForm], Step],
    anchor: str = "",
) -> web.StreamResponse:
    """A form posted on a clue's page (``write`` returns the step it recorded), then back to the page
    saying so; a refusal is shown on the page."""
    clue_id = request.match_info["clue_id"]
    step = await written_form(
        request, lambda store, actor, form: write(store, actor, clue_id, form), clue_page
    )
    if isinstance(step, web.StreamResponse):  # refused: the page says why
        return step
    request.app[METRICS].steps.labels(step.value, actor_of(request).role.value).inc()
    request.app[WAKEUP].set()
    raise web.HTTPSeeOther(f"/clues/{quote(clue_id)}?done={quote(step.zh)}{anchor}")


def _team(form: PostedForm) -> tuple[str, ...] | None:
    return (
        tuple(t for t in (str(form.get("team1", "")).strip(), str(form.get("team2", "")).strip()) if t)
        or None
    )


async def measure_post(request: web.Request) -> web.StreamResponse:
    def write(store: Store, actor: Actor, clue_id: str, form: PostedForm) -> Step:
        add_measure(
            store,
            actor,
            clue_id,
            str(form.get("group", "")),
            str(form.get("description", "")),
            date_field(form.get("start_on"), "开始日期") or date.min,
            date_field(form.get("end_on"), "结束日期", required=False),
        )
        return Step.PLAN_MEASURE

    return await _clue_form(request, write, "#plan")


async def notification_post(request: web.Request) -> web.StreamResponse:
    def write(store: Store, actor: Actor, clue_id: str, form: PostedForm) -> Step:
        when = date_field(form.get("notified_on"), "告知日期") or date.min
        notify(store, actor, clue_id, when, str(form.get("method", "")), str(form.get("note", "")))
        return Step.NOTIFY

    return await _clue_form(request, write, "#notify")


async def asset_check_post(request: web.Request) -> web.StreamResponse:
    def write(store: Store, actor: Actor, clue_id: str, form: PostedForm) -> Step:
        when = date_field(form.get("checked_on"), "检索日期") or date.min
        record_asset_check(
            store,
            actor,
            clue_id,
            str(form.get("result", "")),
            when,
            reason=str(form.get("reason", "")),
            found=str(form.get("found", "")),
        )
        return Step.ASSET_CHECK

    return await _clue_form(request, write, "#asset-check")


async def correction_post(request: web.Request) -> web.StreamResponse:
    def write(store: Store, actor: Actor, clue_id: str, form: PostedForm) -> Step:
        add_correction(
            store,
            actor,
            clue_id,
            str(form.get("field", "")),
            str(form.get("recorded", "")),
            str(form.get("found", "")),
            str(form.get("evidence", "")),
        )
        return Step.CORRECTION

    return await _clue_form(request, write, "#corrections")


async def corrected_post(request: web.Request) -> web.StreamResponse:
    seq = seq_param(request, "这条账实不符")

    def write(store: Store, actor: Actor, clue_id: str, form: PostedForm) -> Step:
        mark_corrected(
            store, actor, clue_id, seq, date_field(form.get("corrected_on"), "更正日期") or date.min
        )
        return Step.CORRECTION

    return await _clue_form(request, write, "#corrections")


async def county_corrections(request: web.Request) -> tuple[str, str | None, list[dict[str, Any]]]:
    """The county's correction list the request asks for (``?status=``), with area names."""
    county = request.match_info["county_code"]
    store = request.app[STORE]
    status = request.query.get("status") or None
    rows = await in_thread(county_list, store, actor_of(request), county, status)
    return county, status, store.areas.with_names(rows)


async def corrections_page(request: web.Request) -> web.StreamResponse:
    county, status, rows = await county_corrections(request)
    if request.query.get("format") == "xlsx":
        return await xlsx_response(request, corrections_xlsx(county, rows), f"corrections-{county}.xlsx")
    return render(request, "corrections.html", county=county, rows=rows, selected=status)


async def notifications_page(request: web.Request) -> web.Response:
    rows = await in_thread(unnotified, request.app[STORE], actor_of(request))
    return render(request, "notifications.html", rows=rows, notify_days=NOTIFY_DAYS)


def announcement_period(request: web.Request, today: date) -> tuple[date, date]:
    """The period of an announcement from the query (default: this month so far)."""
    try:
        start = date.fromisoformat(request.query.get("from") or today.replace(day=1).isoformat())
        end = date.fromisoformat(request.query.get("to") or today.isoformat())
    except ValueError:
        raise Refusal("bad_date", "日期格式不对（应为 YYYY-MM-DD）") from None
    return start, end


async def announcement_page(request: web.Request) -> web.Response:
    store, county = request.app[STORE], request.match_info["county_code"]
    start, end = announcement_period(request, store.today())
    rows = await in_thread(announcement, store, actor_of(request), county, start, end)
    return render(
        request,
        "announcement.html",
        county=county,
        county_name=county_name(county),
        rows=rows,
        period_from=start,
        period_to=end,
    )


async def in_person_post(request: web.Request) -> web.StreamResponse:
    def write(store: Store, actor: Actor, clue_id: str, form: PostedForm) -> Step:
        when = date_field(form.get("visited_on"), "入户日期") or date.min
        store.clues.in_person(actor, clue_id, when, str(form.get("note", "")), _team(form))
        return Step.IN_PERSON

    return await _clue_form(request, write)


async def measure_update_post(request: web.Request) -> web.StreamResponse:
    seq = seq_param(request)

    def write(store: Store, actor: Actor, clue_id: str, form: PostedForm) -> Step:
        change = MeasureChange(
            status=str(form.get("status", "")),
            description=str(form.get("description", "")).strip() or None,
            end_on=date_field(form.get("end_on"), "计划结束日期", required=False),
            result=str(form.get("result", "")),
            closed_on=date_field(form.get("closed_on"), "结项日期", required=False),
        )
        status = update_measure(store, actor, clue_id, seq, change)
        return Step.MEASURE_UPDATE if status == MeasureStatus.ACTIVE else Step.MEASURE_CLOSE

    return await _clue_form(request, write, "#plan")


async def new_clue_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    return render(request, "new_clue.html", status, error=error, sources=labels(RECORDED_SOURCES))


async def new_clue_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        _check_csrf(request, form)
        clue_id, _ = await in_thread(
            request.app[STORE].clues.create,
            actor_of(request),
            str(form.get("household_id", "")).strip(),
            str(form.get("source", "")),
            str(form.get("note", "")),
            authorisation_signed=form.get("authorisation_signed") == "yes",
        )
    except ScopeError:
        raise
    except Refusal as exc:
        return await new_clue_page(request, error=exc.zh, status=status_of(exc))
    request.app[WAKEUP].set()
    raise web.HTTPSeeOther(f"/clues/{quote(clue_id)}?done={quote(Step.OPEN.zh)}")


async def apply_page(request: web.Request) -> web.Response:
    return render(request, "apply.html", error="", done="")


async def apply_post(request: web.Request) -> web.Response:
    form = await request.post()
    if await in_thread(request.app[LIMITER].limited, request.remote or "?"):
        return render(request, "apply.html", 429, error="提交过于频繁，请稍后再试或联系村干部", done="")
    if form.get("consent") != "yes":
        return render(request, "apply.html", 400, error="请勾选同意核查家庭情况", done="")
    try:
        clue_id = await in_thread(
            request.app[STORE].clues.apply,
            str(form.get("village_code", "")).strip(),
            str(form.get("household_id", "")).strip(),
            str(form.get("description", "")),
        )
    except Refusal as exc:
        return render(request, "apply.html", status_of(exc), error=exc.zh, done="")
    request.app[WAKEUP].set()
    return render(request, "apply.html", error="", done=clue_id)


async def campaigns_page(request: web.Request) -> web.Response:
    return render(
        request, "campaigns.html", campaigns=await in_thread(campaigns, request.app[STORE], actor_of(request))
    )


def coverage_level(request: web.Request) -> str:
    level = request.query.get("level", "county")
    return level if level in LEVELS else "county"


async def campaign_page(request: web.Request) -> web.Response:
    store, actor = request.app[STORE], actor_of(request)
    c = await in_thread(get_campaign, store, request.match_info["campaign_id"], actor_of(request))
    rows = await in_thread(coverage, store, actor, c.campaign_id, coverage_level(request))
    back = await in_thread(lookback, store, actor, c.campaign_id)
    return render(request, "campaign.html", c=c, rows=rows, level=coverage_level(request), back=back)


async def campaign_xlsx(request: web.Request) -> web.Response:
    cid = request.match_info["campaign_id"]
    body = await in_thread(summary_xlsx, request.app[STORE], actor_of(request), cid)
    return await xlsx_response(request, body, f"campaign-{cid}.xlsx")


async def plans_page(request: web.Request) -> web.Response:
    return render(request, "plans.html", plans=await in_thread(plans, request.app[STORE], actor_of(request)))


async def notice_page(request: web.Request) -> web.Response:
    village = request.match_info["village_code"]
    rows = await in_thread(request.app[STORE].clues.notice, actor_of(request), village)
    return render(request, "notice.html", village=village, rows=rows)


AUDIT_PAGE = 200


async def audit_page(request: web.Request) -> web.Response:
    before = request.query.get("before") or None
    entries = await in_thread(
        request.app[STORE].audit.entries, actor_of(request), limit=AUDIT_PAGE, before=before
    )
    return render(request, "audit.html", entries=entries, limit=AUDIT_PAGE)


async def xlsx_response(request: web.Request, body: bytes, filename: str) -> web.Response:
    """A workbook download, recorded in the audit log (who, which file, from where)."""
    who, where = actor_of(request).username, request.remote or ""
    await in_thread(request.app[STORE].audit.record, who, AuditAction.EXPORT, filename, client=where)
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def asset_check_page(request: web.Request) -> web.StreamResponse:
    county = request.match_info["county_code"]
    store = request.app[STORE]
    rows = store.areas.with_names(await in_thread(store.clues.asset_check, actor_of(request), county))
    if request.query.get("format") == "xlsx":
        return await xlsx_response(request, asset_check_xlsx(county, rows), f"asset-check-{county}.xlsx")
    return render(request, "asset_check.html", county=county, rows=rows)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/login", login_page),
    ("GET", "/audit", audit_page),
    ("POST", "/login", login_post),
    ("POST", "/logout", logout_post),
    ("GET", "/", queue_page),
    ("GET", "/clues/new", new_clue_page),
    ("POST", "/clues/new", new_clue_post),
    ("GET", "/clues/{clue_id}", clue_page),
    ("POST", "/clues/{clue_id}", clue_post),
    ("POST", "/clues/{clue_id}/measures", measure_post),
    ("POST", "/clues/{clue_id}/in-person", in_person_post),
    ("POST", "/clues/{clue_id}/notification", notification_post),
    ("POST", "/clues/{clue_id}/asset-check", asset_check_post),
    ("POST", "/clues/{clue_id}/corrections", correction_post),
    ("POST", "/clues/{clue_id}/corrections/{seq}", corrected_post),
    ("GET", "/counties/{county_code}/corrections", corrections_page),
    ("GET", "/notifications", notifications_page),
    ("GET", "/counties/{county_code}/announcement", announcement_page),
    ("POST", "/clues/{clue_id}/measures/{seq}", measure_update_post),
    ("GET", "/apply", apply_page),
    ("POST", "/apply", apply_post),
    ("GET", "/campaigns", campaigns_page),
    ("GET", "/campaigns/{campaign_id}", campaign_page),
    ("GET", "/campaigns/{campaign_id}/summary.xlsx", campaign_xlsx),
    ("GET", "/plans", plans_page),
    ("GET", "/villages/{village_code}/notice", notice_page),
    ("GET", "/counties/{county_code}/asset-check", asset_check_page),
]
