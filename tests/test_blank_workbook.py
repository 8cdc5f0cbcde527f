"""The blank workbook of ``dotation nouveau``: made from the schema, refuses to overwrite,
and once filled with the sample's values it passes the verification."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from dotation_docs import blank_workbook, schema
from dotation_docs.cli import cli
from dotation_docs.blank_workbook import (
    HELP_TITLE,
    LAST_DATA_ROW,
    LISTS_TITLE,
    build_blank_workbook,
    write_blank_workbook,
)
from dotation_docs.exceptions import DotationError, OutputError, OutputExistsError
from dotation_docs.pipeline import check_workbook
from dotation_docs.schema import Kind, Layout

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
REQUIRE_LIBREOFFICE = "DOTATION_EXIGER_LIBREOFFICE"
TABLES = [s for s in schema.SHEETS if s.layout is Layout.TABLE]
FORMS = [s for s in schema.SHEETS if s.layout is Layout.FORM]


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blank_workbook(tmp_path_factory.mktemp("vierge") / "nouveau.xlsx")


@pytest.fixture(scope="module")
def wb(blank: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(blank)


def validation_of(ws: Worksheet, coordinate: str) -> DataValidation:
    found = [dv for dv in ws.data_validations.dataValidation if coordinate in dv.sqref]
    assert len(found) == 1, (ws.title, coordinate, found)
    return found[0]


def value_cells(ws: Worksheet, sheet: schema.Sheet) -> list[tuple[schema.Field, str, str]]:
    """(field, first value cell, last value cell) of each field of ``sheet``."""
    if sheet.layout is Layout.FORM:
        return [(f, f"B{row}", f"B{row}") for row, f in enumerate(sheet.fields, start=2)]
    letters = [openpyxl.utils.get_column_letter(i) for i in range(1, len(sheet.fields) + 1)]
    return [(f, f"{c}2", f"{c}{LAST_DATA_ROW}") for f, c in zip(sheet.fields, letters)]


# --- structure ---------------------------------------------------------------------------


def test_every_sheet_and_header_of_the_schema_and_no_data(wb: openpyxl.Workbook) -> None:
    assert wb.sheetnames == [s.title for s in schema.SHEETS] + [HELP_TITLE]
    assert wb.active.title == schema.SHEETS[0].title
    for sheet in FORMS:
        ws = wb[sheet.title]
        assert [c.value for c in ws[1]] == ["Champ", "Valeur", "Aide"]
        labels = [ws.cell(row=r, column=1).value for r in range(2, ws.max_row + 1)]
        assert labels == [f.label for f in sheet.fields]
        for row, f in enumerate(sheet.fields, start=2):
            assert ws.cell(row=row, column=2).value is None
            assert ws.cell(row=row, column=1).font.b is f.required, f.label
            help_text = ws.cell(row=row, column=3).value
            assert help_text.startswith("(obligatoire)" if f.required else "(facultatif)"), help_text
            assert f.kind.value in help_text
    for sheet in TABLES:
        ws = wb[sheet.title]
        assert [c.value for c in ws[1]] == [f.label for f in sheet.fields]
        assert ws.max_row == 1, f"{sheet.title} holds data"
        assert [c.font.b for c in ws[1]] == [f.required for f in sheet.fields]


def test_frozen_headers_and_widths(wb: openpyxl.Workbook) -> None:
    for sheet in TABLES:
        ws = wb[sheet.title]
        assert ws.freeze_panes == "A2"
        for column in range(1, len(sheet.fields) + 1):
            width = ws.column_dimensions[openpyxl.utils.get_column_letter(column)].width
            assert 12 <= width <= 45
    assert wb[FORMS[0].title].freeze_panes == "B2"
    assert wb[HELP_TITLE].freeze_panes == "A2"


def test_number_formats_of_value_cells(wb: openpyxl.Workbook) -> None:
    form = wb[FORMS[0].title]
    for row, f in enumerate(FORMS[0].fields, start=2):
        fmt = form.cell(row=row, column=2).number_format
        expected = {Kind.DATE: "DD/MM/YYYY", Kind.TIME: "HH:MM", Kind.INTEGER: "0"}.get(f.kind)
        if expected:
            assert fmt == expected, f.label
        elif f.kind is Kind.MONEY:
            assert "€" in fmt and "0.00" in fmt
        elif f.kind is Kind.RATE:
            assert "%" in fmt
        else:
            assert fmt == "@", f.label  # leading zeros of SIRET, phone numbers stay
    for sheet in TABLES:
        ws = wb[sheet.title]
        for column, f in enumerate(sheet.fields, start=1):
            fmt = ws.column_dimensions[openpyxl.utils.get_column_letter(column)].number_format
            if f.kind is Kind.DATE:
                assert fmt == "DD/MM/YYYY", f.label
            elif f.kind in (Kind.SIRET, Kind.POSTCODE, Kind.IMEI, Kind.PHONE):
                assert fmt == "@", f.label


def test_validations_follow_each_kind(wb: openpyxl.Workbook) -> None:
    seen = set()
    for sheet in schema.SHEETS:
        ws = wb[sheet.title]
        for f, first, last in value_cells(ws, sheet):
            dv = validation_of(ws, first)
            assert last in dv.sqref
            seen.add(f.kind)
            if (sheet.key, f.label) in blank_workbook.REFERENCES:
                continue
            assert dv.showErrorMessage and dv.allow_blank, f.label
            if f.kind is Kind.CHOICE:
                assert dv.type == "list"
                assert dv.formula1 == '"' + ",".join(f.choices) + '"', f.label
                assert dv.errorStyle in (None, "stop")
            elif f.kind is Kind.DATE:
                assert (dv.type, dv.operator) == ("date", "between")
                assert dv.formula1 == "DATE(1990,1,1)" and dv.formula2 == "DATE(2099,12,31)"
            elif f.kind is Kind.TIME:
                assert dv.type == "time"
            elif f.kind is Kind.MONEY:
                assert (dv.type, dv.operator, dv.formula1) == ("decimal", "greaterThanOrEqual", "0")
            elif f.kind is Kind.RATE:
                assert (dv.type, dv.operator, dv.formula1, dv.formula2) == ("decimal", "between", "0", "1")
            elif f.kind is Kind.INTEGER:
                assert dv.type == "whole" and dv.formula1 == "0"
                if f.max_value is not None:
                    assert dv.formula2 == str(f.max_value)
            elif f.kind is Kind.TEXT:
                assert (dv.type, dv.operator, dv.formula1) == ("textLength", "lessThanOrEqual",
                                                               str(f.max_length))
            else:
                assert dv.type is None  # a prompt only; « verifier » checks the number
            assert dv.promptTitle == f.label[:32] and f.kind.value[:200] in dv.prompt
    assert {Kind.CHOICE, Kind.DATE, Kind.MONEY, Kind.RATE, Kind.INTEGER, Kind.TEXT} <= seen


def test_drop_down_lists_named_by_the_issue(wb: openpyxl.Workbook) -> None:
    def formula(sheet_title: str, label: str) -> str:
        sheet = next(s for s in schema.SHEETS if s.title == sheet_title)
        ws = wb[sheet_title]
        first = next(first for f, first, _ in value_cells(ws, sheet) if f.label == label)
        return validation_of(ws, first).formula1

    categories = ",".join(singular for _, singular, _ in schema.CATEGORIES)
    assert formula("Matériel", "Catégorie") == f'"{categories}"'
    assert formula("Bénéficiaires", "Type") == '"association,service de la collectivité"'
    assert formula("Bénéficiaires", "Civilité du représentant") == '"Madame,Monsieur"'
    assert formula("Opération", "Type de convention") == '"mise à disposition,don"'
    assert formula("Opération", "Assiette du taux") == '"HT,TTC"'
    assert formula("Opération", "Les conventions sont signées par l'élu délégué") == '"oui,non"'
    # Devices name an invoice and a beneficiary of the other sheets (a warning, not a stop:
    # the agent may type the devices first).
    ws = wb["Matériel"]
    invoice = validation_of(ws, "K2")
    assert ws["K1"].value == "Facture" and invoice.formula1 == "'Factures'!$A$2:$A$2000"
    assert invoice.errorStyle == "warning"
    assert ws["L1"].value == "Bénéficiaire"
    assert validation_of(ws, "L2").formula1 == "'Bénéficiaires'!$A$2:$A$2000"


def test_a_comment_on_each_header(wb: openpyxl.Workbook) -> None:
    for sheet in schema.SHEETS:
        ws = wb[sheet.title]
        cells = ([ws.cell(row=r, column=1) for r in range(2, len(sheet.fields) + 2)]
                 if sheet.layout is Layout.FORM else list(ws[1]))
        for f, cell in zip(sheet.fields, cells, strict=True):
            assert cell.value == f.label
            text = cell.comment.text
            assert text.startswith("Obligatoire" if f.required else "Facultatif"), text
            assert f.kind.value in text and f.description in text and f.example in text
            for choice in f.choices:
                assert f"« {choice} »" in text
            assert cell.comment.author == "dotation-docs"


def test_help_sheet_explains_every_column_and_the_main_rules(wb: openpyxl.Workbook) -> None:
    ws = wb[HELP_TITLE]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows(max_col=7)]
    text = "\n".join(str(v) for row in rows for v in row if v is not None)
    titles = [row[0] for row in rows]
    for sheet in schema.SHEETS:
        start = titles.index(f"Feuille « {sheet.title} »")
        assert rows[start + 1][0] == sheet.description
        assert rows[start + 2][1:] == ("Obligatoire", "Valeur attendue", "Valeurs permises",
                                       "Exemple", "Longueur maximale", "Explications")
        block = rows[start + 3:start + 3 + len(sheet.fields)]
        for f, row in zip(sheet.fields, block, strict=True):
            assert row[0] == f.label
            assert row[1] == ("obligatoire" if f.required else "facultatif"), f.label
            assert row[2] == f.kind.value
            assert (row[3] or "").split("\n") == (list(f.choices) or [""])
            assert (row[4] or "") == f.example
            assert row[5] == (f"{f.max_length} caractères" if f.kind is Kind.TEXT else None)
            assert (row[6] or "") == f.description
        after = rows[start + 3 + len(sheet.fields):]
        assert not after or not after[0][0] or after[0][0].startswith("Feuille")
    rules = {row[0]: row[1] for row in rows[3:20] if row[0] and row[1]}
    assert "Identifiants" in rules and "unique" in rules["Identifiants"]
    assert "1234,50" in rules["Montants"] and "03/02/2023" in rules["Dates"]
    assert "HT + TVA = TTC" in rules["Matériel et factures"]
    assert "« Facture » = une « Référence » de la feuille « Factures »" in rules["Matériel et factures"]
    assert "300 € TTC au plus" in rules["Don (300 € au plus)"]
    assert "dotation verifier" in rules["Vérifier, puis générer"]


def test_validation_texts_within_excel_limits(wb: openpyxl.Workbook) -> None:
    """Longer texts make Excel « repair » the file and drop the validations."""
    count = 0
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            assert len(dv.promptTitle or "") <= 32 and len(dv.errorTitle or "") <= 32
            assert len(dv.prompt or "") <= 255 and len(dv.error or "") <= 225
            if dv.type == "list" and dv.formula1.startswith('"'):
                assert len(dv.formula1) <= 257
            count += 1
    assert count == sum(len(s.fields) for s in schema.SHEETS)


def test_same_schema_same_bytes(blank: Path) -> None:
    assert build_blank_workbook() == build_blank_workbook() == blank.read_bytes()
    with zipfile.ZipFile(blank) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert "2024-01-01T00:00:00Z" in core and "dotation-docs" in core


def test_long_or_comma_lists_go_to_a_hidden_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = schema.Sheet(
        key="extra", title="Essai", layout=Layout.TABLE, model=dict,
        fields=(schema.Field("a", "Liste à virgule", Kind.CHOICE, vocabulary={"un, deux": 1, "trois": 3}),
                schema.Field("b", "Liste longue", Kind.CHOICE,
                             vocabulary={f"choix numéro {i:03d}": i for i in range(30)})),
    )
    monkeypatch.setattr(schema, "SHEETS", schema.SHEETS + (extra,))
    wb = openpyxl.load_workbook(io.BytesIO(build_blank_workbook()))
    assert wb.sheetnames[-2:] == [HELP_TITLE, LISTS_TITLE]
    lists = wb[LISTS_TITLE]
    assert lists.sheet_state == "hidden"
    assert [lists["A1"].value, lists["A2"].value, lists["A3"].value] == ["un, deux", "trois", None]
    assert lists["B30"].value == "choix numéro 029"
    ws = wb["Essai"]
    assert validation_of(ws, "A2").formula1 == "'Listes'!$A$1:$A$2"
    assert validation_of(ws, "B2").formula1 == "'Listes'!$B$1:$B$30"


# --- writing the file --------------------------------------------------------------------


def test_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "classeur.xlsx"
    target.write_bytes(b"mon travail")
    with pytest.raises(OutputExistsError) as caught:
        write_blank_workbook(target)
    message = caught.value.format_message()
    assert message == (f"« {target} » existe déjà (un fichier) : il n'a pas été modifié. Choisissez "
                       "un autre nom, ou ajoutez --force pour le remplacer par un classeur vierge.")
    assert isinstance(caught.value, DotationError)
    assert target.read_bytes() == b"mon travail"
    assert os.listdir(tmp_path) == ["classeur.xlsx"]  # no temporary file left

    assert write_blank_workbook(target, force=True) == target
    assert openpyxl.load_workbook(target).sheetnames[-1] == HELP_TITLE
    assert os.listdir(tmp_path) == ["classeur.xlsx"]


def test_a_folder_or_a_symlink_is_not_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "dossier.xlsx"
    folder.mkdir()
    with pytest.raises(OutputExistsError, match="existe déjà \\(un dossier\\)"):
        write_blank_workbook(folder)
    with pytest.raises(OutputError, match="c'est un dossier, pas un fichier"):
        write_blank_workbook(folder, force=True)
    assert folder.is_dir() and not any(folder.iterdir())
    link = tmp_path / "lien.xlsx"
    link.symlink_to(tmp_path / "absent.xlsx")
    with pytest.raises(OutputExistsError):
        write_blank_workbook(link)
    assert sorted(os.listdir(tmp_path)) == ["dossier.xlsx", "lien.xlsx"]


def test_a_file_created_meanwhile_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check before building is not enough: the final move refuses an existing name."""
    target = tmp_path / "classeur.xlsx"
    real_build = blank_workbook.build_blank_workbook

    def build_while_someone_writes() -> bytes:
        data = real_build()
        target.write_bytes(b"l'autre")
        return data

    monkeypatch.setattr(blank_workbook, "build_blank_workbook", build_while_someone_writes)
    with pytest.raises(OutputExistsError):
        write_blank_workbook(target)
    assert target.read_bytes() == b"l'autre"
    assert os.listdir(tmp_path) == ["classeur.xlsx"]


def test_wrong_name_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught:
        write_blank_workbook(tmp_path / "classeur.xls")
    assert caught.value.format_message() == (
        f"« {tmp_path / 'classeur.xls'} » : le nom du classeur doit finir par « .xlsx » "
        "(ex. classeur.xlsx)."
    )
    missing = tmp_path / "absent" / "classeur.xlsx"
    with pytest.raises(OutputError) as caught:
        write_blank_workbook(missing)
    assert caught.value.format_message() == (
        f"impossible d'écrire « {missing} » : dossier « {missing.parent} » : fichier ou dossier "
        "introuvable."
    )
    assert os.listdir(tmp_path) == []


# --- filled in, it passes « verifier » -----------------------------------------------------


def sample_values() -> dict[str, Any]:
    """The sample's values: {sheet key: {label: value}} for the form, {sheet key: [rows
    as {label: value}]} for the tables."""
    source = openpyxl.load_workbook(SAMPLE)
    values: dict[str, Any] = {}
    for sheet in schema.SHEETS:
        ws = source[sheet.title]
        rows = list(ws.iter_rows(values_only=True))
        if sheet.layout is Layout.FORM:
            values[sheet.key] = {r[0]: r[1] for r in rows[1:] if r[0]}
        else:
            header = rows[0]
            values[sheet.key] = [dict(zip(header, r)) for r in rows[1:] if any(v is not None for v in r)]
    return values


def fill(blank: Path, target: Path) -> None:
    """Type the sample's values into a copy of the blank workbook, by label."""
    shutil.copy(blank, target)
    wb = openpyxl.load_workbook(target)
    values = sample_values()
    for sheet in schema.SHEETS:
        ws = wb[sheet.title]
        if sheet.layout is Layout.FORM:
            for row in range(2, ws.max_row + 1):
                ws.cell(row=row, column=2, value=values[sheet.key].get(ws.cell(row=row, column=1).value))
        else:
            header = [c.value for c in ws[1]]
            for r, record in enumerate(values[sheet.key], start=2):
                for c, label in enumerate(header, start=1):
                    ws.cell(row=r, column=c, value=record.get(label))
    wb.save(target)


def test_filled_with_the_sample_it_passes_the_verification(blank: Path, tmp_path: Path) -> None:
    filled = tmp_path / "rempli.xlsx"
    fill(blank, filled)
    checked = check_workbook(filled)
    expected = check_workbook(SAMPLE)
    assert not checked.report.errors, checked.report.format()
    assert checked.report.counts() == expected.report.counts()
    assert checked.dotation is not None and expected.dotation is not None
    assert len(checked.dotation.devices) == len(expected.dotation.devices) == 121
    assert len(checked.dotation.beneficiaries) == len(expected.dotation.beneficiaries)
    assert checked.funding == expected.funding
    assert checked.funding.state_share == Decimal("28921.00")


def accepts(dv: DataValidation, value: Any) -> bool:
    """What Excel would say of ``value`` typed in a cell with ``dv`` (the kinds used here)."""
    if value is None or dv.type is None:
        return True
    if dv.type == "list":
        if dv.formula1.startswith('"'):
            return str(value) in dv.formula1.strip('"').split(",")
        return True  # a range of another sheet, checked by « verifier »
    if dv.type == "textLength":
        return len(str(value)) <= int(dv.formula1)
    if dv.type == "date":
        return isinstance(value, dt.datetime) and dt.datetime(1990, 1, 1) <= value <= dt.datetime(2099, 12, 31)
    if dv.type == "time":
        return isinstance(value, dt.time)
    if dv.type in ("decimal", "whole"):
        if not isinstance(value, (int, float)) or (dv.type == "whole" and value != int(value)):
            return False
        low = float(dv.formula1)
        high = float(dv.formula2) if dv.operator == "between" else float("inf")
        return low <= value <= high
    raise AssertionError(dv.type)


def test_the_validations_accept_every_value_of_the_sample(wb: openpyxl.Workbook) -> None:
    values = sample_values()
    checked = 0
    for sheet in schema.SHEETS:
        ws = wb[sheet.title]
        cells = {f.label: first for f, first, _ in value_cells(ws, sheet)}
        records = [values[sheet.key]] if sheet.layout is Layout.FORM else values[sheet.key]
        for record in records:
            for label, value in record.items():
                if label in cells and label != "Champ":
                    dv = validation_of(ws, cells[label])
                    assert accepts(dv, value), (sheet.title, label, value, dv.type, dv.formula1)
                    checked += 1
    assert checked > 1000
    # … and refuse what they should.
    form = wb["Opération"]
    assert not accepts(validation_of(form, "B2"), "x" * 251)
    money = next(f"B{r}" for r, f in enumerate(FORMS[0].fields, start=2) if f.kind is Kind.MONEY)
    assert not accepts(validation_of(form, money), -1)
    rate = next(f"B{r}" for r, f in enumerate(FORMS[0].fields, start=2) if f.kind is Kind.RATE)
    assert not accepts(validation_of(form, rate), 80) and accepts(validation_of(form, rate), 0.8)


# --- LibreOffice ---------------------------------------------------------------------------


@pytest.mark.libreoffice
def test_it_opens_in_libreoffice(blank: Path, tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None or shutil.which("pdftotext") is None:
        if os.environ.get(REQUIRE_LIBREOFFICE) == "1":
            pytest.fail(f"soffice ou pdftotext absent, alors que {REQUIRE_LIBREOFFICE}=1")
        pytest.skip("LibreOffice (soffice) ou pdftotext absent")
    source = tmp_path / "nouveau.xlsx"
    shutil.copy(blank, source)
    result = subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'profil').as_uri()}", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
        capture_output=True, timeout=180,
    )
    pdf = tmp_path / "nouveau.pdf"
    assert result.returncode == 0 and pdf.exists(), result.stderr.decode(errors="replace")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          check=True).stdout.decode()
    for sheet in schema.SHEETS:
        assert sheet.fields[0].label in text
    assert "Aide : remplir le classeur de l'opération" in text
    assert "Règles principales" in text


@pytest.mark.parametrize("name", ["", ".", ".xlsx", "dossier/.xlsx"])
def test_a_name_without_a_file_name_is_refused_in_french(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["nouveau", name])
    assert result.exit_code == 1
    assert "le nom du classeur doit finir par « .xlsx » (ex. operation-2025.xlsx)." in result.output
    assert list(tmp_path.iterdir()) == []
