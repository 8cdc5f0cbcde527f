"""The scanner (regular expressions over a sheet written as spreadsheets write it) returns
exactly what the lxml reader and the reference openpyxl reader return, and leaves to lxml
every sheet it cannot read with certainty."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import SAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fast_reader import outcome
from test_reader_faults import rewrite, with_shared_strings
from test_workbook import stretch

from dotation_docs import workbook
from dotation_docs.workbook import read_workbook, read_workbook_with_openpyxl

DEVICES_SHEET = "xl/worksheets/sheet3.xml"


def lxml_only(path: Path) -> workbook.RawWorkbook:
    """The fast reader without its scanner: lxml reads every sheet and shared string."""
    saved = workbook._scan_sheet, workbook._scan_shared_strings
    workbook._scan_sheet = workbook._scan_shared_strings = lambda *args: None
    try:
        return workbook._read_fast(path, workbook._extension_report(path))
    finally:
        workbook._scan_sheet, workbook._scan_shared_strings = saved


def scanned_sheets(path: Path) -> list[bool]:
    """Whether the scanner read each sheet of ``path`` (in the order read)."""
    found = []
    original = workbook._scan_sheet

    def spy(*args):
        result = original(*args)
        found.append(result is not None)
        return result

    workbook._scan_sheet = spy
    try:
        workbook._read_fast(path, workbook._extension_report(path))
    except Exception:  # noqa: BLE001 - lxml refuses what the scanner left to it: fine here
        pass
    finally:
        workbook._scan_sheet = original
    return found


def assert_same_everywhere(path: Path, scanned: bool | None = None) -> None:
    """The scanner's answer is lxml's and openpyxl's; ``scanned``: whether the devices
    sheet must have been scanned (True) or left to lxml (False)."""
    reference = outcome(read_workbook_with_openpyxl, path)
    assert outcome(read_workbook, path) == reference
    fast = outcome(lambda p: workbook._read_fast(p, workbook._extension_report(p)), path)
    assert fast == outcome(lxml_only, path)
    if fast[0] == "read":
        assert fast == reference
    if scanned is not None:
        assert scanned_sheets(path)[2] is scanned  # Matériel, the third sheet read


def test_the_sample_and_its_shared_strings_are_scanned(tmp_path: Path) -> None:
    assert scanned_sheets(SAMPLE) == [True, True, True, True]
    assert_same_everywhere(SAMPLE, scanned=True)
    path = with_shared_strings(tmp_path / "sst.xlsx", {
        "F2": "12 rue Fabre d&apos;&#201;glantine_x000D_B&#xE2;timent B",
        "B4": "Association &lt;Quartier&gt; &amp; Nord",
        "B5": "  espaces  ",
    })
    with zipfile.ZipFile(path) as z:
        part = "xl/sharedStrings.xml"
        assert workbook._scan_shared_strings(z, part) == [
            "12 rue Fabre d'Églantine_x000D_Bâtiment B", "Association <Quartier> & Nord", "  espaces  "]
    assert_same_everywhere(path, scanned=True)


@pytest.mark.parametrize("sst", [
    '<si><t>a</t></si><si><r><t>b</t></r></si>',  # a run
    '<si><t>a</t><rPh sb="0" eb="1"><t>p</t></rPh></si>',  # a phonetic run
    '<si><t>a</t></si>\n<si><t>b</t></si>',  # white space between items
    '<si><t>a</t></si><!-- note --><si><t>b</t></si>',
    '<si><t>a\rb</t></si>',
    '<si><t>&#1;</t></si>',
    '<si><t>&nbsp;</t></si>',
])
def test_shared_strings_the_scanner_does_not_read_go_to_lxml(tmp_path: Path, sst: str) -> None:
    path = with_shared_strings(tmp_path / "sst.xlsx", {"B4": "x", "B5": "y"})
    xml = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" '
           f'uniqueCount="2">{sst}</sst>')
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    parts["xl/sharedStrings.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    with zipfile.ZipFile(path) as z:
        assert workbook._scan_shared_strings(z, "xl/sharedStrings.xml") is None
    assert_same_everywhere(path)


_EXCEL_ROWS = (
    '<row r="130" spans="1:12" ht="15" x14ac:dyDescent="0.25"><c r="A130" s="1" t="inlineStr"><is><t xml:space="preserve">'
    ' LM&#45;NUM&#x2D;0130 </t></is></c><c r="B130" t="str"><f>LOWER("ORDINATEUR PORTABLE")</f>'
    '<v>ordinateur portable</v></c><c r="C130" t="inlineStr"><is><t>&lt;Dell&gt; &amp; fils</t></is></c>'
    '<c r="D130" t="inlineStr"><is><t>&#128512; &#x1F600;</t></is></c><c r="E130" t="inlineStr"><is><t>'
    'SN_x000D_130</t></is></c><c r="F130"/><c r="I130" s="0"><f>100+0.5</f><v>100.5</v></c>'
    '<c r="J130"><v>0.2</v></c><c r="K130" t="inlineStr"><is><t>RNL-2023-0012</t></is></c>'
    '<c r="L130" t="inlineStr"><is><t>B01</t></is></c></row>'
    '<row r="131" spans="1:12"><c r="A131" s="1"/><c r="B131" s="1"/></row>'  # formatting only
    '<row r="132" customFormat="1" s="1"/>'
    '<row r="133"><c r="A133" t="inlineStr"><is><t>LM-NUM-0133</t></is></c><c r="I133">'
    '<f t="shared" ref="I133:I134" si="0">100+1</f><v>101</v></c><c r="J133" t="e"><v>#N/A</v></c>'
    '<c r="K133" t="b"><v>1</v></c><c r="L133" t="d"><v>2023-02-03T10:00:00</v></c></row>'
    '<row r="134"><c r="I134"><f t="shared" si="0"/></c><c r="J134" t="e"/><c r="K134" t="str"><v></v></c></row>'
)


def excel_like(tmp_path: Path, rows: str, namespaces: str = "") -> Path:
    """The sample with ``rows`` appended to its Matériel sheet, the x14ac prefix declared."""
    def change(xml: bytes) -> bytes:
        text = xml.decode().replace(
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"' + namespaces, 1)
        return text.replace("</sheetData>", rows + "</sheetData>").encode()

    return rewrite(SAMPLE, tmp_path / "excel.xlsx", DEVICES_SHEET, change)


def test_rows_as_excel_writes_them_are_scanned(tmp_path: Path) -> None:
    path = excel_like(tmp_path, _EXCEL_ROWS)
    assert_same_everywhere(path, scanned=True)
    devices = read_workbook(path).sheets["devices"].records
    cells = {c.coordinate: c for r in devices for c in r.cells.values()}
    assert cells["A130"].value == " LM-NUM-0130 " and cells["C130"].value == "<Dell> & fils"
    assert cells["D130"].value == "\U0001f600 \U0001f600" and cells["E130"].value == "SN\r130"
    assert cells["I134"].uncomputed_formula == "=100+1" and cells["J133"].excel_error == "#N/A"


@pytest.mark.parametrize("rows", [
    '<row r="130"> <c r="A130" t="inlineStr"><is><t>a</t></is></c></row>',  # white space
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a</t></is></c><!-- c --></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t><![CDATA[a<b]]></t></is></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a\rb</t></is></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a]]>b</t></is></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a&#0;b</t></is></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a&#xFFFE;b</t></is></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a&nbsp;b</t></is></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a & b</t></is></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a\x01b</t></is></c></row>',
    '<row r="130" xmlns="urn:autre"><c r="A130" t="inlineStr"><is><t>a</t></is></c></row>',
    '<row r="130" ht="1" ht="2"><c r="A130" t="inlineStr"><is><t>a</t></is></c></row>',
    '<row r="130" y:ht="1"><c r="A130" t="inlineStr"><is><t>a</t></is></c></row>',  # undeclared
    '<row r="130"><x:c r="A130" t="inlineStr"><is><t>a</t></is></x:c></row>',
    '<row r="130"><c r="A130" t="inlineStr" s="1"><is><t>a</t></is></c></row>',  # another order
    '<row r="130"><c r="A130" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c></row>',
    '<row r="130"><c r="A130"><v>1</v><v>2</v></c></row>',
    '<row r="130"><c r="A130"><f t="shared" si="0" si="1"/></c></row>',
    '<row r="130"><c r="A130" t="inlineStr"><is><t>a</t></is></c>',  # unclosed row
    '<row r="130"><row r="131"></row></row>',
    '<c r="A130" t="inlineStr"><is><t>a</t></is></c>',  # a cell outside a row
    '<row><c r="A130" t="inlineStr"><is><t>a</t></is></c></row>',  # no row number
    '<row r="130"><c t="inlineStr"><is><t>a</t></is></c></row>',  # no coordinate
])
def test_a_sheet_the_scanner_does_not_read_goes_to_lxml(tmp_path: Path, rows: str) -> None:
    path = excel_like(tmp_path, rows, ' xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
    assert_same_everywhere(path, scanned=False)


def test_prefixes_and_namespaces_are_refused_before_reading(tmp_path: Path) -> None:
    # Rows in another namespace (the default one redeclared on the sheet) are not rows.
    def foreign(xml: bytes) -> bytes:
        return xml.replace(b"<sheetData>", b'<sheetData xmlns="urn:autre">', 1)

    assert_same_everywhere(rewrite(SAMPLE, tmp_path / "ns.xlsx", DEVICES_SHEET, foreign), scanned=False)


# --- Any cells: the scanner's answer is lxml's and openpyxl's, or it gives up --------------

_SCAN_TYPES = st.sampled_from([None, "n", "s", "str", "b", "e", "d", "inlineStr", "x"])
_SCAN_TEXTS = st.sampled_from([
    "", "0", "1", "2", "-1", "12.5", "1e3", "45000", "2958466", "abc", "#N/A", "2023-02-03", "LM_x000D_1",
    " ", "9999999", "&amp;", "&#233;t&#xE9;", "&lt;b&gt;", "a_x0001_b", "&#95;x000D_", "\u0661\u0662",
])


@st.composite
def scanner_cell(draw, row: int) -> str:
    column = draw(st.sampled_from(["A", "B", "C", "L", "M", "AA"]))
    attrs = f' r="{column}{draw(st.sampled_from([row, row, 999]))}"'
    style = draw(st.sampled_from([None, "0", "1", "3", "16"]))
    if style is not None:
        attrs += f' s="{style}"'
    kind = draw(_SCAN_TYPES)
    if kind is not None:
        attrs += f' t="{kind}"'
    children = ""
    if draw(st.booleans()):
        children += ('<f t="shared" si="0"' + (">B2*2</f>" if draw(st.booleans()) else "/>")
                     if draw(st.booleans()) else f"<f>{draw(st.sampled_from(['1+1', 'A1&amp;B1']))}</f>")
    if draw(st.booleans()):
        children += f"<v>{draw(_SCAN_TEXTS)}</v>"
    if draw(st.booleans()):
        children += f"<is><t>{draw(_SCAN_TEXTS)}</t></is>"
    return f"<c{attrs}/>" if not children else f"<c{attrs}>{children}</c>"


@st.composite
def scanner_rows(draw) -> str:
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        number = draw(st.sampled_from([2, 5, 122, 130, 131, 131]))
        cells = "".join(draw(scanner_cell(number)) for _ in range(draw(st.integers(0, 4))))
        attrs = draw(st.sampled_from(["", ' spans="1:12"', ' s="1" customFormat="1"']))
        rows.append(f'<row r="{number}"{attrs}>{cells}</row>' if cells or draw(st.booleans())
                    else f'<row r="{number}"{attrs}/>')
    return "".join(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=scanner_rows())
def test_any_scanned_cells_are_read_as_lxml_and_openpyxl_read_them(tmp_path_factory, rows: str) -> None:
    path = stretch(tmp_path_factory.mktemp("cells") / "classeur.xlsx", rows)
    assert_same_everywhere(path)
    assert scanned_sheets(path)[2]  # all of these are for the scanner


def test_a_row_number_below_the_count_is_parsed_then_dropped_as_openpyxl_does(tmp_path: Path) -> None:
    rows = ('<row r="140"><c r="A140" t="inlineStr"><is><t>LM-NUM-0140</t></is></c></row>'
            '<row r="140"><c r="A140" t="inlineStr"><is><t>skipped_x0001_</t></is></c></row>'
            '<row r="135"><c r="A135" t="s"><v>999</v></c></row>')  # a missing shared string
    path = stretch(tmp_path / "classeur.xlsx", rows)
    assert outcome(read_workbook, path) == outcome(read_workbook_with_openpyxl, path)
    assert outcome(lambda p: workbook._read_fast(p, workbook._extension_report(p)), path) == outcome(lxml_only, path)


def test_an_empty_row_too_long_for_the_filter_is_read_by_openpyxl(tmp_path: Path) -> None:
    # The empty-row filter passes on a row longer than it holds (see _MAX_PENDING): the
    # scanner, which would take it out, gives up and the reference reader reads it all.
    long_row = '<row r="200">' + '<c r="A200" s="1"/>' * 70_000 + "</row>"
    rows = long_row + '<row r="200"><c r="A200" t="inlineStr"><is><t>LM-NUM-0200</t></is></c></row>'
    path = stretch(tmp_path / "classeur.xlsx", rows)
    result = outcome(read_workbook, path)
    assert result == outcome(read_workbook_with_openpyxl, path)
    assert "LM-NUM-0200" not in str(result)  # the row after it has the number it used: dropped
