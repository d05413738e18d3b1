"""Names of townships and villages (the geography's area table), so that pages, notices, lists and
reports show 白沙镇 and 遇龙村 beside 450321101 and 450321101201. Counties come from ``dixian.geo``.
Relocation sites (易地搬迁集中安置点) are units of the table too, screened like villages by the
site's management (a village-level account whose scope is the site's code), as the plan says, and
reported on their own (``is_site``).

The table is reference data: the city's 统计用区划代码 (code, name) as a CSV or XLSX file, loaded with
``dixian screening areas FILE``. A code without a name shows as the code alone."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.readers import open_source
from dixian.geo import CITY_SCOPE, COUNTIES, county_name
from screening.db import Database

SITE = "site"  # an area that is a relocation site (易地搬迁集中安置点)
SITE_SUFFIXES = ("安置点", "安置区", "安置社区", "安置小区")
CODE_COLUMNS = ("code", "代码", "区划代码", "统计用区划代码")
NAME_COLUMNS = ("name", "名称", "区划名称")
_NAME = re.compile(r"^[\u3400-\u9fff·（）()0-9]{1,40}$")


@dataclass(frozen=True)
class AreaProblem:
    line: int
    field: str
    reason: str


@dataclass(frozen=True)
class AreaLoad:
    loaded: int
    problems: list[AreaProblem]


def is_site(code: str, name: str) -> bool:
    """A relocation site (易地搬迁集中安置点) is a 12-digit unit of the area table (the community the
    relocated households are registered in) whose name says so: …安置点, …安置社区, …安置小区."""
    return len(code) == 12 and name.endswith(SITE_SUFFIXES)


def _column(headers: list[str], names: tuple[str, ...]) -> str | None:
    return next((h for h in headers if h.strip().lower() in names), None)


def read_area_table(path: Path) -> tuple[dict[str, str], list[AreaProblem]]:
    """The file's township and village names; every other row is a problem naming line and field."""
    source = open_source(path)
    code_col, name_col = _column(source.headers, CODE_COLUMNS), _column(source.headers, NAME_COLUMNS)
    if code_col is None or name_col is None:
        raise ValueError(
            f"{path.name}: 需要“代码”和“名称”两列（或 code, name），实有列：{'、'.join(source.headers)}"
        )
    names: dict[str, str] = {}
    problems: list[AreaProblem] = []
    for row in source.rows():
        if row.values is None:
            problems.append(
                AreaProblem(row.line, "", str(row.problem) if row.problem else "无法读取 / unreadable")
            )
            continue
        code = str(row.values.get(code_col) or "").strip()
        name = str(row.values.get(name_col) or "").strip()
        # the national table pads codes to 12 digits (450321101000 is the township 450321101); its
        # city and county rows are named by the geography already
        if (len(code) == 12 and code.endswith("000000")) or len(code) in (4, 6):
            continue
        if len(code) == 12 and code.endswith("000"):
            code = code[:9]
        if not (code.isascii() and code.isdigit() and len(code) in (9, 12) and code.startswith(CITY_SCOPE)):
            problems.append(
                AreaProblem(
                    row.line,
                    code_col,
                    f"不是本市的乡镇（9位）或行政村（12位）代码 / not a township or village code of the city:"
                    f" {code!r}",
                )
            )
        elif code[:6] not in COUNTIES:
            problems.append(
                AreaProblem(
                    row.line, code_col, f"本市没有县级代码 {code[:6]} / no county {code[:6]} in the city"
                )
            )
        elif not _NAME.match(name):
            problems.append(
                AreaProblem(
                    row.line, name_col, "名称应为1–40个汉字 / the name must be 1–40 Chinese characters"
                )
            )
        else:
            names[code] = name
    return names, problems


class Areas:
    """The store's area names, cached per process (a reload refreshes this process's cache; other
    processes pick a new table up on restart)."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now
        self._names: dict[str, str] | None = None
        self._lock = threading.Lock()

    def load(self, names: dict[str, str]) -> int:
        """Load the table's names; a 12-digit area named as a relocation site (``is_site``) is kept
        as one: a screening unit beside the villages."""
        ts = self.now().isoformat(timespec="seconds")
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO areas (code, name, loaded_at, kind) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, loaded_at = excluded.loaded_at,"
                " kind = excluded.kind",
                [
                    (code, name, ts, SITE if is_site(code, name) else "area")
                    for code, name in sorted(names.items())
                ],
            )
        with self._lock:
            self._names = None
        return len(names)

    def sites(self) -> dict[str, str]:
        """The relocation sites (易地搬迁集中安置点): code → name."""
        rows = self.db.query("SELECT code, name FROM areas WHERE kind = ? ORDER BY code", (SITE,))
        return {r["code"]: r["name"] for r in rows}

    def names(self) -> dict[str, str]:
        with self._lock:
            if self._names is None:
                self._names = {r["code"]: r["name"] for r in self.db.query("SELECT code, name FROM areas")}
            return self._names

    def name(self, code: str) -> str:
        """The area's name ('' when the table has none); counties from the geography."""
        if len(code) == 6:
            return COUNTIES.get(code, "")
        return self.names().get(code, "")

    def label(self, code: str) -> str:
        """'name（code）', or the code alone when the table has no name for it."""
        name = self.name(code)
        return f"{name}（{code}）" if name else code

    def path(self, village_code: str) -> str:
        """County, township and village names of a village code, as an address: 阳朔县白沙镇遇龙村."""
        parts = [county_name(village_code), self.name(village_code[:9]), self.name(village_code)]
        return "".join(p for p in parts if p and not p.isdigit())

    def labels(self, codes: Iterable[str]) -> dict[str, str]:
        return {c: self.label(c) for c in codes}

    def with_names(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows with a village code, plus ``village_name`` and ``township_name``."""
        return [
            r
            | {
                "village_name": self.name(r["village_code"]),
                "township_name": self.name(r["village_code"][:9]),
            }
            for r in rows
        ]
