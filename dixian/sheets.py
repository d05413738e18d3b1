"""Every workbook and CSV the project writes goes out through here, so that no cell can start a
formula from text a user typed (a campaign name, a visit note, a householder's name).

The project writes no formula on purpose: before a workbook is saved, any cell that openpyxl took
for a formula (text beginning with ``=``) is stored as the text it is. CSV has no cell types, so a
text value that a spreadsheet would read as a formula (``= + - @``, tab, CR) is prefixed with ``'``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(workbook: Any) -> Any:
    """The workbook with every formula cell turned into a text cell holding the same characters."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    return workbook


def workbook_bytes(workbook: Any) -> bytes:
    buf = io.BytesIO()
    defuse(workbook).save(buf)
    return buf.getvalue()


def save_workbook(workbook: Any, path: Path) -> None:
    defuse(workbook).save(path)


def csv_cell(value: Any) -> Any:
    """A CSV value a spreadsheet opens as text, never as a formula."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value
    return value
