"""Whatever the agent types in any cell, the tool answers with a report, never a crash."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
from conftest import SAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from dotation_docs.pipeline import check_workbook
from dotation_docs.report import Severity

SHEETS = {"Opération": (42, 2), "Bénéficiaires": (11, 16), "Matériel": (122, 12), "Factures": (5, 10)}

texts = st.text(max_size=30).map(lambda s: ILLEGAL_CHARACTERS_RE.sub("", s))
values = st.one_of(
    st.none(),
    texts,
    st.sampled_from(["=1/0", "=A1+", "#REF!", "1 234,50 €", "80 %", "03/02/2023", "-0", "W", "QP", "FR76"]),
    st.integers(min_value=-10**15, max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.times(),
)


@st.composite
def mutations(draw) -> list[tuple[str, int, int, object]]:
    result = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        sheet = draw(st.sampled_from(sorted(SHEETS)))
        rows, cols = SHEETS[sheet]
        result.append((sheet, draw(st.integers(1, rows + 2)), draw(st.integers(1, cols + 1)), draw(values)))
    return result


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations())
def test_any_cell_value_gives_a_report_not_a_crash(tmp_path_factory, changes) -> None:
    wb = openpyxl.load_workbook(SAMPLE)
    for sheet, row, col, value in changes:
        wb[sheet].cell(row, col).value = value
    buffer = io.BytesIO()
    wb.save(buffer)
    path = tmp_path_factory.mktemp("hostile") / "classeur.xlsx"
    path.write_bytes(buffer.getvalue())
    checked = check_workbook(path)  # must not raise
    for issue in checked.report.issues:
        assert issue.message and issue.severity in (Severity.ERROR, Severity.WARNING)
    if checked.dotation is not None:
        funding = checked.funding
        assert funding.state_share + funding.authority_share == funding.ttc
