"""The agent checks the workbook: every problem is found in one pass, with its cell."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import openpyxl
from cells import column, put
from conftest import SAMPLE, errors_of, gift_categories, operation_row, set_operation, warnings_of
from stdnum.fr import siret

from dotation_docs.exceptions import WorkbookOpenError
from dotation_docs.pipeline import check_workbook
from dotation_docs.workbook import read_workbook

# Columns of the sample workbook's Matériel sheet, found by their header.
SERIAL, IMEI, PRICE, INVOICE, BENEF = (
    column(openpyxl.load_workbook(SAMPLE, read_only=False)["Matériel"], header)
    for header in ("N° de série", "IMEI", "Prix unitaire HT", "Facture", "Bénéficiaire")
)


def iban_with_wrong_rib_key() -> str:
    """A French IBAN whose mod-97 check digits are right but whose RIB key is wrong."""
    bban = "30001007941234567890186"  # the right RIB key is 85
    numeric = int(bban + "152700")  # "FR00": F=15, R=27
    return f"FR{98 - numeric % 97:02d}{bban}"


def test_sample_workbook_is_valid_with_the_press_release_figures(sample: Path) -> None:
    checked = check_workbook(sample)
    assert checked.report.issues == []
    funding = checked.funding
    assert funding is not None and checked.dotation is not None
    assert len(checked.dotation.devices) == 121
    assert (funding.ht, funding.vat, funding.ttc) == (Decimal("36151.25"), Decimal("7230.25"), Decimal("43381.50"))
    assert funding.state_share == Decimal("28921.00")
    assert funding.authority_share == Decimal("14460.50")
    assert (funding.state_share_euros, funding.authority_share_euros) == (Decimal("28921"), Decimal("14460"))


# --- File-level problems: one clear sentence each -------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WorkbookOpenError, match=r"est introuvable\. Vérifiez le chemin\."):
        read_workbook(tmp_path / "absent.xlsx")


def test_not_an_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    path.write_text("ceci n'est pas un classeur", encoding="utf-8")
    with pytest.raises(WorkbookOpenError, match=r"n'est pas un classeur Excel \(\.xlsx\)\. Enregistrez"):
        read_workbook(path)


def test_word_document_given_instead_of_workbook(tmp_path: Path) -> None:
    path = tmp_path / "lettre.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(WorkbookOpenError, match=r"c'est peut-être un document Word"):
        read_workbook(path)


def test_old_xls_format(tmp_path: Path) -> None:
    path = tmp_path / "ancien.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(WorkbookOpenError, match=r"format Excel 97-2003 \(\.xls\)"):
        read_workbook(path)


def test_password_protected_workbook(tmp_path: Path) -> None:
    path = tmp_path / "protege.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + "EncryptionInfo".encode("utf-16-le"))
    with pytest.raises(WorkbookOpenError, match=r"est protégé par un mot de passe"):
        read_workbook(path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(WorkbookOpenError, match=r"est un dossier, pas un classeur"):
        read_workbook(tmp_path)


# --- Structure -------------------------------------------------------------------------


def test_missing_sheet(make_workbook) -> None:
    path = make_workbook(lambda wb: wb.remove(wb["Factures"]))
    assert errors_of(path) == [
        "feuille « Factures » introuvable dans le classeur (feuilles trouvées : « Opération », "
        "« Bénéficiaires », « Matériel »). Ajoutez une feuille nommée « Factures »."
    ]


def test_missing_column(make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].delete_cols(9))
    assert errors_of(path) == [
        "Matériel : colonne « Prix unitaire HT » manquante ; ajoutez-la à la ligne d'en-têtes : "
        "un montant en euros (ex. 1 234,50 €, 1.234,50, 25 000 ou 1234.50 ; deux décimales au plus) "
        "attendu dans chaque ligne."
    ]


def test_missing_operation_field(make_workbook) -> None:
    def mutate(wb):
        ws = wb["Opération"]
        for row in ws.iter_rows(min_col=1, max_col=1):
            if row[0].value == "IBAN":
                ws.delete_rows(row[0].row)
                return

    assert errors_of(make_workbook(mutate)) == [
        "Opération : ligne « IBAN » manquante ; ajoutez-la (libellé en colonne A, valeur en "
        "colonne B) : un IBAN valide (ex. FR76 3000 1007 9412 3456 7890 185) attendu."
    ]


def test_headers_are_matched_tolerantly_and_unknown_columns_warned(make_workbook) -> None:
    def mutate(wb):
        ws = wb["Matériel"]
        ws[f"{SERIAL}1"] = "  numero   DE\u00a0SERIE "
        ws[f"{PRICE}1"] = "PRIX UNITAIRE ht"
        ws.cell(1, ws.max_column + 1, "Commentaire")  # "Matériel!M1" below
        inventory = column(ws, "N° d'inventaire")
        ws.move_range(f"{inventory}1:{inventory}122", cols=ws.max_column)  # now the last column

    path = make_workbook(mutate)
    assert errors_of(path) == []
    assert warnings_of(path) == ["Matériel!M1 : colonne « Commentaire » inconnue : elle est ignorée."]


def test_empty_rows_are_skipped(make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].insert_rows(40, amount=5))
    checked = check_workbook(path)
    assert checked.report.issues == []
    assert checked.dotation is not None and len(checked.dotation.devices) == 121


# --- Cells -----------------------------------------------------------------------------


def test_empty_required_cell(make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].__setitem__(f"{SERIAL}5", None))
    assert errors_of(path) == ["Matériel!E5 : N° de série : cellule vide ; attendu : un texte."]


def test_wrong_type(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Factures", "Date", 3, "début janvier"))
    assert errors_of(path) == [
        "Factures!D3 : Date : « début janvier » n'est pas valide ; attendu : une date (ex. 03/02/2023)."
    ]


def test_amounts_and_dates_typed_as_french_text_are_accepted(make_workbook) -> None:
    def mutate(wb):
        put(wb, "Factures", "Montant HT", 3, "1\u202f445,00 €")
        put(wb, "Factures", "TVA", 3, "289 €")
        put(wb, "Factures", "Date", 3, "12/01/2023")
        set_operation(wb, "Date de la remise", "03/02/2023")
        set_operation(wb, "Taux de l'État", "80 %")

    checked = check_workbook(make_workbook(mutate))
    assert checked.report.issues == []
    assert checked.dotation is not None
    assert checked.dotation.invoices[1].amount_ht == Decimal("1445.00")
    assert str(checked.dotation.operation.handover_date) == "2023-02-03"


def test_siret_checksum(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "SIRET", 3, "58143266300029"))
    assert errors_of(path) == [
        "Bénéficiaires!D3 : SIRET : « 58143266300029 » n'est pas valide (la clé de contrôle est "
        "fausse : vérifiez les chiffres) ; attendu : un numéro SIRET de 14 chiffres valide."
    ]


def test_siret_of_la_poste_uses_its_own_rule(make_workbook) -> None:
    assert siret.is_valid("35600000000001")  # Luhn fails, La Poste's digit-sum rule passes
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "SIRET", 3, "356 000 000 00001"))
    assert errors_of(path) == []


def test_association_without_siret(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "SIRET", 3, None))
    assert errors_of(path) == [
        "Bénéficiaires!D3 : SIRET : cellule vide ; attendu : un numéro SIRET de 14 chiffres valide "
        "(obligatoire pour une association)."
    ]


def test_rna_format(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "RNA", 2, "W87238375"))
    assert errors_of(path) == [
        "Bénéficiaires!E2 : RNA : « W87238375 » n'est pas valide ; attendu : un numéro RNA : « W » "
        "suivi de 9 chiffres (ex. W872001234)."
    ]


def test_qpv_code_format(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "Code du territoire", 2, "QP87005"))
    assert errors_of(path) == [
        "Bénéficiaires!O2 : Code du territoire : « QP87005 » n'est pas un code QPV ; attendu pour un "
        "QPV (colonne « Type de territoire » vide ou « QPV ») : un code QPV (ex. QP087005 ou QN08705M)."
    ]


def test_qpv_code_of_the_2024_list_is_accepted(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "Code du territoire", 2, "QN08705M"))
    assert errors_of(path) == []


def test_iban_with_wrong_rib_key(make_workbook) -> None:
    iban = iban_with_wrong_rib_key()
    path = make_workbook(lambda wb: set_operation(wb, "IBAN", iban))
    [error] = errors_of(path)
    assert error.startswith("Opération!B")
    assert error.endswith(
        f" : IBAN : « {iban} » n'est pas valide (numéro ou clé de contrôle faux) ; attendu : "
        "un IBAN valide (ex. FR76 3000 1007 9412 3456 7890 185)."
    )


def test_email(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "Courriel", 4, "contact@@asso"))
    assert errors_of(path) == [
        "Bénéficiaires!L4 : Courriel : « contact@@asso » n'est pas valide ; attendu : une adresse "
        "électronique (ex. prenom.nom@exemple.fr)."
    ]


def test_category_outside_the_list(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Matériel", "Catégorie", 7, "imprimante"))
    assert errors_of(path) == [
        "Matériel!B7 : Catégorie : « imprimante » n'est pas valide ; attendu : une valeur de la liste : "
        "« ordinateur portable », « ordinateur fixe », « tablette », « smartphone »."
    ]


def test_category_matched_without_case_or_accents(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Matériel", "Catégorie", 2, "Ordinateur  PORTABLE"))
    assert errors_of(path) == []


def test_zero_price_and_the_invoice_it_unbalances(make_workbook) -> None:
    def mutate(wb):
        put(wb, "Matériel", "Prix unitaire HT", 2, 0)

    assert errors_of(make_workbook(mutate)) == [
        "Matériel!I2 : Prix unitaire HT : 0,00\xa0€ ; attendu : un montant strictement positif.",
        "Factures!F2 : Montant HT : la facture « RNL-2023-0012 » indique 22\u202f340,05\xa0€ HT, mais "
        "ses matériels (feuille « Matériel ») totalisent 21\u202f930,15\xa0€ HT (écart de 409,90\xa0€). "
        "Corrigez les prix unitaires ou le montant de la facture.",
    ]


def test_invoice_total_must_match_its_devices_to_the_cent(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Factures", "Montant HT", 3, 1445.01))
    assert errors_of(path) == [
        "Factures!F3 : Montant HT : la facture « RNL-2023-0019 » indique 1\u202f445,01\xa0€ HT, mais "
        "ses matériels (feuille « Matériel ») totalisent 1\u202f445,00\xa0€ HT (écart de 0,01\xa0€). "
        "Corrigez les prix unitaires ou le montant de la facture.",
        "Factures!H3 : Montant TTC : 1\u202f734,00\xa0€, mais HT + TVA = 1\u202f445,01\xa0€ + 289,00\xa0€ "
        "= 1\u202f734,01\xa0€ ; corrigez l'un des trois montants.",
    ]


def test_invalid_imei(make_workbook) -> None:
    found: dict = {}

    def mutate(wb):
        ws = wb["Matériel"]
        row = next(r for r in range(2, 123) if ws[f"{IMEI}{r}"].value)
        imei = str(ws[f"{IMEI}{row}"].value)
        found.update(row=row, imei=imei[:-1] + str((int(imei[-1]) + 1) % 10))
        ws[f"{IMEI}{row}"] = found["imei"]

    assert errors_of(make_workbook(mutate)) == [
        f"Matériel!F{found['row']} : IMEI : « {found['imei']} » n'est pas valide (la clé de contrôle "
        "est fausse : vérifiez les chiffres) ; attendu : un IMEI de 15 chiffres valide."
    ]


# --- Uniqueness and references -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sheet", "column", "label"),
    [
        ("Matériel", "A", "N° d'inventaire"),
        ("Matériel", "E", "N° de série"),
        ("Factures", "A", "Référence"),
    ],
)
def test_duplicates(make_workbook, sheet: str, column: str, label: str) -> None:
    found: dict = {}

    def mutate(wb):
        found["value"] = wb[sheet][f"{column}2"].value
        wb[sheet][f"{column}3"] = found["value"]

    errors = errors_of(make_workbook(mutate))
    assert (
        f"{sheet}!{column}3 : {label} « {found['value']} » en double (déjà en {sheet}!{column}2) ; "
        "chaque valeur doit être unique."
    ) in errors


def test_duplicate_imei(make_workbook) -> None:
    def mutate(wb):
        ws = wb["Matériel"]
        rows = [r for r in range(2, 123) if ws[f"{IMEI}{r}"].value]
        ws[f"{IMEI}{rows[1]}"] = ws[f"{IMEI}{rows[0]}"].value
        found.update(first=rows[0], second=rows[1], value=ws[f"{IMEI}{rows[0]}"].value)

    found: dict = {}
    errors = errors_of(make_workbook(mutate))
    assert errors == [
        f"Matériel!F{found['second']} : IMEI « {found['value']} » en double (déjà en "
        f"Matériel!F{found['first']}) ; chaque valeur doit être unique."
    ]


def test_duplicate_beneficiary_identifier_ignores_case(make_workbook) -> None:
    def mutate(wb):
        put(wb, "Bénéficiaires", "Identifiant", 11, "b01")
        ws = wb["Matériel"]
        for r in range(2, 123):
            if ws[f"{BENEF}{r}"].value == "B10":
                ws[f"{BENEF}{r}"] = "B01"

    errors = errors_of(make_workbook(mutate))
    assert errors == [
        "Bénéficiaires!A11 : Identifiant « b01 » en double (déjà en Bénéficiaires!A2) ; chaque "
        "valeur doit être unique."
    ]


def test_device_of_an_unknown_beneficiary(make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].__setitem__(f"{BENEF}4", "B99"))
    assert errors_of(path) == [
        "Matériel!L4 : Bénéficiaire « B99 » inconnu : aucune ligne de la feuille « Bénéficiaires » "
        "n'a cette valeur en colonne « Identifiant » (valeurs possibles : B01, B02, B03, B04, B05, "
        "B06, B07, B08, B09, B10)."
    ]


def test_device_on_an_unknown_invoice(make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].__setitem__(f"{INVOICE}4", "FAC-404"))
    errors = errors_of(path)
    assert errors[0] == (
        "Matériel!K4 : Facture « FAC-404 » inconnue : aucune ligne de la feuille « Factures » n'a "
        "cette valeur en colonne « Référence » (valeurs possibles : RNL-2023-0012, RNL-2023-0019, "
        "SVI-F2301-047, SVI-F2301-058)."
    )


def test_association_without_device_is_a_warning(make_workbook) -> None:
    def mutate(wb):
        ws = wb["Bénéficiaires"]
        ws.append(["B11", "Les Nouveaux Lecteurs", "association", "58143266300028",
                   None, "1 rue de la Paix", "87000", "Limoges", "Madame", "Anne Dupuis", "Présidente",
                   None, None, "Beaubreuil", "QP087005", "Salle municipale"])

    path = make_workbook(mutate)
    assert errors_of(path) == []
    assert warnings_of(path) == [
        "Bénéficiaires!A12 : le bénéficiaire « B11 » (Les Nouveaux Lecteurs) n'a aucun matériel : "
        "il n'aura ni convention ni procès-verbal."
    ]


# --- Formulas, gifts, funding --------------------------------------------------------------


def test_formula_never_computed(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Factures", "Montant TTC", 3, "=F3+G3"))
    assert errors_of(path) == [
        "Factures!H3 : Montant TTC : la formule « =F3+G3 » n'a pas de valeur calculée (le classeur "
        "a été écrit par un programme sans jamais être ouvert dans un tableur). Ouvrez-le dans "
        "Excel ou LibreOffice, enregistrez-le, puis relancez."
    ]


def test_gift_above_300_euros_is_refused(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Type de convention", "don")
        gift_categories(wb, "association d'étudiants")

    errors = errors_of(make_workbook(mutate))
    assert len(errors) == 57 + 5  # laptops and desktops are above 300 € TTC, the others below
    assert errors[0] == (
        "Matériel!I2 : Prix unitaire HT : valeur unitaire de 491,88\xa0€ TTC, supérieure à 300 € : "
        "un don n'est possible que pour un bien d'une valeur unitaire de 300 € au plus (décret "
        "n° 2022-791). Choisissez « mise à disposition » comme type de convention, ou retirez ce matériel."
    )


def test_advances_above_the_state_share(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Acomptes reçus", 30000)

    [error] = errors_of(make_workbook(mutate))
    assert error.endswith(
        " : Acomptes reçus : 30\u202f000,00\xa0€, plus que la part de l'État (28\u202f921,00\xa0€) ; "
        "vérifiez le montant des acomptes."
    )


def test_all_errors_are_collected_in_one_pass(make_workbook) -> None:
    def mutate(wb):
        put(wb, "Matériel", "Catégorie", 7, "imprimante")
        put(wb, "Bénéficiaires", "Code du territoire", 2, "QP87005")
        put(wb, "Factures", "Date", 3, "hier")
        set_operation(wb, "Courriel du contact presse de la préfecture", "presse")

    row = operation_row(openpyxl.load_workbook(SAMPLE), "Courriel du contact presse de la préfecture")
    errors = errors_of(make_workbook(mutate))
    assert [e.split(" : ")[0] for e in errors] == [
        f"Opération!B{row}", "Bénéficiaires!O2", "Matériel!B7", "Factures!D3",
    ]


def test_negative_price(make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].__setitem__(f"{PRICE}2", "-409,90 €"))
    assert errors_of(path)[0] == (
        "Matériel!I2 : Prix unitaire HT : -409,90\xa0€ ; attendu : un montant strictement positif."
    )


def test_title_rows_above_the_header_are_skipped(make_workbook) -> None:
    def mutate(wb):
        ws = wb["Matériel"]
        ws.insert_rows(1, amount=2)
        ws["A1"] = "Bénéficiaire"  # a title that happens to be a column name
        ws["A2"] = "Inventaire du matériel remis le 3 février 2023"

    checked = check_workbook(make_workbook(mutate))
    assert checked.report.issues == []
    assert checked.dotation is not None and len(checked.dotation.devices) == 121


def test_damaged_sheet_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "abime.xlsx"
    with zipfile.ZipFile(SAMPLE) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet3.xml":
                data = data[: len(data) // 2]  # truncated XML
            zout.writestr(info, data)
    with pytest.raises(WorkbookOpenError, match=r"est endommagé \(feuille illisible\)"):
        read_workbook(path)


def test_convention_of_zero_months(make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Durée de la convention (mois)", 0))
    [error] = errors_of(path)
    assert error.endswith(
        " : Durée de la convention (mois) : 0 ; attendu : un nombre de mois d'au moins 1 (ex. 36)."
    )


def test_workbook_with_garbage_xml_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "illisible.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "pas du XML")
        z.writestr("xl/workbook.xml", "<<< pas du XML")
    with pytest.raises(WorkbookOpenError, match=r"n'a pas pu être lu comme un classeur Excel"):
        read_workbook(path)


# --- Each distinct value of a column is parsed once: the outcome is the same ---------------

_REPEATED = [1, 1.0, True, 0, 0.0, -0.0, False, "1", " 1 ", "abc", "  ", "", None, 409.9, 409.90000000000003,
             "409,90", "20 %", 0.2, "B01", "b01", "B 01", "ordinateur portable", "Ordinateur  portable",
             "x" * 300, "=1+1", "#N/A", 44935, "03/02/2023"]


def test_values_repeated_in_a_column_give_what_parsing_each_cell_gives(tmp_path: Path, monkeypatch) -> None:
    import random

    from dotation_docs import validation

    wb = openpyxl.load_workbook(SAMPLE)
    rng = random.Random(7)
    for title in ("Matériel", "Bénéficiaires", "Factures"):
        ws = wb[title]
        for _ in range(150):
            ws.cell(rng.randint(2, min(ws.max_row, 60)), rng.randint(1, ws.max_column)).value = rng.choice(_REPEATED)
    path = tmp_path / "repetes.xlsx"
    wb.save(path)
    raw = read_workbook(path)
    memoised = validation.validate(raw)
    monkeypatch.setattr(validation, "_MEMO_SIZE", 0)  # nothing remembered: every cell parsed
    parsed_each_time = validation.validate(raw)
    assert [str(i) for i in memoised[1].issues] == [str(i) for i in parsed_each_time[1].issues]
    assert len(memoised[1].errors) > 100
    assert repr(memoised[0]) == repr(parsed_each_time[0])


def test_equal_values_of_other_types_or_signs_are_parsed_each_as_written() -> None:
    # 1 == 1.0 == True and -0.0 == 0.0 in Python: a memo keyed by the value alone would
    # give one's outcome for the other.
    from dotation_docs import validation
    from dotation_docs.report import Report
    from dotation_docs.schema import DEVICES as DEVICES_SPEC
    from dotation_docs.schema import INVOICES
    from dotation_docs.workbook import RawCell, RawRecord, RawSheet

    def parsed(spec, key: str, values: list) -> list[str]:
        sheet = RawSheet(spec, spec.title, [RawRecord(row, {key: RawCell(v, row, 1)})
                                             for row, v in enumerate(values, start=2)])
        return [repr(r.values[key]) for r in validation._parse_sheet(sheet, Report())]

    assert parsed(INVOICES, "vat", [0.0, -0.0, -0.0, 0.0]) == [
        "Decimal('0.00')", "Decimal('-0.00')", "Decimal('-0.00')", "Decimal('0.00')"]
    assert parsed(DEVICES_SPEC, "brand", [1, True, 1.0, "1", True, 1]) == [
        "'1'", "'True'", "'1'", "'1'", "'True'", "'1'"]


# --- The records of a sheet built attribute by attribute: what building each one gives -------

def test_records_built_column_by_column_are_those_built_one_by_one(tmp_path: Path) -> None:
    import pickle

    from dotation_docs import validation
    from dotation_docs.report import Report

    wb = openpyxl.load_workbook(SAMPLE)
    put(wb, "Matériel", "Accessoires", 3, None)  # optional cells left empty
    put(wb, "Matériel", "État", 4, "  ")
    path = tmp_path / "classeur.xlsx"
    wb.save(path)
    raw = read_workbook(path)
    records = {key: validation._parse_sheet(sheet, Report()) for key, sheet in raw.sheets.items()}
    validation._compute_prices(records["devices"])
    for key in ("beneficiaries", "devices", "invoices"):
        one_by_one = tuple(validation.build_record(r) for r in records[key])
        built = validation.build_records(records[key])
        assert built == one_by_one and pickle.dumps(built) == pickle.dumps(one_by_one)
        assert [type(b) for b in built] == [type(b) for b in one_by_one]
    assert validation._slot_fields(type(built[0])) is not None  # built by the column path
    # Computed values of different kinds from one record to the next: built one by one.
    devices = records["devices"]
    devices[1].computed.pop("unit_price_ttc")
    devices[1].computed["other"] = 1
    with pytest.raises(TypeError):
        validation.build_records(devices)
    devices[1].computed.pop("other")
    with pytest.raises(TypeError, match="unit_price_ttc"):
        validation.build_records(devices)


def test_a_model_whose_init_does_more_is_built_by_its_init() -> None:
    import dataclasses

    from dotation_docs import validation

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            raise ValueError("checked")

    @dataclasses.dataclass(slots=True)
    class Own:
        a: int

        def __init__(self, a: int) -> None:
            self.a = a * 2

    assert validation._slot_fields(Checked) is None and validation._slot_fields(Own) is None
    from dotation_docs.model import Device
    assert list(validation._slot_fields(Device)) == [f.name for f in dataclasses.fields(Device)]


def test_invisible_characters_in_a_text_are_named(make_workbook) -> None:
    """A bidirectional override prints a name backwards in a convention (« Sport droN »):
    verifier names the cell and the character; the documents are still made."""
    path = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("B3", "Sport \u202eNord\u202c & Loisirs"))
    assert warnings_of(path) == [
        "Bénéficiaires!B3 : Nom : la cellule contient des caractères invisibles, U+202C et U+202E (qui fait lire "
        "la suite à l'envers) : ils s'imprimeraient tels quels dans les documents et peuvent en changer "
        "l'affichage ; effacez-les."
    ]
    assert errors_of(path) == []
    zero_width = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("F3", "12 rue\u200b des Lilas"))
    assert [w.split(" : ", 1)[0] for w in warnings_of(zero_width)] == ["Bénéficiaires!F3"]
    assert "un caractère invisible, U+200B (espace sans largeur)" in warnings_of(zero_width)[0]
