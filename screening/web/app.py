"""The village queue's web server: the pages (``screening.web.pages``) and the JSON API
(``screening.web.api``) behind one middleware that authenticates the caller and turns every refusal
into its HTTP answer, and the outbox publisher that runs beside them.

Pages authenticate with an HttpOnly, SameSite=Strict session cookie and a per-session CSRF field on
every form; the API with ``Authorization: Bearer <token>``. Every read and write goes through the
store with the caller's ``Actor``: outside the caller's area is a refusal, never an empty page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date
from urllib.parse import quote

from aiohttp import web

from connectors.sinks import Sink
from dixian.topics import Topics
from screening.metrics import QueueMetrics
from screening.refusal import NotFound, Refusal
from screening.sink import publish_pending
from screening.store import Store
from screening.web import api, pages, tasks
from screening.web.common import (
    ACTOR,
    CLOCK_NOTE,
    COOKIE,
    LIMITER,
    METRICS,
    OUTBOX,
    OUTBOX_TASK,
    PROXIES,
    SECURE,
    STORE,
    TOKEN,
    TOPICS,
    WAKEUP,
    Handler,
    RateLimiter,
    api_error,
    count_refusal,
    in_thread,
    is_api,
    json_response,
    render,
    status_of,
)

log = logging.getLogger("dixian.screening.web")
PUBLIC = {
    "/login",
    "/healthz",
    "/apply",
    "/api/v1/applications",
    "/api/v1/login",
    "/api/openapi.json",
    "/api/docs",
    "/static/style.css",
    "/static/print.js",
}
_PAGE_TITLE = {"not_found": "未找到", "out_of_scope": "无权访问"}


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is calling (session cookie or bearer token), and the answer to every refusal."""
    store = request.app[STORE]
    token = None
    if is_api(request):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
    else:
        token = request.cookies.get(COOKIE)
    actor = await in_thread(store.accounts.actor, token) if token else None
    if actor is not None:
        assert token is not None
        request[ACTOR] = actor
        request[TOKEN] = token
    elif request.path not in PUBLIC:
        if is_api(request):
            return api_error(
                401, "unauthenticated", "未登录或登录已过期：请先调用 POST /api/v1/login 获取令牌"
            )
        raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
    try:
        return await handler(request)
    except Refusal as exc:
        if not isinstance(exc, NotFound):
            count_refusal(request, exc)
        status = status_of(exc)
        if is_api(request):
            return api_error(status, exc.code, exc.zh)
        title = _PAGE_TITLE.get(exc.code, "无法办理")
        return render(request, "error.html", status, title=title, message=exc.zh)


async def healthz(request: web.Request) -> web.Response:
    return json_response({"ok": True, "schema": await in_thread(request.app[STORE].db.schema_version)})


async def stylesheet(request: web.Request) -> web.Response:
    return _static("style.css", "text/css")


async def print_script(request: web.Request) -> web.Response:
    return _static("print.js", "text/javascript")


def _static(name: str, content_type: str) -> web.Response:
    from importlib import resources  # noqa: PLC0415

    text = resources.files("screening").joinpath("static", name).read_text(encoding="utf-8")
    return web.Response(text=text, content_type=content_type, headers={"Cache-Control": "max-age=3600"})


# ---- what every response carries, and what no response may be ------------------------------------
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        " frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


async def _harden(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, errors included: the security headers, no server version, and no caching
    of anything but the static files (pages and API answers carry personal data)."""
    response.headers.update(SECURITY_HEADERS)
    response.headers["Server"] = "dixian"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def no_tracebacks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Whatever goes wrong answers in Chinese (JSON on the API), never with a traceback: input the
    parsers cannot take (nesting too deep, an unknown charset, bytes that are not text) is the
    caller's 400; anything else is logged and is a 500 that says what to do."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (RecursionError, LookupError, UnicodeError, ValueError) as exc:
        log.info("unreadable request to %s: %s", request.path, type(exc).__name__)
        message = "请求无法读取（格式、编码或嵌套层数不正确）：请检查后重新提交"
        return _failure(request, 400, "bad_request", message)
    except Exception:
        log.exception("request to %s failed", request.path)
        return _failure(request, 500, "internal", "系统内部错误，已记录：请稍后重试，或联系市级运维")


def _failure(request: web.Request, status: int, code: str, message: str) -> web.StreamResponse:
    if is_api(request):
        return api_error(status, code, message)
    return render(request, "error.html", status, title="无法办理", message=message)


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
    *pages.ROUTES,
    ("GET", "/healthz", healthz),
    ("GET", "/static/style.css", stylesheet),
    ("GET", "/static/print.js", print_script),
    *api.ROUTES,
    *tasks.ROUTES,
]


def create_app(
    store: Store,
    outbox: Sink,
    topics: Topics,
    clock_note: str = "",
    *,
    secure_cookies: bool = False,
    trusted_proxies: frozenset[str] = frozenset({"127.0.0.1", "::1"}),
) -> web.Application:
    """The queue's web server. Session cookies are Secure when ``secure_cookies`` (production), and
    whenever the request came over HTTPS: TLS here, or X-Forwarded-Proto from a trusted proxy."""
    app = web.Application(middlewares=[no_tracebacks, authenticate], client_max_size=256 * 1024)
    app.on_response_prepare.append(_harden)
    app[STORE] = store
    app[OUTBOX] = outbox
    app[TOPICS] = topics
    app[WAKEUP] = asyncio.Event()
    app[CLOCK_NOTE] = clock_note
    app[METRICS] = QueueMetrics(store)
    app[SECURE] = secure_cookies
    app[PROXIES] = trusted_proxies
    app[LIMITER] = RateLimiter(store)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app.on_startup.append(_start_outbox)
    app.on_cleanup.append(_stop_outbox)
    return app


def today_note(store: Store) -> str:
    real = date.today()
    return "" if store.today() == real else f"演示时钟：今天按 {store.today()} 计算期限"
