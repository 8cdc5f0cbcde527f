"""Tests of the expense statement writer: values, types, formats, page setup, determinism."""

import dataclasses
import io
import zipfile
from datetime import date, datetime, time
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell

from dotation_docs.context import claim_context
from dotation_docs.funding import batch_funding
from dotation_docs.model import (
    Beneficiary,
    BeneficiaryKind,
    Category,
    Contact,
    ConventionKind,
    Device,
    Dotation,
    Invoice,
    Operation,
    RateBase,
)
from dotation_docs.spreadsheet import render_expense_statement

TIMESTAMP = datetime(2023, 2, 3, 0, 0)
NBSP = "\xa0"
MONEY_FORMAT = '#,##0.00\\ "€"'
HEADERS = [
    "N°",
    "Fournisseur",
    "SIRET du fournisseur",
    "N° de facture",
    "Date de la facture",
    "Objet",
    "Montant HT",
    "TVA",
    "Montant TTC",
    "Montant éligible (HT)",
    "N° de mandat",
    "Date de paiement",
    "Observations",
]


def _operation(**changes):
    contact = Contact("Émilie Roussel", "05 55 45 79 12", "presse@example.fr")
    operation = Operation(
        title="Remise de matériel informatique reconditionné",
        programme="Programme ANCT d'équipement en matériel reconditionné",
        authority_name="Limoges Métropole",
        authority_siret="24871931200014",
        authority_address="19 rue Bernard Palissy, 87031 Limoges Cedex 1",
        authority_representative_civility="Monsieur", authority_representative="Guillaume Guérin",
        authority_representative_title="Président de Limoges Métropole",
        delegate=None,
        delegate_title=None,
        prefecture="Préfecture de la Haute-Vienne",
        prefecture_address=None,
        claim_addressee="Monsieur le Préfet de la Haute-Vienne",
        salutation="Monsieur le Préfet",
        state_representative="Olivier du Cray",
        state_representative_title="administrateur de l'État",
        handover_date=date(2023, 2, 3),
        handover_time=time(10, 30),
        handover_place="Mission locale",
        signature_town="Limoges",
        decision_reference="Arrêté préfectoral n° 87-2022-12-08-00003",
        decision_date=date(2022, 12, 8),
        deliberation_reference="n° 2022-11-24-015",
        deliberation_date=date(2022, 11, 24),
        state_rate=Decimal("0.8"),
        rate_base=RateBase.HT,
        cap=None,
        advances=Decimal("0.00"),
        claim_date=None,
        iban="FR7630001007941234567890185",
        bic="BDFEFRPPCCT",
        account_holder=None,
        duration_months=36,
        convention_kind=ConventionKind.LOAN,
        convention_prefix="LM-2023-",
        court="tribunal administratif de Limoges",
        authority_press=contact,
        prefecture_press=contact,
    )
    return dataclasses.replace(operation, **changes)


BENEFICIARY = Beneficiary(
    identifier="B01",
    name="Beaubreuil Numérique Solidaire",
    kind=BeneficiaryKind.ASSOCIATION,
    siret="46261942000013",
    rna="W872383750",
    address="5 rue Maryse Bastié",
    postcode="87280",
    town="Limoges",
    representative_civility="Madame",
    representative_name="Nadia Benali",
    representative_title="Présidente",
    email=None,
    phone=None,
    qpv_name="Beaubreuil",
    qpv_code="QP087005",
    place_of_use="Espace numérique",
)

DEVICE = Device(
    inventory_number="LM-NUM-0001",
    category=Category.LAPTOP,
    brand="Lenovo",
    model="ThinkPad T480",
    serial_number="PFQS8R8P",
    imei=None,
    accessories="chargeur",
    condition="reconditionné",
    unit_price_ht=Decimal("409.90"),
    vat_rate=Decimal("0.2"),
    unit_price_ttc=Decimal("491.88"),
    invoice="RNL-2023-0012",
    beneficiary="B01",
)

INVOICES = (
    Invoice(
        reference="RNL-2023-0012",
        supplier="ReNumérique Limousin SAS",
        supplier_siret="44459500300039",
        date=date(2023, 1, 9),
        description="Ordinateurs portables reconditionnés",
        amount_ht=Decimal("35152.18"),
        vat=Decimal("7030.44"),
        amount_ttc=Decimal("42182.62"),
        mandate_number="2023-000187",
        payment_date=date(2023, 1, 24),
    ),
    Invoice(
        reference='=HYPERLINK("x")',
        supplier="=1+1",
        supplier_siret="56272270200031",
        date=date(2023, 1, 23),
        description="=SUM(A1:A9)",
        # 999.07 is written 999.0700000000001 by openpyxl's own number formatting.
        amount_ht=Decimal("999.07"),
        vat=Decimal("199.81"),
        amount_ttc=Decimal("1198.88"),
        mandate_number=None,
        payment_date=None,
    ),
)


def _context(**operation_changes):
    dotation = Dotation(
        operation=_operation(**operation_changes),
        beneficiaries=(BENEFICIARY,),
        devices=(DEVICE,),
        invoices=INVOICES,
    )
    return claim_context(dotation, batch_funding(dotation), "État récapitulatif des dépenses", {"B01": "pv-b01.pdf"})


@pytest.fixture
def context():
    return _context()


@pytest.fixture
def xlsx(context, tmp_path):
    path = tmp_path / "etat.xlsx"
    path.write_bytes(render_expense_statement(context, timestamp=TIMESTAMP))
    return path


@pytest.fixture
def sheet(xlsx):
    wb = openpyxl.load_workbook(xlsx, data_only=False)
    assert wb.sheetnames == ["État récapitulatif"]
    return wb["État récapitulatif"]


def _sheet_xml(path):
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode("utf-8")


def _row_of(sheet, text, column=1):
    for row in sheet.iter_rows(min_col=column, max_col=column):
        if row[0].value == text:
            return row[0].row
    raise AssertionError(f"{text!r} not found")


def _row_values(sheet, row):
    return [c.value for c in sheet[row]]


def _all_text(sheet):
    return [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]


def _invoice_row(sheet, reference):
    return _row_of(sheet, reference, column=4)


def test_title_rows(sheet):
    texts = _all_text(sheet)
    assert texts[0] == "ÉTAT RÉCAPITULATIF DES DÉPENSES"
    assert "Remise de matériel informatique reconditionné" in texts
    assert "Programme ANCT d'équipement en matériel reconditionné" in texts
    assert f"Bénéficiaire de la subvention : Limoges Métropole (SIRET 248{NBSP}719{NBSP}312{NBSP}00014)" in texts
    assert "Décision attributive : Arrêté préfectoral n° 87-2022-12-08-00003 du 8 décembre 2022" in texts


def test_header_labels_bold(sheet):
    row = _row_of(sheet, "N°")
    assert _row_values(sheet, row) == HEADERS
    assert all(c.font.b for c in sheet[row])


def test_one_row_per_invoice_with_exact_values(sheet):
    header = _row_of(sheet, "N°")
    total = _row_of(sheet, "TOTAL")
    assert total - header - 1 == len(INVOICES)
    for number, invoice in enumerate(INVOICES, start=1):
        row = _invoice_row(sheet, invoice.reference)
        cells = {h: sheet.cell(row=row, column=i) for i, h in enumerate(HEADERS, start=1)}
        assert cells["N°"].value == number
        assert cells["Fournisseur"].value == invoice.supplier
        assert cells["SIRET du fournisseur"].value.replace(NBSP, "") == invoice.supplier_siret
        assert cells["Objet"].value == invoice.description
        assert cells["Date de la facture"].value == datetime.combine(invoice.date, time())
        assert cells["Date de la facture"].number_format == "DD/MM/YYYY"
        for label, expected in (
            ("Montant HT", invoice.amount_ht),
            ("TVA", invoice.vat),
            ("Montant TTC", invoice.amount_ttc),
            ("Montant éligible (HT)", invoice.amount_ht),
        ):
            assert cells[label].data_type == "n"
            assert Decimal(str(cells[label].value)) == expected
            assert cells[label].number_format == MONEY_FORMAT


def test_numbers_written_without_float_noise(xlsx):
    xml = _sheet_xml(xlsx)
    assert "<v>999.07</v>" in xml
    assert "999.0700000000001" not in xml
    assert "<v>36151.25</v>" in xml  # the total HT


def test_total_row_holds_values_not_formulas(sheet, xlsx):
    row = _row_of(sheet, "TOTAL")
    expected = {
        7: sum(i.amount_ht for i in INVOICES),
        8: sum(i.vat for i in INVOICES),
        9: sum(i.amount_ttc for i in INVOICES),
        10: sum(i.amount_ht for i in INVOICES),
    }
    assert expected[7] == Decimal("36151.25")
    for column, value in expected.items():
        cell = sheet.cell(row=row, column=column)
        assert cell.data_type == "n"
        assert Decimal(str(cell.value)) == value
        assert cell.number_format == MONEY_FORMAT
        assert cell.font.b
    assert "<f>" not in _sheet_xml(xlsx) and "<f " not in _sheet_xml(xlsx)


def test_summary_lines(sheet):
    def value_next_to(label):
        row = _row_of(sheet, label)
        return sheet.cell(row=row, column=7)

    eligible = value_next_to("Dépense éligible (HT) :")
    assert Decimal(str(eligible.value)) == Decimal("36151.25")
    assert eligible.number_format == MONEY_FORMAT
    rate = value_next_to("Taux de l'État :")
    assert Decimal(str(rate.value)) == Decimal("0.8")
    assert rate.number_format == "0\\ %"
    share = value_next_to("Subvention de l'État :")
    assert Decimal(str(share.value)) == Decimal("28921.00")
    assert share.number_format == MONEY_FORMAT
    claimed = value_next_to("Montant demandé :")
    assert Decimal(str(claimed.value)) == Decimal("28921.00")


def test_formula_like_data_stays_text(sheet, xlsx):
    row = _invoice_row(sheet, '=HYPERLINK("x")')
    supplier = sheet.cell(row=row, column=2)
    reference = sheet.cell(row=row, column=4)
    description = sheet.cell(row=row, column=6)
    assert (supplier.value, supplier.data_type) == ("=1+1", "s")
    assert (reference.value, reference.data_type) == ('=HYPERLINK("x")', "s")
    assert (description.value, description.data_type) == ("=SUM(A1:A9)", "s")
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)
    xml = _sheet_xml(xlsx)
    assert "<f>" not in xml and "<f " not in xml
    assert "=1+1" in xml


def test_formula_like_operation_texts_stay_text(tmp_path):
    context = _context(authority_name="=1+1", title='=HYPERLINK("http://evil","x")', signature_town="=2+2")
    path = tmp_path / "etat.xlsx"
    path.write_bytes(render_expense_statement(context, timestamp=TIMESTAMP))
    sheet = openpyxl.load_workbook(path)["État récapitulatif"]
    assert sheet["A2"].value == '=HYPERLINK("http://evil","x")'
    assert sheet["A2"].data_type == "s"
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)
    xml = _sheet_xml(path)
    assert "<f>" not in xml and "<f " not in xml


def test_missing_mandate_and_payment_date_give_empty_cells(sheet):
    row = _invoice_row(sheet, '=HYPERLINK("x")')
    assert sheet.cell(row=row, column=11).value is None
    assert sheet.cell(row=row, column=12).value is None
    paid = _invoice_row(sheet, "RNL-2023-0012")
    assert sheet.cell(row=paid, column=11).value == "2023-000187"
    assert sheet.cell(row=paid, column=12).value == datetime(2023, 1, 24)
    assert sheet.cell(row=paid, column=12).number_format == "DD/MM/YYYY"


def test_certification_block_without_claim_date(sheet):
    texts = _all_text(sheet)
    assert "Certifié exact, à Limoges, le ………………" in texts
    start = texts.index("Certifié exact, à Limoges, le ………………")
    assert texts[start + 1 : start + 4] == [
        "Président de Limoges Métropole",
        "Guillaume Guérin",
        "(signature et cachet de l'ordonnateur)",
    ]


def test_certification_block_with_claim_date(tmp_path):
    context = _context(claim_date=date(2023, 3, 5))
    path = tmp_path / "etat.xlsx"
    path.write_bytes(render_expense_statement(context, timestamp=TIMESTAMP))
    texts = _all_text(openpyxl.load_workbook(path).active)
    assert "Certifié exact, à Limoges, le 05/03/2023" in texts


def test_table_borders_and_wrapping(sheet):
    header = _row_of(sheet, "N°")
    total = _row_of(sheet, "TOTAL")
    for row in range(header, total + 1):
        for cell in sheet[row]:
            # Inside the merged "TOTAL" label only the top and bottom edges are drawn.
            assert cell.border.top.style == "thin" and cell.border.bottom.style == "thin"
            if not isinstance(cell, MergedCell):
                assert cell.border.left.style == "thin" and cell.border.right.style == "thin"
    first = _invoice_row(sheet, "RNL-2023-0012")
    assert sheet.cell(row=first, column=2).alignment.wrap_text
    assert sheet.cell(row=first, column=6).alignment.wrap_text


def test_page_setup(sheet):
    header = _row_of(sheet, "N°")
    assert sheet.page_setup.orientation == "landscape"
    assert str(sheet.page_setup.paperSize) == str(sheet.PAPERSIZE_A4)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.page_setup.fitToWidth == 1
    assert sheet.page_setup.fitToHeight == 0
    assert sheet.print_title_rows == f"${header}:${header}"
    assert sheet.freeze_panes == f"A{header + 1}"
    assert sheet.column_dimensions["F"].width >= 20


def test_output_is_deterministic(context):
    first = render_expense_statement(context, timestamp=TIMESTAMP)
    second = render_expense_statement(context, timestamp=TIMESTAMP)
    assert first == second


def test_document_properties(xlsx):
    wb = openpyxl.load_workbook(xlsx)
    assert wb.properties.creator == "dotation-docs"
    assert wb.properties.lastModifiedBy == "dotation-docs"
    assert wb.properties.created == TIMESTAMP
    assert wb.properties.modified == TIMESTAMP
    with zipfile.ZipFile(xlsx) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_inconsistent_totals_are_refused(context):
    broken = {**context, "totaux": {**context["totaux"], "ht": Decimal("1.00")}}
    with pytest.raises(ValueError, match="incohérent"):
        render_expense_statement(broken, timestamp=TIMESTAMP)


def test_output_is_a_valid_zip(context):
    data = render_expense_statement(context, timestamp=TIMESTAMP)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
