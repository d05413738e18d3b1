"""Rule conditions as data: a small tree of comparisons, parsed from YAML and type-checked.

    when:
      all:
        - event.visit: {eq: inpatient}
        - any:
            - household.type: {eq: 脱贫户}
            - household.monitored: {eq: true}
        - member.oop_12m: {gt: {param: rural_disposable_income_prev_year,
                                 times: {param: oop_share_formerly_poor}}}

A comparison names a fact path (``event.*``, ``household.*``, ``member.*``, ``param.*``) and one or
more operators (eq, ne, gt, gte, lt, lte, in). The right side is a literal, a list (for ``in``), or
a reference ``{param: NAME}`` / ``{field: PATH}``, optionally ``times`` a number or a parameter.
A comparison on a field the fact does not have is false. ``when: always`` means every event of
the rule's event types (for indicators published as "any case").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rules.facts import FieldKind
from rules.loader import LINE, LINES, line_of

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in"]
OPS: tuple[Op, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in")
ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})
Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Ref:
    path: str  # e.g. param.rural_disposable_income_prev_year or household.income_total
    times: float | str | None = None  # a number, or a parameter path


@dataclass(frozen=True, slots=True)
class Cmp:
    path: str
    op: Op
    value: Scalar | tuple[Scalar, ...] | Ref
    line: int


@dataclass(frozen=True, slots=True)
class All:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Node, ...]


Node = Cmp | All | AnyOf


class ConditionError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _meta(mapping: dict[str, Any]) -> list[str]:
    return [k for k in mapping if k not in (LINES, LINE)]


def _rhs(raw: Any, line: int) -> Scalar | tuple[Scalar, ...] | Ref:
    if isinstance(raw, dict):
        keys = _meta(raw)
        ref_key = next((k for k in ("param", "field") if k in keys), None)
        if ref_key is None or set(keys) - {ref_key, "times"}:
            raise ConditionError(
                line_of(raw) or line,
                f"a reference is {{param: NAME}} or {{field: PATH}} "
                f"with an optional 'times'; got keys {keys}",
            )
        path = f"param.{raw[ref_key]}" if ref_key == "param" else str(raw[ref_key])
        times_raw = raw.get("times")
        times: float | str | None
        if times_raw is None:
            times = None
        elif isinstance(times_raw, dict) and _meta(times_raw) == ["param"]:
            times = f"param.{times_raw['param']}"
        elif isinstance(times_raw, int | float) and not isinstance(times_raw, bool):
            times = float(times_raw)
        else:
            raise ConditionError(line_of(raw, "times"), "'times' is a number or {param: NAME}")
        return Ref(path, times)
    if isinstance(raw, list):
        if not raw or not all(isinstance(v, str | int | float | bool) for v in raw):
            raise ConditionError(line, "'in' needs a non-empty list of plain values")
        return tuple(raw)
    if isinstance(raw, str | int | float | bool):
        return raw
    raise ConditionError(line, f"unsupported value {raw!r}")


ALWAYS = "always"  # `when: always`: every event of the rule's types (published "any case" indicators)


def parse(raw: Any, line: int = 0) -> Node:
    if raw == ALWAYS:
        return All(())
    if isinstance(raw, list):
        return All(tuple(parse(x, line) for x in raw))
    if not isinstance(raw, dict):
        raise ConditionError(
            line, "a condition is a mapping: {all: [...]}, {any: [...]} or {PATH: {OP: VALUE}}"
        )
    keys = _meta(raw)
    here = line_of(raw) or line
    if len(keys) != 1:
        raise ConditionError(here, f"one key per condition item, got {keys}; use 'all:' to combine")
    key = keys[0]
    kline = line_of(raw, key)
    body = raw[key]
    if key in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise ConditionError(kline, f"'{key}' needs a non-empty list")
        children = tuple(parse(x, kline) for x in body)
        return All(children) if key == "all" else AnyOf(children)
    if not isinstance(body, dict) or not _meta(body):
        raise ConditionError(kline, f"{key}: expected {{OP: VALUE}} with OP one of {', '.join(OPS)}")
    cmps: list[Node] = []
    for op in _meta(body):
        if op not in OPS:
            raise ConditionError(line_of(body, op), f"unknown operator '{op}' (use one of {', '.join(OPS)})")
        value = _rhs(body[op], line_of(body, op))
        if op == "in" and not isinstance(value, tuple):
            raise ConditionError(line_of(body, op), "'in' needs a list")
        if op != "in" and isinstance(value, tuple):
            raise ConditionError(line_of(body, op), f"'{op}' takes one value, not a list")
        cmps.append(Cmp(key, op, value, line_of(body, op)))
    return cmps[0] if len(cmps) == 1 else All(tuple(cmps))


def walk(node: Node) -> list[Cmp]:
    if isinstance(node, Cmp):
        return [node]
    return [c for child in node.children for c in walk(child)]


def params_used(node: Node) -> set[str]:
    out: set[str] = set()
    for c in walk(node):
        for path in (
            c.path,
            c.value.path if isinstance(c.value, Ref) else None,
            c.value.times if isinstance(c.value, Ref) and isinstance(c.value.times, str) else None,
        ):
            if isinstance(path, str) and path.startswith("param."):
                out.add(path.removeprefix("param."))
    return out


def check(node: Node, schema: dict[str, tuple[FieldKind, tuple[Any, ...]]]) -> list[ConditionError]:
    """Unknown fields and type errors, each with the line of the comparison."""
    errors: list[ConditionError] = []

    def kind_of(path: str, line: int) -> tuple[FieldKind, tuple[Any, ...]] | None:
        if path not in schema:
            ns = path.split(".", 1)[0]
            near = sorted(p for p in schema if p.startswith(ns + "."))
            errors.append(
                ConditionError(
                    line,
                    f"unknown field '{path}'"
                    + (
                        f"; this rule can use: {', '.join(near)}"
                        if near
                        else "; paths start with event., household., member. or param."
                    ),
                )
            )
            return None
        return schema[path]

    for c in walk(node):
        lhs = kind_of(c.path, c.line)
        if lhs is None:
            continue
        kind, allowed = lhs
        if isinstance(c.value, Ref):
            rhs = kind_of(c.value.path, c.line)
            if isinstance(c.value.times, str):
                t = kind_of(c.value.times, c.line)
                if t is not None and t[0] != "number":
                    errors.append(ConditionError(c.line, f"'times' {c.value.times} is not a number"))
            if rhs is not None and rhs[0] != kind:
                errors.append(
                    ConditionError(c.line, f"{c.path} ({kind}) compared with {c.value.path} ({rhs[0]})")
                )
            if c.value.times is not None and kind != "number":
                errors.append(ConditionError(c.line, f"'times' applies to numbers; {c.path} is {kind}"))
            continue
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        for v in values:
            vkind: FieldKind = (
                "bool" if isinstance(v, bool) else "number" if isinstance(v, int | float) else "string"
            )
            if vkind != kind:
                errors.append(ConditionError(c.line, f"{c.path} is {kind}, compared with {v!r} ({vkind})"))
            elif allowed and v not in allowed:
                errors.append(
                    ConditionError(
                        c.line, f"{c.path} is never {v!r}; its values are {', '.join(map(str, allowed))}"
                    )
                )
        if c.op in ORDER_OPS and kind != "number":
            errors.append(ConditionError(c.line, f"'{c.op}' compares numbers; {c.path} is {kind}"))
    return errors
