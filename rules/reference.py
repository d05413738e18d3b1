"""An independent, straightforward evaluator of the same rule conditions over the same facts.

It shares nothing with the durable_rules path but the parsed condition tree, so the differential
test (both must fire exactly the same rules) checks the compiler and the engine."""

from __future__ import annotations

from typing import Any

from rules.conditions import All, AnyOf, Cmp, Node, Ref
from rules.facts import fact_key

_MISSING = object()


def _rhs(fact: dict[str, Any], value: Any) -> Any:
    if not isinstance(value, Ref):
        return value
    base = fact.get(fact_key(value.path), _MISSING)
    if base is _MISSING or value.times is None:
        return base
    factor = fact.get(fact_key(value.times), _MISSING) if isinstance(value.times, str) else value.times
    return _MISSING if factor is _MISSING else base * factor


def holds(node: Node, fact: dict[str, Any]) -> bool:
    if isinstance(node, All):
        return all(holds(c, fact) for c in node.children)
    if isinstance(node, AnyOf):
        return any(holds(c, fact) for c in node.children)
    assert isinstance(node, Cmp)
    left = fact.get(fact_key(node.path), _MISSING)
    if left is _MISSING:
        return False
    if node.op == "in":
        assert isinstance(node.value, tuple)
        return any(_same(left, v) for v in node.value)
    right = _rhs(fact, node.value)
    if right is _MISSING:
        return False
    if node.op == "eq":
        return _same(left, right)
    if node.op == "ne":
        return not _same(left, right)
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        return False
    return {
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }[node.op]


def _same(a: Any, b: Any) -> bool:
    # true == 1 in Python but not in JSON rules: a boolean only equals a boolean.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def fired(rules: list[tuple[str, list[str], Node]], fact: dict[str, Any]) -> set[str]:
    """The ids of the rules (id, event types, condition) whose condition holds for ``fact``."""
    et = fact.get("event_type")
    return {rid for rid, types, cond in rules if et in types and holds(cond, fact)}
