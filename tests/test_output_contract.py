"""The output-folder contract: the tool owns exactly the files its manifest lists.

A run replaces the files of the types it produces and removes those it no longer
produces; the agent's own files are never touched; a generated file the agent edited,
or a file of theirs where a new document goes, stops the run unless ``--ecraser``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE, TEMPLATES, docx_text

from dotation_docs.cli import cli
from dotation_docs.documents import DocumentType, PlannedDocument
from dotation_docs.exceptions import BeneficiaryNotFoundError, InvalidWorkbookError, OutputError
from dotation_docs.manifest import Scope
from dotation_docs.outputdir import locked
from dotation_docs.pipeline import _check_unique_paths, check_workbook, generate_batch, match_beneficiary
from dotation_docs.writers import OutputFile, write_batch

B02_CONVENTION = "conventions/B02-convention-sport-loisirs-de-l-aurence.docx"
B02_RECORD = "proces-verbaux/B02-proces-verbal-sport-loisirs-de-l-aurence.docx"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifeste.json").read_text(encoding="utf-8"))


def assert_matches_manifest(folder: Path) -> None:
    documents = manifest_of(folder)["documents"]
    for d in documents:
        assert hashlib.sha256((folder / d["fichier"]).read_bytes()).hexdigest() == d["sha256"], d["fichier"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("contrat") / "lot"
    generate_batch(SAMPLE, output, TEMPLATES)
    return output


@pytest.fixture
def batch(generated: Path, tmp_path: Path) -> Path:
    """A private copy of the sample batch."""
    return Path(shutil.copytree(generated, tmp_path / "lot"))


# --- The agent's own files ----------------------------------------------------------------------


def test_files_the_agent_adds_survive_every_command(runner, batch: Path) -> None:
    scan = batch / "conventions" / "B02-convention-signee.pdf"
    rib = batch / "demande-subvention" / "RIB.pdf"
    scan.write_bytes(b"%PDF scan")
    rib.write_bytes(b"%PDF rib")
    expected = (
        "Fichiers ajoutés dans les dossiers de l'outil, laissés en place : 2 "
        "(conventions/B02-convention-signee.pdf, demande-subvention/RIB.pdf)."
    )
    for args in (["generer", str(SAMPLE)], ["convention", str(SAMPLE), "B02"], ["demande", str(SAMPLE)]):
        result = runner.invoke(cli, [*args, "-o", str(batch)])
        assert result.exit_code == 0, result.output
        assert expected in result.output, args
        assert scan.read_bytes() == b"%PDF scan" and rib.read_bytes() == b"%PDF rib"
    assert "conventions/B02-convention-signee.pdf" not in {d["fichier"] for d in manifest_of(batch)["documents"]}
    assert_matches_manifest(batch)


def test_an_edited_document_stops_the_run_until_ecraser(runner, batch: Path) -> None:
    edited = batch / B02_CONVENTION
    edited.write_bytes(edited.read_bytes() + b"modifie")
    before = snapshot(batch)
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch)])
    assert result.exit_code == 1
    assert result.output == (
        f"Erreur : ce lancement remplacerait ou supprimerait des fichiers de « {batch} » que l'outil n'a pas "
        "écrits tels qu'ils sont ; rien n'a été écrit.\n"
        f"  Modifiés depuis leur génération : {B02_CONVENTION}.\n"
        "Enregistrez ailleurs ce que vous voulez garder, puis relancez avec l'option --ecraser pour les remplacer.\n"
    )
    assert snapshot(batch) == before
    assert runner.invoke(cli, ["convention", str(SAMPLE), "B02", "-o", str(batch)]).exit_code == 1
    assert snapshot(batch) == before
    forced = runner.invoke(cli, ["convention", str(SAMPLE), "B02", "-o", str(batch), "--ecraser"])
    assert forced.exit_code == 0, forced.output
    assert not edited.read_bytes().endswith(b"modifie")
    assert_matches_manifest(batch)


def test_a_document_of_another_scope_may_be_edited(batch: Path) -> None:
    """Only the files a run would replace or remove are checked."""
    edited = batch / B02_CONVENTION
    edited.write_bytes(b"signee et annotee")
    from dotation_docs.pipeline import generate_claim

    generate_claim(SAMPLE, batch, TEMPLATES)
    assert edited.read_bytes() == b"signee et annotee"


def test_a_foreign_file_where_a_document_goes_stops_the_run(runner, tmp_path: Path) -> None:
    output = tmp_path / "lot"
    (output / "demande-subvention").mkdir(parents=True)
    mine = output / "demande-subvention" / "1-lettre-de-demande.docx"
    mine.write_bytes(b"ma lettre")
    result = runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(output)])
    assert result.exit_code == 1
    assert ("  Fichiers qui ne viennent pas de l'outil, au nom d'un document à écrire : "
            "demande-subvention/1-lettre-de-demande.docx.") in result.output
    assert sorted(p.name for p in output.rglob("*")) == ["1-lettre-de-demande.docx", "demande-subvention"]
    assert runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(output), "--ecraser"]).exit_code == 0
    assert "Demande de versement de la subvention" in docx_text(mine)
    assert_matches_manifest(output)


# --- What a run removes, what it keeps -----------------------------------------------------------


def test_a_renamed_beneficiary_loses_its_old_files_and_the_summary_says_so(runner, batch: Path, make_workbook) -> None:
    renamed = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("B3", "Aurence Sports"))
    result = runner.invoke(cli, ["generer", str(renamed), "-o", str(batch)])
    assert result.exit_code == 0, result.output
    assert (f"Ancien lot : 2 fichiers supprimés (ce lot ne les produit plus) : {B02_CONVENTION}, {B02_RECORD}."
            in result.output)
    assert not (batch / B02_CONVENTION).exists() and (batch / "conventions/B02-convention-aurence-sports.docx").exists()
    assert_matches_manifest(batch)
    assert {d["fichier"] for d in manifest_of(batch)["documents"]} | {"manifeste.json"} == set(snapshot(batch))


def test_a_claim_file_no_longer_produced_is_removed_by_generer(runner, batch: Path) -> None:
    old = batch / "demande-subvention" / "5-ancienne-piece.docx"
    old.write_bytes(b"ancienne")
    manifest = manifest_of(batch)
    manifest["documents"].append({"type": "attestation", "beneficiaire": None, "fichier": "demande-subvention/5-ancienne-piece.docx",
                                  "sha256": hashlib.sha256(b"ancienne").hexdigest()})
    (batch / "manifeste.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch)])
    assert result.exit_code == 0, result.output
    assert ("Ancien lot : 1 fichier supprimé (ce lot ne le produit plus) : demande-subvention/5-ancienne-piece.docx."
            in result.output)
    assert not old.exists()


def test_demande_keeps_the_other_entries_of_the_manifest_as_they_were(batch: Path) -> None:
    from dotation_docs.pipeline import generate_claim

    before = manifest_of(batch)["documents"]
    generate_claim(SAMPLE, batch, TEMPLATES)
    after = manifest_of(batch)["documents"]
    claim = set(Scope.claim().types)
    assert [d for d in after if d["type"] not in claim] == [d for d in before if d["type"] not in claim]
    assert_matches_manifest(batch)


def test_an_edited_manifest_entry_outside_its_folder_is_never_acted_upon(batch: Path) -> None:
    manifest = manifest_of(batch)
    press = batch / "communique" / "communique-de-presse.docx"
    manifest["documents"].insert(0, {"type": "convention", "beneficiaire": "B02",
                                     "fichier": "communique/communique-de-presse.docx", "sha256": "x"})
    (batch / "manifeste.json").write_text(json.dumps(manifest), encoding="utf-8")
    kept = press.read_bytes()
    from dotation_docs.pipeline import generate_beneficiary

    generate_beneficiary(SAMPLE, "B02", batch, TEMPLATES)
    assert press.read_bytes() == kept


def test_two_outputs_with_one_path_are_refused_before_writing(tmp_path: Path) -> None:
    files = [OutputFile("conventions/A-convention-b.docx", b"1", "convention", "A"),
             OutputFile("conventions/a-convention-B.docx", b"2", "convention", "A-convention-b")]
    output = tmp_path / "lot"
    with locked(output), pytest.raises(OutputError) as err:
        write_batch(output, files, Scope.batch(), {})
    assert err.value.message == (
        "plusieurs documents du lot auraient le même nom de fichier : « conventions/A-convention-b.docx » et "
        "« conventions/a-convention-B.docx ». Rien n'a été écrit."
    )
    assert not output.exists()
    planned = [PlannedDocument(DocumentType.CONVENTION, f.path, "t", None, {}, f.beneficiary) for f in files]
    with pytest.raises(InvalidWorkbookError, match=r"bénéficiaires A et A-convention-b"):
        _check_unique_paths(planned)


# --- Paths given on the command line --------------------------------------------------------------


def test_output_that_is_a_file_is_one_french_sentence(runner, tmp_path: Path) -> None:
    target = tmp_path / "sortie.txt"
    target.write_text("x", encoding="utf-8")
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(target)])
    assert result.exit_code == 1
    assert result.output == (
        f"Erreur : « {target} » est un fichier, pas un dossier : indiquez avec -o un dossier de sortie "
        "(il est créé s'il n'existe pas).\n"
    )


def test_templates_folder_errors_are_french_without_usage(runner, tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "o"), "-m", str(tmp_path / "absent")])
    assert (missing.exit_code, missing.output) == (
        1, f"Erreur : le dossier de modèles « {tmp_path / 'absent'} » est introuvable. Vérifiez le chemin donné avec -m.\n"
    )
    a_file = tmp_path / "modele.docx"
    a_file.write_bytes(b"")
    result = runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(tmp_path / "o"), "-m", str(a_file)])
    assert result.exit_code == 1 and "Utilisation" not in result.output
    assert "est un fichier : indiquez avec -m le dossier qui contient les modèles" in result.output
    assert not (tmp_path / "o").exists()


def test_unreadable_templates_folder(runner, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "modeles"
    folder.mkdir()
    real = os.listdir

    def listdir(path):  # type: ignore[no-untyped-def]
        if Path(path) == folder:  # what a folder without read permission gives (root reads everything)
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "o"), "-m", str(folder)])
    assert result.output == f"Erreur : le dossier de modèles « {folder} » est illisible : accès refusé (droits insuffisants).\n"


def test_workbook_name_that_is_not_utf8(tmp_path: Path) -> None:
    name = os.fsdecode(b"classeur-\xff\xfe.xlsx")
    workbook = tmp_path / name
    shutil.copy(SAMPLE, workbook)
    output = tmp_path / "lot"
    from dotation_docs.pipeline import generate_claim

    generate_claim(workbook, output, TEMPLATES)
    assert manifest_of(output)["classeur"]["fichier"] == "classeur-\ufffd\ufffd.xlsx"


# --- Which beneficiary « convention » works on ------------------------------------------------------


def _model(make_workbook, mutate):
    checked = check_workbook(make_workbook(mutate))
    assert checked.dotation is not None, checked.report.format()
    return checked.dotation


def test_an_identifier_wins_over_a_name(make_workbook) -> None:
    dotation = _model(make_workbook, lambda wb: wb["Bénéficiaires"].__setitem__("B4", "b02"))
    assert match_beneficiary(dotation, "B02")[0].identifier == "B02"
    assert match_beneficiary(dotation, "b02")[0].identifier == "B02"


def test_two_beneficiaries_with_one_name_are_an_error(make_workbook) -> None:
    dotation = _model(make_workbook, lambda wb: wb["Bénéficiaires"].__setitem__("B4", "Sport et loisirs de l'Aurence"))
    with pytest.raises(BeneficiaryNotFoundError) as err:
        match_beneficiary(dotation, "sport & loisirs de l'aurence")
    assert err.value.message == (
        "plusieurs bénéficiaires s'appellent « sport & loisirs de l'aurence » : B02 « Sport & Loisirs de l'Aurence » ; "
        "B03 « Sport et loisirs de l'Aurence ». Indiquez l'identifiant de celui à régénérer."
    )


def test_a_unique_part_of_a_name_is_accepted_and_said(runner, batch: Path) -> None:
    result = runner.invoke(cli, ["convention", str(SAMPLE), "aurence", "-o", str(batch)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Bénéficiaire retenu : B02 « Sport & Loisirs de l'Aurence ».\n")
    several = runner.invoke(cli, ["convention", str(SAMPLE), "beaubreuil", "-o", str(batch)])
    assert several.exit_code == 1
    assert several.output == (
        "Erreur : plusieurs bénéficiaires correspondent à « beaubreuil » : B01 « Beaubreuil Numérique Solidaire » ; "
        "B10 « Cité de l'Emploi de Beaubreuil – conseiller numérique ». Indiquez l'identifiant ou le nom complet "
        "de celui à régénérer.\n"
    )
