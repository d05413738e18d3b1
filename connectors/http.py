"""HTTP push endpoint: a department posts its change events as they happen.

    POST /api/v1/feeds/{dept}/events      Authorization: Bearer <token>
         body: a JSON array of records (Chinese headers or contract field names), or JSON Lines

Responses (JSON, messages in Chinese with English): 200 all accepted or duplicates; 207 some
rows rejected (each problem listed, the rows are on the dead-letter topic); 422 none accepted;
400 body unreadable; 401 missing or unknown token; 403 another department's feed or event type
(一数一源: nothing of that request is published); 413 body too large; 415 wrong content type.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from connectors.ingest import Ingester, raw_text
from connectors.mapping import load_mapping
from connectors.stores import TokenStore
from dixian.contract import MODEL_BY_TYPE, Dept
from dixian.contract.deadletter import DeadLetter
from dixian.contract.events import now_china
from dixian.contract.validate import Problem

DEFAULT_MAX_BODY = 8 * 1024 * 1024
INGESTER_KEY = web.AppKey("ingester", Ingester)
TOKENS_KEY = web.AppKey("tokens", TokenStore)
MAX_BODY_KEY = web.AppKey("max_body", int)


def _error(status: int, code: str, zh: str, en: str, **extra: Any) -> web.Response:
    body = {"error": code, "message": zh, "message_en": en, **extra}
    return web.json_response(body, status=status, dumps=lambda o: orjson.dumps(o).decode())


def _foreign_types(dept: Dept, records: list[Any]) -> list[tuple[int, str, Dept]]:
    mapping = load_mapping(dept.value)
    out = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            continue
        fields = mapping.to_fields(rec)
        model = MODEL_BY_TYPE.get(str(fields.get("event_type")))
        if model is not None and model.owner != dept:
            out.append((i, str(fields["event_type"]), model.owner))
    return out


async def push_events(request: web.Request) -> web.Response:
    name = request.match_info["dept"]
    try:
        dept = Dept(name)
    except ValueError:
        return _error(404, "unknown_dept", f"未知部门: {name}", f"unknown department {name!r}")
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return _error(401, "missing_token", "缺少访问令牌(Authorization: Bearer ...)", "missing bearer token")
    token_dept = request.app[TOKENS_KEY].dept_of(auth[7:].strip())
    if token_dept is None:
        return _error(401, "invalid_token", "访问令牌无效或已吊销", "unknown or revoked token")
    if token_dept != dept.value:
        return _error(
            403,
            "wrong_feed",
            f"该令牌只能报送{Dept(token_dept).zh}的数据, 不能报送{dept.zh}",
            f"this token publishes only the {token_dept} feed, not {dept.value}",
        )
    max_body = request.app[MAX_BODY_KEY]
    if request.content_length is not None and request.content_length > max_body:
        return _error(
            413,
            "too_large",
            f"请求体超过上限 {max_body} 字节, 请分批报送",
            f"body exceeds {max_body} bytes; send smaller batches",
        )
    ctype = request.content_type
    if ctype not in ("application/json", "application/x-ndjson", "application/jsonl"):
        return _error(
            415,
            "content_type",
            "请使用 application/json 或 application/x-ndjson",
            "use application/json (array) or application/x-ndjson",
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(
            413,
            "too_large",
            f"请求体超过上限 {max_body} 字节, 请分批报送",
            f"body exceeds {max_body} bytes; send smaller batches",
        )
    try:
        if ctype == "application/json":
            records = orjson.loads(raw)
        else:
            records = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    except orjson.JSONDecodeError as exc:
        return _error(400, "not_json", "请求体不是有效的JSON", f"body is not valid JSON: {exc}")
    if not isinstance(records, list):
        return _error(400, "not_array", "请求体应为JSON数组", "body must be a JSON array of records")
    ingester = request.app[INGESTER_KEY]
    foreign = _foreign_types(dept, records)
    if foreign:
        # An authorization failure: the whole request is refused, and the conflict is recorded.
        conflicts = {i: (t, owner) for i, t, owner in foreign}
        problems = {
            i: Problem(
                "event_type",
                "ownership_conflict",
                f"一数一源: 事件类型 {t} 的数据源是{owner.zh}, 不能由{dept.zh}报送",
                f"{t} is owned by {owner.value}, not {dept.value}",
            )
            for i, (t, owner) in conflicts.items()
        }
        refused = Problem(
            "(request)",
            "request_refused",
            "同批请求含其他部门的数据类型, 整批拒收",
            "the request held another department's event types and was refused whole",
        )
        letters = [
            (
                dept.value.encode(),
                DeadLetter.from_problems(
                    [problems.get(i, refused)],
                    source="http",
                    dept=dept.value,
                    raw=raw_text(rec),
                    at=now_china(),
                    row=i,
                )
                .model_dump_json()
                .encode(),
            )
            for i, rec in enumerate(records, start=1)
        ]
        await ingester.record_refusal(dept, records, letters, conflicts=len(conflicts))
        return _error(
            403,
            "ownership_conflict",
            "一数一源: 请求中含有其他部门的数据类型, 整批未接收",
            "one source per item: the request holds event types of other departments; nothing published",
            rows=[{"index": i, "event_type": t, "owner": o.value} for i, t, o in foreign],
        )
    summary = await ingester.ingest_records(dept, records)
    status = 200 if summary.rejected_total == 0 else (207 if summary.accepted + summary.duplicates else 422)
    return web.json_response(
        {
            "received": summary.rows_read,
            "accepted": summary.accepted,
            "duplicates": summary.duplicates,
            "rejected": summary.rejected_total,
            "problems": summary.problems,
        },
        status=status,
        dumps=lambda o: orjson.dumps(o).decode(),
    )


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_push_app(
    ingester: Ingester, tokens: TokenStore, *, max_body: int = DEFAULT_MAX_BODY
) -> web.Application:
    # aiohttp's own limit is a backstop a little above ours, so our clearer 413 answers first.
    app = web.Application(client_max_size=max_body + 1024)
    app[INGESTER_KEY] = ingester
    app[TOKENS_KEY] = tokens
    app[MAX_BODY_KEY] = max_body
    app.router.add_post("/api/v1/feeds/{dept}/events", push_events)
    app.router.add_get("/healthz", health)
    return app
