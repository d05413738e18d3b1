"""Screening campaigns (集中排查): one visit item per household in scope, coverage by area, the
look-back list (回头看) and the campaign summary workbook."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dixian import sheets
from dixian.contract.deadlines import DECIDE_DAYS
from dixian.contract.vocabulary import ClueState, HouseholdKind, Role, Step
from dixian.geo import county_name
from screening.auth import Actor
from screening.clues import OPENING_CLUES
from screening.forms import KINDS
from screening.refusal import NotFound, Refusal
from screening.store import Store

KIND_WHERE = {
    "ordinary": "(household_type = '一般农户' AND status = '未纳入')",
    "formerly_poor": "(household_type = '脱贫户' AND status = '未纳入')",
    "monitored": "(status IN ('监测中', '风险已消除'))",
}
KIND_OF = (
    "CASE WHEN status IN ('监测中', '风险已消除') THEN 'monitored'"
    " WHEN household_type = '脱贫户' THEN 'formerly_poor' ELSE 'ordinary' END"
)


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    scope: tuple[str, ...]
    kinds: tuple[str, ...]
    period_from: date
    period_to: date
    items: int


def item_id(campaign_id: str, household_id: str, key: bytes | None = None) -> str:
    """The visit item of one household in one campaign (``create_campaign``'s SQL builds the same).
    With the deployment's id key (always in production) it names no household: the key's digest
    with the household number, which nobody without the key can compute or reverse."""
    prefix = f"camp-{campaign_id.removeprefix('cmp-')}-"
    if key is None:
        return prefix + household_id
    return (
        prefix
        + hashlib.md5(_key_text(key).encode() + household_id.encode(), usedforsecurity=False).hexdigest()[:20]
    )


def _key_text(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()


def _item_sql(prefix: str, key: bytes | None) -> tuple[str, list[str]]:
    """``item_id`` in SQL over ``h.household_id``, and its parameters."""
    if key is None:
        return "? || h.household_id", [prefix]
    return "? || substr(md5(? || h.household_id), 1, 20)", [prefix, _key_text(key)]


def _campaign(row: dict[str, Any]) -> Campaign:
    return Campaign(
        row["campaign_id"],
        row["name"],
        tuple(row["scope"].split(",")),
        tuple(row["kinds"].split(",")),
        date.fromisoformat(row["period_from"]),
        date.fromisoformat(row["period_to"]),
        int(row["items"]),
    )


CAMPAIGN_STEPS = 4  # what ``create_campaign`` announces through ``step``


def create_campaign(
    store: Store,
    actor: Actor,
    name: str,
    scope: list[str],
    period_from: date,
    period_to: date,
    kinds: list[str],
    step: Callable[[str], None] | None = None,
) -> Campaign:
    """Create the campaign and one visit item per household in scope (idempotent: the same campaign
    created again adds nothing); ``step`` is told as each of its ``CAMPAIGN_STEPS`` steps starts."""
    say = step or (lambda _: None)
    if actor.role not in (Role.OPERATOR, Role.COUNTY):
        raise Refusal("wrong_role", "集中排查由市级或县级账号发起")
    if not 2 <= len(name.strip()) <= 80:
        raise Refusal("name_required", "请填写排查活动名称（2–80字）")
    if not scope or any(not (s.isdigit() and len(s) in (4, 6)) for s in scope):
        raise Refusal("bad_scope", "范围应为市（4位）或县（6位）代码")
    for s in scope:
        actor.check_area(s)
    if not kinds or any(k not in KINDS for k in kinds):
        raise Refusal("bad_kinds", f"农户类型应为：{', '.join(KINDS)}")
    if period_to < period_from:
        raise Refusal("bad_period", "排查结束日期早于开始日期")
    scope, kinds = sorted(set(scope)), [k for k in KINDS if k in kinds]
    basis = f"{name.strip()}|{','.join(scope)}|{period_from}|{period_to}|{','.join(kinds)}".encode()
    cid = "cmp-" + hashlib.blake2b(basis, digest_size=6).hexdigest()
    ts = store.now().isoformat(timespec="seconds")
    area = " OR ".join("village_code LIKE ?" for _ in scope)
    kind = " OR ".join(KIND_WHERE[k] for k in kinds)
    prefix = item_id(cid, "")
    item_sql, item_params = _item_sql(prefix, store.id_key)
    run = f'{{"campaign_run": "{uuid.uuid4().hex}"}}'
    with store.db.transaction():
        store.db.serialise(OPENING_CLUES)  # it opens clues of households that have none open
        say("入户任务 / visit items")
        # 1. one visit item per household in scope: on the household's open clue if it has one,
        #    else on a clue of its own (which takes the item's id)
        store.db.execute(
            "INSERT INTO risk_items (item_id, clue_id, household_id, source, title, explanation, risk_label,"
            " severity, revision, hits, detail_json, item_date, received_at)"
            f" SELECT {item_sql}, COALESCE((SELECT c.clue_id FROM clues c"
            "   WHERE c.household_id = h.household_id AND c.state <> 'closed'"
            f"   ORDER BY c.clue_date, c.clue_id LIMIT 1), {item_sql}),"
            " h.household_id, 'campaign', ?, ?, '集中排查', 'low', 1, 1, ?, ?, ?"
            f" FROM households h WHERE ({area}) AND ({kind}) ON CONFLICT (item_id) DO NOTHING",
            [
                *item_params, *item_params,
                f"集中排查：{name.strip()}", "按集中排查要求入户，填写走访表并作出结论", run,
                period_from.isoformat(), ts, *(f"{s}%" for s in scope),
            ],
        )  # fmt: skip
        say("新线索 / new clues")
        # 2. the clues of households that had none open
        store.db.execute(
            "INSERT INTO clues (clue_id, source, household_id, village_code, township_code, county_code,"
            " title, explanation, risk_label, severity, revision, hits, detail_json, clue_date, received_at,"
            " visit_by, decide_by, state, steps, updated_at, campaign_id, household_kind)"
            " SELECT i.item_id, 'campaign', h.household_id, h.village_code, h.township_code, h.county_code,"
            " i.title, i.explanation, i.risk_label, 'low', 1, 1, '{}', i.item_date, ?, ?, ?, 'new', 0, ?, ?,"
            + KIND_OF
            + " FROM risk_items i JOIN households h ON h.household_id = i.household_id"
            " WHERE i.detail_json = ? AND i.clue_id = i.item_id",
            [
                ts, period_to.isoformat(), (period_to + timedelta(days=DECIDE_DAYS)).isoformat(), ts, cid,
                run,
            ],
        )  # fmt: skip
        say("并入在办线索 / joined clues")
        # 3. the open clues that the campaign's items joined: the campaign's visit is theirs
        store.db.execute(
            "UPDATE clues SET items = items + 1, updated_at = ?,"
            " campaign_id = COALESCE(campaign_id, ?)"
            " WHERE clue_id IN (SELECT clue_id FROM risk_items WHERE detail_json = ? AND clue_id <> item_id)",
            [ts, cid, run],
        )
        say("办理记录 / steps")
        # 4. a step on each clue the campaign opened or joined: published, so the queue store can be
        #    rebuilt from the topics with the campaign's clues (screening.rebuild)
        touched = "SELECT clue_id FROM risk_items WHERE detail_json = ?"
        store.db.execute(
            "INSERT INTO steps (clue_id, seq, step, from_state, to_state, actor, role, at, note, published)"
            f" SELECT c.clue_id, c.steps + 1, ?, c.state, c.state, ?, ?, ?, ?, 0 FROM clues c"
            f" WHERE c.clue_id IN ({touched})",
            [Step.OPEN.value, actor.username, actor.role.value, ts, f"集中排查：{name.strip()}", run],
        )
        store.db.execute(f"UPDATE clues SET steps = steps + 1 WHERE clue_id IN ({touched})", [run])
        n = store.db.one(
            "SELECT COUNT(*) AS n FROM risk_items WHERE source = 'campaign' AND item_id LIKE ?",
            (prefix + "%",),
        )
        items = int(n["n"]) if n else 0
        store.db.execute(
            "INSERT INTO campaigns (campaign_id, name, scope, kinds, period_from, period_to, items,"
            " created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (campaign_id) DO UPDATE SET items = excluded.items",
            (
                cid,
                name.strip(),
                ",".join(scope),
                ",".join(kinds),
                period_from.isoformat(),
                period_to.isoformat(),
                items,
                actor.username,
                ts,
            ),
        )
    return get_campaign(store, cid)


def _overlaps(c: Campaign, actor: Actor) -> bool:
    return any(s.startswith(actor.scope) or actor.scope.startswith(s) for s in c.scope)


def get_campaign(store: Store, campaign_id: str, actor: Actor | None = None) -> Campaign:
    """The campaign; one whose area does not meet the actor's scope is answered as an unknown id."""
    row = store.db.one("SELECT * FROM campaigns WHERE campaign_id = ?", (campaign_id,))
    c = _campaign(row) if row is not None else None
    if c is None or (actor is not None and not _overlaps(c, actor)):
        raise NotFound(f"没有编号为 {campaign_id} 的排查活动")
    return c


def campaigns(store: Store, actor: Actor) -> list[Campaign]:
    """The campaigns whose area meets the actor's scope, latest first."""
    rows = store.db.query("SELECT * FROM campaigns ORDER BY period_from DESC, campaign_id")
    return [c for c in map(_campaign, rows) if _overlaps(c, actor)]


LEVELS = {
    "county": ("county_code", 6),
    "township": ("township_code", 9),
    "village": ("village_code", 12),
    "team": ("visit_team", 0),  # the screening team of two recorded on the visit (not yet visited: none)
    "site": ("village_code", 12),  # relocation sites only (易地搬迁集中安置点, screened by their management)
}


def coverage(store: Store, actor: Actor, campaign_id: str, level: str) -> list[dict[str, Any]]:
    """Per area inside the actor's scope: items, visited, concluded, overdue (not visited after the
    period), coverage %."""
    get_campaign(store, campaign_id, actor)
    column, _ = LEVELS[level]
    today = store.today().isoformat()
    rows = store.db.query(
        f"SELECT {column} AS code, COUNT(*) AS total,"
        " SUM(CASE WHEN state <> 'new' THEN 1 ELSE 0 END) AS visited,"
        " SUM(CASE WHEN proposal IS NOT NULL THEN 1 ELSE 0 END) AS concluded,"
        " SUM(CASE WHEN state = 'new' AND visit_by < ? THEN 1 ELSE 0 END) AS overdue"
        f" FROM clues WHERE campaign_id = ? AND village_code LIKE ? GROUP BY {column} ORDER BY {column}",
        (today, campaign_id, actor.scope + "%"),
    )
    if level == "site":
        sites = store.areas.sites()
        rows = [r for r in rows if r["code"] in sites]
    out = []
    for r in rows:
        total, visited = int(r["total"]), int(r["visited"] or 0)
        out.append(
            {
                "code": r["code"],
                "name": store.areas.name(r["code"]) if level != "team" else "",
                "total": total,
                "visited": visited,
                "concluded": int(r["concluded"] or 0),
                "overdue": int(r["overdue"] or 0),
                "coverage_pct": round(100.0 * visited / total, 1) if total else None,
            }
        )
    if level == "team":  # no team recorded (not visited yet, or recorded without one) last, on any database
        for r in out:
            r["name"] = "" if r["code"] else "（未登记工作组）"
        out.sort(key=lambda r: (r["code"] is None, r["code"] or ""))
    return out


def lookback(store: Store, actor: Actor, campaign_id: str) -> list[dict[str, Any]]:
    """回头看: items whose conclusion was returned by a reviewer, and items concluded "no risk" that a
    department warning contradicted afterwards."""
    get_campaign(store, campaign_id, actor)
    scope = actor.scope + "%"
    returned = store.db.query(
        "SELECT DISTINCT c.clue_id, c.household_id, c.village_code, c.state FROM clues c"
        " JOIN steps s ON s.clue_id = c.clue_id AND s.step = 'return'"
        " WHERE c.campaign_id = ? AND c.village_code LIKE ? ORDER BY c.village_code, c.household_id",
        (campaign_id, scope),
    )
    contradicted = store.db.query(
        "SELECT c.clue_id, c.household_id, c.village_code, c.state, w.clue_id AS warning_id,"
        " w.title AS warning FROM clues c"
        " JOIN clues w ON w.household_id = c.household_id AND w.source = 'department_warning'"
        " WHERE c.campaign_id = ? AND c.village_code LIKE ? AND c.proposal = 'no_risk'"
        " AND w.clue_date > substr(c.concluded_at, 1, 10) ORDER BY c.village_code, c.household_id, w.clue_id",
        (campaign_id, scope),
    )
    out = [r | {"reason": "结论被退回重新核实", "warning_id": "", "warning": ""} for r in returned]
    out += [r | {"reason": "排查结论为无风险，之后部门数据发出预警"} for r in contradicted]
    return sorted(out, key=lambda r: (r["village_code"], r["household_id"], r["reason"]))


def summary_xlsx(store: Store, actor: Actor, campaign_id: str) -> bytes:
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    c = get_campaign(store, campaign_id, actor)
    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    ws.append([f"集中排查：{c.name}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["编号", c.campaign_id])
    ws.append(["范围", "、".join(county_name(s) if len(s) == 6 else "桂林市" for s in c.scope)])
    ws.append(["农户类型", "、".join(HouseholdKind(k).zh for k in c.kinds)])
    ws.append(["时间", f"{c.period_from} 至 {c.period_to}"])
    ws.append(["入户任务", c.items])
    ws.append(["统计日", store.today().isoformat()])
    head = ["代码", "名称", "应走访户", "已走访", "已出结论", "逾期未走访", "走访率(%)"]
    for level, title in (
        ("county", "按县"),
        ("township", "按乡镇"),
        ("village", "按村"),
        ("team", "按排查工作组"),
        ("site", "按安置点"),
    ):
        sheet = wb.create_sheet(title)
        sheet.append(head)
        for r in coverage(store, actor, campaign_id, level):
            sheet.append(
                [
                    r["code"],
                    r["name"],
                    r["total"],
                    r["visited"],
                    r["concluded"],
                    r["overdue"],
                    r["coverage_pct"],
                ]
            )
    back = wb.create_sheet("回头看")
    back.append(["行政村", "户编号", "原因", "相关预警", "线索编号", "当前环节"])
    for r in lookback(store, actor, campaign_id):
        back.append(
            [
                r["village_code"],
                r["household_id"],
                r["reason"],
                r["warning"],
                r["clue_id"],
                ClueState(r["state"]).value,
            ]
        )
    return sheets.workbook_bytes(wb)
