"""What the pages and the API share: the application's state keys, rendering, running store calls off
the event loop, the public form's rate limiter, and the one mapping from a refusal to an HTTP status."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import jinja2
from aiohttp import web

from connectors.sinks import Sink
from dixian.contract.departments import Dept
from dixian.contract.events import EVENT_TYPE_ZH
from dixian.contract.vocabulary import (
    AssetResult,
    ClueSource,
    ClueState,
    CorrectionField,
    CorrectionStatus,
    Decision,
    HouseholdKind,
    MeasureStatus,
    MonitoringCategory,
    NotifyMethod,
    Outcome,
    Proposal,
    Role,
    Severity,
    Step,
    VisitMode,
    labels,
)
from dixian.geo import county_name
from dixian.topics import Topics
from rules.describe import FIELD_ZH
from screening import auth
from screening.auth import Actor
from screening.metrics import QueueMetrics
from screening.refusal import NotFound, Refusal
from screening.store import Store

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE = "dixian_session"


class RateLimiter:
    """At most ``per_hour`` submissions per client address in any hour (the public form), counted in
    the store: a restart does not reset it, and servers sharing a store share it."""

    def __init__(self, store: Store, per_hour: int = 10, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.per_hour = per_hour
        self.clock = clock

    def limited(self, client: str) -> bool:
        """Count this submission; True when the client already made ``per_hour`` in the last hour."""
        now = self.clock()
        digest = hashlib.blake2b(client.encode(), digest_size=12, person=b"dixian-apply").hexdigest()
        db = self.store.db
        with db.transaction():
            db.execute("DELETE FROM submissions WHERE at < ?", (now - 3600,))
            row = db.one("SELECT COUNT(*) AS n FROM submissions WHERE client = ?", (digest,))
            recent = int(row["n"]) if row else 0
            db.execute("INSERT INTO submissions (client, at) VALUES (?, ?)", (digest, now))
        return recent >= self.per_hour


STORE: web.AppKey[Store] = web.AppKey("store", Store)
OUTBOX: web.AppKey[Sink] = web.AppKey("outbox_sink")
TOPICS: web.AppKey[Topics] = web.AppKey("topics", Topics)
WAKEUP: web.AppKey[asyncio.Event] = web.AppKey("outbox_wakeup", asyncio.Event)
CLOCK_NOTE: web.AppKey[str] = web.AppKey("clock_note", str)
OUTBOX_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("outbox_task")
METRICS: web.AppKey[QueueMetrics] = web.AppKey("metrics", QueueMetrics)
SECURE: web.AppKey[bool] = web.AppKey("secure_cookies", bool)
PROXIES: web.AppKey[frozenset[str]] = web.AppKey("trusted_proxies", frozenset)
LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter", RateLimiter)
ACTOR: web.RequestKey[Actor] = web.RequestKey("actor", Actor)
TOKEN: web.RequestKey[str] = web.RequestKey("token", str)

# The HTTP status of each refusal code that is not a plain bad request (400).
_STATUS = {
    "not_found": 404,
    "out_of_scope": 403,
    "wrong_role": 403,
    "closed": 409,
    "measure_closed": 409,
    "concurrent_change": 409,
    "notice_too_short": 409,
    "out_of_order": 409,
    "already_notified": 409,
    "already_corrected": 409,
    "asset_check_missing": 409,
    "asset_check_failed": 409,
    "not_proposed": 409,
    "not_visited": 409,
}


def status_of(refusal: Refusal) -> int:
    return _STATUS.get(refusal.code, 400)


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("screening", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(
    COUNTY=county_name,
    STATE_ZH=labels(ClueState),
    ROLE_ZH=labels(Role),
    PROPOSAL_ZH=labels(Proposal),
    OUTCOME_ZH=labels(Outcome),
    STEP_ZH=labels(Step),
    MEASURE_ZH=labels(MeasureStatus),
    VISIT_MODE_ZH=labels(VisitMode),
    NOTIFY_ZH=labels(NotifyMethod),
    ASSET_ZH=labels(AssetResult),
    CORRECTION_FIELD_ZH=labels(CorrectionField),
    CORRECTION_STATUS_ZH=labels(CorrectionStatus),
    DECISION_ZH=labels(Decision),
    SEVERITY_ZH=labels(Severity),
    DEPT_ZH=labels(Dept),
    SOURCE_ZH=labels(ClueSource),
    KIND_ZH=labels(HouseholdKind),
    CATEGORIES=[c.value for c in MonitoringCategory],
    PROPOSALS=[p.value for p in Proposal],
    EVENT_TYPE_ZH=EVENT_TYPE_ZH,
    FIELD_ZH=FIELD_ZH,
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
        AREA=store.areas.label,
        PLACE=store.areas.path,
        **ctx,
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Store calls run in a worker thread: a slow database query never stalls the event loop (the
    Database serialises its connection with a lock)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


def api_error(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": code, "message": message}, status)


def over_https(request: web.Request) -> bool:
    """Whether the caller reached us over HTTPS: TLS on this listener, or a reverse proxy we trust
    (by its address) saying so in X-Forwarded-Proto. A header from anyone else is not believed."""
    if request.secure:
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and (request.remote or "") in request.app[PROXIES]


def actor_of(request: web.Request) -> Actor:
    return request[ACTOR]


def seq_param(request: web.Request, thing: str = "这项帮扶措施") -> int:
    """A measure's (or another numbered item's) number from the path (1–9999): anything else is no
    such item."""
    text = request.match_info["seq"]
    if not (text.isascii() and text.isdigit() and 1 <= len(text) <= 4 and int(text) > 0):
        raise NotFound(f"没有{thing}")
    return int(text)


def count_refusal(request: web.Request, refusal: Refusal) -> None:
    request.app[METRICS].refused.labels(refusal.code).inc()
