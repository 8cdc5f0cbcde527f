"""Templates are code from elsewhere: sandboxed, and every mistake in one is a French sentence
naming it (never a traceback, never a document written)."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import docx
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text, exited_cleanly

from dotation_docs.cli import cli
from dotation_docs.documents import plan_beneficiary, plan_press
from dotation_docs.exceptions import TemplateError
from dotation_docs.funding import batch_funding
from dotation_docs.pipeline import check_workbook, generate_batch
from dotation_docs.rendering import PROPERTY_MAX_LENGTH, build_environment, fit_property, render

CONVENTION = "convention-mise-a-disposition.docx"
STAMP = datetime(2023, 2, 3)
# Phrases of Jinja's English messages that must never reach the agent.
ENGLISH = re.compile(
    r"expected|unexpected|encountered|unknown tag|end of|is unsafe|undefined|no filter|"
    r"has no attribute|not safely callable|loader|object|division by zero",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def planned():
    checked = check_workbook(SAMPLE)
    dotation = checked.dotation
    funding = batch_funding(dotation)
    return dotation, funding, plan_beneficiary(dotation, funding, dotation.beneficiaries[0])[0]


def rewrite_part(source: Path, target: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    """Copy the .docx ``source`` to ``target`` with the zip entry ``part`` changed."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, change(data) if info.filename == part else data)
    return target


def paragraph(text: str) -> bytes:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<w:p><w:r><w:t xml:space="preserve">{escaped}</w:t></w:r></w:p>'.encode()


def with_text(target: Path, text: str, part: str = "word/document.xml", template: str = CONVENTION) -> Path:
    """A copy of a bundled Word template with a paragraph ``text`` first in ``part``."""
    anchor = b"<w:body>" if part == "word/document.xml" else b"mc:Ignorable=\"w14 wp14\">"
    return rewrite_part(TEMPLATES / template, target, part, lambda xml: xml.replace(anchor, anchor + paragraph(text), 1))


def render_error(template: Path, context) -> str:
    with pytest.raises(TemplateError) as err:
        render(template, context, title="Titre", timestamp=STAMP)
    message = err.value.message
    assert template.name in message
    assert not ENGLISH.search(message), message
    return message


# --- Item 12: the sandbox -------------------------------------------------------------------


def payload(marker: Path) -> str:
    return f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"


@pytest.mark.parametrize("part", ["word/document.xml", "word/footer1.xml"])
def test_the_os_system_payload_does_not_run_in_a_word_template(tmp_path: Path, planned, part: str) -> None:
    marker = tmp_path / "pirate"
    template = with_text(tmp_path / "piege.docx", payload(marker), part)
    message = render_error(template, planned[2].context)
    assert not marker.exists()
    assert "l'accès à « __init__ » est interdit dans un modèle (protection contre l'exécution de code)" in message


def test_the_payload_does_not_run_in_document_properties(tmp_path: Path, planned) -> None:
    marker = tmp_path / "pirate"
    document = docx.Document(str(TEMPLATES / CONVENTION))
    document.core_properties.subject = payload(marker)
    document.save(str(tmp_path / "piege.docx"))
    message = render_error(tmp_path / "piege.docx", planned[2].context)
    assert not marker.exists()
    assert "est interdit dans un modèle" in message


def test_the_payload_does_not_run_in_an_html_template(tmp_path: Path, planned) -> None:
    marker = tmp_path / "pirate"
    template = tmp_path / "communique-de-presse.html"
    template.write_text(f"<p>Bonjour</p>\n<p>{payload(marker)}</p>\n", encoding="utf-8")
    message = render_error(template, planned[2].context)
    assert not marker.exists()
    assert message == (
        "le modèle « communique-de-presse.html » ne peut pas être rempli pour le document « Titre » du bénéficiaire B01 (ligne 2) : l'accès à « __init__ » "
        "est interdit dans un modèle (protection contre l'exécution de code)."
    )


@pytest.mark.parametrize(
    ("expression", "attribute"),
    [
        ("range.__globals__", "__globals__"),  # (lipsum, once used here, is refused: random text)
        ("operation.__class__", "__class__"),
        ("'texte'.__class__.__mro__", "__class__"),
        ("cycler.mro()", "mro"),
        ("cycler.__subclasses__()", "__subclasses__"),
        ("namespace.__init__.__globals__", "__init__"),
        ("operation.__class__.__base__.__subclasses__()", "__class__"),
    ],
)
def test_python_internals_are_refused_with_a_french_message(
    tmp_path: Path, planned, expression: str, attribute: str
) -> None:
    template = with_text(tmp_path / "curieux.docx", f"Valeur : {{{{ {expression} }}}}")
    message = render_error(template, planned[2].context)
    assert message == (
        f"le modèle « curieux.docx » ne peut pas être rempli pour le document « Titre » du bénéficiaire B01 (paragraphe « Valeur : {{{{ {expression} }}}} ») : "
        f"l'accès à « {attribute} » est interdit dans un modèle (protection contre l'exécution de code)."
    )


def test_internals_cannot_be_reached_through_a_condition_either(tmp_path: Path, planned) -> None:
    template = tmp_path / "modele.html"
    template.write_text("{% if range.__globals__ %}fuite{% endif %}", encoding="utf-8")
    assert "« __globals__ » est interdit" in render_error(template, planned[2].context)


def test_a_template_cannot_change_the_data_it_is_given(tmp_path: Path, planned) -> None:
    template = tmp_path / "modele.html"
    template.write_text("{{ beneficiaires.append(1) }}{{ operation.update({'titre': 'x'}) }}", encoding="utf-8")
    assert "l'accès à « append » est interdit" in render_error(template, planned[2].context)


def test_the_payload_in_a_template_folder_stops_generer_with_exit_1(runner, tmp_path: Path) -> None:
    marker = tmp_path / "pirate"
    templates = tmp_path / "modeles"
    shutil.copytree(TEMPLATES, templates)
    with_text(templates / CONVENTION, payload(marker))
    output = tmp_path / "lot"
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(output), "-m", str(templates)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Erreur : le modèle « {CONVENTION} » ne peut pas être rempli")
    assert exited_cleanly(result), result.exception
    assert not marker.exists()
    assert not output.exists() or not any(output.iterdir())


def test_bundled_templates_render_in_the_sandbox(tmp_path: Path) -> None:
    written = generate_batch(SAMPLE, tmp_path / "lot", TEMPLATES)
    assert written is not None
    assert "Limoges" in docx_text(next((tmp_path / "lot" / "conventions").glob("B01-*.docx")))


# --- Item 13: template mistakes -------------------------------------------------------------


def test_a_docx_whose_xml_is_cut_short(tmp_path: Path, planned) -> None:
    template = rewrite_part(TEMPLATES / CONVENTION, tmp_path / "coupe.docx", "word/document.xml",
                            lambda xml: xml[: len(xml) // 2])
    assert render_error(template, planned[2].context) == (
        "le modèle « coupe.docx » est endommagé (contenu XML incomplet ou mal formé) ; "
        "remplacez-le par une copie intacte."
    )


def test_a_workbook_renamed_docx(tmp_path: Path, planned) -> None:
    template = tmp_path / "classeur.docx"
    shutil.copy(SAMPLE, template)
    assert render_error(template, planned[2].context) == (
        "le modèle « classeur.docx » est un classeur Excel renommé en .docx, pas un document Word ; "
        "enregistrez-le depuis Word ou LibreOffice au format « Word 2007-365 (.docx) »."
    )


def test_a_filter_on_the_wrong_type_names_the_filter_and_the_variable(tmp_path: Path, planned) -> None:
    template = with_text(tmp_path / "filtre.docx", "Fait à {{ operation.lieu_signature | montant }}")
    assert render_error(template, planned[2].context) == (
        "le modèle « filtre.docx » ne peut pas être rempli pour le document « Titre » du bénéficiaire B01 (paragraphe « Fait à {{ operation.lieu_signature "
        "| montant }} ») : le filtre « montant » ne s'applique pas à « operation.lieu_signature », qui est "
        "un texte (« Limoges ») : il attend un montant."
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ operation.date_remise | heure }}", "le filtre « heure » ne s'applique pas à « operation.date_remise »"),
        ("{{ beneficiaire.nom | date }}", "le filtre « date » ne s'applique pas à « beneficiaire.nom », qui est un texte"),
        ("{{ 3 | pluriel }}", "le filtre « pluriel » est mal appelé (arguments incorrects) ; écrivez-le par "
                              "exemple {{ nb | pluriel('tablette', 'tablettes') }}"),
        ("{{ (0 - 5) | en_lettres }}", "le filtre « en_lettres » ne sait pas mettre en forme la valeur « -5 »"),
        ("{{ 1 / 0 }}", "une expression divise par zéro"),
        ("{{ operation.lieu_signature + 1 }}", "une expression ne peut pas être calculée"),
        ("{{ beneficiaires[999] }}", "n'existe pas"),
        ("{{ range(10**9) | list }}", "range() produirait 1000000000 éléments, plus que les 100000 permis dans un modèle"),
    ],
)
def test_runtime_mistakes_in_an_html_template(tmp_path: Path, planned, source: str, expected: str) -> None:
    template = tmp_path / "modele.html"
    template.write_text(f"<p>\n{source}\n</p>", encoding="utf-8")
    message = render_error(template, planned[2].context)
    assert expected in message


@pytest.mark.parametrize(
    ("source", "tag"),
    [
        ("{% include 'entete.html' %}", "{% include %}"),
        ("{% import 'macros.html' as m %}", "{% import %}"),
        ("{% from 'macros.html' import signature %}", "{% from … import … %}"),
        ("{% extends 'base.html' %}", "{% extends %}"),
        ("{% if false %}{% include 'jamais.html' %}{% endif %}", "{% include %}"),
    ],
)
def test_tags_that_load_other_templates_are_refused(tmp_path: Path, planned, source: str, tag: str) -> None:
    html_template = tmp_path / "modele.html"
    html_template.write_text(f"<p>Bonjour</p>\n{source}\n", encoding="utf-8")
    assert render_error(html_template, planned[2].context) == (
        f"le modèle « modele.html » utilise la balise « {tag} » (ligne 2), qui n'est pas prise en charge : "
        "un modèle ne peut pas inclure, importer ou étendre un autre fichier de modèle ; recopiez-en le "
        "contenu dans ce modèle."
    )
    word_template = with_text(tmp_path / "modele.docx", source)
    assert f"utilise la balise « {tag} » (paragraphe « {source} »)" in render_error(word_template, planned[2].context)


@pytest.mark.parametrize(
    "break_template",
    [
        lambda folder: rewrite_part(TEMPLATES / CONVENTION, folder / CONVENTION, "word/document.xml",
                                    lambda xml: xml[:-200]),
        lambda folder: shutil.copy(SAMPLE, folder / CONVENTION),
        lambda folder: with_text(folder / CONVENTION, "{{ operation.lieu_signature | montant }}"),
        lambda folder: with_text(folder / CONVENTION, "{% include 'autre.docx' %}"),
        lambda folder: with_text(folder / CONVENTION, "{% if beneficiaire.nom %}"),
    ],
    ids=["xml-coupe", "xlsx-renomme", "filtre", "include", "bloc-ouvert"],
)
def test_every_template_mistake_exits_1_and_writes_nothing(runner, tmp_path: Path, break_template) -> None:
    templates = tmp_path / "modeles"
    shutil.copytree(TEMPLATES, templates)
    break_template(templates)
    output = tmp_path / "lot"
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(output), "-m", str(templates)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Erreur : le modèle « {CONVENTION} »")
    assert result.output.count("\n") == 1  # one sentence, one line, no traceback
    assert not ENGLISH.search(result.output), result.output
    assert not output.exists() or not any(output.iterdir())


# --- Item 19: Jinja's syntax messages in French ---------------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ }}", "une variable ou une valeur manque avant « }} »"),
        ("{% if %}oui{% endif %}", "une variable ou une valeur manque avant « %} »"),
        ("{% %}", "une balise « {% %} » ne contient aucune instruction"),
        ("{% foo %}", "l'instruction « {% foo %} » n'existe pas"),
        ("{{ operation.titre }", "« } » inattendu"),
        ("{% endfor %}", "« {% endfor %} » ne ferme aucun bloc ouvert"),
        ("{% for m in materiels %}{% endif %}",
         "« {% endif %} » arrive alors que le bloc « {% for %} » n'est pas fermé : il attend « {% endfor %} »"),
        ("{{ operation.titre | inconnu }}", "le filtre « inconnu » n'existe pas (voir docs/modeles.md pour la liste des filtres)"),
        ("{{ operation.titre ? }}", "caractère « ? » inattendu dans une balise"),
        ("{{ 'texte }}", "un guillemet ' n'est pas fermé"),
        ("{{ operation titre }}", "« }} » attendu, « titre » trouvé"),
        ("{{ operation. }}", "un nom est attendu après le point"),
        ("{{ nb | pluriel('a' 'b' = 1) }}", "« , » attendu, « = » trouvé"),
        ("{{ (operation.titre }}", "« } » trouvé là où « ) » est attendu"),
        ("{# commentaire", "un commentaire « {# » n'est pas fermé par « #} »"),
        ("{% set = 1 %}", "« = » inattendu"),
        ("{% macro f(a=1, b) %}{% endmacro %}", "la syntaxe d'une balise n'est pas comprise"),
    ],
)
def test_syntax_errors_are_explained_in_french(tmp_path: Path, planned, source: str, reason: str) -> None:
    template = tmp_path / "modele.html"
    template.write_text(f"<p>Bonjour</p>\n{source}\n", encoding="utf-8")
    assert render_error(template, planned[2].context) == (
        f"le modèle « modele.html » contient une balise mal formée (ligne 2) : {reason}. "
        "Vérifiez les accolades {{ … }} et {% … %}."
    )


def test_an_unclosed_block_says_which_end_tag_is_missing(tmp_path: Path, planned) -> None:
    template = with_text(tmp_path / "modele.docx", "{% if beneficiaire.nom %}Bonjour")
    assert render_error(template, planned[2].context) == (
        "le modèle « modele.docx » contient une balise mal formée : le bloc « {% if %} » n'est jamais fermé : "
        "ajoutez « {% endif %} ». Vérifiez les accolades {{ … }} et {% … %}."
    )


def test_a_word_syntax_error_quotes_the_paragraph(tmp_path: Path, planned) -> None:
    template = with_text(tmp_path / "modele.docx", "Fait à {{ operation.lieu_signature | }}")
    assert render_error(template, planned[2].context) == (
        "le modèle « modele.docx » contient une balise mal formée (paragraphe « Fait à {{ "
        "operation.lieu_signature | }} ») : un nom attendu, « }} » trouvé. Vérifiez les accolades {{ … }} et {% … %}."
    )


# --- Item 14: document properties longer than Word allows ----------------------------------


def test_a_300_character_title_is_shortened_in_the_properties(planned) -> None:
    title = "Opération " + "très longue " * 25
    title = title[:300]
    data = render(TEMPLATES / CONVENTION, planned[2].context, title=title, timestamp=STAMP)
    props = docx.Document(io.BytesIO(data)).core_properties
    assert len(props.title) == PROPERTY_MAX_LENGTH
    assert props.title.endswith("…")
    assert title.startswith(props.title[:-1])


def test_a_300_character_name_goes_through_render_in_every_property(tmp_path: Path, planned) -> None:
    dotation, funding, _ = planned
    name = ("Association des habitants du quartier " * 10)[:299] + "é"
    beneficiary = dataclasses.replace(dotation.beneficiaries[0], name=name)
    changed = dataclasses.replace(dotation, beneficiaries=(beneficiary, *dotation.beneficiaries[1:]))
    templates = tmp_path / "modeles"
    shutil.copytree(TEMPLATES, templates)
    document = docx.Document(str(templates / CONVENTION))
    document.core_properties.subject = "Convention – {{ beneficiaire.nom }}"
    document.core_properties.comments = "{{ beneficiaire.nom }} {{ beneficiaire.nom }}"
    document.save(str(templates / CONVENTION))
    env = build_environment()
    for doc in plan_beneficiary(changed, funding, beneficiary) + [
            d for d in plan_press(changed, funding) if d.path.endswith("communique-de-presse.html")]:
        data = render(templates / doc.template, doc.context, title=doc.title, timestamp=STAMP, env=env)
        if doc.path.endswith(".docx"):
            assert name in docx_text(data)
            props = docx.Document(io.BytesIO(data)).core_properties
            assert len(props.title) <= PROPERTY_MAX_LENGTH and props.title.endswith("…")
            if doc.template == CONVENTION:
                assert props.subject == fit_property(f"Convention – {name}")
                assert len(props.subject) == PROPERTY_MAX_LENGTH
                assert len(props.comments) <= PROPERTY_MAX_LENGTH and props.comments.endswith("…")


def test_short_properties_are_kept_as_they_are() -> None:
    assert fit_property("Convention n° 1") == "Convention n° 1"
    assert fit_property("a" * PROPERTY_MAX_LENGTH) == "a" * PROPERTY_MAX_LENGTH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 253 + "e\u0301" + "xyz", "a" * 253 + "…"),  # e + combining acute accent across the limit
        ("a" * 252 + "👩\u200d💻" + "xyz", "a" * 252 + "…"),  # a joined emoji across the limit
        ("a" * 253 + "👍🏽" + "xyz", "a" * 253 + "…"),  # emoji + skin tone across the limit
        ("a" * 250 + "     " + "b" * 50, "a" * 250 + "…"),
        ("a" * 300, "a" * 254 + "…"),
    ],
)
def test_properties_are_cut_on_a_character_boundary(text: str, expected: str) -> None:
    assert fit_property(text) == expected
    docx.Document().core_properties.title = expected  # python-docx accepts it
