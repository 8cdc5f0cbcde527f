"""The catalogue of document types, the template set checked before the workbook is read,
and ``dotation modeles``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE, TEMPLATES, exited_cleanly

from dotation_docs import context as context_module
from dotation_docs import documents
from dotation_docs.cli import cli
from dotation_docs.documents import Applies, DocumentSpec, Job, Renderer, beneficiary_document, per_beneficiary
from dotation_docs.exceptions import TemplateError
from dotation_docs.manifest import TYPE_FOLDERS, Scope
from dotation_docs.pipeline import generate_batch, generate_beneficiary
from dotation_docs.summary import describe_written, kind_names
from dotation_docs.synthetic import synthetic_dotation
from dotation_docs.writers import OutputFile, write_batch

SHEET = "fiche-beneficiaire.html"
SHEET_TEXT = "<h1>{{ beneficiaire.nom }}</h1><p>{{ totaux_beneficiaire.quantites }}</p>\n"


@pytest.fixture
def sheet_type():
    """A fake type registered through the catalogue only: an HTML sheet per handed-over
    beneficiary (the recipe of docs/architecture.md, « Ajouter un type de document »)."""
    spec = DocumentSpec(
        "fiche", "fiches", per_beneficiary("fiche", ".html"), SHEET, Renderer.HTML, Applies.HANDED_OVER,
        frozenset({Job.BATCH}), ("fiche bénéficiaire", "fiches bénéficiaire"),
        **beneficiary_document(lambda _dotation, b: f"Fiche – {b.name}"),
    )
    documents.register(spec)
    try:
        yield spec
    finally:
        documents.unregister("fiche")


def test_a_type_added_through_the_catalogue_only_is_generated(tmp_path: Path, sheet_type) -> None:
    templates = tmp_path / "modeles"
    templates.mkdir()
    (templates / SHEET).write_text(SHEET_TEXT, encoding="utf-8")  # a partial folder: only the new template
    output = tmp_path / "lot"
    written = generate_batch(SAMPLE, output, templates)
    sheets = sorted(p.name for p in (output / "fiches").iterdir())
    assert len(sheets) == 10 and sheets[1] == "B02-fiche-sport-loisirs-de-l-aurence.html"
    text = (output / "fiches" / sheets[1]).read_text(encoding="utf-8")
    assert text.startswith("<h1>Sport &amp; Loisirs de l’Aurence</h1><p>") and "ordinateur" in text
    manifest = json.loads((output / "manifeste.json").read_text(encoding="utf-8"))
    entries = [d for d in manifest["documents"] if d["type"] == "fiche"]
    assert [d["beneficiaire"] for d in entries] == [f"B{n:02d}" for n in range(1, 11)]
    assert TYPE_FOLDERS["fiche"] == "fiches" and "fiche" in Scope.batch().types
    assert "10 fiches bénéficiaire" in describe_written(output, written.files)
    # the bundled templates fill in for everything else
    assert (output / "conventions").is_dir() and (output / "communique" / "communique-de-presse.html").is_file()
    # its job is the batch only: « convention » leaves the sheets as they are
    before = (output / "fiches" / sheets[1]).read_bytes()
    generate_beneficiary(SAMPLE, "B02", output, templates)
    assert (output / "fiches" / sheets[1]).read_bytes() == before


def test_derived_tables_follow_the_catalogue() -> None:
    names = [str(s.type) for s in documents.CATALOGUE]
    assert list(kind_names()) == [*names, "apercu", "manifeste"]
    assert set(TYPE_FOLDERS) == set(names)
    # every job rewrites the overview page (index.html, type « apercu »)
    assert Scope.batch().types == frozenset(names) | {"apercu"}
    assert Scope.claim().types == {str(s.type) for s in documents.CATALOGUE if s.paid_invoices_only} | {"apercu"}
    # the PDF companions are in the scope: a run without --pdf removes the stale PDFs
    assert Scope.of_beneficiary("B01").types == {"convention", "proces_verbal", "convention_pdf", "proces_verbal_pdf",
                                                 "apercu"}
    assert documents.TEMPLATES[documents.DocumentType.HANDOVER] == "proces-verbal-remise.docx"


@pytest.mark.parametrize("filled", [True, False])
def test_the_synthetic_operation_plans_every_type(filled: bool) -> None:
    from dotation_docs.funding import batch_funding

    dotation = synthetic_dotation(filled)
    docs = documents.plan_batch(dotation, batch_funding(dotation))
    rendered = {str(s.type) for s in documents.CATALOGUE if s.renderer in documents.RENDERED}
    assert {str(d.type) for d in docs} == rendered
    pdfs = documents.plan_pdf(documents.specs(), docs)
    assert {str(d.type) for d in pdfs} == {str(s.type) for s in documents.CATALOGUE if s.renderer is documents.Renderer.PDF}


def test_a_file_outside_the_jobs_scope_is_a_bug_not_a_silent_drop(tmp_path: Path) -> None:
    from dotation_docs.outputdir import locked

    stray = OutputFile("communique/communique-de-presse.html", b"x", "communique_html")
    with locked(tmp_path / "lot"), pytest.raises(ValueError, match="outside the job's scope"):
        write_batch(tmp_path / "lot", [stray], Scope.claim(), {})


# --- Templates checked before the workbook is read -------------------------------------------------


def broken_folder(tmp_path: Path) -> Path:
    """A partial folder with three broken templates, one problem each."""
    folder = tmp_path / "modeles"
    folder.mkdir()
    (folder / "communique-de-presse.html").write_text("<p>{{ operation.titre_inconnu }}</p>", encoding="utf-8")
    (folder / "invitation-presse.html").write_text("<p>{{ operation.titre | majuscules }}</p>", encoding="utf-8")
    (folder / "plan-de-financement.docx").write_bytes(b"pas un document Word")
    return folder


def test_a_broken_template_fails_before_the_workbook_is_read(tmp_path: Path) -> None:
    output = tmp_path / "lot"
    with pytest.raises(TemplateError) as err:
        generate_batch(tmp_path / "absent.xlsx", output, broken_folder(tmp_path))  # no such workbook
    message = err.value.message
    assert message.startswith("3 problèmes dans les modèles ; aucun document n'a été écrit :\n")
    assert "  - le modèle « communique-de-presse.html » ne peut pas être rempli : la variable " \
        "« operation.titre_inconnu » n'existe pas" in message
    assert "  - le modèle « invitation-presse.html » utilise le filtre « majuscules » (ligne 1), qui n'existe pas" \
        in message
    assert "  - le modèle « plan-de-financement.docx » n'est pas un document Word (.docx) valide" in message
    assert not output.exists()


def test_an_attribute_error_is_found_by_the_dry_render(tmp_path: Path) -> None:
    folder = tmp_path / "modeles"
    folder.mkdir()
    (folder / "communique-de-presse.html").write_text("<p>{{ operation.titre | montant }}</p>", encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        generate_batch(tmp_path / "absent.xlsx", tmp_path / "lot", folder)
    assert err.value.message.startswith(
        "le modèle « communique-de-presse.html » ne peut pas être rempli (ligne 1) : le filtre « montant » "
        "ne s'applique pas à « operation.titre », qui est un texte"
    )


def test_a_branch_taken_only_when_an_optional_field_is_empty_is_rendered_too(tmp_path: Path) -> None:
    folder = tmp_path / "modeles"
    folder.mkdir()
    (folder / "communique-de-presse.html").write_text(
        "{% if not operation.contexte %}{{ operation.titre | date }}{% endif %}", encoding="utf-8")
    with pytest.raises(TemplateError, match="le filtre « date » ne s'applique pas à « operation.titre »"):
        generate_batch(tmp_path / "absent.xlsx", tmp_path / "lot", folder)


# --- dotation modeles ------------------------------------------------------------------------------


def test_modeles_lists_and_checks_the_bundled_templates(runner) -> None:
    result = runner.invoke(cli, ["modeles"])
    assert result.exit_code == 0, result.output
    assert f"  convention-mise-a-disposition.docx : fourni ({TEMPLATES / 'convention-mise-a-disposition.docx'})" \
        in result.output
    assert result.output.count(" : fourni (") == len(documents.template_names())
    assert result.output.endswith("Modèles valides : aucun problème trouvé.\n")


def test_modeles_on_a_partial_folder_says_which_file_is_used(runner, tmp_path: Path) -> None:
    folder = tmp_path / "modeles"
    folder.mkdir()
    shutil.copy(TEMPLATES / "communique-de-presse.html", folder)
    (folder / "convention-mise-a-dispo.docx").write_bytes(b"")
    (folder / ".~lock.convention.docx#").write_bytes(b"")  # LibreOffice's lock: not reported
    result = runner.invoke(cli, ["modeles", "-m", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"  communique-de-presse.html : votre dossier ({folder / 'communique-de-presse.html'})" in result.output
    assert "  communique-de-presse.docx : fourni (" in result.output
    assert (
        f"Avertissement – le fichier « convention-mise-a-dispo.docx » du dossier de modèles « {folder} » ne "
        "correspond à aucun modèle : il n'est pas utilisé ; vouliez-vous dire « convention-mise-a-disposition.docx » ?"
    ) in result.output
    assert "lock" not in result.output


def test_modeles_lists_every_problem_and_exits_1(runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["modeles", "-m", str(broken_folder(tmp_path))])
    assert result.exit_code == 1 and exited_cleanly(result), result.output
    assert "3 problèmes dans les modèles :\n  - le modèle « communique-de-presse.html »" in result.output
    assert result.output.endswith("Erreur : 3 problèmes dans les modèles : corrigez-les puis relancez.\n")


def test_modeles_flags_deprecated_variables(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(context_module, "DEPRECATED_VARIABLES", {"totaux.ttc": "totaux.cout_ttc"}, raising=False)
    folder = tmp_path / "modeles"
    folder.mkdir()
    (folder / "communique-de-presse.html").write_text("<p>{{ totaux.ttc | montant }}</p>", encoding="utf-8")
    result = runner.invoke(cli, ["modeles", "-m", str(folder)])
    assert result.exit_code == 0, result.output
    assert ("Avertissement – le modèle « communique-de-presse.html » utilise la variable « totaux.ttc », remplacée "
            "par « totaux.cout_ttc » : elle fonctionne encore, mais renommez-la.") in result.output


def test_verifier_checks_the_templates_too(runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["verifier", str(SAMPLE), "-m", str(broken_folder(tmp_path))])
    assert result.exit_code == 1 and exited_cleanly(result), result.output
    assert "  - le modèle « plan-de-financement.docx » n'est pas un document Word" in result.output
    assert "Résumé" in result.output  # the workbook is still checked
    assert result.output.endswith(
        "Erreur : 3 problèmes dans les modèles : corrigez-les puis relancez.\n")
    assert runner.invoke(cli, ["verifier", str(SAMPLE), "-m", str(TEMPLATES)]).exit_code == 0
