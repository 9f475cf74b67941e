"""Writing spreadsheet rows that people open in Excel or WPS: text stays text.

openpyxl writes a string that starts with '=' as a formula, and a spreadsheet runs it when the file is
opened (=HYPERLINK(...) sends data away, =cmd|... starts programs). Task names, departments and legal text
come from uploads and corpora, so every string cell is written as a string, whatever it starts with."""

from __future__ import annotations

from typing import Any


def append_row(ws: Any, values: list) -> None:
    """ws.append(values), with each string cell typed as text; numbers stay numbers."""
    ws.append(values)
    for cell, value in zip(ws[ws.max_row], values, strict=False):
        if isinstance(value, str):
            cell.data_type = "s"


def csv_text(value: str) -> str:
    """A CSV cell a spreadsheet will not run: one that starts like a formula gets a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
