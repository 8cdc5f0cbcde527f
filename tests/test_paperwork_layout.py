"""Page reader's review of the rural sample's paperwork: references kept on one line, the
expense statement in French, the claim letter on one page, one name per document.

The rural sample ``data/exemple-zrr.xlsx`` is generated once for the module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import docx
import openpyxl
import pytest
from conftest import ROOT, TEMPLATES, docx_text
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
    # B03's convention is not signed in the sample: marked so after its number
    assert numbers == ["n°\xa0CCST‑2024‑B01", "n°\xa0CCST‑2024‑B02",
                       "n°\xa0CCST‑2024‑B03 (non\xa0signée\xa0à\xa0ce\xa0jour)"]
    # « n° CCST-2024-B01 » is 9,4 em wide: at 9 pt, 2,98 cm plus the margins.
    assert column_widths(table)["Convention"] >= 9.4 * 9 * 20 + MARGINS


# --- item 2: the expense statement in French ---------------------------------------------


def statement(zrr_batch: Path):
    return openpyxl.load_workbook(zrr_batch / "demande-subvention" / "2-etat-recapitulatif-des-depenses.xlsx").active


def test_statement_certifies_on_the_long_french_date(zrr_batch: Path) -> None:
    texts = [c.value for row in statement(zrr_batch).iter_rows() for c in row if isinstance(c.value, str)]
    assert "Certifié exact, à Airvault, le 5\xa0novembre 2024" in texts
    assert not [t for t in texts if "05/11/2024" in t]


def test_statement_numbers_carry_the_french_locale(zrr_batch: Path) -> None:
    formats = {c.number_format for row in statement(zrr_batch).iter_rows() for c in row if c.data_type == "n"}
    money = {f for f in formats if "€" in f}
    assert money == {'[$-40C]#,##0.00\\ "€"'}
    assert all(f.startswith("[$-40C]") for f in formats if "%" in f) and any("%" in f for f in formats)


def test_statement_and_letter_name_the_forecast_expense_alike(zrr_batch: Path) -> None:
    texts = [c.value for row in statement(zrr_batch).iter_rows() for c in row if isinstance(c.value, str)]
    assert "Dépense éligible prévisionnelle (TTC) :" in texts
    letter = docx_text(zrr_batch / "demande-subvention" / "1-lettre-de-demande.docx")
    assert "dépense éligible prévisionnelle de 8\u202f125,00\xa0€\xa0TTC" in letter
    assert "Dépense éligible prévisionnelle\n8\u202f125,00\xa0€\xa0TTC" in letter  # the amounts table
    assert "subventionnable" not in letter + " ".join(texts)


# --- PDF pages, as a reader sees them (LibreOffice on a system that is not French) -------


def pdf_text(source: Path, tmp_path: Path) -> tuple[str, int]:
    """Convert ``source`` with LibreOffice under the C locale; return pdftotext's text
    (no-break and narrow spaces made ordinary) and the number of pages."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftotext") is None:
        if os.environ.get("DOTATION_EXIGER_LIBREOFFICE") == "1":
            pytest.fail("LibreOffice (soffice) ou pdftotext absent, alors que DOTATION_EXIGER_LIBREOFFICE=1")
        pytest.skip("LibreOffice (soffice) ou pdftotext absent")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "LC_ALL": "C", "LANG": "C"}
    subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'profil').as_uri()}", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
        env=env, capture_output=True, timeout=180, check=True, start_new_session=True,
    )
    pdf = tmp_path / (source.stem + ".pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    return text.translate({0x202F: " ", 0xA0: " "}), text.count("\f")


@pytest.mark.libreoffice
@pytest.mark.slow
def test_statement_prints_french_amounts_on_an_english_system(zrr_batch: Path, tmp_path: Path) -> None:
    text, _ = pdf_text(zrr_batch / "demande-subvention" / "2-etat-recapitulatif-des-depenses.xlsx", tmp_path)
    assert "4 548,00 €" in text and "8 205,60 €" in text and "80 %" in text
    assert not re.search(r"\d,\d{3}\.\d\d", text), text


# --- item 3: the claim letter on one page ------------------------------------------------


@pytest.mark.libreoffice
@pytest.mark.slow
def test_claim_letter_fits_on_one_page_with_its_attachments(zrr_batch: Path, tmp_path: Path) -> None:
    text, pages = pdf_text(zrr_batch / "demande-subvention" / "1-lettre-de-demande.docx", tmp_path)
    assert pages == 1, text
    assert "Pièces jointes :" in text and "relevé d’identité bancaire (RIB)" in " ".join(text.split())


# --- item 4: one name per document ---------------------------------------------------------


def footer_text(path: Path) -> str:
    document = docx.Document(str(path))
    return "\n".join(p.text for s in document.sections for p in s.footer.paragraphs if p.text)


def test_certificate_is_named_as_titled_in_the_summary_and_the_overview(runner, tmp_path: Path) -> None:
    from dotation_docs.cli import cli

    output = tmp_path / "lot"
    result = runner.invoke(cli, ["generer", str(ZRR_SAMPLE), "-o", str(output), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "1 certificat d'achèvement et de conformité," in result.output
    assert "attestation d'achèvement" not in result.output.lower()
    overview = (output / "index.html").read_text(encoding="utf-8")
    assert "Certificat d’achèvement et de conformité</span>" in overview
    assert "ttestation d’achèvement" not in overview and "ttestation d'achèvement" not in overview
    status = runner.invoke(cli, ["etat", str(ZRR_SAMPLE), "-o", str(output)])
    assert "  Certificat d'achèvement et de conformité  à jour" in status.output, status.output
    # the file keeps its name: existing output folders stay valid
    assert (output / "demande-subvention" / "4-attestation-achevement.docx").is_file()
    assert "CERTIFICAT D’ACHÈVEMENT ET DE CONFORMITÉ" in docx_text(output / "demande-subvention" / "4-attestation-achevement.docx")


def test_service_record_footer_repeats_its_title(zrr_batch: Path) -> None:
    [service] = (zrr_batch / "proces-verbaux").glob("B04-*.docx")
    text = docx_text(service)
    assert text.startswith("PROCÈS-VERBAL DE REMISE ET D’AFFECTATION INTERNE DE MATÉRIEL")
    assert footer_text(service).startswith(
        "Procès-verbal de remise et d’affectation interne de matériel – Espace France Services d’Airvault"
    )
    [association] = (zrr_batch / "proces-verbaux").glob("B01-*.docx")
    assert docx_text(association).startswith("PROCÈS-VERBAL DE REMISE DE MATÉRIEL\n")
    assert footer_text(association).startswith("Procès-verbal de remise de matériel – Gâtine Numérique Solidaire")


def test_annex_header_names_the_convention_as_its_footer(zrr_batch: Path) -> None:
    [path] = (zrr_batch / "conventions").glob("B01-*.docx")
    title = "Convention de mise à disposition n°\xa0CCST-2024-B01 – Gâtine Numérique Solidaire"
    body = [p.text for p in docx.Document(str(path)).paragraphs]
    assert title in body
    assert title.replace("\xa0", " ") in footer_text(path).replace("\xa0", " ")
    assert not [p for p in body if "– l’association «" in p]
