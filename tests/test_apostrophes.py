"""Typographic apostrophes in the prose taken from the workbook (issue #7, item 19)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import SAMPLE, TEMPLATES, docx_text, set_operation

from dotation_docs.context import PROSE_FIELDS, common_context
from dotation_docs.formatting import typographic_apostrophes
from dotation_docs.funding import batch_funding
from dotation_docs.model import Beneficiary, Device, Invoice, Operation
from dotation_docs.pipeline import check_workbook, generate_batch

NBSP = "\xa0"
NAME = "L'Atelier d'Aurence"  # typed with straight apostrophes
REPRESENTATIVE = "Jean d'Ormesson"
EMAIL = "o'neil@exemple.fr"
REFERENCE = "Arrêté préfectoral n° 87'2022-12-08-00003"
SERIAL = "SN'0042'X"
AS_TYPED = (EMAIL, REFERENCE, SERIAL)  # not prose: never changed


@pytest.mark.parametrize(
    ("typed", "printed"),
    [
        ("Sport & Loisirs de l'Aurence", "Sport & Loisirs de l’Aurence"),
        ("aujourd'hui", "aujourd’hui"),
        ("Les Amis'", "Les Amis’"),  # trailing: an apostrophe
        ("'s-Hertogenbosch", "’s-Hertogenbosch"),  # leading elision: an apostrophe
        ("le club 'Les Amis' de l'Aurence", "le club ‘Les Amis’ de l’Aurence"),  # quoted phrase
        ("'Les Amis'", "‘Les Amis’"),
        ("(l'été)", "(l’été)"),
        ("'", "’"),
        ("déjà l’été", "déjà l’été"),
        ("sans apostrophe", "sans apostrophe"),
        ("", ""),
    ],
)
def test_typographic_apostrophes(typed: str, printed: str) -> None:
    assert typographic_apostrophes(typed) == printed


def test_prose_fields_exclude_identifiers_and_references() -> None:
    never = {
        Operation: {"authority_siret", "decision_reference", "deliberation_reference", "iban", "bic",
                    "convention_prefix", "delegation_reference", "case_officer_phone", "case_officer_email"},
        Beneficiary: {"identifier", "siret", "rna", "email", "phone", "territory_code"},
        Device: {"inventory_number", "serial_number", "imei", "invoice", "beneficiary"},
        Invoice: {"reference", "supplier_siret", "mandate_number"},
    }
    for model, fields in never.items():
        assert not fields & set(PROSE_FIELDS[model]), model.__name__
        names = set(model.__dataclass_fields__)
        assert set(PROSE_FIELDS[model]) <= names, model.__name__


def _set_cell(ws, row: int, header: str, value: object) -> None:
    column = [c.value for c in ws[1]].index(header) + 1
    ws.cell(row, column).value = value


@pytest.fixture(scope="module")
def typed_batch(tmp_path_factory) -> Path:
    """The sample batch with a name, a representative, an e-mail, a reference and a serial
    number typed with straight apostrophes (B02 and its first device)."""
    import openpyxl

    folder = tmp_path_factory.mktemp("typo")
    wb = openpyxl.load_workbook(SAMPLE)
    ben = wb["Bénéficiaires"]
    [row] = [r for r in range(2, ben.max_row + 1) if ben.cell(r, 1).value == "B02"]
    _set_cell(ben, row, "Nom", NAME)
    _set_cell(ben, row, "Nom du représentant", REPRESENTATIVE)
    set_operation(wb, "Courriel du contact presse de la collectivité", EMAIL)
    set_operation(wb, "Référence de la décision de financement", REFERENCE)
    devices = wb["Matériel"]
    [first] = [r for r in range(2, devices.max_row + 1) if devices.cell(r, 12).value == "B02"][:1]
    _set_cell(devices, first, "N° de série", SERIAL)
    path = folder / "classeur.xlsx"
    wb.save(path)
    checked = check_workbook(path)
    assert checked.report.errors == [], checked.report.format()
    output = folder / "output"
    generate_batch(path, output, TEMPLATES)
    return output


def texts_of(output: Path) -> dict[str, str]:
    """The text of every Word and HTML document of ``output`` (HTML: tags removed, unescaped;
    no-break spaces and hyphens read as plain ones: references are kept on one line)."""
    texts = {}
    for path in sorted(output.rglob("*")):
        if path.suffix == ".docx":
            texts[path.name] = docx_text(path)
        elif path.suffix == ".html":
            texts[path.name] = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
    return {name: text.replace("\xa0", " ").replace("\u202f", " ").replace("\u2011", "-")
            for name, text in texts.items()}


def test_a_name_typed_with_straight_apostrophes_is_printed_with_typographic_ones(typed_batch: Path) -> None:
    texts = texts_of(typed_batch)
    documents = [
        next(n for n in texts if n.startswith("B02-convention")),
        next(n for n in texts if n.startswith("B02-proces-verbal")),
        "communique-de-presse.docx",
        "communique-de-presse.html",
    ]
    for name in documents:
        assert "L’Atelier d’Aurence" in texts[name], name
        assert NAME not in texts[name], name
    for name in documents[:2]:
        assert "Jean d’Ormesson" in texts[name], name


def test_identifiers_and_references_stay_as_typed(typed_batch: Path) -> None:
    texts = texts_of(typed_batch)
    assert EMAIL in texts["communique-de-presse.docx"] and EMAIL in texts["invitation-presse.html"]
    assert REFERENCE in texts["1-lettre-de-demande.docx"]
    assert REFERENCE in texts[next(n for n in texts if n.startswith("B02-convention"))]
    record = texts[next(n for n in texts if n.startswith("B02-proces-verbal"))]
    assert SERIAL in record


def straight_apostrophes_in_prose(texts: dict[str, str], as_typed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for name, text in texts.items():
        for value in as_typed:
            text = text.replace(value, "")
        found += [f"{name}: {line}" for line in text.splitlines() if "'" in line]
    return found


def test_no_straight_apostrophe_in_the_prose_of_any_document(typed_batch: Path) -> None:
    texts = texts_of(typed_batch)
    assert len(texts) == 9 + 10 + 2 + 2 + 3 + 1  # conventions, records, press, claim (Word), index.html
    assert straight_apostrophes_in_prose(texts, AS_TYPED) == []


def test_no_straight_apostrophe_in_the_sample_batch(tmp_path: Path) -> None:
    output = tmp_path / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    assert straight_apostrophes_in_prose(texts_of(output)) == []


def test_context_keeps_references_and_makes_prose_typographic() -> None:
    checked = check_workbook(SAMPLE)
    context = common_context(checked.dotation, batch_funding(checked.dotation))
    assert context["operation"]["lieu_remise"] == "Mission Locale de l’Agglomération de Limoges"
    assert context["etat"]["representant_qualite"] == "administrateur de l’État"
    assert context["operation"]["decision_reference"] == checked.dotation.operation.decision_reference
    assert context["operation"]["iban"] == checked.dotation.operation.iban
