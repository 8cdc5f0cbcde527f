"""Data is data: values from the workbook never execute, break a document or a path."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text, errors_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotation_docs.documents import plan_beneficiary, plan_press
from dotation_docs.formatting import typographic_apostrophes
from dotation_docs.funding import batch_funding
from dotation_docs.parsing import clean_text
from dotation_docs.pipeline import check_workbook, generate_batch
from dotation_docs.rendering import build_environment, render

# Control characters cannot be stored in an .xlsx; the property test below covers them.
HOSTILE = 'R&D <Quartiers> "Nord" {{ 7*7 }} {% raw %}\t☀️'
CLEAN = 'R&D <Quartiers> "Nord" {{ 7*7 }} {% raw %} ☀️'


def as_text(cell, value: str) -> None:
    """Store ``value`` as a text cell even when it starts with « = »."""
    cell.value = value
    cell.data_type = "s"


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory) -> Path:
    """A batch generated from a workbook full of hostile values."""
    folder = tmp_path_factory.mktemp("hostile")
    wb = openpyxl.load_workbook(SAMPLE)
    ben = wb["Bénéficiaires"]
    ben["B3"] = HOSTILE
    ben["F3"] = "18 allée Fabre d'Églantine\r\nBâtiment <B> & C"
    ben["J3"] = "Karim </w:t></w:r></w:p> Haddad"
    as_text(wb["Factures"]["B2"], '=HYPERLINK("http://exemple.invalid","cliquez")')
    as_text(wb["Factures"]["E2"], "=1+1")
    path = folder / "hostile.xlsx"
    wb.save(path)
    output = folder / "output"
    generate_batch(path, output, TEMPLATES)
    return output


def test_hostile_name_is_printed_literally_in_word(hostile_batch: Path) -> None:
    [convention] = (hostile_batch / "conventions").glob("B02-*.docx")
    text = docx_text(convention)
    assert f"«\xa0{CLEAN}\xa0»" in text  # {{ 7*7 }} stays literal, never evaluated
    assert "Karim </w:t></w:r></w:p> Haddad" in text
    assert "18 allée Fabre d’Églantine\nBâtiment <B> & C" in text  # line break kept, no \r


def test_document_title_is_not_double_escaped(hostile_batch: Path) -> None:
    [convention] = (hostile_batch / "conventions").glob("B02-*.docx")
    title = docx.Document(str(convention)).core_properties.title
    assert title == f"Convention de mise à disposition n° LM-2023-B02 – {CLEAN}"


def test_file_name_is_a_slug_inside_its_folder(hostile_batch: Path) -> None:
    [convention] = (hostile_batch / "conventions").glob("B02-*.docx")
    assert re.fullmatch(r"B02-convention-[a-z0-9-]+\.docx", convention.name)


def test_html_press_release_escapes_markup(hostile_batch: Path) -> None:
    html = (hostile_batch / "communique" / "communique-de-presse.html").read_text(encoding="utf-8")
    assert "R&amp;D &lt;Quartiers&gt; &#34;Nord&#34; {{ 7*7 }}" in html
    assert "<Quartiers>" not in html


def test_expense_statement_keeps_formula_like_values_as_text(hostile_batch: Path) -> None:
    data = (hostile_batch / "demande-subvention" / "2-etat-recapitulatif-des-depenses.xlsx").read_bytes()
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    for value in ('=HYPERLINK("http://exemple.invalid","cliquez")', "=1+1"):
        assert cells[value].data_type == "s"
    assert b"<f>" not in data  # no formula anywhere


def test_identifier_cannot_be_a_path(make_workbook) -> None:
    def mutate(wb):
        wb["Bénéficiaires"]["A3"] = "../../etc"
        for row in wb["Matériel"].iter_rows(min_col=12, max_col=12):
            if row[0].value == "B02":
                row[0].value = "../../etc"

    assert errors_of(make_workbook(mutate)) == [
        "Bénéficiaires!A3 : Identifiant : « ../../etc » n'est pas valide (caractères non permis : "
        "« . », « / ») ; attendu : un identifiant court : lettres sans accents, chiffres ou « _ » "
        "(pas de « - » ni d'espace), 20 caractères au plus (ex. B01)."
    ]


@pytest.fixture(scope="module")
def model():
    checked = check_workbook(SAMPLE)
    return checked.dotation, batch_funding(checked.dotation)


names = st.text(min_size=1, max_size=40).filter(lambda s: clean_text(s) != "")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names)
def test_any_name_renders_literally(model, name: str) -> None:
    dotation, funding = model
    beneficiary = dataclasses.replace(dotation.beneficiaries[1], name=clean_text(name))
    changed = dataclasses.replace(
        dotation, beneficiaries=(dotation.beneficiaries[0], beneficiary, *dotation.beneficiaries[2:])
    )
    env = build_environment()
    for doc in plan_beneficiary(changed, funding, beneficiary) + plan_press(changed, funding)[1:2]:  # the release's HTML
        data = render(TEMPLATES / doc.template, doc.context, title=doc.title,
                      timestamp=datetime(2023, 2, 3), env=env)
        if doc.path.endswith(".docx"):
            assert typographic_apostrophes(clean_text(name)) in docx_text(data)
            assert docx.Document(io.BytesIO(data)).core_properties.title == doc.title



def test_template_properties_are_not_double_escaped(tmp_path: Path) -> None:
    import shutil

    templates = tmp_path / "modeles"
    shutil.copytree(TEMPLATES, templates)
    template = docx.Document(str(templates / "proces-verbal-remise.docx"))
    template.core_properties.subject = "Remise & affectation <QPV> – {{ beneficiaire.nom }}"
    template.core_properties.author = "Service « Numérique & Citoyenneté »"
    template.save(str(templates / "proces-verbal-remise.docx"))
    output = tmp_path / "output"
    generate_batch(SAMPLE, output, templates)
    [record] = (output / "proces-verbaux").glob("B02-*.docx")
    props = docx.Document(str(record)).core_properties
    assert props.subject == "Remise & affectation <QPV> – Sport & Loisirs de l’Aurence"
    assert props.author == "Service « Numérique & Citoyenneté »"
    assert props.title == "Procès-verbal de remise de matériel – Sport & Loisirs de l’Aurence"
