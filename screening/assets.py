"""The county's asset check (财产检索) of households proposed for inclusion.

The plan: before the county decides an inclusion, it checks the household's assets (vehicles,
real estate, businesses, deposits …) with the departments that hold them; a household already
receiving 低保 or 特困 support reuses the result of its earlier check. The county records each
result on the household's clue — passed, or failed with the reason and the assets found — and the
result shows on the village's and the township's pages of the clue. The county's inclusion is
refused until a passed result is recorded (``screening.workflow``)."""

from __future__ import annotations

from datetime import date

from dixian.contract.vocabulary import AssetResult, ClueState, Proposal, Role, Step
from dixian.privacy import mask_free_text
from screening.auth import Actor
from screening.refusal import Refusal
from screening.store import Store

MAX_TEXT = 500


def record_asset_check(
    store: Store,
    actor: Actor,
    clue_id: str,
    result: str,
    checked_on: date,
    *,
    reason: str = "",
    found: str = "",
) -> None:
    """Record (or correct, until the county decides) the asset-check result of a proposed inclusion."""
    if actor.role != Role.COUNTY:
        raise Refusal("wrong_role", "财产检索结果由县级账号登记")
    try:
        outcome = AssetResult(result)
    except ValueError:
        raise Refusal("bad_result", f"检索结果应为：{'、'.join(r.zh for r in AssetResult)}") from None
    reason, found = reason.strip(), found.strip()
    if outcome == AssetResult.FAILED and not (reason and found):
        raise Refusal("reason_required", "检索未通过时须填写原因和查到的财产（如车辆、房产、经营主体）")
    if len(reason) > MAX_TEXT or len(found) > MAX_TEXT:
        raise Refusal("too_long", f"原因和财产情况各不超过 {MAX_TEXT} 字")
    with store.db.transaction():
        row = store.clues.row_in_scope(actor, clue_id)
        if row["proposal"] != Proposal.INCLUDE or row["state"] == ClueState.CLOSED:
            raise Refusal("not_proposed", "只有拟纳入监测、尚未审定的农户需要登记财产检索结果")
        concluded = date.fromisoformat((row["concluded_at"] or row["clue_date"])[:10])
        if not concluded <= checked_on <= store.today():
            raise Refusal("bad_date", f"检索日期应在提出拟纳入（{concluded}）之后、今天之前")
        cols = {
            "asset_result": outcome.value,
            "asset_reason": mask_free_text(reason) if outcome == AssetResult.FAILED else None,
            "asset_found": mask_free_text(found) if outcome == AssetResult.FAILED else None,
            "asset_checked_on": checked_on.isoformat(),
            "asset_checked_by": actor.username,
        }
        note = outcome.zh if outcome == AssetResult.PASSED else f"{outcome.zh}：{reason}（{found}）"
        store.clues.append_step(actor, row, cols, Step.ASSET_CHECK, row["state"], note)
