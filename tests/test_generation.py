"""The agent's three jobs: the full batch, one association's documents, the claim file.

Every test opens the generated files (python-docx, openpyxl) and checks their text and
figures against the workbook.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from decimal import Decimal
from pathlib import Path

import docx
import openpyxl
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text, exited_cleanly

from dotation_docs.cli import cli
from dotation_docs.exceptions import BeneficiaryNotFoundError, InvalidWorkbookError, TemplateError
from dotation_docs.pipeline import check_workbook, generate_batch, generate_beneficiary, generate_claim

NNBSP, NBSP = "\u202f", "\xa0"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """The full batch generated once from the sample workbook."""
    output = tmp_path_factory.mktemp("lot") / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    return output


@pytest.fixture(scope="module")
def sample_model():
    checked = check_workbook(SAMPLE)
    assert checked.dotation is not None
    return checked.dotation


# --- The full batch ---------------------------------------------------------------------


def test_batch_has_one_convention_per_association_and_one_record_per_beneficiary(batch: Path, sample_model) -> None:
    conventions = sorted(p.name for p in (batch / "conventions").iterdir())
    records = sorted(p.name for p in (batch / "proces-verbaux").iterdir())
    associations = [b for b in sample_model.beneficiaries if b.signs_convention]
    assert len(conventions) == len(associations) == 9
    assert len(records) == len(sample_model.beneficiaries) == 10
    assert conventions[1] == "B02-convention-sport-loisirs-de-l-aurence.docx"
    assert records[9].startswith("B10-proces-verbal-cite-de-l-emploi-de-beaubreuil")
    assert sorted(p.name for p in (batch / "communique").iterdir()) == [
        "communique-de-presse.docx", "communique-de-presse.html", "invitation-presse.docx", "invitation-presse.html",
    ]
    assert sorted(p.name for p in (batch / "demande-subvention").iterdir()) == [
        "1-lettre-de-demande.docx", "2-etat-recapitulatif-des-depenses.xlsx",
        "3-plan-de-financement.docx", "4-attestation-achevement.docx",
    ]


def test_every_device_is_in_exactly_one_record_and_one_convention(batch: Path, sample_model) -> None:
    records = {p.name: docx_text(p) for p in (batch / "proces-verbaux").iterdir()}
    conventions = {p.name: docx_text(p) for p in (batch / "conventions").iterdir()}
    kinds = {b.identifier: b.signs_convention for b in sample_model.beneficiaries}
    for device in sample_model.devices:
        in_records = [name for name, text in records.items() if device.serial_number in text]
        in_conventions = [name for name, text in conventions.items() if device.serial_number in text]
        assert [n[:3] for n in in_records] == [device.beneficiary], device.serial_number
        expected = [device.beneficiary] if kinds[device.beneficiary] else []
        assert [n[:3] for n in in_conventions] == expected, device.serial_number


def test_each_convention_lists_its_own_devices_and_totals(batch: Path, sample_model) -> None:
    for b in sample_model.associations:
        [path] = (batch / "conventions").glob(f"{b.identifier}-*.docx")
        text = docx_text(path)
        plain = text.replace("\u00a0", " ")  # no-break spaces after « n° » and in dates
        devices = sample_model.devices_of(b)
        assert f"n° LM-2023-{b.identifier}" in plain
        assert b.name.replace("'", "’") in text
        assert "régie par la loi du 1er juillet 1901" in plain
        assert "tribunal administratif de Limoges" in text
        for d in devices:
            assert d.inventory_number in text
        total_ttc = sum(d.unit_price_ttc for d in devices)
        from dotation_docs.formatting import format_amount

        assert format_amount(total_ttc) in text
        others = [d for d in sample_model.devices if d.beneficiary != b.identifier]
        assert not [d.serial_number for d in others if d.serial_number in text]


def test_handover_record_of_the_authority_service_is_an_internal_assignment(batch: Path) -> None:
    [path] = (batch / "proces-verbaux").glob("B10-*.docx")
    text = docx_text(path)
    assert "AFFECTATION INTERNE" in text.upper()
    assert "convention n°" not in text
    assert "Bon pour réception" in text


def test_handover_record_content(batch: Path, sample_model) -> None:
    b = sample_model.beneficiaries[1]
    [path] = (batch / "proces-verbaux").glob(f"{b.identifier}-*.docx")
    text = docx_text(path)
    n = len(sample_model.devices_of(b))
    assert "LM-2023-B02" in text
    assert "vendredi 3\xa0février 2023" in text
    assert f"10{NBSP}h{NBSP}30" in text
    assert "Mission Locale de l’Agglomération de Limoges" in text
    assert f"soit {n} équipements" in text
    assert "Bon pour réception" in text
    assert "Fait en deux exemplaires à Limoges, le 3\xa0février 2023" in text


def test_press_release_has_the_real_figures(batch: Path) -> None:
    text = docx_text(batch / "communique" / "communique-de-presse.docx")
    html = (batch / "communique" / "communique-de-presse.html").read_text(encoding="utf-8")
    assert "COMMUNIQUÉ DE PRESSE" in text
    for content in (text, html):
        assert (f"57{NBSP}ordinateurs portables, 5{NBSP}ordinateurs fixes, 39{NBSP}tablettes et "
                f"20{NBSP}smartphones") in content
        assert f"28{NNBSP}921{NBSP}€" in content
        assert f"14{NNBSP}460{NBSP}€" in content
    assert "Sport &amp; Loisirs de l’Aurence" in html
    assert "Sport & Loisirs de l’Aurence" in text
    assert "Cité de l’Emploi de Beaubreuil" in text  # the authority's own service is named too


def test_claim_letter_asks_for_the_state_share_in_figures_and_words(batch: Path) -> None:
    text = docx_text(batch / "demande-subvention" / "1-lettre-de-demande.docx")
    assert f"28{NNBSP}921,00{NBSP}€" in text
    assert "vingt-huit mille neuf cent vingt et un euros" in text
    assert "Arrêté préfectoral n° 87-2022-12-08-00003" in text.replace(NBSP, " ")  # kept on one line
    assert f"à 9{NBSP}associations et au service «{NBSP}Cité de l’Emploi de Beaubreuil – conseiller numérique{NBSP}» de " \
        "Limoges Métropole" in text
    assert "Madame la Préfète,\n" in text and "agréer, Madame la Préfète, l’expression" in text
    assert f"36{NNBSP}151,25{NBSP}€" in text


def test_expense_statement_totals_the_invoices(batch: Path, sample_model) -> None:
    wb = openpyxl.load_workbook(batch / "demande-subvention" / "2-etat-recapitulatif-des-depenses.xlsx")
    ws = wb.active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    total_row = next(r for r in values if r and "TOTAL" in [str(v).strip() for v in r if v is not None])
    numbers = [Decimal(str(v)) for v in total_row if isinstance(v, (int, float))]
    assert numbers[:4] == [Decimal("36151.25"), Decimal("7230.25"), Decimal("43381.50"), Decimal("36151.25")]
    for invoice in sample_model.invoices:
        assert any(invoice.reference in r for r in values)
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_totals_agree_across_the_claim_documents(batch: Path) -> None:
    claim = batch / "demande-subvention"
    state = f"28{NNBSP}921,00{NBSP}€"
    assert state in docx_text(claim / "1-lettre-de-demande.docx")
    plan = docx_text(claim / "3-plan-de-financement.docx")
    assert state in plan and f"14{NNBSP}460,50{NBSP}€" in plan and f"43{NNBSP}381,50{NBSP}€" in plan
    certificate = docx_text(claim / "4-attestation-achevement.docx")
    assert f"36{NNBSP}151,25{NBSP}€" in certificate
    for record in (batch / "proces-verbaux").iterdir():  # listed by beneficiary, never by file name
        assert record.name not in certificate
        assert f"{record.name[:3]} – " in certificate
    manifest = json.loads((batch / "manifeste.json").read_text(encoding="utf-8"))
    assert manifest["totaux"]["part_etat"] == "28921.00"
    assert manifest["totaux"]["ht"] == "36151.25"
    assert manifest["totaux"]["par_categorie"] == {
        "ordinateur_portable": 57, "ordinateur_fixe": 5, "tablette": 39, "smartphone": 20,
    }


def test_manifest_lists_every_file_with_its_hash(batch: Path) -> None:
    manifest = json.loads((batch / "manifeste.json").read_text(encoding="utf-8"))
    files = {p.relative_to(batch).as_posix() for p in batch.rglob("*") if p.is_file()} - {"manifeste.json"}
    assert {d["fichier"] for d in manifest["documents"]} == files
    for d in manifest["documents"]:
        assert hashlib.sha256((batch / d["fichier"]).read_bytes()).hexdigest() == d["sha256"]
    types = {d["type"] for d in manifest["documents"]}
    assert types == {"convention", "proces_verbal", "communique", "communique_html", "invitation",
                     "invitation_html", "demande_lettre",
                     "etat_depenses", "plan_financement", "attestation", "apercu"}
    assert manifest["classeur"]["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert manifest["outil"]["nom"] == "dotation-docs"


def test_documents_are_a4_with_a_plain_title(batch: Path) -> None:
    document = docx.Document(str(next((batch / "conventions").glob("B02-*.docx"))))
    section = document.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    assert document.core_properties.title == (
        "Convention de mise à disposition n° LM-2023-B02 – Sport & Loisirs de l’Aurence"
    )


def test_a_second_run_gives_the_same_bytes(batch: Path, tmp_path: Path) -> None:
    generate_batch(SAMPLE, tmp_path / "bis", TEMPLATES)
    assert snapshot(tmp_path / "bis") == snapshot(batch)


# --- One association after a correction ----------------------------------------------------


def test_convention_command_rewrites_only_that_beneficiary(tmp_path: Path, make_workbook) -> None:
    output = tmp_path / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    before = snapshot(output)
    corrected = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("J3", "Samia Haddad"))
    written = generate_beneficiary(corrected, "sport et loisirs de l'AURENCE", output, TEMPLATES)
    after = snapshot(output)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {
        "conventions/B02-convention-sport-loisirs-de-l-aurence.docx",
        "proces-verbaux/B02-proces-verbal-sport-loisirs-de-l-aurence.docx",
        "index.html",  # the overview page: every job rewrites it
        "manifeste.json",
    }
    assert set(after) == set(before)
    assert "Samia Haddad" in docx_text(output / "conventions/B02-convention-sport-loisirs-de-l-aurence.docx")
    manifest = json.loads(after["manifeste.json"])
    for d in manifest["documents"]:
        assert hashlib.sha256(after[d["fichier"]]).hexdigest() == d["sha256"]
    assert written.notes == []  # totals unchanged: the rest of the batch is still right


def test_renamed_association_replaces_its_old_files(tmp_path: Path, make_workbook) -> None:
    output = tmp_path / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    renamed = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("B3", "Aurence Sports"))
    generate_beneficiary(renamed, "B02", output, TEMPLATES)
    assert sorted(p.name for p in (output / "conventions").glob("B02-*")) == ["B02-convention-aurence-sports.docx"]
    assert sorted(p.name for p in (output / "proces-verbaux").glob("B02-*")) == ["B02-proces-verbal-aurence-sports.docx"]


def test_unknown_beneficiary_suggests_the_closest_names(tmp_path: Path) -> None:
    with pytest.raises(BeneficiaryNotFoundError) as err:
        generate_beneficiary(SAMPLE, "Sport et loisirs de l Aurance", tmp_path, TEMPLATES)
    assert err.value.message == (
        "aucun bénéficiaire ne correspond à « Sport et loisirs de l Aurance ». Vouliez-vous dire : "
        "B02 « Sport & Loisirs de l'Aurence » ?"
    )
    assert not tmp_path.joinpath("conventions").exists()


def test_unknown_beneficiary_of_a_national_workbook_lists_ten_names_not_a_thousand() -> None:
    from dotation_docs.model import Beneficiary
    from dotation_docs.pipeline import find_beneficiary

    dotation = check_workbook(SAMPLE).dotation
    assert dotation is not None
    model = dotation.beneficiaries[0]
    many = [dataclasses.replace(model, identifier=f"N{i:04d}", name=f"Association {i}") for i in range(1000)]
    assert all(isinstance(b, Beneficiary) for b in many)
    with pytest.raises(BeneficiaryNotFoundError) as err:
        find_beneficiary(dataclasses.replace(dotation, beneficiaries=many), "zzzz")
    message = err.value.message
    assert "N0009 « Association 9 » ; et 990 autres (feuille « Bénéficiaires » du classeur)." in message
    assert "N0010" not in message
    with pytest.raises(BeneficiaryNotFoundError) as err:
        find_beneficiary(dataclasses.replace(dotation, beneficiaries=many[:10]), "zzzz")
    assert err.value.message.endswith("N0009 « Association 9 ».")


# --- Claim file only ------------------------------------------------------------------------


def test_claim_command_writes_only_the_claim_file(tmp_path: Path) -> None:
    output = tmp_path / "output"
    generate_claim(SAMPLE, output, TEMPLATES)
    assert sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()) == [
        "demande-subvention/1-lettre-de-demande.docx",
        "demande-subvention/2-etat-recapitulatif-des-depenses.xlsx",
        "demande-subvention/3-plan-de-financement.docx",
        "demande-subvention/4-attestation-achevement.docx",
        "index.html",
        "manifeste.json",
    ]


# --- Failures leave nothing half-written ------------------------------------------------------


def test_invalid_workbook_writes_nothing(tmp_path: Path, make_workbook) -> None:
    broken = make_workbook(lambda wb: wb["Matériel"].__setitem__("B7", "imprimante"))
    with pytest.raises(InvalidWorkbookError) as err:
        generate_batch(broken, tmp_path / "output", TEMPLATES)
    assert "Matériel!B7 : Catégorie" in err.value.message
    assert "aucun document n'a été écrit" in err.value.message
    assert not (tmp_path / "output").exists()


def test_a_broken_template_leaves_the_previous_batch_as_it_was(tmp_path: Path) -> None:
    output = tmp_path / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    before = snapshot(output)
    templates = tmp_path / "modeles"
    shutil.copytree(TEMPLATES, templates)
    (templates / "plan-de-financement.docx").write_bytes(b"pas un document Word")
    with pytest.raises(TemplateError, match="plan-de-financement.docx"):
        generate_batch(SAMPLE, output, templates)
    assert snapshot(output) == before
    assert [p.name for p in output.iterdir() if p.name.startswith(".")] == []


def test_a_template_with_an_unknown_variable_is_named(tmp_path: Path) -> None:
    templates = tmp_path / "modeles"
    shutil.copytree(TEMPLATES, templates)
    (templates / "communique-de-presse.html").write_text("<p>{{ beneficiaire.nom }}</p>", encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        generate_batch(SAMPLE, tmp_path / "output", templates)
    assert err.value.message == (
        "le modèle « communique-de-presse.html » ne peut pas être rempli : la variable "
        "« beneficiaire » n'existe pas (voir docs/modeles.md pour la liste des variables)."
    )


# --- Command line -----------------------------------------------------------------------------


def test_generer_prints_a_french_summary(runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "lot"), "-m", str(TEMPLATES)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"29 fichiers écrits dans « {tmp_path / 'lot'} » : 9 conventions, 10 procès-verbaux de remise, "
        "1 communiqué de presse (.docx), 1 communiqué de presse (.html), 1 invitation presse (.docx), "
        "1 invitation presse (.html), 1 lettre de demande de versement, "
        "1 état récapitulatif des dépenses, 1 plan de financement, 1 certificat d'achèvement et de conformité, "
        "1 page d'aperçu (index.html) et 1 manifeste.\n"
    )
    assert f"Part de l'État (80{NBSP}% du HT) : 28{NNBSP}921,00{NBSP}€" in result.output


def test_convention_command_from_the_command_line(runner, tmp_path: Path) -> None:
    output = tmp_path / "lot"
    runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(output), "-m", str(TEMPLATES)])
    result = runner.invoke(cli, ["convention", str(SAMPLE), "b02", "-o", str(output), "-m", str(TEMPLATES)])
    assert result.exit_code == 0, result.output
    # The same workbook: the three documents are already there, byte for byte.
    assert result.output.startswith(
        f"4 fichiers à jour dans « {output} » : 1 convention, 1 procès-verbal de remise, "
        "1 page d'aperçu (index.html) et 1 manifeste.\n"
    )
    assert ("Documents réécrits ou nouveaux : 0 ; déjà identiques dans le dossier, laissés tels quels (même "
            "contenu, même date de modification) : 4 fichiers.\n") in result.output
    unknown = runner.invoke(cli, ["convention", str(SAMPLE), "Vigenal numerik", "-o", str(output)])
    assert unknown.exit_code == 1
    assert unknown.output == (
        "Erreur : aucun bénéficiaire ne correspond à « Vigenal numerik ». Vouliez-vous dire : "
        "B05 « Vigenal Numérique pour Tous » ?\n"
    )


def test_demande_command_from_the_command_line(runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(tmp_path / "lot")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"6 fichiers écrits dans « {tmp_path / 'lot'} » : 1 lettre de demande de versement, "
        "1 état récapitulatif des dépenses, 1 plan de financement, 1 certificat d'achèvement et de conformité, "
        "1 page d'aperçu (index.html) et 1 manifeste.\n"
    )
    assert "Attention : aucun lot précédent dans ce dossier : seuls ces documents ont été écrits." in result.output


def test_an_edited_manifest_never_makes_the_tool_delete_outside_its_folders(tmp_path: Path) -> None:
    output = tmp_path / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    outside = tmp_path / "precieux.txt"
    outside.write_text("à garder", encoding="utf-8")
    kept = output / "communique" / "communique-de-presse.html"
    kept_bytes = kept.read_bytes()
    manifest = json.loads((output / "manifeste.json").read_text(encoding="utf-8"))
    manifest["documents"] += [
        {"type": "convention", "beneficiaire": "B02", "fichier": "conventions/../../precieux.txt", "sha256": ""},
        {"type": "convention", "beneficiaire": "B02", "fichier": str(outside), "sha256": ""},
        {"type": "convention", "beneficiaire": "B02", "fichier": "communique/communique-de-presse.html", "sha256": ""},
        "pas un objet",
    ]
    (output / "manifeste.json").write_text(json.dumps(manifest), encoding="utf-8")
    generate_beneficiary(SAMPLE, "B02", output, TEMPLATES)
    assert outside.read_text(encoding="utf-8") == "à garder"
    assert kept.read_bytes() == kept_bytes


def test_output_folder_that_cannot_be_created(runner, tmp_path: Path) -> None:
    blocker = tmp_path / "fichier"
    blocker.write_text("", encoding="utf-8")
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(blocker / "sortie")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Erreur : impossible de créer le dossier de sortie « {blocker / 'sortie'} » :")
    assert exited_cleanly(result), result.exception


def test_html_template_not_in_utf8_is_named(tmp_path: Path) -> None:
    templates = tmp_path / "modeles"
    shutil.copytree(TEMPLATES, templates)
    (templates / "communique-de-presse.html").write_bytes("<p>Communiqué</p>".encode("latin-1"))
    with pytest.raises(TemplateError) as err:
        generate_batch(SAMPLE, tmp_path / "output", templates)
    assert err.value.message == (
        "le modèle « communique-de-presse.html » n'est pas un texte UTF-8 ; enregistrez-le en UTF-8."
    )
