"""French typography the filters produce: "1er" with "er" in superscript (a run of its own in
Word, <sup> in HTML), a no-break space between a day and its month, references kept on one
line with Word's non-breaking hyphens."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import docx
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text
from docx.oxml.ns import qn
from lxml import etree
from test_template_safety import CONVENTION, rewrite_part

from dotation_docs.formatting import NO_BREAK_HYPHEN, SUPERSCRIPT_END, SUPERSCRIPT_START
from dotation_docs.pipeline import generate_batch
from dotation_docs.rendering import render

STAMP = datetime(2023, 2, 3)
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
FORMATTED_RUN = '<w:r w:rsidR="00A1"><w:rPr><w:b/><w:sz w:val="20"/><w:lang w:val="fr-FR"/></w:rPr><w:t xml:space="preserve">{}</w:t></w:r>'
CONTEXT = {
    "premier": date(2023, 3, 1),
    "trois": date(2023, 2, 3),
    "reference": "87-2022-12-08-00003",
    "adresse": "18 allée Fabre d'Églantine\nBâtiment B",
    "piege": f"Valeur{SUPERSCRIPT_START}cachée{SUPERSCRIPT_END} 1{NO_BREAK_HYPHEN}2",
    "document": {"titre": "Titre"},  # the footer of the bundled convention prints it
}


def template_with(tmp_path: Path, text: str, part: str = "word/document.xml") -> Path:
    """A minimal Word template (the bundled convention's package, its body replaced) whose
    first paragraph is one bold run holding ``text``."""
    run = FORMATTED_RUN.format(text).encode()

    def change(xml: bytes) -> bytes:
        if part == "word/document.xml":
            start, end = xml.index(b"<w:body>") + len(b"<w:body>"), xml.rindex(b"<w:sectPr")
            return xml[:start] + b"<w:p>" + run + b"</w:p>" + xml[end:]
        start = xml.index(b"<w:p>")
        return xml[:start] + b"<w:p>" + run + b"</w:p>" + xml[start:]

    target = tmp_path / "modele.docx"
    rewrite_part(TEMPLATES / CONVENTION, target, part, change)
    if part != "word/document.xml":  # keep the body free of the convention's own tags
        rewrite_part(target, tmp_path / "modele2.docx", "word/document.xml",
                     lambda xml: xml[: xml.index(b"<w:body>") + 8] + xml[xml.rindex(b"<w:sectPr"):])
        target = tmp_path / "modele2.docx"
    return target


def first_paragraph(data: bytes, part: str = "word/document.xml") -> etree._Element:
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read(part))
    return next(root.iter(f"{W}p"))


def runs(paragraph: etree._Element) -> list[tuple[str, bool, bool]]:
    """(text, superscript, bold) of each run; a non-breaking hyphen reads "‑"."""
    result = []
    for run in paragraph.iter(f"{W}r"):
        text = "".join(
            "‑" if child.tag == f"{W}noBreakHyphen" else "\n" if child.tag == f"{W}br" else child.text or ""
            for child in run if child.tag != f"{W}rPr"
        )
        align = run.find(f"{W}rPr/{W}vertAlign")
        superscript = align is not None and align.get(f"{W}val") == "superscript"
        result.append((text, superscript, run.find(f"{W}rPr/{W}b") is not None))
    return result


def test_first_of_the_month_gets_a_superscript_run_with_the_same_formatting(tmp_path: Path) -> None:
    data = render(template_with(tmp_path, "Le {{ premier | date }}, soit {{ premier | date_longue }}."),
                  CONTEXT, title="Titre", timestamp=STAMP)
    paragraph = first_paragraph(data)
    assert runs(paragraph) == [
        ("Le 1", False, True), ("er", True, True), ("\xa0mars 2023, soit mercredi 1", False, True),
        ("er", True, True), ("\xa0mars 2023.", False, True),
    ]
    superscript = paragraph.findall(f"{W}r")[1]
    # w:vertAlign sits at its place in the schema (before w:lang), the run keeps its attributes.
    assert [child.tag.removeprefix(W) for child in superscript.find(f"{W}rPr")] == ["b", "sz", "vertAlign", "lang"]
    assert superscript.get(f"{W}rsidR") == "00A1"
    assert docx.Document(io.BytesIO(data)).paragraphs[0].text == "Le 1er\xa0mars 2023, soit mercredi 1er\xa0mars 2023."


def test_a_day_and_its_month_are_joined_by_a_no_break_space(tmp_path: Path) -> None:
    data = render(template_with(tmp_path, "Fait le {{ trois | date }} ({{ trois | date_longue }})"),
                  CONTEXT, title="Titre", timestamp=STAMP)
    assert runs(first_paragraph(data)) == [("Fait le 3\xa0février 2023 (vendredi 3\xa0février 2023)", False, True)]


def test_a_reference_is_kept_on_one_line_with_word_non_breaking_hyphens(tmp_path: Path) -> None:
    data = render(template_with(tmp_path, "Arrêté n° {{ reference | insecable }} du {{ premier | date }}"),
                  CONTEXT, title="Titre", timestamp=STAMP)
    paragraph = first_paragraph(data)
    assert len(paragraph.findall(f".//{W}noBreakHyphen")) == 4
    assert runs(paragraph) == [
        ("Arrêté n° 87‑2022‑12‑08‑00003 du 1", False, True), ("er", True, True), ("\xa0mars 2023", False, True),
    ]
    # python-docx (and so docx_text and the golden texts) reads a non-breaking hyphen as "-".
    assert docx.Document(io.BytesIO(data)).paragraphs[0].text == "Arrêté n° 87-2022-12-08-00003 du 1er\xa0mars 2023"


def test_literal_text_uses_the_exposant_filter(tmp_path: Path) -> None:
    data = render(template_with(tmp_path, "régie par la loi du 1{{ 'er' | exposant }} juillet 1901"),
                  CONTEXT, title="Titre", timestamp=STAMP)
    assert runs(first_paragraph(data)) == [("régie par la loi du 1", False, True), ("er", True, True),
                                           (" juillet 1901", False, True)]


def test_a_line_break_inside_the_run_stays_in_place(tmp_path: Path) -> None:
    data = render(template_with(tmp_path, "{{ adresse }}, le {{ premier | date }}"),
                  CONTEXT, title="Titre", timestamp=STAMP)
    assert runs(first_paragraph(data)) == [
        ("18 allée Fabre d'Églantine\nBâtiment B, le 1", False, True), ("er", True, True), ("\xa0mars 2023", False, True),
    ]


def test_workbook_values_never_carry_marks(tmp_path: Path) -> None:
    data = render(template_with(tmp_path, "{{ piege }}"), CONTEXT, title="Titre", timestamp=STAMP)
    assert runs(first_paragraph(data)) == [("Valeurcachée 12", False, True)]
    html = tmp_path / "modele.html"
    html.write_text("<p>{{ piege }}</p>", encoding="utf-8")
    assert render(html, CONTEXT, title="Titre", timestamp=STAMP).decode() == "<p>Valeurcachée 12</p>"


@pytest.mark.parametrize("part", ["word/footer1.xml"])
def test_footers_get_the_superscript_too(tmp_path: Path, part: str) -> None:
    data = render(template_with(tmp_path, "Pied de page du {{ premier | date }}", part), CONTEXT,
                  title="Titre", timestamp=STAMP)
    assert runs(first_paragraph(data, part)) == [
        ("Pied de page du 1", False, True), ("er", True, True), ("\xa0mars 2023", False, True),
    ]


def test_document_properties_are_plain_text(tmp_path: Path) -> None:
    template = template_with(tmp_path, "Corps")
    document = docx.Document(str(template))
    document.core_properties.subject = "Remise du {{ premier | date }}, arrêté {{ reference | insecable }}"
    document.save(str(template))
    data = render(template, CONTEXT, title=f"Titre du 1{SUPERSCRIPT_START}er{SUPERSCRIPT_END}", timestamp=STAMP)
    props = docx.Document(io.BytesIO(data)).core_properties
    assert props.subject == "Remise du 1er\xa0mars 2023, arrêté 87-2022-12-08-00003"
    assert props.title == "Titre du 1er"


def test_html_templates_get_sup_and_the_unicode_non_breaking_hyphen(tmp_path: Path) -> None:
    template = tmp_path / "communique.html"
    template.write_text(
        "<p>Le {{ premier | date_longue }}, arrêté {{ reference | insecable }}, loi du 1{{ 'er' | exposant }} "
        "juillet 1901, {{ trois | date }}</p>",
        encoding="utf-8",
    )
    assert render(template, CONTEXT, title="Titre", timestamp=STAMP).decode() == (
        "<p>Le mercredi 1<sup>er</sup>\xa0mars 2023, arrêté 87\u20112022\u201112\u201108\u201100003, "
        "loi du 1<sup>er</sup> juillet 1901, 3\xa0février 2023</p>"
    )


def test_the_sample_batch_has_no_mark_left_and_joins_days_and_months(tmp_path: Path) -> None:
    output = tmp_path / "lot"
    generate_batch(SAMPLE, output, TEMPLATES)
    for path in output.rglob("*"):
        if path.suffix == ".docx":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.endswith(".xml"):
                        text = archive.read(name).decode("utf-8")
                        assert not any(m in text for m in (SUPERSCRIPT_START, SUPERSCRIPT_END, NO_BREAK_HYPHEN)), name
        elif path.suffix in (".html", ".json"):
            text = path.read_text(encoding="utf-8")
            assert not any(m in text for m in (SUPERSCRIPT_START, SUPERSCRIPT_END, NO_BREAK_HYPHEN))
    [convention] = (output / "conventions").glob("B01-*.docx")
    text = docx_text(convention)
    assert "3\xa0février 2023" in text
    assert "3 février 2023" not in text
