"""Thresholds by region and effective date.

A value applies to a region code prefix ("*" = national default, "45" = Guangxi, "450321" = one
county, ...) from a date on. For an event, the most specific region that has a value in force on the
event's date wins, so the 2022 Guangxi values and another province's values coexist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rules.loader import LoadError, SourceError, line_of, load_yaml

REGION_LEVELS = (12, 9, 6, 4, 2)


@dataclass(frozen=True, slots=True)
class ParamValue:
    region: str
    valid_from: date
    value: float
    source: str


@dataclass(frozen=True)
class Parameter:
    name: str
    title: str
    unit: str
    values: tuple[ParamValue, ...]


class ParamTable:
    def __init__(self, params: dict[str, Parameter]) -> None:
        self.params = params
        # name -> region -> [(from, value)] newest first
        self._index: dict[str, dict[str, list[ParamValue]]] = {}
        for p in params.values():
            by_region: dict[str, list[ParamValue]] = {}
            for v in p.values:
                by_region.setdefault(v.region, []).append(v)
            for vs in by_region.values():
                vs.sort(key=lambda x: x.valid_from, reverse=True)
            self._index[p.name] = by_region
        self._cache: dict[tuple[str, date], dict[str, float]] = {}
        # Regions more specific than the longest code in the table resolve alike: cache by that prefix.
        self._key_len = max(
            (len(v.region) for p in params.values() for v in p.values if v.region != "*"), default=0
        )

    def as_data(self) -> dict[str, Any]:
        """The table in its file form (what a published catalogue carries)."""
        return {
            p.name: {
                "title": p.title,
                "unit": p.unit,
                "values": [
                    {
                        "region": v.region,
                        "from": v.valid_from.isoformat(),
                        "value": v.value,
                        "source": v.source,
                    }
                    for v in p.values
                ],
            }
            for p in sorted(self.params.values(), key=lambda p: p.name)
        }

    def value(self, name: str, region: str, on: date) -> ParamValue | None:
        by_region = self._index[name]
        for prefix in [region[:n] for n in REGION_LEVELS if len(region) >= n] + ["*"]:
            for v in by_region.get(prefix, ()):
                if v.valid_from <= on:
                    return v
        return None

    def resolve(self, region: str, on: date) -> dict[str, float]:
        """Every parameter's value for a region (a village code or any prefix) on a date."""
        key = (region[: self._key_len], on)
        hit = self._cache.get(key)
        if hit is None:
            hit = {}
            for name in self.params:
                v = self.value(name, region, on)
                if v is not None:
                    hit[name] = v.value
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit


def _parse(file: str, data: Any) -> dict[str, Parameter]:
    errors: list[SourceError] = []
    out: dict[str, Parameter] = {}
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise LoadError([SourceError(file, 1, "a parameter file needs a top-level 'parameters:' mapping")])
    for name, spec in data["parameters"].items():
        if name.startswith("__"):
            continue
        line = line_of(data["parameters"], name)
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), list):
            errors.append(SourceError(file, line, f"parameter {name}: needs 'values:' as a list"))
            continue
        values = []
        for item in spec["values"]:
            iline = line_of(item)
            try:
                values.append(
                    ParamValue(
                        str(item["region"]),
                        date.fromisoformat(str(item["from"])),
                        float(item["value"]),
                        str(item.get("source", "")),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                errors.append(
                    SourceError(
                        file,
                        iline,
                        f"parameter {name}: each value needs region, "
                        f"from (YYYY-MM-DD) and a number value ({exc})",
                    )
                )
        out[name] = Parameter(name, str(spec.get("title", name)), str(spec.get("unit", "")), tuple(values))
    if errors:
        raise LoadError(errors)
    return out


def load_params(directory: Path | None = None) -> ParamTable:
    """All ``*.yaml`` files of a parameter directory (default: the shipped ``rules/params``)."""
    paths = (
        sorted(directory.glob("*.yaml"))
        if directory
        else sorted(
            Path(str(p))
            for p in resources.files("rules").joinpath("params").iterdir()
            if str(p).endswith(".yaml")
        )
    )
    params: dict[str, Parameter] = {}
    for path in paths:
        for name, p in _parse(path.name, load_yaml(path)).items():
            if name in params:
                raise LoadError([SourceError(path.name, 1, f"parameter {name} defined twice")])
            params[name] = p
    return ParamTable(params)


def params_from_data(file: str, data: dict[str, Any]) -> ParamTable:
    return ParamTable(_parse(file, data))


@cache
def default_params() -> ParamTable:
    return load_params()
