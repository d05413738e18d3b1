"""Topic shapes: the dead-letter topic keeps refused rows (raw department data, ID numbers among it)
only for its retention; every other log is kept for ever (compacted or not)."""

from __future__ import annotations

from dixian.config import Settings
from dixian.topics import Topics


def test_dead_letters_are_kept_for_their_retention_and_the_rest_for_ever() -> None:
    specs = {s.name: s.config() for s in Topics(Settings(dead_letter_retention_days=90)).all()}
    assert specs["deadletter"]["retention.ms"] == str(90 * 86_400_000)
    kept = {
        n: c.get("retention.ms")
        for n, c in specs.items()
        if c["cleanup.policy"] == "delete" and n != "deadletter"
    }
    assert kept
    assert set(kept.values()) == {"-1"}
    assert specs["households"]["cleanup.policy"] == "compact"
    assert Topics(Settings()).household_changelog == "dixian-household_state-changelog"
