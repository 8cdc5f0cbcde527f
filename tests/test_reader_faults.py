"""Nothing misread: what the reader and the validation make of hostile or careless input
(issue #6: identifiers, empty operation, amounts, Excel escapes, dates, hidden sheets,
lengths, huge numbers, trailing content, named pipes, missing extension)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cells import put
from conftest import ROOT, SAMPLE, docx_text, errors_of, set_operation, warnings_of

from dotation_docs import validation
from dotation_docs.exceptions import WorkbookOpenError
from dotation_docs.parsing import InvalidValueError, clean_text, parse_identifier, parse_money, parse_rate
from dotation_docs.pipeline import check_workbook
from dotation_docs.workbook import _EMPTY_ROW, _ValueRowsOnly, decode_excel_escapes, read_workbook

DEVICES_SHEET = "xl/worksheets/sheet3.xml"


def rewrite(source: Path, target: Path, part: str, change) -> Path:
    """Copy the workbook ``source`` to ``target`` with the XML of ``part`` changed by
    ``change`` (bytes → bytes), as another program would have written it."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == part:
                data = change(data)
            zout.writestr(info, data)
    return target


# --- Item 5: identifiers --------------------------------------------------------------


@pytest.mark.parametrize("identifier, detail", [
    ("A-convention-b", "caractère non permis : « - »"),
    ("B 01", "caractère non permis : espace"),
    ("Bé01", "caractère non permis : « é »"),
    ("B" * 21, "21 caractères"),
])
def test_identifier_outside_letters_digits_underscore(make_workbook, identifier: str, detail: str) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "Identifiant", 2, identifier))
    errors = errors_of(path)
    assert errors[0] == (
        f"Bénéficiaires!A2 : Identifiant : « {identifier} » n'est pas valide ({detail}) ; attendu : "
        "un identifiant court : lettres sans accents, chiffres ou « _ » (pas de « - » ni d'espace), "
        "20 caractères au plus (ex. B01)."
    )


def test_identifier_with_underscore_is_accepted() -> None:
    assert parse_identifier("B_01") == "B_01"
    with pytest.raises(InvalidValueError):
        parse_identifier("A-1")


# --- Item 6: an operation without any device --------------------------------------------


def test_operation_without_device_is_an_error(make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].delete_rows(2, 200))
    checked = check_workbook(path)
    assert checked.dotation is None
    assert "Matériel : aucun matériel : la feuille ne contient aucune ligne sous ses en-têtes (ligne 1)." in (
        " ".join(str(e) for e in checked.report.errors))


# --- Item 7: amounts nobody can read two ways ------------------------------------------


@pytest.mark.parametrize("text, amount", [
    ("1 234,50 €", "1234.50"), ("1.234,50", "1234.50"), ("25 000", "25000.00"), ("25\u00a0000 €", "25000.00"),
    ("25\u202f000,5", "25000.50"), ("1234.50", "1234.50"), ("1234,5", "1234.50"), ("289 €", "289.00"),
    ("1.234.567,89 EUR", "1234567.89"), ("-12,50", "-12.50"), (1445, "1445.00"), (0.1 + 0.2, "0.30"),
])
def test_unambiguous_amounts_are_read(text, amount: str) -> None:
    assert parse_money(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["1,234.50", "25.000", "25.000 €", "1,234", "12,345", "1 23", "12.5", "1.234"])
def test_ambiguous_amounts_are_refused(text: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_money(text)


def test_ambiguous_advances_are_refused_with_the_forms_accepted(make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Acomptes reçus", "1,234.50"))
    [error] = errors_of(path)
    assert re.fullmatch(
        r"Opération!B\d+ : Acomptes reçus : « 1,234\.50 » n'est pas valide \(écriture anglaise : la virgule "
        r"sépare les milliers, le point les décimales\) ; attendu : un montant en euros \(ex\. 1 234,50 €, "
        r"1\.234,50, 25 000 ou 1234\.50 ; deux décimales au plus\)\.", error)


def test_cap_with_a_dot_between_thousands_is_refused(make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Montant de la subvention attribuée", "25.000 €"))
    [error] = errors_of(path)
    assert "Montant de la subvention attribuée : « 25.000 € » n'est pas valide (le point sépare-t-il les milliers" in error


def test_number_cell_with_more_than_two_decimals_is_warned(make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Acomptes reçus", 1000 / 3))
    checked = check_workbook(path)
    assert checked.dotation is not None and checked.dotation.operation.advances == Decimal("333.33")
    [warning] = [str(w) for w in checked.report.warnings]
    assert re.fullmatch(
        r"Opération!B\d+ : Acomptes reçus : la cellule contient 333,3333333333333, plus de deux décimales ; "
        r"le montant retenu est 333,33\xa0€ \(arrondi au centime\)\. Arrondissez la cellule \(fonction "
        r"ARRONDI\) pour confirmer\.", warning)


def test_float_noise_is_not_warned(make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Acomptes reçus", 0.1 + 0.2))
    assert warnings_of(path) == []


@pytest.mark.parametrize("text, rate", [("0,8", "0.8"), ("80 %", "0.8"), ("80", "0.8"), ("0.8", "0.8"),
                                        ("5,5 %", "0.055"), (0.19999999999999998, "0.2")])
def test_rates(text, rate: str) -> None:
    assert parse_rate(text) == Decimal(rate)


@pytest.mark.parametrize("text", ["1,234.5", "0,8,1", "1e-1", "NaN", "+80 %"])
def test_ambiguous_rates_are_refused(text: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_rate(text)


# --- Item 8: Excel's _xHHHH_ escapes -----------------------------------------------------


def test_escapes_are_decoded_in_one_pass() -> None:
    assert decode_excel_escapes("a_x000D_b") == "a\rb"
    assert decode_excel_escapes("a_x005F_x000D_b") == "a_x000D_b"  # an escaped literal
    assert decode_excel_escapes("_x005F__x000B_") == "_\x0b"
    assert decode_excel_escapes("B_01 x000D_ _x00") == "B_01 x000D_ _x00"
    assert clean_text("Fabre d'Églantine\x0bBâtiment B") == "Fabre d'Églantine\nBâtiment B"
    assert clean_text("Fabre d'Églantine\r\nBâtiment B") == "Fabre d'Églantine\nBâtiment B"


def with_shared_strings(target: Path, cells: dict[str, str]) -> Path:
    """Copy the sample with the Bénéficiaires ``cells`` (coordinate → raw XML text) stored
    in a shared strings table, as Excel stores text (openpyxl writes inline strings)."""
    sst_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    items = "".join(f"<si><t>{text}</t></si>" for text in cells.values())
    sst = (f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(cells)}" '
           f'uniqueCount="{len(cells)}">{items}</sst>')

    def change(name: str, data: bytes) -> bytes:
        xml = data.decode()
        if name == "xl/worksheets/sheet2.xml":
            for index, ref in enumerate(cells):
                xml, n = re.subn(rf'<c r="{ref}"([^>]*?) t="inlineStr"><is>.*?</is></c>',
                                 rf'<c r="{ref}"\1 t="s"><v>{index}</v></c>', xml)
                assert n == 1, ref
        elif name == "[Content_Types].xml":
            xml = xml.replace("</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{sst_type}"/></Types>')
        return xml.encode()

    with zipfile.ZipFile(SAMPLE) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info.filename)))
        zout.writestr("xl/sharedStrings.xml", sst)
    return target


def test_escapes_written_by_excel_in_shared_strings_become_line_breaks(tmp_path: Path) -> None:
    path = with_shared_strings(tmp_path / "classeur.xlsx", {
        "F2": "12 rue Fabre d'Églantine_x000D_Bâtiment B",
        "F3": "Résidence du Parc_x000B_Escalier 4",
        "B4": "Association Quartier_x005F_x000D_Nord",
    })
    checked = check_workbook(path)
    assert checked.report.errors == []
    beneficiaries = checked.dotation.beneficiaries
    assert beneficiaries[0].address == "12 rue Fabre d'Églantine\nBâtiment B"
    assert beneficiaries[1].address == "Résidence du Parc\nEscalier 4"
    assert beneficiaries[2].name == "Association Quartier_x000D_Nord"


def test_escapes_in_inline_strings_reach_the_documents_as_line_breaks(tmp_path: Path) -> None:
    # The sample workbook stores its text as inline strings (<is><t>…</t></is>).
    address = check_workbook(SAMPLE).dotation.beneficiaries[0].address

    def escape(data: bytes) -> bytes:
        xml, n = re.subn(r'(<c r="F2"[^>]*><is><t[^>]*>[^<]*)</t>', r"\1_x000D_Bâtiment B</t>", data.decode())
        assert n == 1
        return xml.encode()

    path = rewrite(SAMPLE, tmp_path / "classeur.xlsx", "xl/worksheets/sheet2.xml", escape)
    checked = check_workbook(path)
    assert checked.dotation.beneficiaries[0].address == f"{address}\nBâtiment B"
    out = tmp_path / "sortie"
    result = subprocess.run(
        [sys.executable, "-m", "dotation_docs", "convention", str(path), "B01", "-o", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [convention] = (out / "conventions").glob("B01-*.docx")
    text = docx_text(convention)
    assert "_x000D_" not in text
    assert f"{address}Bâtiment B" not in text  # two words not glued together
    assert f"{address}\nBâtiment B" in text  # docx_text gives a line break as "\n"


# --- Item 9: absurd dates ----------------------------------------------------------------


def test_invoice_of_1850_is_an_error(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Factures", "Date", 3, datetime(1850, 1, 12)))
    assert errors_of(path) == [
        "Factures!D3 : Date : 12/01/1850 ; attendu : une date à moins de cinq ans de la remise du "
        "03/02/2023, soit entre le 03/02/2018 et le 03/02/2028. Vérifiez l'année."
    ]


@pytest.mark.parametrize("handover", [date(1, 1, 1), date(1999, 12, 31), date(9999, 12, 31)])
def test_handover_date_outside_2000_and_ten_years_ahead(make_workbook, monkeypatch, handover: date) -> None:
    monkeypatch.setattr(validation, "today", lambda: date(2025, 6, 15))
    shown = f"{handover.day:02d}/{handover.month:02d}/{handover.year:04d}"
    path = make_workbook(lambda wb: set_operation(wb, "Date de la remise", shown))
    [error] = errors_of(path)
    assert re.fullmatch(
        rf"Opération!B\d+ : Date de la remise : {shown} ; attendu : une date entre le "
        r"01/01/2000 et le 15/06/2035 \(dix ans après aujourd'hui\)\. Vérifiez l'année\.", error)


def test_handover_ten_years_ahead_is_accepted(make_workbook, monkeypatch) -> None:
    monkeypatch.setattr(validation, "today", lambda: date(2013, 2, 3))
    assert errors_of(make_workbook(lambda wb: None)) == []
    monkeypatch.setattr(validation, "today", lambda: date(2013, 2, 2))
    assert "Date de la remise : 03/02/2023" in " ".join(errors_of(make_workbook(lambda wb: None)))


def test_decision_and_payment_dates_far_from_the_handover(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Date de la décision de financement", datetime(2013, 2, 2))
        put(wb, "Factures", "Date de paiement", 3, datetime(2100, 1, 1))

    errors = errors_of(make_workbook(mutate))
    assert len(errors) == 2
    assert "Date de la décision de financement : 02/02/2013 ; attendu : une date à moins de cinq ans" in errors[0]
    assert errors[1].startswith("Factures!J3 : Date de paiement : 01/01/2100 ; attendu")


# --- Item 10: hidden and duplicate sheets ------------------------------------------------


def test_two_sheets_matching_one_name_are_an_error(make_workbook) -> None:
    def mutate(wb):
        stale = wb.copy_worksheet(wb["Matériel"])
        stale.title = "Matériels"
        stale.sheet_state = "hidden"

    errors = errors_of(make_workbook(mutate))
    assert errors[0].startswith(
        "plusieurs feuilles peuvent être la feuille « Matériel » : « Matériel », « Matériels » (masquée). "
        "Gardez-en une seule")


def test_a_hidden_sheet_that_is_the_only_match_is_read_with_a_warning(make_workbook) -> None:
    def mutate(wb):
        wb["Matériel"].title = "Equipements"
        wb["Equipements"].sheet_state = "hidden"

    checked = check_workbook(make_workbook(mutate))
    assert checked.dotation is not None and len(checked.dotation.devices) == 121
    assert [str(w) for w in checked.report.warnings] == [
        "la feuille « Equipements » est masquée ; elle est lue quand même comme feuille « Matériel ». "
        "Affichez-la (clic droit sur un onglet, « Afficher ») pour vérifier son contenu."
    ]


# --- Items 14 and 15: lengths and bounds -------------------------------------------------


def test_title_longer_than_the_schema_allows(make_workbook) -> None:
    title = "Remise de matériel " * 14 + "X"  # 267 characters
    path = make_workbook(lambda wb: set_operation(wb, "Intitulé de l'opération", title))
    [error] = errors_of(path)
    assert re.fullmatch(
        r"Opération!B\d+ : Intitulé de l'opération : texte de 267 caractères \(« Remise de matériel .*… »\) ; "
        r"attendu : 250 caractères au plus\. Raccourcissez-le\.", error), error


def test_name_longer_than_the_schema_allows(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "Nom", 2, "N" * 205))
    [error] = errors_of(path)
    assert error.startswith("Bénéficiaires!B2 : Nom : texte de 205 caractères")
    assert error.endswith("attendu : 150 caractères au plus. Raccourcissez-le.")


def test_huge_price_is_an_error_with_its_cell(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Matériel", "Prix unitaire HT", 2, "1" + "0" * 30))
    errors = errors_of(path)
    assert errors[0] == (
        "Matériel!I2 : Prix unitaire HT : « 1000000000000000000000000000000 » n'est pas valide (montant hors "
        "limites : moins de 10 millions d'euros attendu) ; attendu : un montant en euros (ex. 1 234,50 €, "
        "1.234,50, 25 000 ou 1234.50 ; deux décimales au plus)."
    )


def test_huge_number_cell_as_price(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Matériel", "Prix unitaire HT", 2, 1e30))
    assert errors_of(path)[0].startswith("Matériel!I2 : Prix unitaire HT : « 1000000000000000019884624838656 » n'est pas valide (montant")


@pytest.mark.parametrize("duration, detail", [("9" * 5000, "n'est pas valide (nombre de 5000 chiffres)"),
                                              (121, "121 ; attendu : 120 au plus.")])
def test_duration_out_of_bounds(make_workbook, duration, detail: str) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Durée de la convention (mois)", duration))
    [error] = errors_of(path)
    assert re.match(r"Opération!B\d+ : Durée de la convention \(mois\) : ", error)
    assert detail in error


# --- Item 17: reading stays linear --------------------------------------------------------


def _read_all(data: bytes) -> tuple[bytes, float]:
    start = time.perf_counter()
    out = io.BufferedReader(_ValueRowsOnly(io.BytesIO(data))).read()
    return out, time.perf_counter() - start


def test_filter_is_linear_on_trailing_whitespace() -> None:
    head = b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="2" s="1"/></sheetData>'
    small, t_small = _read_all(head + b" " * (1 << 20) + b"</worksheet>")
    big, t_big = _read_all(head + b" " * (16 << 20) + b"</worksheet>")
    assert big == _EMPTY_ROW.sub(b"", head) + b" " * (16 << 20) + b"</worksheet>"
    # 16 times the bytes: linear is ~16 times the time, quadratic ~256 times.
    assert t_big < max(60 * t_small, 2.0), (t_small, t_big)


def test_a_huge_unfinished_row_is_passed_on_unfiltered_and_fast() -> None:
    row = b'<row r="3"><c r="A3"><v>1</v></c>' + b" " * (8 << 20) + b"</row>"
    data = b'<worksheet><sheetData><row r="2" s="1"/>' + row + b"</sheetData></worksheet>"
    out, elapsed = _read_all(data)
    assert out == b"<worksheet><sheetData>" + row + b"</sheetData></worksheet>"
    assert elapsed < 5


def test_workbook_with_16_mib_of_trailing_spaces_is_read_in_seconds(tmp_path: Path) -> None:
    start = time.perf_counter()
    assert check_workbook(SAMPLE).dotation is not None
    baseline = time.perf_counter() - start
    path = rewrite(SAMPLE, tmp_path / "espaces.xlsx", DEVICES_SHEET,
                   lambda xml: xml.replace(b"</worksheet>", b" " * (16 << 20) + b"</worksheet>"))
    start = time.perf_counter()
    checked = check_workbook(path)
    elapsed = time.perf_counter() - start
    assert checked.report.issues == [] and len(checked.dotation.devices) == 121
    assert elapsed < max(10.0, 20 * baseline), (baseline, elapsed)  # the old reader: 6 s to 20 s


# --- Item 18: a named pipe or a device -----------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_named_pipe_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "classeur.xlsx"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-m", "dotation_docs", "verifier", str(fifo)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"Erreur : « {fifo} » n'est pas un fichier ordinaire (c'est un tube nommé, un périphérique ou "
        "une socket) : indiquez le fichier du classeur Excel (.xlsx).\n"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_device_is_refused() -> None:
    with pytest.raises(WorkbookOpenError, match="n'est pas un fichier ordinaire"):
        read_workbook(Path("/dev/zero"))


# --- Item 20: a valid workbook without the .xlsx extension ----------------------------------


@pytest.mark.parametrize("name, suffix, renamed", [
    ("classeur", "aucune extension", "classeur.xlsx"),
    ("classeur.txt", "« .txt »", "classeur.xlsx"),
])
def test_workbook_without_xlsx_extension_is_read_with_a_true_warning(
        tmp_path: Path, name: str, suffix: str, renamed: str) -> None:
    path = tmp_path / name
    shutil.copy(SAMPLE, path)
    checked = check_workbook(path)
    assert checked.dotation is not None and len(checked.dotation.devices) == 121
    assert [str(w) for w in checked.report.warnings] == [
        f"le fichier « {name} » n'a pas l'extension .xlsx ({suffix}) ; il a été lu comme un classeur "
        f"Excel. Renommez-le en « {renamed} » pour l'ouvrir dans un tableur."
    ]


def test_a_zip_bomb_workbook_is_refused_before_reading(tmp_path) -> None:
    # 1 Gio of spaces before </worksheet> compresses to about 1 Mo: refused from the zip's
    # declared sizes, in French, without inflating anything.
    import zipfile as _zip

    from dotation_docs.exceptions import WorkbookOpenError
    from dotation_docs.workbook import MAX_EXPANDED_SIZE, read_workbook

    target = tmp_path / "bombe.xlsx"
    with _zip.ZipFile(SAMPLE) as source, _zip.ZipFile(target, "w", _zip.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info, source.read(info))
        with out.open("xl/padding.xml", "w", force_zip64=True) as padding:
            chunk = b" " * 2**20
            for _ in range(MAX_EXPANDED_SIZE // 2**20 + 1):
                padding.write(chunk)
    with pytest.raises(WorkbookOpenError, match=r"une fois décompressé, plus que les 512 Mio admis"):
        read_workbook(target)
