"""Page reader's review of the rural sample's paperwork: references kept on one line, the
expense statement in French, the claim letter on one page, one name per document.

The rural sample ``data/exemple-zrr.xlsx`` is generated once for the module.
"""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from conftest import ROOT, TEMPLATES
from docx.oxml.ns import qn

from dotation_docs.pipeline import generate_batch

ZRR_SAMPLE = ROOT / "data" / "exemple-zrr.xlsx"
TWIPS_PER_CM = 567
MARGINS = 2 * 57  # a cell's left and right margins, in twips
INVENTORY = "N°\nd’inventaire"  # the header, typographic apostrophe


@pytest.fixture(scope="module")
def zrr_batch(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("zrr") / "sortie"
    generate_batch(ZRR_SAMPLE, output, TEMPLATES)
    return output


def written_text(cell) -> str:
    """The cell's text as Word stores it: a non-breaking hyphen reads "‑" (U+2011), a
    breakable one "-"."""
    return "".join(
        "‑" if node.tag == qn("w:noBreakHyphen") else "\n" if node.tag == qn("w:br") else node.text or ""
        for node in cell._tc.iter(qn("w:t"), qn("w:noBreakHyphen"), qn("w:br"))
    )


def column_widths(table) -> dict[str, int]:
    """Header text → width of the column, in twips."""
    grid = [int(g.get(qn("w:w"))) for g in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    return dict(zip((c.text for c in table.rows[0].cells), grid))


# --- item 1: reference numbers on one line -----------------------------------------------


def test_record_prints_references_with_non_breaking_hyphens(zrr_batch: Path) -> None:
    [path] = (zrr_batch / "proces-verbaux").glob("B01-*.docx")
    [table] = [t for t in docx.Document(str(path)).tables if t.rows[0].cells[0].text == "N°"]
    header = [c.text for c in table.rows[0].cells]
    rows = [dict(zip(header, row.cells)) for row in table.rows[1:]]
    inventory = [written_text(r[INVENTORY]) for r in rows]
    assert inventory[0] == "CCST‑NUM‑0005" and all(n.startswith("CCST‑NUM‑") for n in inventory), inventory
    accessories = [written_text(r["Accessoires"]) for r in rows]
    # « USB-C » holds together, the list still wraps at its ordinary spaces.
    assert "câble USB‑C, chargeur, coque" in accessories, accessories
    assert not any("-" in written_text(c) for r in rows for c in r.values())
    widths = column_widths(table)
    # « CCST-NUM-0005 » is 7,9 em wide: at 8 pt, 2,23 cm plus the margins.
    assert widths[INVENTORY] >= 7.9 * 8 * 20 + MARGINS
    # « câble USB-C, » is 6,1 em wide.
    assert widths["Accessoires"] >= 6.1 * 8 * 20 + MARGINS
    assert widths["N° de série / IMEI"] < 4.6 * TWIPS_PER_CM  # was too wide
    assert sum(widths.values()) <= 17 * TWIPS_PER_CM + 1


def test_certificate_prints_the_convention_number_on_one_line(zrr_batch: Path) -> None:
    [path] = (zrr_batch / "demande-subvention").glob("4-*.docx")
    [table] = [t for t in docx.Document(str(path)).tables if t.rows[0].cells[0].text == "Bénéficiaire"]
    numbers = [written_text(row.cells[1]) for row in table.rows[1:4]]
    assert numbers == ["n°\xa0CCST‑2024‑B01", "n°\xa0CCST‑2024‑B02", "n°\xa0CCST‑2024‑B03"]
    # « n° CCST-2024-B01 » is 9,4 em wide: at 9 pt, 2,98 cm plus the margins.
    assert column_widths(table)["Convention"] >= 9.4 * 9 * 20 + MARGINS
