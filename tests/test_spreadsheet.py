"""Tests of the expense statement writer: values, types, formats, page setup, determinism."""

import dataclasses
import io
import zipfile
from datetime import date, datetime, time
from decimal import Decimal

import openpyxl
import pytest
from conftest import SAMPLE
from openpyxl.cell.cell import MergedCell
from openpyxl.utils import get_column_letter

from dotation_docs.context import claim_context
from dotation_docs.funding import batch_funding
from dotation_docs.pipeline import check_workbook
from dotation_docs.spreadsheet import render_expense_statement

TIMESTAMP = datetime(2023, 2, 3, 0, 0)
NBSP = "\xa0"
# French locale (fr-FR, 40C): LibreOffice prints « 4 548,00 € » on any system.
MONEY_FORMAT = '[$-40C]#,##0.00\\ "€"'
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
HOSTILE_INVOICE = {"reference": '=HYPERLINK("x")', "supplier": "=1+1", "description": "=SUM(A1:A9)"}


@pytest.fixture(scope="module")
def dotation():
    """The model of the sample workbook (4 invoices, 36 151,25 € HT, no claim date)."""
    return check_workbook(SAMPLE).dotation


def _with_invoice(dotation, index, **changes):
    """Return ``dotation`` with its invoice at ``index`` changed."""
    invoices = list(dotation.invoices)
    invoices[index] = dataclasses.replace(invoices[index], **changes)
    return dataclasses.replace(dotation, invoices=tuple(invoices))


def _context(dotation, **operation_changes):
    dotation = dataclasses.replace(dotation, operation=dataclasses.replace(dotation.operation, **operation_changes))
    files = {b.identifier: f"pv-{b.identifier.lower()}.pdf" for b in dotation.beneficiaries}
    return claim_context(dotation, batch_funding(dotation), "État récapitulatif des dépenses", files)


def _render(path, context):
    path.write_bytes(render_expense_statement(context, timestamp=TIMESTAMP))
    return path


def _load(path):
    wb = openpyxl.load_workbook(path, data_only=False)
    assert wb.sheetnames == ["État récapitulatif"]
    return wb["État récapitulatif"]


@pytest.fixture
def context(dotation):
    return _context(dotation)


@pytest.fixture
def xlsx(context, tmp_path):
    return _render(tmp_path / "etat.xlsx", context)


@pytest.fixture
def sheet(xlsx):
    return _load(xlsx)


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


def test_title_rows(sheet, dotation):
    texts = _all_text(sheet)
    assert texts[0] == "ÉTAT RÉCAPITULATIF DES DÉPENSES"
    assert dotation.operation.title in texts
    assert dotation.operation.programme.replace("'", "’") in texts  # prose: typographic apostrophes
    assert f"Bénéficiaire de la subvention : Limoges Métropole (SIRET 248{NBSP}719{NBSP}312{NBSP}00014)" in texts
    assert "Décision attributive : Arrêté préfectoral n° 87-2022-12-08-00003 du 8\xa0décembre 2022" in texts


def test_header_labels_bold(sheet):
    row = _row_of(sheet, "N°")
    assert _row_values(sheet, row) == HEADERS
    assert all(c.font.b for c in sheet[row])


def test_one_row_per_invoice_with_exact_values(sheet, dotation):
    header = _row_of(sheet, "N°")
    total = _row_of(sheet, "TOTAL")
    assert total - header - 1 == len(dotation.invoices) == 4
    for number, invoice in enumerate(dotation.invoices, start=1):
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


def test_numbers_written_without_float_noise(xlsx, dotation):
    xml = _sheet_xml(xlsx)
    amounts = [a for i in dotation.invoices for a in (i.amount_ht, i.vat, i.amount_ttc)]
    # openpyxl's own "%.16g" writes 8827.2 (the tablets' invoice) as 8827.200000000001.
    noisy = [n for n in ("%.16g" % float(a) for a in amounts) if Decimal(n) not in amounts]
    assert noisy == ["8827.200000000001"]
    for amount in amounts:
        assert f"<v>{amount}</v>" in xml
    for text in noisy:
        assert text not in xml
    assert "<v>36151.25</v>" in xml  # the total HT


def test_total_row_holds_values_not_formulas(sheet, xlsx, dotation):
    row = _row_of(sheet, "TOTAL")
    invoices = dotation.invoices
    expected = {
        7: sum(i.amount_ht for i in invoices),
        8: sum(i.vat for i in invoices),
        9: sum(i.amount_ttc for i in invoices),
        10: sum(i.amount_ht for i in invoices),
    }
    assert (expected[7], expected[8], expected[9]) == (Decimal("36151.25"), Decimal("7230.25"), Decimal("43381.50"))
    for column, value in expected.items():
        cell = sheet.cell(row=row, column=column)
        assert cell.data_type == "n"
        assert Decimal(str(cell.value)) == value
        assert cell.number_format == MONEY_FORMAT
        assert cell.font.b
    assert "<f>" not in _sheet_xml(xlsx) and "<f " not in _sheet_xml(xlsx)


def _value_next_to(sheet, label):
    return sheet.cell(row=_row_of(sheet, label), column=7)


SHARE = "Subvention de l’État (taux × dépense réalisée, dans la limite du montant attribué) :"
DUE = "Montant dû (montant demandé) :"


def test_summary_lines(sheet):
    forecast = _value_next_to(sheet, "Dépense éligible prévisionnelle (HT) :")
    assert Decimal(str(forecast.value)) == Decimal("36151.25")
    granted = _value_next_to(sheet, "Montant de la subvention attribuée :")
    assert Decimal(str(granted.value)) == Decimal("28921.00")
    assert granted.number_format == MONEY_FORMAT
    advances = _value_next_to(sheet, "Acomptes déjà perçus :")
    assert (advances.value, advances.data_type) == ("néant", "s")
    eligible = _value_next_to(sheet, "Dépense éligible réalisée (HT) :")
    assert Decimal(str(eligible.value)) == Decimal("36151.25")
    assert eligible.number_format == MONEY_FORMAT
    rate = _value_next_to(sheet, "Taux de l’État :")
    assert Decimal(str(rate.value)) == Decimal("0.8")
    assert rate.number_format == "[$-40C]0\\ %"
    share = _value_next_to(sheet, SHARE)
    assert Decimal(str(share.value)) == Decimal("28921.00")
    assert share.number_format == MONEY_FORMAT
    claimed = _value_next_to(sheet, DUE)
    assert Decimal(str(claimed.value)) == Decimal("28921.00")


def test_summary_lines_with_cap_and_advances(tmp_path, dotation):
    context = _context(dotation, amount_granted=Decimal("25000.00"), advances=Decimal("5000.00"),
                       forecast_eligible_expense=None)
    sheet = _load(_render(tmp_path / "etat.xlsx", context))
    labels = [
        "Dépense éligible réalisée (HT) :", "Taux de l’État :", "Montant de la subvention attribuée :",
        SHARE, "Acomptes déjà perçus :", DUE,
    ]
    rows = [_row_of(sheet, label) for label in labels]
    assert rows == list(range(rows[0], rows[0] + len(labels)))
    values = [Decimal(str(_value_next_to(sheet, label).value)) for label in labels]
    # By hand: min(80 % × 36 151,25 = 28 921,00 ; 25 000,00) − 5 000,00 = 20 000,00.
    assert values == [
        Decimal("36151.25"), Decimal("0.8"), Decimal("25000.00"),
        Decimal("25000.00"), Decimal("5000.00"), Decimal("20000.00"),
    ]
    assert "Dépense éligible prévisionnelle (HT) :" not in _all_text(sheet)


def test_formula_like_data_stays_text(tmp_path, dotation):
    hostile = _with_invoice(dotation, 1, **HOSTILE_INVOICE)
    xlsx = _render(tmp_path / "etat.xlsx", _context(hostile))
    sheet = _load(xlsx)
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


def test_formula_like_operation_texts_stay_text(tmp_path, dotation):
    context = _context(dotation, authority_name="=1+1", title='=HYPERLINK("http://evil","x")', signature_town="=2+2")
    path = _render(tmp_path / "etat.xlsx", context)
    sheet = _load(path)
    assert sheet["A2"].value == '=HYPERLINK("http://evil","x")'
    assert sheet["A2"].data_type == "s"
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)
    xml = _sheet_xml(path)
    assert "<f>" not in xml and "<f " not in xml


def test_missing_mandate_and_payment_date_give_empty_cells(tmp_path, dotation):
    unpaid = _with_invoice(dotation, 0, mandate_number=None, payment_date=None)
    sheet = _load(_render(tmp_path / "etat.xlsx", _context(unpaid)))
    row = _invoice_row(sheet, unpaid.invoices[0].reference)
    assert sheet.cell(row=row, column=11).value is None
    assert sheet.cell(row=row, column=12).value is None
    paid = unpaid.invoices[1]
    assert (paid.mandate_number, paid.payment_date) == ("2023-000203", date(2023, 1, 26))
    row = _invoice_row(sheet, paid.reference)
    assert sheet.cell(row=row, column=11).value == "2023-000203"
    assert sheet.cell(row=row, column=12).value == datetime(2023, 1, 26)
    assert sheet.cell(row=row, column=12).number_format == "DD/MM/YYYY"


def test_certification_block_without_claim_date(tmp_path, dotation):
    sheet = _load(_render(tmp_path / "etat.xlsx", _context(dotation, claim_date=None)))
    start = _row_of(sheet, "Certifié exact, à Limoges, le ………………", column=9)
    assert [sheet.cell(row=start + n, column=9).value for n in range(1, 7)] == [
        "Le Président de Limoges Métropole",
        "Guillaume Guérin",
        None,  # the accountant's block is one line longer
        None,  # room to sign between the name and the caption
        "(signature et cachet de l’ordonnateur)",
        None,
    ]
    assert sheet.row_dimensions[start + 4].height >= 60


def test_labels_have_typographic_apostrophes(sheet):
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert "Service de l’État : Préfecture de la Haute-Vienne" in texts
    assert "Taux de l’État :" in texts
    assert any(t.startswith("Subvention de l’État (") for t in texts)
    assert not [t for t in texts if "'" in t]


def test_certification_block_with_claim_date(tmp_path, dotation):
    texts = _all_text(_load(_render(tmp_path / "etat.xlsx", _context(dotation, claim_date=date(2023, 3, 5)))))
    assert "Certifié exact, à Limoges, le 5\xa0mars 2023" in texts


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
    # A fixed scale (manual page breaks are ignored with "fit to page"), at which the
    # 13 columns fit the width of an A4 landscape page.
    assert not sheet.sheet_properties.pageSetUpPr.fitToPage
    assert 55 <= int(sheet.page_setup.scale) <= 80
    # Every column fits the printable width with a margin, so that no column (the
    # « Observations ») prints alone on a page of its own.
    from dotation_docs.spreadsheet import COLUMNS, PAGE_WIDTH, MARGIN_SIDE

    width = sum(sheet.column_dimensions[get_column_letter(c)].width * 7 + 5
                for c in range(1, len(COLUMNS) + 1)) * 0.75
    assert width * int(sheet.page_setup.scale) / 100 <= 0.9 * (PAGE_WIDTH - 2 * MARGIN_SIDE * 72)
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


# --- the public accountant's block and long statements --------------------------------------


def test_accountant_block_beside_the_officer_block(sheet):
    row = _row_of(sheet, "Vu et certifié conforme aux écritures du comptable public", column=2)
    assert sheet.cell(row=row, column=9).value.startswith("Certifié exact, à Limoges, le ")
    assert sheet.cell(row=row, column=2).font.b
    office, title, when, room, note = (sheet.cell(row=row + n, column=2).value for n in range(1, 6))
    assert (office, title) == ("Service de gestion comptable de Limoges", "le comptable public")
    assert when.startswith("À ……") and when.endswith(", le ………………")  # filled in by hand
    # room for signatures and stamps between the title and the caption
    assert room is None and sheet.row_dimensions[row + 4].height >= 60
    assert note == "(signature et cachet du comptable public)"
    assert sheet.cell(row=row + 5, column=9).value == "(signature et cachet de l’ordonnateur)"
    assert sheet.print_area == f"'État récapitulatif'!$A$1:$M${row + 5}"


def test_accountant_block_without_office_has_dotted_lines(tmp_path, dotation):
    context = _context(dotation, accounting_office=None, accountant_title=None)
    sheet = _load(_render(tmp_path / "etat.xlsx", context))
    row = _row_of(sheet, "Vu et certifié conforme aux écritures du comptable public", column=2)
    office, title = (sheet.cell(row=row + n, column=2).value for n in (1, 2))
    assert office == title and set(office) == {"…"} and len(office) >= 20
    assert "Service de gestion comptable de Limoges" not in _all_text(sheet)


def test_long_statement_keeps_its_end_together(tmp_path, dotation):
    invoice = dotation.invoices[0]
    many = tuple(
        dataclasses.replace(invoice, reference=f"F-{n:03d}", amount_ht=Decimal("100.00"), vat=Decimal("20.00"),
                            amount_ttc=Decimal("120.00"))
        for n in range(1, 81)
    )
    long = dataclasses.replace(dotation, invoices=many)
    path = _render(tmp_path / "etat.xlsx", _context(long, amount_granted=Decimal("6400.00")))
    sheet = _load(path)
    breaks = [b.id for b in sheet.row_breaks.brk]
    assert len(breaks) >= 2  # 80 invoices do not fit on two pages
    assert breaks == sorted(breaks)
    first, last = _invoice_row(sheet, "F-001"), _invoice_row(sheet, "F-080")
    total = _row_of(sheet, "TOTAL")
    end = int(sheet.print_area.rsplit("$", 1)[1])
    # Every break falls between two invoice rows, and the last one leaves at least three
    # invoices before the total: the total, the summary and both blocks follow them.
    assert all(first <= b < last for b in breaks)
    assert breaks[-1] <= total - 4
    assert _row_of(sheet, "Vu et certifié conforme aux écritures du comptable public", column=2) < end
    # What follows the last break fits on one page at the printed scale.
    from dotation_docs.spreadsheet import page_rows

    header = _row_of(sheet, "N°")
    tail = sum(sheet.row_dimensions[r].height or 15 for r in range(breaks[-1] + 1, end + 1))
    assert tail + sheet.row_dimensions[header].height <= page_rows(sheet)
    # Each page between breaks fits too.
    for start, stop in zip([header] + breaks, breaks):
        page = sum(sheet.row_dimensions[r].height or 15 for r in range(start + 1, stop + 1))
        assert page + sheet.row_dimensions[header].height <= page_rows(sheet)
    assert sheet.print_title_rows == f"${header}:${header}"
    xml = _sheet_xml(path)
    assert "<rowBreaks" in xml and 'man="1"' in xml


def test_short_statement_has_no_page_break(sheet):
    assert list(sheet.row_breaks.brk) == []


# --- Same bytes as styling each cell one attribute at a time ---------------------------------


def _styled_one_by_one(ws, row, invoice, styles=None):
    """The invoice row as it was written before the rows copied the first row's styles:
    every cell styled attribute by attribute (kept here as the reference)."""
    from dotation_docs import spreadsheet as s

    def cell(column):
        return ws.cell(row=row, column=column)

    ws.cell(row=row, column=s.COL_NUMBER, value=int(invoice["numero"]))
    s._text(cell(s.COL_SUPPLIER), invoice["fournisseur"])
    siret = invoice.get("siret_fournisseur")
    s._text(cell(s.COL_SIRET), s.format_siret(siret) if siret else None)
    s._text(cell(s.COL_REFERENCE), invoice["reference"])
    s._date(cell(s.COL_DATE), invoice["date"])
    s._text(cell(s.COL_OBJECT), invoice["objet"])
    for column, key in ((s.COL_HT, "ht"), (s.COL_VAT, "tva"), (s.COL_TTC, "ttc"), (s.COL_ELIGIBLE, "eligible")):
        s._number(cell(column), invoice[key], s.MONEY_FORMAT)
    s._text(cell(s.COL_MANDATE), invoice.get("mandat"))
    s._date(cell(s.COL_PAYMENT), invoice.get("date_paiement"))
    for column in range(1, s.LAST_COLUMN + 1):
        s._table_style(cell(column), column)
    ws.row_dimensions[row].height = s.invoice_row_height(ws, row)
    return None


def _varied(dotation, count):
    """``count`` invoices, the first ones unpaid and without the supplier's SIRET, dates
    missing here and there, so that a row's cells differ from the first row's."""
    base = dotation.invoices[0]
    invoices = []
    for n in range(count):
        paid = n % 3 != 0 and n > 1
        invoices.append(dataclasses.replace(
            base, reference=f"F-{n:03d}", description=f"Objet {n} " * (n % 7 + 1),
            supplier_siret=None if n < 2 else base.supplier_siret,
            mandate_number=f"2023-{n:06d}" if paid else None, payment_date=date(2023, 1, 1 + n % 28) if paid else None,
            amount_ht=Decimal("100.00") + n, vat=Decimal("20.00"), amount_ttc=Decimal("120.00") + n,
        ))
    return dataclasses.replace(dotation, invoices=tuple(invoices))


@pytest.mark.parametrize("count", [1, 2, 5, 120])
def test_rows_styled_from_the_first_give_the_same_bytes(dotation, monkeypatch, count):
    from dotation_docs import spreadsheet

    varied = _varied(dotation, count)
    context = _context(varied, amount_granted=sum((i.amount_ht for i in varied.invoices), Decimal("0.00")))
    fast = render_expense_statement(context, timestamp=TIMESTAMP)
    monkeypatch.setattr(spreadsheet, "_write_invoice", _styled_one_by_one)
    assert fast == render_expense_statement(context, timestamp=TIMESTAMP)


# --- Printed in full: long references, large amounts, the page count ---------------------------

LONG_REFERENCE = "FAC-2023-000123-0001"  # 20 characters, broken only at its hyphens
UNBROKEN_REFERENCE = "FACTURE2023RENUMERIQUEQPV00123"  # 30 characters, nowhere to break
LONG_MANDATE = "MDT-2023-000187-0042"


def _large(dotation, ht, vat):
    """``dotation`` with two invoices of long references, the first of ``ht`` + ``vat``,
    and the State's grant at 80 % of the HT total."""
    first, second = dotation.invoices[:2]
    invoices = (
        dataclasses.replace(first, reference=LONG_REFERENCE, mandate_number=LONG_MANDATE,
                            amount_ht=ht, vat=vat, amount_ttc=ht + vat),
        dataclasses.replace(second, reference=UNBROKEN_REFERENCE),
    )
    total = sum((i.amount_ht for i in invoices), Decimal("0.00"))
    return dataclasses.replace(dotation, invoices=invoices), (total * Decimal("0.8")).quantize(Decimal("0.01"))


def _large_sheet(tmp_path, dotation, ht, vat):
    large, granted = _large(dotation, ht, vat)
    return _load(_render(tmp_path / "etat.xlsx", _context(large, amount_granted=granted)))


def test_references_wrap_and_rows_are_tall_enough(tmp_path, dotation):
    sheet = _large_sheet(tmp_path, dotation, Decimal("100.00"), Decimal("20.00"))
    rows = {ref: _invoice_row(sheet, ref) for ref in (LONG_REFERENCE, UNBROKEN_REFERENCE)}
    for row in rows.values():
        for column in ("D", "K"):  # N° de facture, N° de mandat
            assert sheet[f"{column}{row}"].alignment.wrap_text, f"{column}{row}"
    assert sheet[f"K{rows[LONG_REFERENCE]}"].value == LONG_MANDATE
    # A row whose height is set does not grow: it must hold every line of the reference.
    # 20 characters take two lines of a 16-character column, 30 capitals take three.
    assert sheet.column_dimensions["D"].width == 16
    assert sheet.row_dimensions[rows[LONG_REFERENCE]].height >= 2 * 15
    assert sheet.row_dimensions[rows[UNBROKEN_REFERENCE]].height >= 3 * 15


def test_reference_lines_are_estimated_on_the_safe_side():
    from dotation_docs.spreadsheet import _reference_lines

    assert _reference_lines("RNL-2023-0019", 16) == 1
    assert _reference_lines("RNL-2023-0012-0001", 16) == 2
    assert _reference_lines(LONG_REFERENCE, 16) == 2
    assert _reference_lines(UNBROKEN_REFERENCE, 16) == 3
    assert _reference_lines("W" * 30, 16) >= 4  # the widest capitals
    assert _reference_lines("2023-000187", 13) == 1
    assert _reference_lines(LONG_MANDATE, 13) == 2
    assert _reference_lines("", 16) == 1


def _money_cells(sheet, column):
    return [c for (c,) in sheet.iter_rows(min_col=column, max_col=column)
            if c.data_type == "n" and c.number_format == MONEY_FORMAT]


@pytest.mark.parametrize(("ht", "vat"), [
    (Decimal("10288065.75"), Decimal("2057613.15")),  # 12 345 678,90 € TTC
    (Decimal("833333333.33"), Decimal("166666666.66")),  # 999 999 999,99 € TTC
])
def test_amount_columns_are_wide_enough_for_their_longest_amount(tmp_path, dotation, ht, vat):
    from dotation_docs.formatting import format_amount
    from dotation_docs.spreadsheet import MARGIN_SIDE, PAGE_WIDTH

    sheet = _large_sheet(tmp_path, dotation, ht, vat)
    total = _row_of(sheet, "TOTAL")
    assert sheet.cell(row=total, column=9).value >= ht + vat
    for column in range(7, 11):  # HT, TVA, TTC, éligible; the summary is in the HT column
        cells = _money_cells(sheet, column)
        assert any(c.row == total for c in cells) and len(cells) >= 3
        longest = max(len(format_amount(Decimal(str(c.value)))) for c in cells)
        # LibreOffice prints an amount of n characters (bold or not) in a column n wide,
        # « ### » in a column n - 1 wide.
        width = sheet.column_dimensions[get_column_letter(column)].width
        assert width >= longest, (get_column_letter(column), width, longest)
    # Still one page wide at the print scale.
    scale = int(sheet.page_setup.scale)
    width = sum(sheet.column_dimensions[get_column_letter(c)].width * 7 + 5 for c in range(1, 14)) * 0.75
    assert width * scale / 100 <= 0.9 * (PAGE_WIDTH - 2 * MARGIN_SIDE * 72)
    assert scale >= 55


def test_small_amounts_keep_the_usual_columns(sheet):
    widths = [sheet.column_dimensions[get_column_letter(c)].width for c in range(7, 11)]
    assert widths == [14, 13, 14, 14]


def test_footer_counts_pages_as_the_word_documents(sheet):
    assert sheet.oddFooter.right.text == "Page &P sur &N"
    assert sheet.oddFooter.left.text == "État récapitulatif des dépenses"
