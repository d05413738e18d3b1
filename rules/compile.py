"""Rule conditions → durable_rules JSON rulesets. Pure data transformation: no Python ``eval``.

Every rule becomes ``{"all": [{"m": {"$and": [<event type>, <condition>]}}]}`` over one fact, so
one fact meeting the whole condition fires it (``when_all(a, b)`` with two patterns would mean two
different facts). Comparisons on absent fields are false: ``ne`` is compiled as "exists and differs",
and a comparison with a reference also requires the referenced fields to exist (durable_rules
otherwise matches ``x == <absent>``, e.g. when a parameter has no value for a region).
"""

from __future__ import annotations

from typing import Any

from rules.conditions import All, AnyOf, Cmp, Node, Ref
from rules.facts import fact_key

_DURABLE_OP = {"ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


def _value(v: Any) -> Any:
    if not isinstance(v, Ref):
        return v
    ref: Any = {"$m": fact_key(v.path)}
    if v.times is None:
        return ref
    times: Any = {"$m": fact_key(v.times)} if isinstance(v.times, str) else v.times
    return {"$mul": {"$l": ref, "$r": times}}


def compile_node(node: Node) -> dict[str, Any]:
    if isinstance(node, All | AnyOf):
        parts = [compile_node(c) for c in node.children]
        if len(parts) == 1:
            return parts[0]
        return {"$and" if isinstance(node, All) else "$or": parts}
    key = fact_key(node.path)
    if node.op == "in":
        assert isinstance(node.value, tuple)
        return {"$or": [{key: v} for v in node.value]} if len(node.value) > 1 else {key: node.value[0]}
    cmp = {key: _value(node.value)} if node.op == "eq" else {_DURABLE_OP[node.op]: {key: _value(node.value)}}
    guards = [{"$ex": {k: 1}} for k in _required(node)]
    return {"$and": [*guards, cmp]} if guards else cmp


def _required(node: Cmp) -> list[str]:
    """Fields that must exist for the comparison to mean anything (beyond what durable checks)."""
    keys = [fact_key(node.path)] if node.op == "ne" else []
    if isinstance(node.value, Ref):
        keys.append(fact_key(node.value.path))
        if isinstance(node.value.times, str):
            keys.append(fact_key(node.value.times))
    return keys


def compile_rule(event_types: list[str], condition: Node) -> dict[str, Any]:
    types: dict[str, Any] = (
        {"event_type": event_types[0]}
        if len(event_types) == 1
        else {"$or": [{"event_type": t} for t in event_types]}
    )
    if isinstance(condition, All) and not condition.children:  # when: always
        return {"all": [{"m": types}]}
    return {"all": [{"m": {"$and": [types, compile_node(condition)]}}]}
