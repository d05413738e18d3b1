"""Corrections for the national monitoring system (账实不符).

A visit that finds the household different from its ledger record — members, an ID number, the
category, the income — gives a correction item: the field, the value recorded, the value found and
the evidence. Items come from the visit form's answers (``from_answers``: the officer said the
members or the record are not right, or the income estimated at the visit is far from the
recorded one) or are entered by the village officer on the clue. Each county gets its list of
items to enter into the national system (``county_list``, page and XLSX), and records when an item
was corrected there. Every change is a step of the clue, published with its case.

ID numbers and other numbers in the values are kept masked (``dixian.privacy``): the county finds
the member in the national system by household number and name; the list never holds an ID in
clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from dixian.contract.vocabulary import CorrectionField, CorrectionStatus, Role, Step
from dixian.privacy import mask_free_text
from screening.auth import Actor
from screening.db import Database
from screening.refusal import Refusal

if TYPE_CHECKING:
    from screening.store import Store

# An income estimated at the visit contradicts the ledger when it differs from the recorded per-capita
# income by more than this share of it, and by at least INCOME_MIN_GAP yuan (the plan gives no
# figure: estimates at a visit are rough, so small differences are not items).
INCOME_SHARE = 0.2
INCOME_MIN_GAP = 1000.0
MAX_TEXT = 300


@dataclass(frozen=True)
class Finding:
    field: CorrectionField
    recorded: str
    found: str
    evidence: str


def from_answers(answers: dict[str, Any], household: dict[str, Any] | None, note: str) -> list[Finding]:
    """The contradictions a visit form's answers show against the ledger row (pure)."""
    if household is None:
        return []
    evidence = f"走访记录：{note}" if note else "走访记录"
    out: list[Finding] = []
    if answers.get("persons_confirmed") is False or answers.get("members_confirmed") is False:
        out.append(
            Finding(
                CorrectionField.MEMBERS,
                f"{household['persons']}人",
                "走访核实与名单不一致（人数、身份或劳动能力）",
                evidence,
            )
        )
    estimate, recorded = answers.get("income_pc_estimate"), household.get("income_pc")
    # a ledger income of 0 is an export without the column (the roster's default), not a record
    if isinstance(estimate, int | float) and recorded:
        gap = abs(float(estimate) - float(recorded))
        if gap > max(INCOME_MIN_GAP, INCOME_SHARE * float(recorded)):
            out.append(
                Finding(
                    CorrectionField.INCOME,
                    f"{float(recorded):.0f}元",
                    f"{float(estimate):.0f}元（走访估算）",
                    evidence,
                )
            )
    if answers.get("record_correct") is False:
        found = str(answers.get("corrections") or "").strip() or "登记信息需更正"
        out.append(Finding(CorrectionField.OTHER, "系统登记信息", found, evidence))
    return out


def insert_findings(
    db: Database, today: date, actor: Actor, row: dict[str, Any], findings: list[Finding], origin: str
) -> None:
    """Write ``findings`` as open items of the clue ``row`` (inside the caller's transaction)."""
    last = db.one("SELECT MAX(seq) AS n FROM corrections WHERE clue_id = ?", (row["clue_id"],))
    seq = int(last["n"] or 0) if last else 0
    # a second visit (after a return) that finds the same again adds no second item
    held = {
        (r["field"], r["recorded"], r["found"])
        for r in db.query(
            "SELECT field, recorded, found FROM corrections WHERE clue_id = ?", (row["clue_id"],)
        )
    }
    for f in findings:
        if (f.field.value, mask_free_text(f.recorded), mask_free_text(f.found)) in held:
            continue
        seq += 1
        db.execute(
            "INSERT INTO corrections (clue_id, seq, household_id, village_code, county_code, field, recorded,"
            " found, evidence, origin, status, found_by, found_on) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row["clue_id"], seq, row["household_id"], row["village_code"], row["county_code"],
                f.field.value, mask_free_text(f.recorded), mask_free_text(f.found),
                mask_free_text(f.evidence), origin, CorrectionStatus.OPEN.value, actor.username,
                today.isoformat(),
            ),
        )  # fmt: skip


def _text(value: str, label: str, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise Refusal("field_required", f"请填写{label}")
    if len(value) > MAX_TEXT:
        raise Refusal("too_long", f"{label}不超过 {MAX_TEXT} 字")
    return value


def add_correction(
    store: Store, actor: Actor, clue_id: str, field: str, recorded: str, found: str, evidence: str
) -> None:
    """The village officer records what a visit found that the ledger holds otherwise."""
    if actor.role != Role.VILLAGE:
        raise Refusal("wrong_role", "账实不符由村级账号在走访后登记")
    try:
        what = CorrectionField(field)
    except ValueError:
        raise Refusal("bad_field", f"更正内容应为：{'、'.join(f.zh for f in CorrectionField)}") from None
    finding = Finding(
        what, _text(recorded, "系统登记值"), _text(found, "核实值"), _text(evidence, "佐证材料或依据")
    )
    with store.db.transaction():
        row = store.clues.row_in_scope(actor, clue_id)
        if row["state"] == "new":
            raise Refusal("not_visited", "走访后才能登记账实不符")
        insert_findings(store.db, store.today(), actor, row, [finding], "officer")
        note = f"{what.zh}：登记为“{finding.recorded}”，核实为“{finding.found}”"
        store.clues.append_step(actor, row, {}, Step.CORRECTION, row["state"], note)


def mark_corrected(store: Store, actor: Actor, clue_id: str, seq: int, corrected_on: date) -> None:
    """The county records that an item was corrected in the national monitoring system."""
    if actor.role != Role.COUNTY:
        raise Refusal("wrong_role", "更正情况由县级账号登记")
    with store.db.transaction():
        row = store.clues.row_in_scope(actor, clue_id)
        item = store.db.one("SELECT * FROM corrections WHERE clue_id = ? AND seq = ?", (clue_id, seq))
        if item is None:
            raise Refusal("no_such_item", f"该线索没有第 {seq} 条账实不符")
        if item["status"] == CorrectionStatus.CORRECTED:
            raise Refusal("already_corrected", f"已于 {item['corrected_on']} 登记更正")
        if not date.fromisoformat(item["found_on"]) <= corrected_on <= store.today():
            raise Refusal("bad_date", f"更正日期应在发现日期（{item['found_on']}）之后、今天之前")
        store.db.execute(
            "UPDATE corrections SET status = ?, corrected_by = ?, corrected_on = ?"
            " WHERE clue_id = ? AND seq = ?",
            (CorrectionStatus.CORRECTED.value, actor.username, corrected_on.isoformat(), clue_id, seq),
        )
        what = CorrectionField(item["field"]).zh
        store.clues.append_step(actor, row, {}, Step.CORRECTION, row["state"], f"{what}：已在全国系统更正")


def of_clue(store: Store, clue_id: str) -> list[dict[str, Any]]:
    return store.db.query("SELECT * FROM corrections WHERE clue_id = ? ORDER BY seq", (clue_id,))


def county_list(
    store: Store, actor: Actor, county_code: str, status: str | None = None
) -> list[dict[str, Any]]:
    """The county's items, by township, village and household (open ones first when unfiltered)."""
    actor.check_area(county_code)
    if status is not None and status not in set(CorrectionStatus):
        raise Refusal("bad_status", f"状态应为：{'、'.join(s.zh for s in CorrectionStatus)}")
    where, params = "c.county_code = ?", [county_code]
    if status:
        where += " AND c.status = ?"
        params.append(status)
    return store.db.query(
        "SELECT c.*, h.head_name FROM corrections c LEFT JOIN households h ON h.household_id = c.household_id"
        f" WHERE {where} ORDER BY CASE WHEN c.status = 'open' THEN 0 ELSE 1 END, c.village_code,"
        " c.household_id, c.clue_id, c.seq",
        params,
    )
