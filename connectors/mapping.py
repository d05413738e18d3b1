"""Per-department column mappings: the Chinese headers departments use → contract field names.

Mappings are data (``connectors/mappings/<dept>.yaml``), merged with the shared envelope headers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, cast

import yaml
from pydantic import BaseModel

from dixian.contract import EVENT_MODELS, Dept
from dixian.contract.roster import Household, Member

# Fields that must be present (as a column) for a department file to be readable at all.
REQUIRED_FIELDS = ("household_id", "village_code", "occurred_at", "reported_at")
ROSTER_REQUIRED = ("household_id", "village_code", "household_type", "member_id", "relation")

_BOOL_FIELDS = frozenset(
    name
    for model in (*EVENT_MODELS, Household, Member)
    for name, info in cast("type[BaseModel]", model).model_fields.items()
    if info.annotation is bool
)


class MappingError(ValueError):
    """A mapping file is wrong, or a data file lacks the columns its mapping needs."""


@dataclass(frozen=True)
class ColumnMapping:
    dept: str
    title: str
    columns: dict[str, str]
    values: dict[str, dict[str, Any]]
    event_types: dict[str, str] = field(default_factory=dict)
    default_event_type: str | None = None
    snapshot_key: tuple[str, ...] = ()
    snapshot_removed_event_type: str | None = None
    # The headers specific to this department, in file order (the envelope's come first).
    own_headers: tuple[str, ...] = ()
    # header tuple → [(header, field, value table, is bool)], built once per file layout
    _plans: dict[tuple[str, ...], list[tuple[str, str, dict[str, Any] | None, bool]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def fingerprint(self) -> str:
        """A digest of what the mapping does: a file read under a changed mapping is another delivery."""
        text = repr((self.columns, self.values, self.event_types, self.default_event_type, self.snapshot_key))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def field_of(self, header: str) -> str | None:
        h = header.strip()
        if h in self.columns:
            return self.columns[h]
        # English field names are accepted as headers too (JSON Lines, API clients).
        return h if h in self.columns.values() or h in _BOOL_FIELDS else None

    def check_headers(self, headers: list[str], required: tuple[str, ...] = REQUIRED_FIELDS) -> list[str]:
        """The required fields that no header maps to (empty when the file is readable)."""
        present = {self.field_of(h) for h in headers}
        missing = [f for f in required if f not in present]
        if "event_type" not in present and self.default_event_type is None and required is REQUIRED_FIELDS:
            missing.append("event_type")
        return missing

    def _plan(self, headers: tuple[str, ...]) -> list[tuple[str, str, dict[str, Any] | None, bool]]:
        plan = self._plans.get(headers)
        if plan is None:
            plan = []
            for h in headers:
                name = self.field_of(h)
                if name is not None:
                    plan.append((h, name, self.values.get(name), name in _BOOL_FIELDS))
            if len(self._plans) < 1024:  # JSON records may vary their keys; keep the cache bounded
                self._plans[headers] = plan
        return plan

    def header_for(self, field_name: str) -> str:
        for h, f in self.columns.items():
            if f == field_name:
                return h
        return field_name

    def to_fields(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Map one row (header → cell) to contract fields. Empty cells are left out, so the
        contract reports them as missing or applies its default."""
        out: dict[str, Any] = {}
        bool_map = self.values.get("_bool", {})
        for header, name, table, is_bool in self._plan(tuple(row)):
            cell = row[header]
            if cell is None:
                continue
            value = cell.strip() if isinstance(cell, str) else cell
            if value == "":
                continue
            if name == "event_type":
                value = self.event_types.get(str(value), value)
            elif isinstance(value, str):
                if table is not None and value in table:
                    value = table[value]
                elif is_bool and value in bool_map:
                    value = bool_map[value]
            out[name] = value
        if "event_type" not in out and self.default_event_type:
            out["event_type"] = self.default_event_type
        return out


def _load_yaml(name: str) -> dict[str, Any]:
    text = resources.files("connectors").joinpath("mappings", f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise MappingError(f"mappings/{name}.yaml is not a mapping")
    return data


@cache
def load_mapping(dept: str) -> ColumnMapping:
    """The column mapping of a department (``Dept`` value) or of ``roster``."""
    if dept != "roster" and dept not in {d.value for d in Dept}:
        known = ", ".join([d.value for d in Dept] + ["roster"])
        raise MappingError(f"unknown department {dept!r}; known: {known}")
    envelope = _load_yaml("_envelope") if dept != "roster" else {"columns": {}, "values": {}}
    own = _load_yaml(dept)
    values = {**envelope.get("values", {}), **own.get("values", {})}
    # YAML turns 是/否 keys into strings but "1"/"0" may arrive as ints in JSON: normalise keys to str.
    values = {f: {str(k): v for k, v in table.items()} for f, table in values.items()}
    return ColumnMapping(
        dept=dept,
        title=str(own.get("title", dept)),
        columns={**envelope.get("columns", {}), **own.get("columns", {})},
        values=values,
        event_types={str(k): str(v) for k, v in own.get("event_types", {}).items()},
        default_event_type=own.get("default_event_type"),
        snapshot_key=tuple(own.get("snapshot_key", ())),
        snapshot_removed_event_type=own.get("snapshot_removed_event_type"),
        own_headers=tuple(own.get("columns", {})),
    )
