"""Blank workbook writer: the empty workbook an agent fills in (``dotation nouveau``).

Everything comes from :mod:`dotation_docs.schema`, through its public objects only
(each sheet's title, layout, description and fields; each field's label, kind,
required flag, choices, description, example and limits), so the blank workbook is
always the format the reader expects: every sheet and header, an « Aide » sheet that
explains each column and the main rules, frozen header rows, drop-down lists and other
data validations, and a comment on each header. It holds no data.
"""

from __future__ import annotations

import io
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from dotation_docs import schema
from dotation_docs.exceptions import OutputError, OutputExistsError, describe_os_error
from dotation_docs.rendering import normalize_zip
from dotation_docs.schema import Field, Kind, Layout, Sheet
from dotation_docs.spreadsheet import set_properties

log = logging.getLogger(__name__)

HELP_TITLE = "Aide"
LISTS_TITLE = "Listes"  # hidden sheet, only for a list too long to be written inline
FORM_HEADERS = ("Champ", "Valeur", HELP_TITLE)  # the reader skips a first label « Champ »
SUFFIX = ".xlsx"
CREATOR = "dotation-docs"
DOCUMENT_TITLE = "Classeur d'une opération de remise de matériel informatique"
# Fixed document dates: the same schema always gives the same bytes.
TIMESTAMP = datetime(2024, 1, 1, 0, 0, 0)
FIRST_DATA_ROW = 2
LAST_DATA_ROW = 2000  # validations and formats cover this many rows of each table
REQUIRED, OPTIONAL = "obligatoire", "facultatif"

# Longest texts Excel accepts in a data validation (longer ones make it "repair" the file).
PROMPT_TITLE_MAX = 32
PROMPT_MAX = 255
ERROR_MAX = 225
INLINE_LIST_MAX = 255  # characters of an inline list, separators included

NUMBER_FORMATS = {
    Kind.DATE: "DD/MM/YYYY",
    Kind.TIME: "HH:MM",
    Kind.MONEY: '#,##0.00\\ "€"',
    Kind.RATE: "0.0\\ %",  # 5,5 % must not show as 6 %
    Kind.INTEGER: "0",
}
TEXT_FORMAT = "@"  # keeps leading zeros of SIRET, postcodes, phone numbers, IMEI

# Widths, in characters.
WIDTHS = {Kind.DATE: 12, Kind.TIME: 8, Kind.MONEY: 14, Kind.RATE: 10, Kind.INTEGER: 10,
          Kind.POSTCODE: 12, Kind.SIRET: 18, Kind.IBAN: 34, Kind.IMEI: 18}
MIN_WIDTH, MAX_WIDTH = 12, 45
FORM_WIDTHS = (48, 50, 90)
HELP_WIDTHS = (40, 13, 44, 36, 34, 13, 70)
HELP_HEADERS = ("Colonne", "Obligatoire", "Valeur attendue", "Valeurs permises", "Exemple",
                "Longueur maximale", "Explications")
LINE_HEIGHT = 15.0  # points, one line of 11 pt text
CHARS_PER_WIDTH = 1.1  # characters of average text per unit of column width

HEADER_FILL = PatternFill("solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
OPTIONAL_FILL = PatternFill("solid", start_color="FFF2F2F2", end_color="FFF2F2F2")
SECTION_FILL = PatternFill("solid", start_color="FFFCE4D6", end_color="FFFCE4D6")
BOLD = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
SECTION_FONT = Font(bold=True, size=12)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="center")

# Table columns whose value names a row of another sheet, by sheet key and label (labels
# are the stable part of the schema): their drop-down lists that sheet's column.
REFERENCES: dict[tuple[str, str], tuple[str, str]] = {
    ("devices", "Facture"): ("invoices", "Référence"),
    ("devices", "Bénéficiaire"): ("beneficiaries", "Identifiant"),
}


def write_blank_workbook(path: Path, *, force: bool = False) -> Path:
    """Write the blank workbook at ``path`` and return ``path``.

    The file is written beside its target and renamed into place, so ``path`` is
    either absent, its previous content (``force``) or the complete new workbook.
    Raises :class:`OutputExistsError` when ``path`` exists and ``force`` is false
    (nothing is written), :class:`OutputError` when the name does not end in .xlsx or
    the file cannot be written.
    """
    path = Path(path)
    # « .xlsx » alone has no suffix for pathlib (a hidden file's name), « . » and « » no name
    if path.suffix.lower() != SUFFIX or not path.stem:
        # the name given, with the right ending, unless it has no name of its own
        named = path.name not in ("", ".", "..") and not path.name.startswith(".")
        example = path.with_suffix(SUFFIX).name if named else f"operation-2025{SUFFIX}"
        raise OutputError(f"« {path} » : le nom du classeur doit finir par « {SUFFIX} » (ex. {example}).")
    if not force and (path.exists() or path.is_symlink()):
        raise _exists(path)
    data = build_blank_workbook()
    _write_atomically(path, data, force)
    log.info("Classeur vierge écrit : %s", path)
    return path


def build_blank_workbook() -> bytes:
    """Return the bytes of the blank workbook (same schema, same bytes)."""
    wb = Workbook()
    wb.remove(wb.active)
    lists = _Lists(wb)
    for sheet in schema.SHEETS:
        ws = wb.create_sheet(sheet.title)
        if sheet.layout is Layout.FORM:
            _write_form(ws, sheet, lists)
        else:
            _write_table(ws, sheet, lists)
    _write_help(wb.create_sheet(HELP_TITLE))
    for ws in wb.worksheets:
        _set_page(ws)
    if lists.sheet is not None:
        wb.move_sheet(lists.sheet, offset=len(wb.sheetnames) - 1 - wb.index(lists.sheet))
    wb.active = 0
    set_properties(wb, TIMESTAMP, DOCUMENT_TITLE)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # Not wb.save(): openpyxl's save_workbook stamps "modified" with the current time.
        ExcelWriter(wb, archive).write_data()
    return normalize_zip(buffer.getvalue())


# --- sheets ------------------------------------------------------------------------------


def _write_form(ws: Worksheet, sheet: Sheet, lists: _Lists) -> None:
    """Labels in column A (bold when required), empty values in B, help in C."""
    for column, text in enumerate(FORM_HEADERS, start=1):
        _header_cell(ws, 1, column, text, required=True)
    for row, f in enumerate(sheet.fields, start=FIRST_DATA_ROW):
        label = ws.cell(row=row, column=1, value=f.label)
        label.font = Font(bold=f.required)
        label.alignment = WRAP
        label.comment = _comment(f)
        value = ws.cell(row=row, column=2)
        value.number_format = NUMBER_FORMATS.get(f.kind, TEXT_FORMAT)
        value.alignment = Alignment(horizontal="left", vertical="top", wrap_text=True)
        help_cell = ws.cell(row=row, column=3, value=_short_help(f))
        help_cell.alignment = WRAP
        help_cell.font = Font(italic=not f.required, bold=False, color="FF404040")
        # Spreadsheets do not always fit a row to wrapped text on opening: set its height.
        ws.row_dimensions[row].height = LINE_HEIGHT * max(
            _line_count(f.label, FORM_WIDTHS[0]), _line_count(help_cell.value, FORM_WIDTHS[2])
        ) + 2
        _validation(f, ws, lists).add(value.coordinate)
    for column, width in enumerate(FORM_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width
    ws.freeze_panes = "B2"


def _write_table(ws: Worksheet, sheet: Sheet, lists: _Lists) -> None:
    """One header row (bold and blue when required), then nothing: formats and
    validations cover rows 2 to LAST_DATA_ROW."""
    for column, f in enumerate(sheet.fields, start=1):
        cell = _header_cell(ws, 1, column, f.label, required=f.required)
        cell.comment = _comment(f)
        letter = get_column_letter(column)
        dimension = ws.column_dimensions[letter]
        dimension.width = _width(f)
        # A column style: every cell typed later in the column takes this format.
        dimension.number_format = NUMBER_FORMATS.get(f.kind, TEXT_FORMAT)
        span = f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_DATA_ROW}"
        reference = REFERENCES.get((sheet.key, f.label))
        dv = _reference_validation(f, reference, ws) if reference else _validation(f, ws, lists)
        dv.add(span)
    ws.row_dimensions[1].height = LINE_HEIGHT * max(
        _line_count(f.label, _width(f)) for f in sheet.fields
    ) + 4
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.fields))}1"


def _header_cell(ws: Worksheet, row: int, column: int, text: str, *, required: bool):
    cell = ws.cell(row=row, column=column, value=text)
    cell.font = Font(bold=required)
    cell.fill = HEADER_FILL if required else OPTIONAL_FILL
    cell.alignment = HEADER_ALIGNMENT
    return cell


def _width(f: Field) -> float:
    natural = max(len(f.label) * 0.6, WIDTHS.get(f.kind, 0), len(f.example) + 2,
                  max((len(c) + 4 for c in f.choices), default=0))
    if f.kind is Kind.TEXT:
        natural = max(natural, min(f.max_length, 30))
    return float(min(max(math.ceil(natural), MIN_WIDTH), MAX_WIDTH))


def _line_count(text: str, width: float) -> int:
    """Lines ``text`` takes once wrapped in a column ``width`` wide (in widths of « 0 »;
    average French text is a little narrower)."""
    width *= CHARS_PER_WIDTH
    lines = 0
    for paragraph in text.split("\n"):
        line, count = 0, 1
        for word in paragraph.split(" "):
            if line and line + 1 + len(word) > width - 1:
                count, line = count + 1, len(word)
            else:
                line += (1 if line else 0) + len(word)
        lines += count
    return lines


# --- validations -------------------------------------------------------------------------


def _validation(f: Field, ws: Worksheet, lists: _Lists) -> DataValidation:
    """Return the validation of a value of ``f``, added to ``ws``."""
    title = f.label[:PROMPT_TITLE_MAX]
    prompt = _fit(f"{REQUIRED.capitalize() if f.required else OPTIONAL.capitalize()} : "
                  f"{f.kind.value}.", PROMPT_MAX)
    common = dict(allow_blank=True, showErrorMessage=True, showInputMessage=True,
                  errorTitle="Valeur non valide", promptTitle=title, prompt=prompt)
    if f.kind is Kind.CHOICE and f.choices:
        dv = DataValidation(type="list", formula1=_inline_list(f.choices) or lists.range(f.choices),
                            error=_fit(f"Choisissez une valeur de la liste : "
                                       f"{', '.join(f.choices)}.", ERROR_MAX), **common)
    elif f.kind is Kind.DATE:
        dv = DataValidation(type="date", operator="between", formula1="DATE(1990,1,1)",
                            formula2="DATE(2099,12,31)",
                            error="Saisissez une date, par ex. 03/02/2023.", **common)
    elif f.kind is Kind.TIME:
        dv = DataValidation(type="time", operator="between", formula1="TIME(0,0,0)",
                            formula2="TIME(23,59,59)",
                            error="Saisissez une heure, par ex. 10:30.", **common)
    elif f.kind is Kind.MONEY:
        dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0",
                            error="Saisissez un montant en euros positif ou nul, par ex. "
                                  "1234,50 (deux décimales au plus).", **common)
    elif f.kind is Kind.RATE:
        dv = DataValidation(type="decimal", operator="between", formula1="0", formula2="1",
                            error="Saisissez un taux en pourcentage entre 0 % et 100 %, "
                                  "par ex. 20 % ou 5,5 %.", **common)
    elif f.kind is Kind.INTEGER:
        if f.max_value is not None:
            dv = DataValidation(type="whole", operator="between", formula1="0",
                                formula2=str(f.max_value),
                                error=f"Saisissez un nombre entier entre 0 et {f.max_value}.",
                                **common)
        else:
            dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0",
                                error="Saisissez un nombre entier positif ou nul.", **common)
    elif f.kind is Kind.TEXT:
        dv = DataValidation(type="textLength", operator="lessThanOrEqual",
                            formula1=str(f.max_length),
                            error=f"Texte trop long : {f.max_length} caractères au plus.", **common)
    else:
        # Identifiers (SIRET, IBAN, …) are checked by « dotation verifier », which says what
        # is wrong; the cell only shows what to type.
        dv = DataValidation(type=None, **common)
    ws.add_data_validation(dv)
    return dv


def _reference_validation(f: Field, reference: tuple[str, str], ws: Worksheet) -> DataValidation:
    """A drop-down of another sheet's column; a warning only, so that the rows of that
    sheet may be typed later."""
    sheet = _sheet(reference[0])
    target = _field(sheet, reference[1])
    letter = get_column_letter(sheet.fields.index(target) + 1)
    dv = DataValidation(
        type="list", allow_blank=True, showErrorMessage=True, showInputMessage=True,
        errorStyle="warning",
        formula1=f"{quote_sheetname(sheet.title)}!${letter}${FIRST_DATA_ROW}:${letter}${LAST_DATA_ROW}",
        errorTitle="Valeur inconnue",
        error=_fit(f"Cette valeur n'est pas (encore) dans la colonne « {target.label} » de la "
                   f"feuille « {sheet.title} ».", ERROR_MAX),
        promptTitle=f.label[:PROMPT_TITLE_MAX],
        prompt=_fit(f"{REQUIRED.capitalize() if f.required else OPTIONAL.capitalize()} : "
                    f"« {target.label} » d'une ligne de la feuille « {sheet.title} ».", PROMPT_MAX),
    )
    ws.add_data_validation(dv)
    return dv


def _inline_list(choices: Iterable[str]) -> str | None:
    """Return ``"a,b,c"`` for a list validation, or None when a choice holds a comma or a
    quote or the list is too long for Excel (then the list goes to a hidden sheet)."""
    choices = tuple(choices)
    text = ",".join(choices)
    if any("," in c or '"' in c for c in choices) or len(text) > INLINE_LIST_MAX:
        return None
    return f'"{text}"'


class _Lists:
    """The hidden sheet of the lists too long to be written inline, made when needed."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.sheet: Worksheet | None = None
        self.columns = 0

    def range(self, choices: tuple[str, ...]) -> str:
        """Write ``choices`` in a new column of the sheet; return that column's range."""
        if self.sheet is None:
            self.sheet = self.wb.create_sheet(LISTS_TITLE)
            self.sheet.sheet_state = "hidden"
        self.columns += 1
        for row, choice in enumerate(choices, start=1):
            self.sheet.cell(row=row, column=self.columns, value=choice).number_format = TEXT_FORMAT
        letter = get_column_letter(self.columns)
        return f"{quote_sheetname(LISTS_TITLE)}!${letter}$1:${letter}${len(choices)}"


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- help --------------------------------------------------------------------------------


def _comment(f: Field) -> Comment:
    lines = [f"{REQUIRED.capitalize() if f.required else OPTIONAL.capitalize()}. "
             f"Attendu : {f.kind.value}."]
    if f.description:
        lines.append(f.description)
    if f.choices:
        lines.append(f"Valeurs permises : {', '.join(f'« {c} »' for c in f.choices)}.")
    if f.example:
        lines.append(f"Exemple : {f.example}")
    if f.kind is Kind.TEXT:
        lines.append(f"{f.max_length} caractères au plus.")
    text = "\n".join(lines)
    width = 320
    height = max(60, int(LINE_HEIGHT * (_line_count(text, 48) + 1)))
    return Comment(text, CREATOR, height=height, width=width)


def _short_help(f: Field) -> str:
    """The « Aide » column of the form sheet."""
    parts = [f"({REQUIRED if f.required else OPTIONAL}) {f.kind.value}."]
    if f.description:
        parts.append(f.description)
    if f.example:
        parts.append(f"Ex. : {f.example}")
    return " ".join(parts)


def _rules() -> list[tuple[str, str]]:
    """The main rules « dotation verifier » checks, in French, with the schema's labels."""
    op, ben, dev, inv = (_sheet(k) for k in ("operation", "beneficiaries", "devices", "invoices"))

    INVENTORY, STATE_RATE = "N° d'inventaire", "Taux de l'État"
    BY_DELEGATE = "Les conventions sont signées par l'élu délégué"

    def q(sheet: Sheet, label: str) -> str:
        return f"« {_field(sheet, label).label} »"

    def s(sheet: Sheet) -> str:
        return f"« {sheet.title} »"

    return [
        ("Comment remplir",
         f"Feuille {s(op)} : une information par ligne, la valeur en colonne B. Feuilles "
         f"{s(ben)}, {s(dev)} et {s(inv)} : une ligne par bénéficiaire, par équipement, par "
         "facture, sous la ligne d'en-têtes. Ne renommez ni les feuilles ni les en-têtes ; vous "
         "pouvez ajouter des colonnes, elles sont ignorées."),
        ("Obligatoire ou facultatif",
         "Les informations et les colonnes en gras sont obligatoires ; les autres sont "
         "facultatives. Le commentaire de chaque en-tête dit ce qu'il faut saisir ; les listes "
         "déroulantes proposent les valeurs permises."),
        ("Vérifier, puis générer",
         "Quand le classeur est rempli : « dotation verifier FICHIER.xlsx » liste toutes les "
         "erreurs avec leur cellule ; « dotation generer FICHIER.xlsx » produit les documents."),
        ("Identifiants",
         f"Chaque bénéficiaire a un {q(ben, 'Identifiant')} court et unique (ex. B01), repris "
         f"dans les noms de fichiers. Sont aussi uniques : la {q(inv, 'Référence')} de chaque "
         f"facture, le {q(dev, INVENTORY)}, le "
         f"{q(dev, 'N° de série')} et l'{q(dev, 'IMEI')} de chaque équipement."),
        ("Numéros officiels",
         "SIRET (14 chiffres, clé vérifiée), RNA (W suivi de 9 chiffres), IBAN et BIC sont "
         f"contrôlés, ainsi que le {q(ben, 'Code du territoire')} selon le {q(ben, 'Type de territoire')} : "
         "un code QPV (ex. QN08705M) pour un quartier prioritaire, le code INSEE de la commune "
         "(5 caractères, ex. 79005) pour une commune classée ZRR ou FRR. "
         f"Le {q(ben, 'SIRET')} est obligatoire pour une association ; le "
         f"{q(ben, 'RNA')} est facultatif (il n'existe pas en Alsace-Moselle)."),
        ("Montants",
         "En euros, deux décimales au plus : tapez 1234,50 (le format « € » s'affiche seul) ; "
         "« 1 234,50 € » est aussi accepté. Un montant n'est jamais négatif ; prix et montants "
         "HT et TTC des factures sont strictement positifs."),
        ("Taux",
         f"Tapez 80 % ou 0,8. Le {q(dev, 'Taux de TVA')} vient de la facture (20 %, 10 %, 5,5 %, "
         f"0 %…) : il n'est jamais supposé. Le {q(op, STATE_RATE)} s'applique au montant "
         f"HT ou TTC selon l'{q(op, 'Assiette du taux')}, dans la limite du "
         f"{q(op, 'Montant de la subvention attribuée')}."),
        ("Dates",
         "Tapez 03/02/2023. La date de la remise est comprise entre 2000 et dix ans après "
         "aujourd'hui ; les autres dates (décision, délibération, demande, factures, paiements) "
         "sont à moins de cinq ans de la remise."),
        ("Matériel et factures",
         f"Chaque équipement renvoie à une facture ({q(dev, 'Facture')} = une "
         f"{q(inv, 'Référence')} de la feuille {s(inv)}) et à un bénéficiaire "
         f"({q(dev, 'Bénéficiaire')} = un {q(ben, 'Identifiant')} de la feuille {s(ben)}). Le "
         f"{q(inv, 'Montant HT')} d'une facture est la somme des {q(dev, 'Prix unitaire HT')} de "
         f"ses équipements, et HT + TVA = TTC. Une facture sans {q(inv, 'N° de mandat')} ni "
         f"{q(inv, 'Date de paiement')} n'est pas payée : la demande de versement attend qu'elle "
         "le soit."),
        ("Don (300 € au plus)",
         f"Avec « don » comme {q(op, 'Type de convention')}, chaque équipement vaut 300 € TTC "
         "au plus (décret n° 2022-791) et chaque association indique sa "
         f"{q(ben, 'Catégorie du bénéficiaire du don')} (CG3P, art. L3212-2 3°). Sinon, "
         "« mise à disposition » : la collectivité reste propriétaire du matériel."),
        ("Financement",
         f"{q(op, 'Autres financeurs')} et {q(op, 'Montant des autres financements')} se "
         "remplissent ensemble. La collectivité finance au moins 20 % du projet (CGCT, "
         f"art. L1111-10 III) ; les {q(op, 'Acomptes reçus')} ne dépassent pas la part de l'État."),
        ("Signature par délégation",
         f"Si {q(op, 'Référence de la délégation de signature')} est remplie, "
         f"{q(op, 'Élu délégué')} l'est aussi ; « oui » à "
         f"{q(op, BY_DELEGATE)} demande cette référence."),
    ]


def _write_help(ws: Worksheet) -> None:
    """The « Aide » sheet: the main rules, then every column of every sheet."""
    for column, width in enumerate(HELP_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width
    last = get_column_letter(len(HELP_WIDTHS))
    text_width = sum(HELP_WIDTHS[1:])
    ws.cell(row=1, column=1, value="Aide : remplir le classeur de l'opération").font = TITLE_FONT
    ws.row_dimensions[1].height = 24
    row = 3
    ws.cell(row=row, column=1, value="Règles principales").font = SECTION_FONT
    row += 1
    for title, text in _rules():
        ws.cell(row=row, column=1, value=title).font = BOLD
        ws.cell(row=row, column=1).alignment = WRAP
        ws.cell(row=row, column=2, value=text).alignment = WRAP
        ws.merge_cells(f"B{row}:{last}{row}")
        ws.row_dimensions[row].height = LINE_HEIGHT * max(_line_count(text, text_width),
                                                          _line_count(title, HELP_WIDTHS[0])) + 4
        row += 1
    for sheet in schema.SHEETS:
        row += 1
        heading = ws.cell(row=row, column=1, value=f"Feuille « {sheet.title} »")
        heading.font = SECTION_FONT
        for column in range(1, len(HELP_WIDTHS) + 1):
            ws.cell(row=row, column=column).fill = SECTION_FILL
        row += 1
        if sheet.description:
            ws.cell(row=row, column=1, value=sheet.description).alignment = WRAP
            ws.merge_cells(f"A{row}:{last}{row}")
            row += 1
        headers = ("Information",) + HELP_HEADERS[1:] if sheet.layout is Layout.FORM else HELP_HEADERS
        for column, text in enumerate(headers, start=1):
            _header_cell(ws, row, column, text, required=True)
        ws.row_dimensions[row].height = 2 * LINE_HEIGHT + 2
        row += 1
        for f in sheet.fields:
            values = (
                f.label,
                REQUIRED if f.required else OPTIONAL,
                f.kind.value,
                "\n".join(f.choices),
                f.example,
                f"{f.max_length} caractères" if f.kind is Kind.TEXT else "",
                f.description,
            )
            for column, value in enumerate(values, start=1):
                cell = ws.cell(row=row, column=column, value=value or None)
                cell.alignment = WRAP
                cell.number_format = TEXT_FORMAT
            ws.cell(row=row, column=1).font = Font(bold=f.required)
            ws.row_dimensions[row].height = LINE_HEIGHT * max(
                _line_count(str(v), w) for v, w in zip(values, HELP_WIDTHS)
            ) + 4
            row += 1
    ws.freeze_panes = "A2"
    ws.sheet_properties.tabColor = "FFC000"


def _set_page(ws: Worksheet) -> None:
    """Printed (or converted to PDF): A4 landscape, as wide as the page, the header row
    repeated on each page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.page_margins.left = ws.page_margins.right = 0.4


# --- schema look-ups ---------------------------------------------------------------------


def _sheet(key: str) -> Sheet:
    for sheet in schema.SHEETS:
        if sheet.key == key:
            return sheet
    raise KeyError(key)


def _field(sheet: Sheet, label: str) -> Field:
    """Return the field of ``sheet`` labelled ``label``; KeyError when the schema has none
    (a rule of the help sheet would then name a column that does not exist)."""
    for f in sheet.fields:
        if f.label == label:
            return f
    raise KeyError(f"{sheet.title}: {label}")


# --- file --------------------------------------------------------------------------------


def _exists(path: Path) -> OutputExistsError:
    what = "un dossier" if path.is_dir() else "un fichier"
    return OutputExistsError(
        f"« {path} » existe déjà ({what}) : il n'a pas été modifié. Choisissez un autre nom, "
        "ou ajoutez --force pour le remplacer par un classeur vierge."
    )


def _write_atomically(path: Path, data: bytes, force: bool) -> None:
    """Write ``data`` beside ``path`` and move it into place; without ``force``, never
    replace a file that appeared in the meantime (a hard link fails on an existing name)."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OutputError(
            f"impossible d'écrire « {path} » : dossier « {path.parent} » : "
            f"{describe_os_error(err)}."
        ) from err
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise _exists(path) from None
            except OSError:
                # A file system without hard links: check, then rename (a tiny race).
                if path.exists() or path.is_symlink():
                    raise _exists(path) from None
                os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"impossible d'écrire « {path} » : {describe_os_error(err)}.") from err
    finally:
        tmp.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
