"""The fast reader (lxml, one pass per sheet) returns exactly what the reference openpyxl
reader returns: same sheets, records, cells, value types, positions and messages."""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from test_reader_faults import rewrite, with_shared_strings
from test_workbook import stretch

from dotation_docs import workbook
from dotation_docs.report import Report
from dotation_docs.workbook import read_workbook, read_workbook_with_openpyxl

DEVICES_SHEET = "xl/worksheets/sheet3.xml"
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def snapshot(raw: workbook.RawWorkbook) -> tuple:
    """Everything the reader returns, value types included (1 == 1.0 == True in Python)."""
    def cell(c: workbook.RawCell) -> tuple:
        formula = _ADDRESS.sub("", c.uncomputed_formula) if c.uncomputed_formula else None
        return (c.row, c.column, type(c.value).__name__, repr(c.value), formula, c.excel_error)

    sheets = [
        (key, s.spec.key, s.title, s.header_row,
         [(r.row, [(k, cell(c)) for k, c in r.cells.items()]) for r in s.records])
        for key, s in raw.sheets.items()
    ]
    return raw.path, sheets, [(i.severity, str(i)) for i in raw.report.issues]


def outcome(read, path: Path) -> tuple:
    """What a reader makes of ``path``: its snapshot, or the error it raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("read", snapshot(read(path)))
        except Exception as err:  # noqa: BLE001 - compared, not hidden
            return ("raised", type(err).__name__, str(err))


def fast(path: Path) -> workbook.RawWorkbook:
    """The fast path alone, without the fallback to openpyxl."""
    return workbook._read_fast(path, workbook._extension_report(path))


def assert_same(path: Path, fast_path_used: bool = True) -> None:
    reference = outcome(read_workbook_with_openpyxl, path)
    assert outcome(read_workbook, path) == reference
    if fast_path_used:
        assert outcome(fast, path) == reference


def save(wb: openpyxl.Workbook, path: Path) -> Path:
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_sample_is_read_the_same(tmp_path: Path) -> None:
    assert_same(SAMPLE)
    assert len(fast(SAMPLE).sheets["devices"].records) == 121


def test_values_of_every_type_are_read_the_same(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb["Matériel"]
    values = [
        date(2023, 2, 3), datetime(2023, 2, 3, 10, 30), time(10, 30), timedelta(hours=26, minutes=5),
        True, False, 0, -12, 3.5, 1e-7, 12345678901234, "=1+1", "=SUM(I2:I5)", "#DIV/0!", "#N/A",
        "  ", "", "texte_x000D_suite", "a_x005F_x000D_b", "\u00e9\u0301", " espaces ",
        CellRichText(["gras ", TextBlock(InlineFont(b=True), "riche"), " fin"]),
    ]
    for i, value in enumerate(values):
        ws.cell(2 + i, 2 + i % 10).value = value
        ws.cell(40 + i, 1).value = value
    wb["Opération"].cell(3, 2).value = datetime(2023, 1, 1)
    assert_same(save(wb, tmp_path / "types.xlsx"))


def test_1904_dates_and_hidden_sheets_are_read_the_same(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(SAMPLE)
    wb.epoch = CALENDAR_MAC_1904
    wb["Factures"].sheet_state = "hidden"
    wb["Bénéficiaires"].sheet_state = "veryHidden"
    wb.create_sheet("Notes").append(["rien", 1])
    wb.move_sheet("Notes", offset=-4)
    wb["Matériel"].cell(5, 3).value = date(2023, 2, 3)
    assert_same(save(wb, tmp_path / "mac.xlsx"))


def test_two_candidate_sheets_are_reported_the_same(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(SAMPLE)
    wb.copy_worksheet(wb["Factures"]).title = "factures "
    assert_same(save(wb, tmp_path / "deux.xlsx"))


def test_shared_strings_with_runs_and_phonetics_are_read_the_same(tmp_path: Path) -> None:
    path = with_shared_strings(tmp_path / "sst.xlsx", {
        "F2": "12 rue Fabre d'Églantine_x000D_Bâtiment B",
        "F3": 'début</t><r><rPr><b/></rPr><t>gras</t></r><rPh sb="0" eb="1"><t>phon</t></rPh><t>fin',
        "B4": "Association Quartier_x005F_x000D_Nord",
        "B5": "</t><r><t xml:space=\"preserve\"> deux </t></r><r><t>runs</t></r><t>",
    })
    assert_same(path)
    names = [r.cells["name"].value for r in fast(path).sheets["beneficiaries"].records]
    assert names[3] == " deux runs"


@pytest.mark.parametrize("rows", [
    '<row r="1048576"><c r="L1048576" s="1"/></row>',
    "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(130, 20_000)),
    '<row r="900000"><c r="A900000" t="inlineStr"><is><t>LM-NUM-9999</t></is></c></row>',
    # Rows and cells without numbers, out of order, repeated, empty in every shape.
    '<row><c t="inlineStr"><is><t>X1</t></is></c><c/><c t="n"><v>2</v></c></row>'
    '<row r="140"/><row><c r="C141"><v>1</v></c><c r="A141"><v>7</v></c></row>'
    '<row r="150"><c r="A150" t="inlineStr"><is><t>dup</t></is></c></row>'
    '<row r="150"><c r="A150" t="inlineStr"><is><t>skipped</t></is></c></row>'
    '<row r="145"><c r="B145"><v>3</v></c></row>'
    '<row r="160"><c r="A160" t="inlineStr"><is><t>a</t></is></c><c r="A160"><v>4</v></c></row>'
    '<row r="170.0"><c r="B170" t="b"><v>1</v></c><c r="C170" t="e"/><c r="D170" t="e"><v>#REF!</v></c>'
    '<c r="E170" t="str"><v>calculé</v></c><c r="F170" t="d"><v>2023-02-03T10:00:00</v></c>'
    '<c r="G170" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="H170"><f>A1&amp;"x"</f></c>'
    '<c r="I170" t="inlineStr"><v>9</v></c><c r="J170" t="weird"><v>brut</v></c></row>'
    '<row r="180"><c r="A180"><f t="shared" ref="A180:A182" si="0">B180*2</f></c>'
    '<c r="B180"><f t="shared" si="0"/></c></row>'
    '<row r="181"><c r="A181"><f t="shared" si="0"/></c><c r="B181"><f t="shared" si="0"/><v>4</v></c></row>'
    '<row r="190"><c r="A190" s="0"><v> 12 </v></c><c r="B190"><v>1E3</v></c>'
    '<c r="C190" t="inlineStr"><is><t>a_x0001_b\ud7ff</t></is></c><c r="D190"><v></v></c></row>',
], ids=["last-row", "formatted-rows", "far-value", "odd-rows"])
def test_hand_written_sheets_are_read_the_same(tmp_path: Path, rows: str) -> None:
    assert_same(stretch(tmp_path / "classeur.xlsx", rows))


def test_a_document_type_declaration_goes_to_openpyxl(tmp_path: Path) -> None:
    def doctype(xml: bytes) -> bytes:
        head, _, body = xml.partition(b"<worksheet")
        return head + b'<!DOCTYPE worksheet [<!ENTITY e "LM-NUM-0001">]><worksheet' + body.replace(
            b"<t>LM-NUM-0001</t>", b"<t>&e;</t>", 1)

    path = rewrite(SAMPLE, tmp_path / "dtd.xlsx", DEVICES_SHEET, doctype)
    assert outcome(fast, path)[0] == "raised"
    assert_same(path, fast_path_used=False)


def test_a_damaged_sheet_gives_the_same_error(tmp_path: Path) -> None:
    path = rewrite(SAMPLE, tmp_path / "abime.xlsx", DEVICES_SHEET, lambda xml: xml[: len(xml) // 2])
    result = outcome(read_workbook, path)
    assert result == outcome(read_workbook_with_openpyxl, path)
    assert result[:2] == ("raised", "WorkbookOpenError") and "endommagé (feuille illisible)" in result[2]


# --- Any cell XML: the fast path returns the reference's answer, or gives up -----------------

_TYPES = st.sampled_from([None, "n", "s", "str", "b", "e", "d", "inlineStr", "x"])
_TEXTS = st.sampled_from(["", "0", "1", "2", "-1", "12.5", "1e3", "45000", "2958466", "abc", "#N/A",
                          "2023-02-03", "LM_x000D_1", " ", "9999999"])


@st.composite
def cell_xml(draw, row: int | None) -> str:
    attrs = ""
    column = draw(st.sampled_from(["A", "B", "C", "L", "M", "AA", None]))
    if column is not None:
        attrs += f' r="{column}{draw(st.sampled_from([row, row, 999])) if row else 3}"'
    kind = draw(_TYPES)
    if kind is not None:
        attrs += f' t="{kind}"'
    style = draw(st.sampled_from([None, "0", "1", "3", "4", "11", "16"]))
    if style is not None:
        attrs += f' s="{style}"'
    children = ""
    if draw(st.booleans()):
        shared = draw(st.booleans())
        children += ('<f t="shared" si="0"' + (">B2*2</f>" if draw(st.booleans()) else "/>")
                     if shared else f"<f>{draw(st.sampled_from(['1+1', 'A1', 'SUM(A1:A3)']))}</f>")
    if draw(st.booleans()):
        children += f"<v>{draw(_TEXTS)}</v>"
    if draw(st.booleans()):
        children += f"<is><t>{draw(_TEXTS)}</t>" + ("<r><t>run</t></r>" if draw(st.booleans()) else "") + "</is>"
    return f"<c{attrs}/>" if not children else f"<c{attrs}>{children}</c>"


@st.composite
def rows_xml(draw) -> str:
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        number = draw(st.sampled_from([None, 2, 5, 122, 130, 131, 131]))
        cells = "".join(draw(cell_xml(number)) for _ in range(draw(st.integers(0, 4))))
        rows.append(f'<row{f" r={chr(34)}{number}{chr(34)}" if number else ""}>{cells}</row>')
    return "".join(rows)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_xml())
def test_any_cells_are_read_as_openpyxl_reads_them(tmp_path_factory, rows: str) -> None:
    path = stretch(tmp_path_factory.mktemp("cells") / "classeur.xlsx", rows)
    reference = outcome(read_workbook_with_openpyxl, path)
    assert outcome(read_workbook, path) == reference
    result = outcome(fast, path)
    assert result == reference or result[0] == "raised", rows


def test_read_workbook_does_not_fall_back_on_the_sample(monkeypatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("openpyxl reader used")

    monkeypatch.setattr(workbook, "_read_with_openpyxl", refuse)
    assert read_workbook(SAMPLE).sheets.keys() == {"operation", "beneficiaries", "devices", "invoices"}


def test_shared_strings_are_parsed_without_entities(tmp_path: Path) -> None:
    # A billion-laughs table in sharedStrings.xml: the fast reader refuses it at once and
    # the reference reader (expat's own limits) decides.
    laughs = ('<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    path = with_shared_strings(tmp_path / "rires.xlsx", {"F2": "&c;"})
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    parts["xl/sharedStrings.xml"] = laughs.encode() + parts["xl/sharedStrings.xml"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    assert outcome(fast, path)[0] == "raised"
    assert outcome(read_workbook, path) == outcome(read_workbook_with_openpyxl, path)


# --- The empty-row filter's literal search equals the regular expression it stands for ------

_ROW_TOKENS = st.sampled_from([
    "<row", "<x:row", "<x1_:row", ":row", "row", "arrow", "</row>", "</x:row>", "</row >", "<", ">", "/>",
    ' r="9"', ' s="1"', " ", "\n", "<c/>", '<c r="A9" s="2"/>', "<x:c/>", "<c>", "</c>", "<v>1</v>",
    "<rows>", "<row/>", "<x:row/>", "<<row", "<a:b:row", "<é:row",
])


def _old_last_row_start(data: bytes) -> int:
    last = None
    for last in workbook._ROW_START.finditer(data):
        pass
    return last.start() if last is not None else -1


@settings(max_examples=300, deadline=None)
@given(tokens=st.lists(_ROW_TOKENS, max_size=60), dense=st.booleans())
def test_empty_rows_found_by_literal_search_as_by_the_expression(tokens: list[str], dense: bool) -> None:
    data = "".join(tokens).encode()
    if not dense:  # below the density where the expression runs anyway
        data += b" " * (len(data) * workbook._BYTES_PER_ROW_WORD)
    assert workbook._remove_empty_rows(data) == workbook._EMPTY_ROW.sub(b"", data)
    assert workbook._last_row_start(data) == _old_last_row_start(data)


def test_empty_rows_filter_on_a_real_sheet_and_a_text_full_of_row() -> None:
    with zipfile.ZipFile(SAMPLE) as z:
        xml = z.read(DEVICES_SHEET)
    mixed = xml.replace(b"</row>", b'</row><row r="7" s="1"/><row r="8"><c r="A8" s="3"/></row>', 20)
    assert workbook._remove_empty_rows(mixed) == workbook._EMPTY_ROW.sub(b"", mixed) != mixed
    assert workbook._last_row_start(mixed) == _old_last_row_start(mixed) > 0
    arrows = b"<t>" + b"arrow" * 10_000 + b"</t>" + mixed  # dense: the expression runs
    assert workbook._remove_empty_rows(arrows) == workbook._EMPTY_ROW.sub(b"", arrows)


def test_cells_are_immutable_named_tuples_with_their_coordinate() -> None:
    cell = workbook.RawCell("x", 12, 6)
    assert (cell.coordinate, cell.uncomputed_formula, cell.excel_error) == ("F12", None, None)
    with pytest.raises(AttributeError):
        cell.value = "y"  # type: ignore[misc]
    assert not cell.is_empty and workbook.RawCell("  ", 1, 1).is_empty


def test_date_styles_are_worked_out_once_and_refuse_what_openpyxl_refuses() -> None:
    styles = workbook._DateStyles({0, 3, 7}, {7})
    assert (styles[None], styles["0"], styles["3"], styles["7"], styles["2"], styles[""]) == (1, 1, 1, 2, 0, 0)
    assert styles[" 3"] == 1  # int() as openpyxl reads it
    with pytest.raises(ValueError):
        styles["x"]


def test_a_row_with_escapes_or_bad_characters_out_of_order_is_read_the_same(tmp_path: Path) -> None:
    rows = ('<row r="140"><c r="C140" t="inlineStr"><is><t>z_x0001_</t></is></c>'
            '<c r="A140" t="inlineStr"><is><t>a_x000D_b</t></is></c>'
            '<c r="C140" t="inlineStr"><is><t>dropped_x0002_</t></is></c>'
            '<c r="B140" t="str"><v>ok_x0003_</v></c></row>')
    assert_same(stretch(tmp_path / "classeur.xlsx", rows))
