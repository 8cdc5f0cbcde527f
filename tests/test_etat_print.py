"""The expense statement as printed by LibreOffice: long invoice and mandate references in
full (wrapped, in rows tall enough), amounts of tens of millions of euros in full (no
« ### »), the page count worded as in the Word documents.

Needs LibreOffice (``soffice``) and ``pdftotext`` (poppler-utils): skipped when one is
missing, failed instead when ``DOTATION_EXIGER_LIBREOFFICE=1`` (CI), like ``tests/test_pdf.py``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from test_spreadsheet import LONG_MANDATE, LONG_REFERENCE, UNBROKEN_REFERENCE, _context, _large, _render

from dotation_docs.pdf import SofficeNotFoundError, convert_to_pdf, find_soffice

REQUIRE = "DOTATION_EXIGER_LIBREOFFICE"
# The first invoice and the sample's second one (1 734,00 € TTC) make 12 345 678,90 € TTC.
HT, VAT = Decimal("10286620.75"), Decimal("2057324.15")
TOTAL_TTC = "12 345 678,90 €"


def require_tools() -> None:
    missing = []
    try:
        find_soffice(None)
    except SofficeNotFoundError:
        missing.append("LibreOffice (soffice)")
    if shutil.which("pdftotext") is None:
        missing.append("pdftotext (poppler-utils)")
    if not missing:
        return
    message = "outils absents : " + ", ".join(missing)
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{message}, alors que {REQUIRE}=1 exige les tests de conversion PDF")
    pytest.skip(f"{message} : état récapitulatif non imprimé")


@dataclass(frozen=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def words_of(pdf: Path) -> list[list[Word]]:
    """Return the words of each page of ``pdf`` with their boxes (pdftotext -bbox)."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    pages = []
    for page in out.split("<page ")[1:]:
        pages.append([
            Word(float(x0), float(y0), float(x1), float(y1), html.unescape(text))
            for x0, y0, x1, y1, text in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', page)
        ])
    return pages


def cell_text(words: list[Word], first: str, align: str) -> str:
    """Return the text of the cell whose first line starts with ``first``: that word and
    the lines just under it aligned with it (``align``: "left" or "center"), joined."""
    start = next(w for w in words if w.text.startswith(first))

    def key(w: Word) -> float:
        return w.x0 if align == "left" else (w.x0 + w.x1) / 2

    height = start.y1 - start.y0  # a word's box is taller than the lines' spacing
    lines = [start]
    while True:
        below = [w for w in words if abs(key(w) - key(start)) < 1.5 and 0.5 * height < w.y0 - lines[-1].y0 < 1.2 * height]
        if not below:
            return "".join(w.text for w in lines)
        lines.append(below[0])


def overlapping(words: list[Word]) -> list[tuple[str, str]]:
    """Return the pairs of words drawn over each other (more than half their height): the
    lines of a wrapped cell in a row too short for them run into the next row's (the PDF
    clips them on paper, pdftotext still sees them). The boxes of two successive lines
    of a cell overlap a little: a box is taller than the lines' spacing."""
    pairs = []
    for i, a in enumerate(words):
        for b in words[i + 1:]:
            across = min(a.x1, b.x1) - max(a.x0, b.x0)
            down = min(a.y1, b.y1) - max(a.y0, b.y0)
            if across > 0.5 and down > 0.5 * min(a.y1 - a.y0, b.y1 - b.y0):
                pairs.append((a.text, b.text))
    return pairs


@pytest.fixture(scope="module")
def printed(tmp_path_factory, dotation) -> tuple[str, list[list[Word]]]:
    """The statement of two invoices with long references and 12 345 678,90 € TTC, as
    LibreOffice prints it: pdftotext's layout text (spaces made ordinary) and the words."""
    require_tools()
    folder = tmp_path_factory.mktemp("etat")
    large, granted = _large(dotation, HT, VAT)
    source = _render(folder / "etat.xlsx", _context(large, amount_granted=granted))
    pdf = folder / "etat.pdf"
    pdf.write_bytes(convert_to_pdf([source])[source])
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    return re.sub(r"[\u00a0\u202f]", " ", text), words_of(pdf)


@pytest.fixture(scope="module")
def dotation():
    from conftest import SAMPLE

    from dotation_docs.pipeline import check_workbook

    return check_workbook(SAMPLE).dotation


@pytest.mark.libreoffice
@pytest.mark.slow
def test_long_references_print_in_full(printed) -> None:
    _, pages = printed
    assert len(pages) == 1
    words = pages[0]
    assert cell_text(words, LONG_REFERENCE[:4], "left") == LONG_REFERENCE
    assert cell_text(words, UNBROKEN_REFERENCE[:7], "left") == UNBROKEN_REFERENCE
    assert cell_text(words, LONG_MANDATE[:4], "center") == LONG_MANDATE
    # The rows are tall enough: no line of a wrapped cell is drawn over another row's text.
    assert overlapping(words) == []


@pytest.mark.libreoffice
@pytest.mark.slow
def test_amounts_of_tens_of_millions_print_in_full(printed) -> None:
    text, _ = printed
    assert "###" not in text and "#" not in text
    total = next(line for line in text.splitlines() if "TOTAL" in line)
    assert TOTAL_TTC in total
    assert "10 288 065,75 €" in total  # HT, and the eligible amount
    assert "Dépense éligible réalisée (HT) :     10 288 065,75 €" in re.sub(r" {5,}", "     ", text)
    assert "8 230 452,60 €" in text  # the subsidy, in the summary


@pytest.mark.libreoffice
@pytest.mark.slow
def test_footer_counts_pages_in_french(printed) -> None:
    text, _ = printed
    assert re.search(r"Page 1 sur 1\s*$", text.rstrip("\f\n"))
    assert "Page 1 / 1" not in text
