"""Audit of issue #10: the equivalence tests must fail when the compiled renderer differs
from docxtpl's by one character on values the hostile set did not hold.

docxtpl un-escapes ``{_{``, ``}_}``, ``{_%`` and ``%_}`` after rendering (its escape of
Jinja delimiters); ``fastdocx._render_xml`` repeats it. Changing one of those four
replacements by one character (``"%}"`` → ``"% }"``) left every test of
tests/test_fastdocx.py, test_hostile_fast.py, test_escaping.py and test_golden.py green:
no test value held these sequences. A workbook cell can (the parser keeps them).
"""

from __future__ import annotations

import pytest

from tests.test_fastdocx import assert_same_document, both, hostile

from dotation_docs.documents import plan_batch
from dotation_docs.funding import batch_funding
from dotation_docs.pipeline import check_workbook
from tests.conftest import SAMPLE

VALUES = {
    "docxtpl-escapes": "a {_{ b }_} c {_% d %_} e {_{{_% %_}}_} fin",
    "docxtpl-escapes-marks": "{_{ & <x> 'q' \"d\" %_}",
}


@pytest.fixture(scope="module")
def one_per_template() -> dict:
    dotation = check_workbook(SAMPLE).dotation
    seen: dict = {}
    for doc in plan_batch(dotation, batch_funding(dotation)):
        if doc.template and doc.template.endswith(".docx"):
            seen.setdefault(doc.template, doc)
    return seen


@pytest.mark.parametrize("variant", sorted(VALUES))
def test_docxtpl_escape_sequences_give_identical_documents(one_per_template: dict, variant: str) -> None:
    text = VALUES[variant]
    rendered = 0
    for name, doc in sorted(one_per_template.items()):
        expected, actual = both(name, hostile(doc.context, text), title=text)
        if isinstance(expected, str):
            assert actual == expected
            continue
        assert isinstance(actual, bytes)
        assert_same_document(expected, actual)
        rendered += 1
    assert rendered >= 4
