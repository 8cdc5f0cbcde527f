"""The reader copes with what spreadsheets really write: formatting down to the last row."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE
from dotation_docs.pipeline import check_workbook
from dotation_docs.workbook import _EMPTY_ROW, _ValueRowsOnly

DEVICES_SHEET = "xl/worksheets/sheet3.xml"


def stretch(target: Path, extra_rows: str) -> Path:
    """Copy the sample with ``extra_rows`` appended to the Matériel sheet and its
    declared dimension pushed to the last row Excel allows."""
    with zipfile.ZipFile(SAMPLE) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == DEVICES_SHEET:
                xml = re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:L1048576"/>', data.decode())
                data = xml.replace("</sheetData>", extra_rows + "</sheetData>").encode()
            zout.writestr(info, data)
    return target


def test_formatting_down_to_row_one_million_is_ignored(tmp_path: Path) -> None:
    rows = "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(130, 1_000_001))
    rows += '<row r="1048576"><c r="A1048576" s="1"/><c r="B1048576" s="1"/></row>'
    checked = check_workbook(stretch(tmp_path / "formate.xlsx", rows))
    assert checked.report.issues == []
    assert checked.dotation is not None and len(checked.dotation.devices) == 121


def test_a_value_far_below_is_still_read(tmp_path: Path) -> None:
    # An empty gap must not hide a real row after it: nothing lost.
    row = ('<row r="900000"><c r="A900000" t="inlineStr"><is><t>LM-NUM-9999</t></is></c></row>')
    checked = check_workbook(stretch(tmp_path / "loin.xlsx", row))
    assert "Matériel!B900000 : Catégorie : cellule vide" in " ".join(str(i) for i in checked.report.errors)


@settings(max_examples=60, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=400), seed=st.integers(min_value=0, max_value=10**6))
def test_filtered_stream_equals_filtering_the_whole_text(chunk: int, seed: int) -> None:
    with zipfile.ZipFile(SAMPLE) as z:
        xml = z.read(DEVICES_SHEET)
    # Sprinkle empty rows of every shape between the real ones.
    shapes = [b'<row r="1" s="1"/>', b'<row r="2"><c r="A2" s="3"/></row>', b"<row r='3'></row>"]
    pieces = xml.split(b"</row>")
    mixed = b"</row>".join(p + shapes[(seed + i) % 3] * ((seed >> i) & 1) for i, p in enumerate(pieces[:-1]))
    mixed += b"</row>" + pieces[-1]
    stream = io.BufferedReader(_ValueRowsOnly(io.BytesIO(mixed), chunk_size=chunk))
    assert stream.read() == _EMPTY_ROW.sub(b"", mixed)


# --- A table row's record: picked by a plan per set of columns the row fills ----------------

def _records_cell_by_cell(spec, rows, columns):
    """The records _read_table made before its plans: each key's cell found by column."""
    from dotation_docs.workbook import RawCell

    records = []
    for row, cells in rows:
        by_col = {c.column: c for c in cells}
        record = {key: by_col.get(i) or RawCell(None, row, i) for key, i in columns.items()}
        if any(not c.is_empty for c in record.values()):
            records.append((row, record))
    return records


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(1, 14), st.sampled_from([None, "", " ", "x", 0, 1.5])),
                         max_size=14), max_size=25),
       st.permutations(range(1, 13)), st.integers(4, 12))
def test_table_records_are_those_found_column_by_column(rows, order, mapped) -> None:
    # Rows with cells left out or beyond the mapped columns, the mapped columns in any
    # order and any number: the same records, keys in the same order (the header's).
    from dotation_docs.report import Report
    from dotation_docs.schema import DEVICES
    from dotation_docs.workbook import RawCell, _read_table

    fields = DEVICES.fields[:mapped]
    header = [RawCell(f.label, 1, column) for f, column in zip(fields, order)]
    header.sort(key=lambda c: c.column)
    # As both readers yield rows: cells in strictly increasing columns (the last cell
    # written for a column kept), rows with a value only.
    body = [(n, [RawCell(v, n, c) for c, v in sorted(dict(cells).items())]) for n, cells in enumerate(rows, start=2)]
    body = [(n, cells) for n, cells in body if any(not c.is_empty for c in cells)]
    sheet = _read_table(DEVICES, "Matériel", iter([(1, header), *body]), Report())
    columns = dict(sorted(((f.key, column) for f, column in zip(fields, order)), key=lambda kv: kv[1]))  # header order
    expected = _records_cell_by_cell(DEVICES, body, columns)
    assert [(r.row, list(r.cells.items())) for r in sheet.records] == \
        [(row, list(record.items())) for row, record in expected]
