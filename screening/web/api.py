"""The JSON API (``/api/v1``, described by ``/api/openapi.json``): the same operations as the pages,
authenticated with ``Authorization: Bearer <token>`` from ``POST /api/v1/login``. Bodies are parsed
into the strict models of ``screening.web.requests``; refusals become ``{"error", "message"}`` in the
middleware."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dixian.contract.vocabulary import Step
from screening.announcements import announcement, notify, unnotified
from screening.assets import record_asset_check
from screening.campaigns import campaigns, coverage, create_campaign, lookback
from screening.clues import Clue
from screening.corrections import add_correction, mark_corrected, of_clue
from screening.exports import asset_check_xlsx, corrections_xlsx
from screening.plans import add_measure, plans, update_measure
from screening.web import openapi
from screening.web.common import (
    LIMITER,
    METRICS,
    STORE,
    TOKEN,
    WAKEUP,
    Handler,
    actor_of,
    api_error,
    in_thread,
    json_response,
    render,
    seq_param,
)
from screening.web.pages import (
    BAD_LOGIN,
    allowed_actions,
    announcement_period,
    county_corrections,
    coverage_level,
    listed_clues,
    xlsx_response,
)
from screening.web.requests import (
    ActionBody,
    ApplicationBody,
    AssetCheckBody,
    CampaignBody,
    CorrectedBody,
    CorrectionBody,
    InPersonBody,
    LoginBody,
    MeasureBody,
    MeasureUpdateBody,
    NewClueBody,
    NotificationBody,
    parse,
)


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
        "state_zh": clue.state.zh,
        "proposal": r["proposal"],
        "category": r["category"],
        "outcome": r["outcome"],
        "campaign_id": r["campaign_id"],
        "household_kind": r["household_kind"],
        "clue_date": r["clue_date"],
        "visit_by": r["visit_by"],
        "decide_by": r["decide_by"],
        "visited_on": r["visited_on"],
        "visit_mode": r["visit_mode"],
        "visit_team": r["visit_team"],
        "online_pending": bool(r["online_pending"]),
        "in_person_on": r["in_person_on"],
        "notice_from": r["notice_from"],
        "asset_result": r["asset_result"],
        "asset_checked_on": r["asset_checked_on"],
        "asset_reason": r["asset_reason"],
        "asset_found": r["asset_found"],
        "overdue": clue.deadline.overdue,
        "deadline": clue.deadline.label,
        "items": r["items"],
        "new_risk": bool(r["new_risk"]),
        "monitored_risk": bool(r["monitored_risk"]),
    }


def item_json(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("item_id", "source", "rule_id", "rule_version", "department", "title", "explanation",
            "risk_label", "severity", "revision", "hits", "item_date")  # fmt: skip
    return {k: r[k] for k in keys} | {"after_visit": bool(r["after_visit"])}


async def api_login(request: web.Request) -> web.Response:
    body = parse(LoginBody, await request.read())
    store = request.app[STORE]
    token = await in_thread(store.accounts.login, body.username, body.password, request.remote or "")
    if token is None:
        return api_error(401, "bad_credentials", BAD_LOGIN)
    actor = await in_thread(store.accounts.actor, token)
    assert actor is not None
    return json_response(
        {"token": token, "username": actor.username, "role": actor.role.value, "scope": actor.scope}
    )


async def api_logout(request: web.Request) -> web.Response:
    await in_thread(request.app[STORE].accounts.logout, request[TOKEN], request.remote or "")
    return json_response({"ok": True})


async def api_me(request: web.Request) -> web.Response:
    a = actor_of(request)
    return json_response({"username": a.username, "role": a.role.value, "scope": a.scope})


async def api_clues(request: web.Request) -> web.Response:
    listed = await listed_clues(request)
    return json_response(
        {
            "clues": [clue_json(c) for c in listed.clues],
            "total": listed.total,
            "overdue": listed.overdue,
            "page": listed.page,
            "pages": listed.pages,
            "size": listed.query.size,
        }
    )


async def api_clue(request: web.Request) -> web.Response:
    store = request.app[STORE]
    clue = await in_thread(store.clues.get, actor_of(request), request.match_info["clue_id"])
    out = clue_json(clue) | {
        "detail": clue.detail,
        "steps": await in_thread(store.clues.steps, clue["clue_id"]),
        "risk_items": [item_json(i) for i in await in_thread(store.clues.items, clue["clue_id"])],
    }
    out["allowed_actions"] = allowed_actions(actor_of(request), clue)
    return json_response(out)


async def api_act(request: web.Request) -> web.Response:
    store, actor = request.app[STORE], actor_of(request)
    body = parse(ActionBody, await request.read())
    t = await in_thread(store.clues.act, actor, request.match_info["clue_id"], body.request())
    request.app[METRICS].steps.labels(t.step, actor.role.value).inc()
    request.app[WAKEUP].set()
    clue = await in_thread(store.clues.get, actor, request.match_info["clue_id"])
    return json_response(clue_json(clue))


async def api_create_clue(request: web.Request) -> web.Response:
    body = parse(NewClueBody, await request.read())
    store = request.app[STORE]
    clue_id, created = await in_thread(
        store.clues.create,
        actor_of(request),
        body.household_id,
        body.source,
        body.note,
        authorisation_signed=body.authorisation_signed,
    )
    request.app[WAKEUP].set()
    clue = await in_thread(store.clues.get, actor_of(request), clue_id)
    return json_response(clue_json(clue) | {"created": created}, status=201 if created else 200)


async def api_add_measure(request: web.Request) -> web.Response:
    body = parse(MeasureBody, await request.read())
    clue_id = request.match_info["clue_id"]
    seq = await in_thread(
        add_measure,
        request.app[STORE],
        actor_of(request),
        clue_id,
        body.group,
        body.description,
        body.start_on,
        body.end_on,
    )
    request.app[WAKEUP].set()
    return json_response({"clue_id": clue_id, "seq": seq}, status=201)


async def api_update_measure(request: web.Request) -> web.Response:
    body = parse(MeasureUpdateBody, await request.read())
    clue_id, seq = request.match_info["clue_id"], seq_param(request)
    status = await in_thread(
        update_measure, request.app[STORE], actor_of(request), clue_id, seq, body.change()
    )
    request.app[WAKEUP].set()
    return json_response({"clue_id": clue_id, "seq": seq, "status": status})


async def api_in_person(request: web.Request) -> web.Response:
    body = parse(InPersonBody, await request.read())
    clue_id = request.match_info["clue_id"]
    store = request.app[STORE]
    team = tuple(body.team) if body.team else None
    await in_thread(store.clues.in_person, actor_of(request), clue_id, body.visited_on, body.note, team)
    request.app[METRICS].steps.labels(Step.IN_PERSON.value, actor_of(request).role.value).inc()
    request.app[WAKEUP].set()
    clue = await in_thread(store.clues.get, actor_of(request), clue_id)
    return json_response(clue_json(clue))


async def api_notification(request: web.Request) -> web.Response:
    body = parse(NotificationBody, await request.read())
    clue_id = request.match_info["clue_id"]
    store = request.app[STORE]
    await in_thread(notify, store, actor_of(request), clue_id, body.notified_on, body.method, body.note)
    request.app[WAKEUP].set()
    return json_response(clue_json(await in_thread(store.clues.get, actor_of(request), clue_id)))


async def api_asset_check_result(request: web.Request) -> web.Response:
    body = parse(AssetCheckBody, await request.read())
    clue_id = request.match_info["clue_id"]
    store = request.app[STORE]
    actor = actor_of(request)
    await in_thread(
        record_asset_check,
        store,
        actor,
        clue_id,
        body.result,
        body.checked_on,
        reason=body.reason,
        found=body.found,
    )
    request.app[METRICS].steps.labels(Step.ASSET_CHECK.value, actor.role.value).inc()
    request.app[WAKEUP].set()
    return json_response(clue_json(await in_thread(store.clues.get, actor, clue_id)))


async def api_add_correction(request: web.Request) -> web.Response:
    body = parse(CorrectionBody, await request.read())
    clue_id = request.match_info["clue_id"]
    store = request.app[STORE]
    actor = actor_of(request)
    await in_thread(
        add_correction, store, actor, clue_id, body.field, body.recorded, body.found, body.evidence
    )
    request.app[WAKEUP].set()
    return json_response({"clue_id": clue_id, "corrections": await in_thread(of_clue, store, clue_id)})


async def api_corrected(request: web.Request) -> web.Response:
    seq = seq_param(request, "这条账实不符")
    body = parse(CorrectedBody, await request.read())
    clue_id = request.match_info["clue_id"]
    store = request.app[STORE]
    await in_thread(mark_corrected, store, actor_of(request), clue_id, seq, body.corrected_on)
    request.app[WAKEUP].set()
    return json_response({"clue_id": clue_id, "corrections": await in_thread(of_clue, store, clue_id)})


async def api_corrections(request: web.Request) -> web.StreamResponse:
    county, _, rows = await county_corrections(request)
    if request.query.get("format") == "xlsx":
        return await xlsx_response(request, corrections_xlsx(county, rows), f"corrections-{county}.xlsx")
    return json_response({"county_code": county, "corrections": rows})


async def api_notifications(request: web.Request) -> web.Response:
    return json_response({"unnotified": await in_thread(unnotified, request.app[STORE], actor_of(request))})


async def api_announcement(request: web.Request) -> web.Response:
    store, county = request.app[STORE], request.match_info["county_code"]
    start, end = announcement_period(request, store.today())
    rows = await in_thread(announcement, store, actor_of(request), county, start, end)
    return json_response(
        {"county_code": county, "from": start.isoformat(), "to": end.isoformat(), "households": rows}
    )


async def api_plans(request: web.Request) -> web.Response:
    return json_response({"plans": await in_thread(plans, request.app[STORE], actor_of(request))})


async def api_audit(request: web.Request) -> web.Response:
    q = request.query
    before = q.get("before") or None
    limit = q.get("limit", "200")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        return api_error(400, "bad_limit", "limit 应为 1–1000 的整数")
    entries = await in_thread(
        request.app[STORE].audit.entries, actor_of(request), limit=int(limit), before=before
    )
    return json_response({"entries": entries})


async def api_campaigns(request: web.Request) -> web.Response:
    found = await in_thread(campaigns, request.app[STORE], actor_of(request))
    return json_response({"campaigns": [c.__dict__ for c in found]})


async def api_create_campaign(request: web.Request) -> web.Response:
    body = parse(CampaignBody, await request.read())
    c = await in_thread(
        create_campaign,
        request.app[STORE],
        actor_of(request),
        body.name,
        body.scope,
        body.period_from,
        body.period_to,
        body.kinds,
    )
    return json_response(c.__dict__, status=201)


async def api_coverage(request: web.Request) -> web.Response:
    cid, level = request.match_info["campaign_id"], coverage_level(request)
    rows = await in_thread(coverage, request.app[STORE], actor_of(request), cid, level)
    return json_response({"campaign_id": cid, "level": level, "areas": rows})


async def api_lookback(request: web.Request) -> web.Response:
    cid = request.match_info["campaign_id"]
    rows = await in_thread(lookback, request.app[STORE], actor_of(request), cid)
    return json_response({"campaign_id": cid, "households": rows})


async def api_apply(request: web.Request) -> web.Response:
    if await in_thread(request.app[LIMITER].limited, request.remote or "?"):
        return api_error(429, "rate_limited", "提交过于频繁，请稍后再试")
    body = parse(ApplicationBody, await request.read())
    clue_id = await in_thread(
        request.app[STORE].clues.apply, body.village_code, body.household_id, body.description
    )
    request.app[WAKEUP].set()
    return json_response({"received": clue_id}, status=201)


async def api_notice(request: web.Request) -> web.Response:
    village = request.match_info["village_code"]
    rows = await in_thread(request.app[STORE].clues.notice, actor_of(request), village)
    return json_response({"village_code": village, "households": rows})


async def api_asset_check(request: web.Request) -> web.StreamResponse:
    county = request.match_info["county_code"]
    store = request.app[STORE]
    rows = store.areas.with_names(await in_thread(store.clues.asset_check, actor_of(request), county))
    if request.query.get("format") == "xlsx":
        return await xlsx_response(request, asset_check_xlsx(county, rows), f"asset-check-{county}.xlsx")
    return json_response({"county_code": county, "households": rows})


async def api_spec(request: web.Request) -> web.Response:
    return json_response(openapi.SPEC)


async def api_docs(request: web.Request) -> web.Response:
    return render(request, "api_docs.html", spec=openapi.SPEC)


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/api/v1/login", api_login),
    ("POST", "/api/v1/logout", api_logout),
    ("GET", "/api/v1/me", api_me),
    ("GET", "/api/v1/clues", api_clues),
    ("POST", "/api/v1/clues", api_create_clue),
    ("POST", "/api/v1/clues/{clue_id}/measures", api_add_measure),
    ("POST", "/api/v1/clues/{clue_id}/in-person", api_in_person),
    ("POST", "/api/v1/clues/{clue_id}/notification", api_notification),
    ("POST", "/api/v1/clues/{clue_id}/asset-check", api_asset_check_result),
    ("POST", "/api/v1/clues/{clue_id}/corrections", api_add_correction),
    ("POST", "/api/v1/clues/{clue_id}/corrections/{seq}", api_corrected),
    ("GET", "/api/v1/counties/{county_code}/corrections", api_corrections),
    ("GET", "/api/v1/notifications", api_notifications),
    ("GET", "/api/v1/counties/{county_code}/announcement", api_announcement),
    ("POST", "/api/v1/clues/{clue_id}/measures/{seq}", api_update_measure),
    ("GET", "/api/v1/plans", api_plans),
    ("GET", "/api/v1/audit", api_audit),
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
