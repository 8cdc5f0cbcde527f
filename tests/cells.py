"""Cells of the sample workbook found by their header, never by a column letter: a test
that changes a value keeps working when a column is added or moved."""

from __future__ import annotations

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dotation_docs.schema import normalize_label

HEADER_ROW = 1  # of the sample's table sheets


def column(ws: Worksheet, header: str) -> str:
    """Return the letter of the column whose header is ``header`` (matched like the
    reader does: accents, case and spaces ignored)."""
    wanted = normalize_label(header)
    for cell in ws[HEADER_ROW]:
        if cell.value is not None and normalize_label(str(cell.value)) == wanted:
            return get_column_letter(cell.column)
    raise KeyError(f"{ws.title}: no column « {header} »")


def at(ws: Worksheet, header: str, row: int) -> str:
    """Return the coordinate of column ``header`` at ``row`` (``Factures``, ``Date``, 3 → ``D3``)."""
    return f"{column(ws, header)}{row}"


def put(wb: openpyxl.Workbook, sheet: str, header: str, row: int, value: object) -> None:
    """Set the cell of column ``header`` at ``row`` of ``sheet``."""
    ws = wb[sheet]
    ws[at(ws, header, row)] = value
