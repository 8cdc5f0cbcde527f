"""Handover records, press release and press invitation (issue #7, items 15 to 18)."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path

import docx
from docx.oxml.ns import qn
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text, gift_categories, set_operation
from test_variants import cheap_devices

from dotation_docs.documents import DocumentType, plan_beneficiary, plan_press
from dotation_docs.funding import batch_funding
from dotation_docs.manifest import TYPE_FOLDERS
from dotation_docs.pipeline import check_workbook, generate_batch
from dotation_docs.rendering import build_environment, render

NNBSP, NBSP = "\u202f", "\xa0"
UNTICKED, TICKED = "☐", ("☑", "☒", "■", "✓", "✔")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("lot") / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    return output


@pytest.fixture(scope="module")
def sample_model():
    return check_workbook(SAMPLE).dotation


def rendered(workbook: Path, doc_type: DocumentType, beneficiary: str | None = None) -> str:
    """Render one document of ``workbook`` and return its text (HTML: unescaped)."""
    checked = check_workbook(workbook)
    assert checked.report.errors == [], checked.report.format()
    dotation, funding = checked.dotation, batch_funding(checked.dotation)
    if beneficiary is None:
        docs = plan_press(dotation, funding)
    else:
        [b] = [b for b in dotation.beneficiaries if b.identifier == beneficiary]
        docs = plan_beneficiary(dotation, funding, b)
    [doc] = [d for d in docs if d.type is doc_type]
    data = render(TEMPLATES / doc.template, doc.context, title=doc.title,
                  timestamp=datetime(2023, 2, 3), env=build_environment())
    return docx_text(data) if doc.path.endswith(".docx") else html.unescape(data.decode("utf-8"))


def record(batch: Path, identifier: str) -> Path:
    [path] = (batch / "proces-verbaux").glob(f"{identifier}-*.docx")
    return path


# --- item 15: the record cites its convention and starts its term ---------------------------


def test_record_cites_its_convention_with_number_and_date(batch: Path) -> None:
    text = docx_text(record(batch, "B02"))
    assert (f"En application de la convention de mise à disposition n°{NBSP}LM-2023-B02 du 3\xa0février 2023, "
            f"conclue entre Limoges Métropole et l’association «{NBSP}Sport & Loisirs de l’Aurence{NBSP}»") in text


def test_record_starts_the_term_of_the_article_of_the_convention(batch: Path) -> None:
    convention = docx_text(next((batch / "conventions").glob("B02-*.docx")))
    [number] = re.findall(rf"Article{NBSP}(\d+) – Durée", convention)
    text = docx_text(record(batch, "B02"))
    assert (f"La présente remise fait courir la durée de 36{NBSP}mois prévue à l’article {number} "
            "de la convention.") in text


def test_gift_record_starts_the_term_of_the_commitments(make_workbook) -> None:
    def mutate(wb):
        cheap_devices(wb)
        set_operation(wb, "Type de convention", "don")
        gift_categories(wb, "association reconnue d'utilité publique")

    text = rendered(make_workbook(mutate), DocumentType.HANDOVER, "B02")
    convention = rendered(make_workbook(mutate), DocumentType.CONVENTION, "B02")
    [number] = re.findall(rf"Article{NBSP}(\d+) – Transfert de propriété", convention)
    assert f"fait courir la durée de 36{NBSP}mois des engagements du bénéficiaire prévue à l’article {number}" in text
    assert "La propriété du matériel lui est transférée à la même date." in text


def test_service_record_is_an_internal_assignment_without_convention(batch: Path) -> None:
    text = docx_text(record(batch, "B10"))
    assert "AFFECTATION INTERNE" in text
    assert "convention" not in text.lower()
    assert "fait courir" not in text


def test_tested_box_is_offered_and_never_ticked(batch: Path) -> None:
    for path in (batch / "proces-verbaux").iterdir():
        text = docx_text(path)
        assert f"{UNTICKED}  Matériel testé et en état de fonctionnement" in text, path.name
        assert f"{UNTICKED}  Matériel reçu sans réserve" in text, path.name
        assert not any(mark in text for mark in TICKED), path.name


# --- item 16: the condition as the workbook says ------------------------------------------


def test_record_columns_hold_a_16_character_serial_and_room_for_remarks(batch: Path) -> None:
    document = docx.Document(str(record(batch, "B01")))
    [table] = [t for t in document.tables if t.rows[0].cells[0].text == "N°"]
    header = [c.text for c in table.rows[0].cells]
    grid = [int(g.get(qn("w:w"))) for g in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    widths = dict(zip(header, grid))  # twips: 567 a centimetre
    # 16 characters of 0,78 em at 8 pt plus the cell margins; no wider, the inventory number
    # and the accessories need the room (tests/test_paperwork_layout.py)
    assert 16 * 0.78 * 8 * 20 + 2 * 57 <= widths["N° de série / IMEI"] <= 4 * 567
    assert widths["Observations"] >= 1500  # ≥ 2,6 cm to write a remark by hand
    assert sum(grid) <= 17 * 567 + 1
    first = dict(zip(header, (c.text for c in table.rows[1].cells)))
    category, model = first["Désignation"].split("\n")  # the category above the model
    assert category in ("Ordinateur portable", "Ordinateur fixe", "Tablette", "Smartphone") and model


def test_condition_column_prints_the_workbook_value_or_a_dash(batch: Path, sample_model) -> None:
    checked = 0
    for b in sample_model.beneficiaries:
        document = docx.Document(str(record(batch, b.identifier)))
        [table] = [t for t in document.tables if t.rows[0].cells[0].text == "N°"]
        header = [c.text for c in table.rows[0].cells]
        condition, inventory = header.index("État"), header.index("N°\nd’inventaire")
        rows = {row.cells[inventory].text: row.cells[condition].text for row in table.rows[1:]}
        for device in sample_model.devices_of(b):
            assert rows[device.inventory_number] == (device.condition or "—"), device.inventory_number
            checked += 1
    assert checked == len(sample_model.devices)
    assert any(d.condition is None for d in sample_model.devices)  # the dash is exercised
    assert "bon état" not in "".join(docx_text(p) for p in (batch / "proces-verbaux").iterdir())


# --- item 17: the press release -------------------------------------------------------------


def press_texts(batch: Path) -> tuple[str, str]:
    word = docx_text(batch / "communique" / "communique-de-presse.docx")
    page = html.unescape((batch / "communique" / "communique-de-presse.html").read_text(encoding="utf-8"))
    return word, page


def test_release_is_written_after_the_event_with_the_venue_in_the_opening(batch: Path) -> None:
    for text in press_texts(batch):
        opening = re.search(r"Le vendredi 3\xa0février 2023, [^.]*\.", text).group(0)
        assert "Mission Locale de l’Agglomération de Limoges" in opening
        assert "ont remis" in opening and "remettent" not in text
        assert "cérémonie" not in text  # the workbook speaks of a handover, nothing more
        # « leur part »: some devices went to the authority's own service
        assert "Les associations ont reçu leur part gratuitement, par une convention de mise" in text
        assert f"121{NBSP}équipements informatiques reconditionnés" in opening


def test_release_financing_sentence_gives_rate_base_amounts_and_the_rest(batch: Path) -> None:
    for text in press_texts(batch):
        assert (f"L’État finance cette acquisition à hauteur de 80{NBSP}% du montant HT "
                f"(36{NNBSP}151{NBSP}€{NBSP}HT), soit 28{NNBSP}921{NBSP}€{NBSP}; Limoges Métropole prend en charge "
                f"le reste, soit 20{NBSP}% du montant HT et la TVA, 14{NNBSP}460{NBSP}€.") in text
        assert "le solde" not in text


def test_release_words_follow_the_workbook_rate(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Taux de l'État", "50 %")
        set_operation(wb, "Montant de la subvention attribuée", 18075.63)

    text = rendered(make_workbook(mutate), DocumentType.PRESS)
    assert f"à hauteur de 50{NBSP}% du montant HT (36{NNBSP}151{NBSP}€{NBSP}HT)" in text
    assert f"le reste, soit 50{NBSP}% du montant HT et la TVA" in text
    assert f"80{NBSP}%" not in text


def test_release_names_the_other_funders_and_the_whole_euros_add_up(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Montant de la subvention attribuée", 25000)
        set_operation(wb, "Autres financeurs", "Région Nouvelle-Aquitaine")
        set_operation(wb, "Montant des autres financements", "3 000,50 €")

    path = make_workbook(mutate)
    for doc_type in (DocumentType.PRESS, DocumentType.PRESS_HTML):
        text = rendered(path, doc_type).replace(NBSP, " ").replace(NNBSP, " ")
        # 43 381 (TTC truncated) − 25 000 − 3 000 (Region truncated) = 15 381: the printed
        # parts add up to the printed total.
        assert ("soit 25 000 €, et l’autre financeur de l’opération (Région Nouvelle-Aquitaine) à "
                "hauteur de 3 000 € ; Limoges Métropole prend en charge le reste, soit 15 381 €. "
                "Le coût total de l’opération s’élève à 43 381 € TTC.") in text
        assert "18 381" not in text


def test_release_prints_the_agent_paragraphs_and_no_claim_of_its_own(batch: Path, sample_model) -> None:
    op = sample_model.operation
    for text in press_texts(batch):
        assert op.context.replace("'", "’") in text
        assert op.objectives.replace("'", "’") in text
        assert "environnement" not in text and "empreinte" not in text


def test_release_without_the_optional_paragraphs(make_workbook, sample_model) -> None:
    def mutate(wb):
        set_operation(wb, "Contexte", None)
        set_operation(wb, "Objectifs de la collectivité", None)

    path = make_workbook(mutate)
    for doc_type in (DocumentType.PRESS, DocumentType.PRESS_HTML):
        text = rendered(path, doc_type)
        assert "crise sanitaire" not in text and "a rejoint ce dispositif" not in text
        assert "Le matériel remis, acquis dans le cadre du dispositif" in text
    assert "<p></p>" not in rendered(path, DocumentType.PRESS_HTML)


# --- item 18: the press invitation ---------------------------------------------------------


def invitation_texts(batch: Path) -> tuple[str, str]:
    word = docx_text(batch / "communique" / "invitation-presse.docx")
    page = (batch / "communique" / "invitation-presse.html").read_text(encoding="utf-8")
    page = html.unescape(re.sub(r"<[^>]+>", "", page))
    return word, page


def test_invitation_names_date_time_place_officials_and_contacts(batch: Path, sample_model) -> None:
    op = sample_model.operation
    for text in invitation_texts(batch):
        assert "INVITATION PRESSE" in text
        assert "ont le plaisir de vous inviter" in text  # before the ceremony: present tense
        assert "ont remis" not in text
        assert f"Date{NBSP}: vendredi 3\xa0février 2023" in text
        assert f"Heure{NBSP}: 10{NBSP}h{NBSP}30" in text
        assert f"Lieu{NBSP}: Mission Locale de l’Agglomération de Limoges" in text
        for name, title in (
            (op.state_representative, op.state_representative_title),
            (op.delegate, op.delegate_title),
        ):
            assert f"{name}, {title.replace(chr(39), '’')}" in text
        # the President is the signatory, not said to attend: the release does not name him
        assert op.authority_representative not in text
        for contact in (op.authority_press, op.prefecture_press):
            assert contact.name in text and contact.phone in text and contact.email in text


def test_invitation_and_release_name_the_same_officials(batch: Path) -> None:
    release = press_texts(batch)[0]
    invitation = invitation_texts(batch)[0]
    attending = re.search(r"En présence de\n(.*?)\nL’opération", invitation, re.S).group(1)
    names = re.findall(r"^(.*?), ", attending, re.M)
    assert names == ["Olivier du Cray", "Ibrahima Dia"]
    opening = re.search(r"Le vendredi 3\xa0février 2023, [^.]*\.", release).group(0)
    for name in names:
        assert name in opening
    assert "Guillaume Guérin" not in opening


def test_invitation_without_a_delegate_lists_two_officials(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Élu délégué", None)
        set_operation(wb, "Qualité de l'élu délégué", None)
        set_operation(wb, "Référence de la délégation de signature", None)

    text = rendered(make_workbook(mutate), DocumentType.INVITATION)
    assert "Ibrahima Dia" not in text
    assert f"Olivier du Cray, administrateur de l’État{NBSP};\nGuillaume Guérin, Président de Limoges Métropole." in text


def test_invitation_is_in_the_manifest_and_the_press_folder(batch: Path) -> None:
    manifest = json.loads((batch / "manifeste.json").read_text(encoding="utf-8"))
    entries = {d["fichier"]: d["type"] for d in manifest["documents"]}
    assert entries["communique/invitation-presse.docx"] == "invitation"
    assert entries["communique/invitation-presse.html"] == "invitation_html"
    assert TYPE_FOLDERS["invitation"] == TYPE_FOLDERS["invitation_html"] == "communique"
    assert DocumentType.INVITATION.value == "invitation"


def test_generer_says_it_wrote_the_invitation(runner, tmp_path: Path) -> None:
    from dotation_docs.cli import cli

    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "lot")])
    assert result.exit_code == 0, result.output
    assert "1 invitation presse (.docx), 1 invitation presse (.html)" in result.output
    assert (tmp_path / "lot" / "communique" / "invitation-presse.html").is_file()
