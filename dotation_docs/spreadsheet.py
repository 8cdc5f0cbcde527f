"""Spreadsheet writer: the expense statement (état récapitulatif des dépenses) as an .xlsx.

With the workbook reader, the only module that imports openpyxl. The statement lists the
invoices of the operation with their totals, the State's subsidy and the "Certifié exact"
block the authorising officer signs (décret n° 2018-514, art. 12), beside the public
accountant's "Vu et certifié conforme" block.

Rules kept here:

* **data is data**: every text coming from the workbook is written as a string cell, never a
  formula (openpyxl turns a str starting with "=" into a formula unless told otherwise);
* **amounts are values**: totals are summed in Python with ``Decimal`` and written as
  numbers, not formulas (a formula has no value until a spreadsheet application recomputes
  it, so a reader or a PDF converter could see nothing);
* **no float noise**: openpyxl writes numbers with ``"%.16g"``, which turns 0.07 into
  ``0.07000000000000001`` in the file; numbers are written with the exact text of the
  ``Decimal`` instead;
* **deterministic output**: fixed document properties and zip timestamps, so the same
  context gives the same bytes;
* **the end stays together**: a statement longer than a page gets manual page breaks so
  that its last invoice rows, the total, the summary and both certification blocks print
  on the last page (the page is printed at a fixed scale computed from the column widths:
  spreadsheet applications ignore manual breaks when "fit to page" is on);
* **nothing is clipped**: invoice and mandate references wrap (a reference of any length
  prints in full, broken at its hyphens or anywhere), the rows are tall enough for them,
  and the amount columns are widened for the longest amount they hold (a number that
  does not fit prints « ### »).
"""

from __future__ import annotations

import io
import math
from copy import copy
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from dotation_docs.formatting import format_amount, format_date, format_siret
from dotation_docs.rendering import normalize_zip

SHEET_TITLE = "État récapitulatif"
DOCUMENT_TITLE = "État récapitulatif des dépenses"
CREATOR = "dotation-docs"

# Number formats carry the French locale ([$-40C], fr-FR): LibreOffice then prints
# « 4 548,00 € » and « 12,5 % » whatever the reader's system locale (without it, an English
# system shows « 4,548.00 € »). The separators of the code itself stay "," and ".", as
# the file format wants; the locale decides how they print.
FRENCH = "[$-40C]"
MONEY_FORMAT = FRENCH + '#,##0.00\\ "€"'
DATE_FORMAT = "DD/MM/YYYY"
PERCENT_FORMAT = FRENCH + "0\\ %"
BLANK_DATE = "………………"
BLANK_LINE = "……………………………………………………"  # to fill in by hand
NIL = "néant"

# (header label, column width in characters). The eligible amount's label gets its base.
COLUMNS: tuple[tuple[str, float], ...] = (
    ("N°", 5),
    ("Fournisseur", 24),
    ("SIRET du fournisseur", 18),
    ("N° de facture", 16),
    ("Date de la facture", 11.5),
    ("Objet", 31),
    ("Montant HT", 14),
    ("TVA", 13),
    ("Montant TTC", 14),
    ("Montant éligible", 14),
    ("N° de mandat", 13),
    ("Date de paiement", 11.5),
    ("Observations", 16),
)
LAST_COLUMN = len(COLUMNS)
# 1-based column numbers of the table.
COL_NUMBER, COL_SUPPLIER, COL_SIRET, COL_REFERENCE, COL_DATE, COL_OBJECT = 1, 2, 3, 4, 5, 6
COL_HT, COL_VAT, COL_TTC, COL_ELIGIBLE, COL_MANDATE, COL_PAYMENT, COL_REMARKS = 7, 8, 9, 10, 11, 12, 13
WRAPPED_COLUMNS = (COL_SUPPLIER, COL_REFERENCE, COL_OBJECT, COL_MANDATE, COL_REMARKS)
MONEY_COLUMNS = (COL_HT, COL_VAT, COL_TTC, COL_ELIGIBLE)

LINE_HEIGHT = 15.0  # points, one line of 11 pt text
_THIN = Side(style="thin", color="000000")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
HEADER_FILL = PatternFill("solid", start_color="D9D9D9", end_color="D9D9D9")
TOTAL_FILL = PatternFill("solid", start_color="F2F2F2", end_color="F2F2F2")
FONT_NAME = "Calibri"  # the workbook's default font; LibreOffice uses Carlito, same metrics
FONT_SIZE = 11


def _font(*, bold: bool = False, italic: bool = False, size: float = FONT_SIZE) -> Font:
    """Return a font of the workbook's family (a Font without a name prints in another
    family in LibreOffice)."""
    return Font(name=FONT_NAME, size=size, bold=bold, italic=italic)


BOLD = _font(bold=True)


def render_expense_statement(context: Mapping[str, Any], *, timestamp: datetime) -> bytes:
    """Return the bytes of the .xlsx expense statement built from a claim context
    (:func:`dotation_docs.context.claim_context`). ``timestamp`` becomes the workbook's
    creation and modification dates (a naive datetime is taken as UTC).

    Raises ``ValueError`` when the invoices do not add up to the context's totals, when
    an amount is not finite, and ``TypeError`` when an amount is not a ``Decimal``/int.
    """
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    set_properties(wb, timestamp)

    invoices: Sequence[Mapping[str, Any]] = context["factures"]
    sums = _sums(invoices)
    _check_totals(sums, context["totaux"])

    row = _write_title(ws, context)
    header_row = row
    _write_header(ws, header_row, context["totaux"]["assiette"])
    row += 1
    styles: list[StyleArray] | None = None  # the invoice rows' styles, column by column
    for invoice in invoices:
        styles = _write_invoice(ws, row, invoice, styles)
        row += 1
    total_row = row
    _write_total(ws, row, sums)
    row += 2
    summary = _summary_lines(context)
    row = _write_summary(ws, row, summary)
    row += 1
    row = _write_certification(ws, row, context)

    widths = _set_columns(ws, _amounts_by_column(invoices, sums, summary))
    _set_page(ws, header_row, last_row=row - 1, widths=widths)
    _set_row_breaks(ws, header_row, total_row, last_row=row - 1)
    return _save(wb)


# --- cells -------------------------------------------------------------------------------


def _text(cell: Cell, value: Any) -> Cell:
    """Write ``value`` as a string cell (never a formula, never an error code); None
    leaves the cell empty."""
    if value is None:
        cell.value = None
        return cell
    cell.value = str(value)
    cell.data_type = "s"
    return cell


def _number(cell: Cell, value: Decimal | int, number_format: str | None) -> Cell:
    """Write ``value`` as a number cell holding the exact decimal text of the value, shown
    with ``number_format`` (None: the cell's style is left as it is)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"expected Decimal or int, got {type(value).__name__}: {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if number.is_zero():
        number = abs(number)  # no "-0.00"
    # openpyxl would write float(value) with "%.16g" (0.07 -> 0.07000000000000001):
    # give it the decimal text and mark the cell numeric, the writer copies it as is.
    cell.value = format(number, "f")
    cell.data_type = "n"
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _date(cell: Cell, value: date | None, styled: bool = True) -> Cell:
    """Write ``value`` as a date cell shown DD/MM/YYYY (unless not ``styled``: the cell's
    style is left as it is); None leaves the cell empty."""
    if value is None:
        cell.value = None
    else:
        cell.value = value
    if styled:
        cell.number_format = DATE_FORMAT
    return cell


def _merged_line(
    ws: Worksheet,
    row: int,
    text: str,
    *,
    first: int = 1,
    last: int = LAST_COLUMN,
    font: Font | None = None,
    horizontal: str = "left",
) -> None:
    """Write ``text`` across columns ``first``..``last`` of ``row``, wrapped, and size
    the row for it (spreadsheet applications do not grow merged rows by themselves)."""
    cell = _text(ws.cell(row=row, column=first), text)
    if font is not None:
        cell.font = font
    cell.alignment = Alignment(horizontal=horizontal, vertical="center", wrap_text=True)
    if last > first:
        ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
    width = sum(COLUMNS[c - 1][1] for c in range(first, last + 1))
    size = font.sz if font is not None and font.sz else 11
    scale = size / 11 * (1.1 if font is not None and font.b else 1.0)
    lines = _line_count(text, width / scale)
    ws.row_dimensions[row].height = max(lines * LINE_HEIGHT * size / 11, LINE_HEIGHT) + 2


def _line_count(text: str, width: float) -> int:
    """Estimate how many lines ``text`` takes in a column ``width`` characters wide."""
    usable = max(width - 2, 1)  # cell padding and indent
    return sum(max(1, math.ceil(len(part) / usable)) for part in str(text).split("\n"))


# Widths of characters, in digit widths (the unit of a column's width), rounded up from
# Calibri/Carlito's metrics; any other character counts as a digit (lowercase letters are
# narrower). Used for references, whose capitals are wider than a digit.
_NARROW = dict.fromkeys(" .,:;'!|iljI", 0.55) | dict.fromkeys("-/()[]frtJ", 0.75)
_WIDE = dict.fromkeys("MWmw@%", 1.8)
_CAPITAL = 1.3
# Where LibreOffice and Excel may break a line besides a space: after a hyphen or a slash.
_BREAK_AFTER = frozenset(" -/")


def _char_width(char: str) -> float:
    width = _NARROW.get(char) or _WIDE.get(char)
    if width is not None:
        return width
    return _CAPITAL if char.isupper() else 1.0


def _reference_lines(text: str, width: float) -> int:
    """Estimate, on the safe side, how many lines a reference takes in a wrapped column
    ``width`` characters wide: words are cut after a space, a hyphen or a slash and go to
    the next line when they do not fit; a word wider than the column is cut anywhere
    (LibreOffice and Excel do both)."""
    usable = max(width - 2, 1)  # cell padding and indent
    lines = 0
    for paragraph in str(text).split("\n"):
        lines += 1
        used = 0.0
        word: list[float] = []
        for index, char in enumerate(paragraph):
            word.append(_char_width(char))
            if char not in _BREAK_AFTER and index < len(paragraph) - 1:
                continue
            size = sum(word)
            if used and used + size > usable:
                lines += 1
                used = 0.0
            for part in word if size > usable else (size,):
                if used and used + part > usable:  # a word wider than the column
                    lines += 1
                    used = 0.0
                used += part
            word = []
    return lines


# --- parts of the sheet ------------------------------------------------------------------


def _write_title(ws: Worksheet, context: Mapping[str, Any]) -> int:
    """Write the title rows; return the row of the table header."""
    operation = context["operation"]
    authority = context["collectivite"]
    _merged_line(ws, 1, "ÉTAT RÉCAPITULATIF DES DÉPENSES", font=_font(bold=True, size=14), horizontal="center")
    _merged_line(ws, 2, operation["titre"], font=_font(bold=True, size=12), horizontal="center")
    _merged_line(ws, 3, operation["programme"], font=_font(italic=True), horizontal="center")
    siret = authority.get("siret")
    beneficiary = f"Bénéficiaire de la subvention : {authority['nom']}"
    if siret:
        beneficiary += f" (SIRET {format_siret(siret)})"
    _merged_line(ws, 5, beneficiary)
    _merged_line(
        ws,
        6,
        f"Décision attributive : {operation['decision_reference']} du {format_date(operation['decision_date'])}",
    )
    _merged_line(ws, 7, f"Service de l’État : {context['etat']['prefecture']}")
    return 9


def _write_header(ws: Worksheet, row: int, base: str) -> None:
    labels = [label for label, _ in COLUMNS]
    labels[COL_ELIGIBLE - 1] = f"Montant éligible ({base})"
    for column, label in enumerate(labels, start=1):
        cell = _text(ws.cell(row=row, column=column), label)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.border = BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    lines = max(_line_count(label, COLUMNS[c][1] / 1.1) for c, label in enumerate(labels))
    ws.row_dimensions[row].height = lines * LINE_HEIGHT + 4


def _write_invoice(ws: Worksheet, row: int, invoice: Mapping[str, Any],
                   styles: Sequence[StyleArray] | None = None) -> list[StyleArray]:
    """Write the row of one invoice; return the style of each of its cells, the same for
    every invoice row. With the ``styles`` of a row written before, the cells get a copy
    of them instead of being styled one attribute at a time (openpyxl hashes the font, the
    border, the alignment of each assignment: 0.3 s for a national statement); the
    workbook's collections of styles are the same, in the same order: same bytes."""
    def cell(column: int) -> Cell:
        return ws.cell(row=row, column=column)

    styled = styles is None
    ws.cell(row=row, column=COL_NUMBER, value=int(invoice["numero"]))
    _text(cell(COL_SUPPLIER), invoice["fournisseur"])
    siret = invoice.get("siret_fournisseur")
    _text(cell(COL_SIRET), format_siret(siret) if siret else None)
    _text(cell(COL_REFERENCE), invoice["reference"])
    _date(cell(COL_DATE), invoice["date"], styled)
    _text(cell(COL_OBJECT), invoice["objet"])
    _number(cell(COL_HT), invoice["ht"], MONEY_FORMAT if styled else None)
    _number(cell(COL_VAT), invoice["tva"], MONEY_FORMAT if styled else None)
    _number(cell(COL_TTC), invoice["ttc"], MONEY_FORMAT if styled else None)
    _number(cell(COL_ELIGIBLE), invoice["eligible"], MONEY_FORMAT if styled else None)
    _text(cell(COL_MANDATE), invoice.get("mandat"))
    _date(cell(COL_PAYMENT), invoice.get("date_paiement"), styled)
    cells = [cell(column) for column in range(1, LAST_COLUMN + 1)]
    if styles is None:
        for column, c in enumerate(cells, start=1):
            _table_style(c, column)
        styles = [c._style for c in cells]
    else:
        for c, style in zip(cells, styles, strict=True):
            c._style = copy(style)
    ws.row_dimensions[row].height = invoice_row_height(ws, row)
    return list(styles)


def invoice_row_height(ws: Worksheet, row: int) -> float:
    """Return the height (points) of an invoice row that shows every line of its wrapped
    texts: spreadsheet applications do not grow a row whose height is set, and the page
    breaks are planned from these heights."""
    def value(column: int) -> str:
        return ws.cell(row=row, column=column).value or ""

    lines = max(
        max(_line_count(value(c), COLUMNS[c - 1][1]) for c in (COL_SUPPLIER, COL_OBJECT)),
        max(_reference_lines(value(c), COLUMNS[c - 1][1]) for c in (COL_REFERENCE, COL_MANDATE)),
    )
    return lines * LINE_HEIGHT + 4


def _table_style(cell: Cell, column: int) -> None:
    cell.border = BORDER
    if column in MONEY_COLUMNS:
        horizontal = "right"
    elif column in (COL_NUMBER, COL_DATE, COL_PAYMENT, COL_SIRET, COL_MANDATE):
        horizontal = "center"
    else:
        horizontal = "left"
    cell.alignment = Alignment(
        horizontal=horizontal,
        vertical="center",
        wrap_text=column in WRAPPED_COLUMNS,
        indent=0 if horizontal == "center" else 1,  # keep text off the borders
    )


def _write_total(ws: Worksheet, row: int, sums: Mapping[str, Decimal]) -> None:
    _text(ws.cell(row=row, column=1), "TOTAL")
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=COL_OBJECT)
    for column, key in ((COL_HT, "ht"), (COL_VAT, "tva"), (COL_TTC, "ttc"), (COL_ELIGIBLE, "eligible")):
        _number(ws.cell(row=row, column=column), sums[key], MONEY_FORMAT)
    for column in range(1, LAST_COLUMN + 1):
        cell = ws.cell(row=row, column=column)
        _table_style(cell, column)
        cell.font = BOLD
        cell.fill = TOTAL_FILL
    ws.cell(row=row, column=1).alignment = Alignment(horizontal="right", vertical="center", indent=1)
    ws.row_dimensions[row].height = LINE_HEIGHT + 6


SummaryLine = tuple[str, Decimal | int | str, str]  # label, value, number format


def _summary_lines(context: Mapping[str, Any]) -> list[SummaryLine]:
    """Return the lines of the summary: the eligible expense, the rate, the subsidy and
    the amount claimed."""
    totals = context["totaux"]
    claim = context["demande"]
    base = totals["assiette"]
    lines: list[SummaryLine] = []
    if claim.get("depense_previsionnelle") is not None:
        lines.append((f"Dépense éligible prévisionnelle ({base}) :", claim["depense_previsionnelle"],
                      MONEY_FORMAT))
    lines += [
        (f"Dépense éligible réalisée ({base}) :", totals["eligible"], MONEY_FORMAT),
        ("Taux de l’État :", totals["taux_etat"], _percent_format(totals["taux_etat"])),
        ("Montant de la subvention attribuée :", claim.get("montant_attribue", totals["plafond"]), MONEY_FORMAT),
        ("Subvention de l’État (taux × dépense réalisée, dans la limite du montant attribué) :",
         totals["part_etat"], MONEY_FORMAT),
    ]
    advances = totals.get("acomptes") or Decimal(0)
    lines.append(("Acomptes déjà perçus :", advances if advances else NIL, MONEY_FORMAT))
    lines.append(("Montant dû (montant demandé) :", claim["montant"], MONEY_FORMAT))
    return lines


def _write_summary(ws: Worksheet, row: int, lines: Sequence[SummaryLine]) -> int:
    """Write the summary ``lines`` (label right-aligned over the first columns, value in
    the HT column); return the next row."""
    for label, value, number_format in lines:
        label_cell = _text(ws.cell(row=row, column=1), label)
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=COL_OBJECT)
        label_cell.font = BOLD
        label_cell.alignment = Alignment(horizontal="right", vertical="center")
        if isinstance(value, str):
            value_cell = _text(ws.cell(row=row, column=COL_HT), value)
        else:
            value_cell = _number(ws.cell(row=row, column=COL_HT), value, number_format)
        value_cell.font = BOLD
        value_cell.alignment = Alignment(horizontal="right", vertical="center")
        ws.row_dimensions[row].height = LINE_HEIGHT + 3
        row += 1
    return row


def _percent_format(rate: Decimal | int) -> str:
    """Return the French ``0 %`` format for a whole percentage, else as many decimals as the rate needs."""
    percent = (Decimal(rate) * 100).normalize()
    decimals = max(0, -percent.as_tuple().exponent) if percent.is_finite() else 0
    return PERCENT_FORMAT if decimals == 0 else f"{FRENCH}0.{'0' * decimals}\\ %"


# Columns of the two certification blocks: the accountant's on the left, the authorising
# officer's on the right, as prefecture models print them.
ACCOUNTANT_COLUMNS = (COL_SUPPLIER, COL_OBJECT)
OFFICER_COLUMNS = (COL_TTC, LAST_COLUMN)
SIGNATURE_ROOM = 70.0  # points: room for the signatures and the stamps


def _write_certification(ws: Worksheet, row: int, context: Mapping[str, Any]) -> int:
    """Write, side by side, the public accountant's "Vu et certifié conforme" block (its
    office and title, or dotted lines to fill in by hand) and the authorising officer's
    "Certifié exact" block; under both, room for the signatures and the stamps, then the
    captions « (signature et cachet …) »; return the row after."""
    claim_date = context["demande"].get("date")
    when = format_date(claim_date) if claim_date is not None else BLANK_DATE
    authority = context["collectivite"]
    note = _font(italic=True, size=9)
    accountant = [
        ("Vu et certifié conforme aux écritures du comptable public", BOLD),
        (authority.get("comptable_poste") or BLANK_LINE, None),
        (authority.get("comptable_qualite") or BLANK_LINE, None),
        (f"À {BLANK_LINE[:12]}, le {BLANK_DATE}", None),
    ]
    officer = [
        (f"Certifié exact, à {context['operation']['lieu_signature']}, le {when}", BOLD),
        (authority.get("signataire_fonction") or authority["representant_qualite"], None),
        (authority["representant"], None),
    ]
    captions = [
        ("(signature et cachet du comptable public)", note),
        ("(signature et cachet de l’ordonnateur)", note),
    ]
    blocks = ((accountant, ACCOUNTANT_COLUMNS), (officer, OFFICER_COLUMNS))

    def write_row(lines: Sequence[tuple[str, Font | None] | None]) -> None:
        heights = [LINE_HEIGHT]
        for line, (first, last) in zip(lines, (columns for _, columns in blocks)):
            if line is not None:
                text, font = line
                _merged_line(ws, row, text, first=first, last=last, font=font, horizontal="center")
                heights.append(ws.row_dimensions[row].height)
        ws.row_dimensions[row].height = max(heights)

    for index in range(max(len(accountant), len(officer))):
        write_row([block[index] if index < len(block) else None for block, _ in blocks])
        row += 1
    # Room for the signatures and the stamps, between the names and the captions.
    ws.row_dimensions[row].height = SIGNATURE_ROOM
    row += 1
    write_row(captions)
    return row + 1


# --- totals ------------------------------------------------------------------------------


def _sums(invoices: Sequence[Mapping[str, Any]]) -> dict[str, Decimal]:
    return {key: sum((Decimal(i[key]) for i in invoices), Decimal("0.00")) for key in ("ht", "tva", "ttc", "eligible")}


def _check_totals(sums: Mapping[str, Decimal], totals: Mapping[str, Any]) -> None:
    """Refuse to print a statement whose table and summary would disagree."""
    for key in ("ht", "tva", "ttc", "eligible"):
        if key in totals and sums[key] != totals[key]:
            raise ValueError(
                f"état récapitulatif incohérent : la somme des factures ({key} = {sums[key]}) "
                f"diffère du total de l'opération ({totals[key]})."
            )


# --- layout and file ---------------------------------------------------------------------


def _amounts_by_column(invoices: Sequence[Mapping[str, Any]], sums: Mapping[str, Decimal],
                       summary: Sequence[SummaryLine]) -> dict[int, list[Decimal]]:
    """Return the amounts each amount column shows: its invoices' and its total, and, in
    the HT column, the summary's amounts."""
    amounts = {
        column: [Decimal(i[key]) for i in invoices] + [sums[key]]
        for column, key in ((COL_HT, "ht"), (COL_VAT, "tva"), (COL_TTC, "ttc"), (COL_ELIGIBLE, "eligible"))
    }
    amounts[COL_HT] += [Decimal(value) for _, value, number_format in summary
                        if number_format == MONEY_FORMAT and not isinstance(value, str)]
    return amounts


def _set_columns(ws: Worksheet, amounts: Mapping[int, Sequence[Decimal]]) -> list[float]:
    """Set the width of each column, an amount column widened for the longest of its
    ``amounts``; return the widths."""
    widths = [width for _, width in COLUMNS]
    for column, values in amounts.items():
        widths[column - 1] = max(widths[column - 1], money_width(values))
    for column, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width
    return widths


# A column n characters wide prints an amount of n characters, bold or not, indent
# included (LibreOffice: « 999 999 999,99 € » prints at 16, « ### » at 15): a digit is
# one character wide and the separators are narrower. Half a character more is a margin
# for applications that draw text a little wider.
MONEY_ROOM = 0.5


def money_width(amounts: Sequence[Decimal]) -> float:
    """Return the width (characters) that a column needs to print each of ``amounts`` in
    full, as « 12 345 678,90 € »; 0 when there is none."""
    if not amounts:
        return 0.0
    longest = max(len(format_amount(amount)) for amount in (max(amounts), min(amounts)))
    return longest + MONEY_ROOM


# A4 landscape, in points, and the margins (inches) of the page.
PAGE_WIDTH, PAGE_HEIGHT = 842.0, 595.0
MARGIN_SIDE, MARGIN_TOP_BOTTOM = 0.4, 0.6
DEFAULT_ROW_HEIGHT = LINE_HEIGHT
# Share of the printable height the page breaks plan to fill: a margin for rows that a
# spreadsheet application draws a little taller than the height written in the file.
PAGE_FILL = Decimal("0.92")
KEEP_WITH_END = 3  # invoice rows printed with the total and the certification blocks


# Share of the printable width the table is scaled to: spreadsheet applications draw a
# column a little wider than the estimate below (LibreOffice printed the last column alone
# on a second page at the exact fit), so the scale keeps a margin.
WIDTH_FILL = Decimal("0.90")


def table_width(widths: Sequence[float] | None = None) -> float:
    """Return the width in points at 100 % of columns ``widths`` characters wide (default:
    the table's base widths): a column ``w`` characters wide is ~7 px a character plus 5 px
    of padding, 0.75 pt a pixel."""
    if widths is None:
        widths = [w for _, w in COLUMNS]
    return sum(w * 7 + 5 for w in widths) * 0.75


def printable_width() -> float:
    """Return the printable width of the page, in points."""
    return PAGE_WIDTH - 2 * MARGIN_SIDE * 72


def print_scale(widths: Sequence[float] | None = None) -> int:
    """Return the print scale (percent) at which every column (``widths``, default: the
    base widths) fits the page's width with a margin (:data:`WIDTH_FILL`): never a column
    alone on a page."""
    fill = float(WIDTH_FILL)
    return max(10, min(100, math.floor(printable_width() * fill / table_width(widths) * 100)))


def _set_page(ws: Worksheet, header_row: int, last_row: int, widths: Sequence[float]) -> None:
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_area = f"A1:{get_column_letter(LAST_COLUMN)}{last_row}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    # A fixed scale, not "fit to width": with "fit to", manual page breaks are ignored.
    ws.page_setup.scale = print_scale(widths)
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = MARGIN_SIDE
    ws.page_margins.top = ws.page_margins.bottom = MARGIN_TOP_BOTTOM
    ws.page_margins.header = ws.page_margins.footer = 0.3
    # Fixed text only: "&" in workbook data would be read as a header/footer code.
    ws.oddFooter.left.text = DOCUMENT_TITLE
    ws.oddFooter.left.size = 8
    ws.oddFooter.right.text = "Page &P sur &N"  # as the Word documents
    ws.oddFooter.right.size = 8


def _height(ws: Worksheet, row: int) -> float:
    return ws.row_dimensions[row].height or DEFAULT_ROW_HEIGHT


def page_rows(ws: Worksheet) -> float:
    """Return the height, in points of the sheet, that one printed page of ``ws`` holds
    at its print scale."""
    printable = PAGE_HEIGHT - 2 * MARGIN_TOP_BOTTOM * 72
    scale = int(ws.page_setup.scale or print_scale())
    return float(Decimal(str(printable / (scale / 100))) * PAGE_FILL)


def _set_row_breaks(ws: Worksheet, header_row: int, total_row: int, last_row: int) -> None:
    """Break pages between invoice rows so that the last ``KEEP_WITH_END`` invoices, the
    total, the summary and the certification blocks print together on the last page; the
    header row is repeated on every page (``print_title_rows``)."""
    capacity = page_rows(ws)
    first_invoice = header_row + 1
    # The rows that must stay together: the last invoices and everything after them.
    keep_from = max(first_invoice, total_row - KEEP_WITH_END)
    end_block = sum(_height(ws, r) for r in range(keep_from, last_row + 1))
    used = sum(_height(ws, r) for r in range(1, header_row + 1))
    repeated = _height(ws, header_row)
    for row in range(first_invoice, keep_from):
        height = _height(ws, row)
        if used + height > capacity:
            ws.row_breaks.append(Break(id=row - 1))
            used = repeated
        used += height
    if used + end_block > capacity and used > repeated:
        ws.row_breaks.append(Break(id=keep_from - 1))


def set_properties(wb: Workbook, timestamp: datetime, title: str = DOCUMENT_TITLE) -> None:
    """Give ``wb`` the tool's fixed document properties (creator, title, French language,
    ``timestamp`` as creation and modification date), so that the same input gives the
    same bytes."""
    if timestamp.tzinfo is not None:
        timestamp = timestamp.astimezone(timezone.utc).replace(tzinfo=None)
    props = wb.properties
    props.creator = CREATOR
    props.lastModifiedBy = CREATOR
    props.title = title
    props.created = timestamp
    props.modified = timestamp
    props.language = "fr-FR"


def _save(wb: Workbook) -> bytes:
    # Not wb.save(): openpyxl's save_workbook stamps "modified" with the current time.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()
    return normalize_zip(buffer.getvalue())
