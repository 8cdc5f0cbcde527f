"""The subsidy claim file as the prefecture reads it (issue #7): the unpaid-invoice paths
of ``generer`` and ``demande``, and the text of the letter, the financing plan and the
certificate of completion and conformity, read back from the generated .docx."""

from __future__ import annotations

import json
import re
from pathlib import Path

import docx
import pytest

from conftest import SAMPLE, docx_text, set_operation, exited_cleanly
from dotation_docs.cli import cli
from dotation_docs.pipeline import generate_claim

NBSP, NNBSP = "\u00a0", "\u202f"
CLAIM = "demande-subvention"
LETTER, STATEMENT, PLAN, CERTIFICATE = (
    "1-lettre-de-demande.docx", "2-etat-recapitulatif-des-depenses.xlsx",
    "3-plan-de-financement.docx", "4-attestation-achevement.docx",
)
CLAIM_FILES = [f"{CLAIM}/{name}" for name in (LETTER, STATEMENT, PLAN, CERTIFICATE)]


def money(amount: str) -> str:
    """Return ``amount`` (« 28921,00 ») as printed: « 28 921,00 € »."""
    whole, cents = amount.split(",")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return NNBSP.join(groups) + "," + cents + NBSP + "€"


def flat(text: str) -> str:
    """The text with no-break spaces as plain spaces and typographic apostrophes straight
    (for phrases whose exact spacing another rule tests)."""
    return text.replace(NBSP, " ").replace(NNBSP, " ").replace("\u2019", "'")


def unpay(wb) -> None:
    """SVI-F2301-047: neither mandate nor payment date; SVI-F2301-058: no payment date."""
    ws = wb["Factures"]
    ws["I4"].value = ws["J4"].value = None
    ws["J5"].value = None


def claim_texts(workbook: Path, out: Path) -> dict[str, str]:
    generate_claim(workbook, out)
    return {name: docx_text(out / CLAIM / name) for name in (LETTER, PLAN, CERTIFICATE)}


@pytest.fixture(scope="module")
def sample_texts(tmp_path_factory) -> dict[str, str]:
    return claim_texts(SAMPLE, tmp_path_factory.mktemp("claim"))


def table_rows(path: Path) -> list[list[str]]:
    """Every row of every table of the .docx, as lists of cell texts."""
    document = docx.Document(str(path))
    return [[cell.text for cell in row.cells] for table in document.tables for row in table.rows]


def line_after(text: str, label: str) -> str:
    """The line that follows the line ``label`` (a table's value cell)."""
    lines = text.split("\n")
    return lines[[flat(line) for line in lines].index(flat(label)) + 1]


# --- unpaid invoices: demande refuses, generer leaves the claim file out -----------------


def test_demande_refuses_with_unpaid_invoices_and_writes_nothing(runner, make_workbook, tmp_path) -> None:
    out = tmp_path / "sortie"
    assert runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(out)]).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert len(before) == 6  # the claim file, the overview page and the manifest

    result = runner.invoke(cli, ["demande", str(make_workbook(unpay)), "-o", str(out)])

    assert result.exit_code == 1, result.output
    assert result.output.startswith("Erreur : la demande de versement ne peut porter que sur des dépenses payées")
    assert "2 factures ne sont pas payées (feuille « Factures »)" in result.output
    assert "« SVI-F2301-047 » (ni « N° de mandat » ni « Date de paiement »)" in result.output
    assert "« SVI-F2301-058 » (pas de « Date de paiement »)" in result.output
    assert "RNL-2023-0019" not in result.output  # paid: not named
    assert "Aucun document n'a été écrit" in result.output
    assert exited_cleanly(result), result.exception
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the previous claim file and the manifest are untouched


def test_demande_into_an_empty_folder_writes_nothing(runner, make_workbook, tmp_path) -> None:
    out = tmp_path / "vide"
    result = runner.invoke(cli, ["demande", str(make_workbook(unpay)), "-o", str(out)])
    assert result.exit_code == 1
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def test_generer_leaves_the_claim_file_out_and_removes_the_old_one(runner, make_workbook, tmp_path) -> None:
    out = tmp_path / "sortie"
    assert runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(out)]).exit_code == 0
    assert all((out / path).is_file() for path in CLAIM_FILES)
    foreign = out / CLAIM / "notes-de-l-agent.txt"
    foreign.write_text("à garder", encoding="utf-8")

    result = runner.invoke(cli, ["generer", str(make_workbook(unpay)), "-o", str(out)])

    assert result.exit_code == 0, result.output
    # The warning names each unpaid invoice and what it lacks.
    assert ("Attention : le dossier de demande de subvention n'a pas été produit : 2 factures ne sont pas "
            "payées (feuille « Factures ») : « SVI-F2301-047 » (ni « N° de mandat » ni « Date de paiement ») ; "
            "« SVI-F2301-058 » (pas de « Date de paiement »).") in result.output
    # The previous claim file is removed, and the summary says so; the agent's file stays.
    assert "Attention : l'ancien dossier de demande de subvention a été supprimé (4 fichiers : " in result.output
    assert not any((out / path).exists() for path in CLAIM_FILES)
    assert foreign.read_text(encoding="utf-8") == "à garder"
    assert "laissés en place : 1 (demande-subvention/notes-de-l-agent.txt)" in result.output
    # Everything else is written; the manifest lists no claim document.
    assert len(list((out / "conventions").glob("*.docx"))) == 9
    assert len(list((out / "proces-verbaux").glob("*.docx"))) == 10
    assert (out / "communique" / "communique-de-presse.docx").is_file()
    manifest = json.loads((out / "manifeste.json").read_text(encoding="utf-8"))
    paths = [d["fichier"] for d in manifest["documents"]]
    assert len(paths) == 24 and not any(p.startswith(f"{CLAIM}/") for p in paths)
    assert "demande_lettre" not in result.output and "0 lettre" not in result.output


def test_generer_with_unpaid_invoices_in_a_new_folder_then_paid(runner, make_workbook, tmp_path) -> None:
    out = tmp_path / "neuf"
    result = runner.invoke(cli, ["generer", str(make_workbook(unpay)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "le dossier de demande de subvention n'a pas été produit" in result.output
    assert "l'ancien dossier" not in result.output
    assert not (out / CLAIM).exists()
    # Once every invoice is paid, the claim file is written.
    result = runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert all((out / path).is_file() for path in CLAIM_FILES)


# --- the letter -----------------------------------------------------------------------------


def test_letter_shows_what_the_instructor_checks(sample_texts) -> None:
    letter = sample_texts[LETTER]
    assert f"une subvention d’un montant de {money('28921,00')}" in letter
    assert f"dépense éligible prévisionnelle de {money('36151,25')}{NBSP}HT" in letter
    assert line_after(letter, "Subvention attribuée par la décision du 8 décembre 2022") == money("28921,00")
    assert line_after(letter, "Dépense éligible prévisionnelle") == money("36151,25") + NBSP + "HT"
    assert line_after(letter, "Dépense éligible réalisée (factures payées)") == money("36151,25") + NBSP + "HT"
    assert line_after(letter, f"Subvention calculée : 80{NBSP}% du montant HT de la dépense éligible réalisée") \
        == money("28921,00")
    assert line_after(letter, "Subvention retenue, dans la limite de la subvention attribuée") == money("28921,00")
    assert line_after(letter, "Acomptes déjà perçus") == "néant"
    assert line_after(letter, "Montant dû : subvention retenue, moins les acomptes") == money("28921,00")
    assert "plafond appliqué" not in letter
    assert "Demande de versement de la subvention de l'État" in flat(letter)  # no advance: no « solde »
    assert "solde" not in letter


def test_letter_amount_due_with_a_cap_that_bites_and_advances(make_workbook, tmp_path) -> None:
    def mutate(wb):
        set_operation(wb, "Montant de la subvention attribuée", 25000)
        set_operation(wb, "Acomptes reçus", 7500)

    texts = claim_texts(make_workbook(mutate), tmp_path / "out")
    letter = texts[LETTER]
    # By hand: 80 % × 36 151,25 = 28 921,00 > 25 000,00 granted; 25 000,00 − 7 500,00 = 17 500,00.
    assert line_after(letter, f"Subvention calculée : 80{NBSP}% du montant HT de la dépense éligible réalisée") \
        == money("28921,00")
    assert line_after(letter, "Subvention retenue, dans la limite de la subvention attribuée (plafond appliqué)") \
        == money("25000,00")
    assert line_after(letter, "Acomptes déjà perçus") == "− " + money("7500,00")
    assert line_after(letter, "Montant dû : subvention retenue, moins les acomptes") == money("17500,00")
    assert f"la somme de {money('17500,00')} (dix-sept mille cinq cents euros)" in letter
    # advances were received: the letter asks for the balance
    assert "Demande de versement du solde de la subvention de l'État" in flat(letter)
    assert "néant" not in letter
    plan = flat(texts[PLAN])
    assert ("Subvention de l'État : 80 % × 36 151,25 € HT = 28 921,00 €, ramenée au montant attribué de "
            "25 000,00 € ; acomptes déjà perçus : 7 500,00 € ; montant dû : 17 500,00 €.") in plan
    assert "dans la limite de la subvention attribuée" in plan
    certificate = flat(texts[CERTIFICATE])
    assert "État, 25 000,00 € (57,63 % du coût total TTC)" in certificate
    assert "Limoges Métropole, 18 381,50 € (42,37 %)" in certificate


def test_letter_goes_to_the_prefete_and_names_the_service(sample_texts) -> None:
    letter = sample_texts[LETTER]
    lines = letter.split("\n")
    assert "Madame la Préfète de la Haute-Vienne" in lines
    assert "Madame la Préfète," in lines
    assert "Je vous prie d’agréer, Madame la Préfète, l’expression de ma haute considération." in lines
    assert re.search(
        r"a été remis le 3\s+février 2023 à 9 associations et au service « Cité de l['’]Emploi de Beaubreuil "
        r"– conseiller numérique » de Limoges Métropole ; les procès-verbaux de remise joints ne sont pas "
        r"encore signés\.", flat(letter))  # the sample has no signature date


def test_letter_signature_is_headed_by_the_function_with_its_article(sample_texts) -> None:
    lines = sample_texts[LETTER].split("\n")
    head = lines.index("Le Président de Limoges Métropole")
    assert lines[head + 1] == "Guillaume Guérin"
    assert "Président de Limoges Métropole" not in lines  # never without its article


def test_letter_case_officer_block(sample_texts) -> None:
    lines = [flat(line) for line in sample_texts[LETTER].split("\n")]
    assert "Affaire suivie par : Sandrine Peyroux, direction de la cohésion sociale" in lines
    assert "Tél. : 05 55 45 79 34 – Courriel : sandrine.peyroux@limoges-metropole.fr" in lines


@pytest.mark.parametrize(("values", "present", "absent"), [
    ({"Téléphone de l'agent qui suit l'affaire": None, "Courriel de l'agent qui suit l'affaire": None},
     ["Affaire suivie par : Sandrine Peyroux"], ["Tél.", "Courriel"]),
    ({"Affaire suivie par": None, "Courriel de l'agent qui suit l'affaire": None},
     ["Tél. : 05 55 45 79 34"], ["Affaire suivie par", "Courriel"]),
    ({"Affaire suivie par": None, "Téléphone de l'agent qui suit l'affaire": None},
     ["Courriel : sandrine.peyroux@limoges-metropole.fr"], ["Affaire suivie par", "Tél.", " – "]),
    ({"Affaire suivie par": None, "Téléphone de l'agent qui suit l'affaire": None,
      "Courriel de l'agent qui suit l'affaire": None}, [], ["Affaire suivie par", "Tél.", "Courriel"]),
])
def test_letter_prints_only_the_case_officer_lines_given(make_workbook, tmp_path, values, present, absent) -> None:
    def mutate(wb):
        for label, value in values.items():
            set_operation(wb, label, value)

    letter = flat(claim_texts(make_workbook(mutate), tmp_path / "out")[LETTER])
    head = letter.split("Madame la Préfète de la Haute-Vienne")[0]  # the sender's block
    for text in present:
        assert text in head
    for text in absent:
        assert text not in head


def test_letter_enclosures(sample_texts) -> None:
    letter = flat(sample_texts[LETTER])
    enclosures = letter[letter.index("Pièces jointes :"):]
    for item in (
        "copie de la décision attributive",
        "état récapitulatif des dépenses payées, certifié exact par l'ordonnateur et visé par le comptable public",
        "copies des factures (4)",
        "plan de financement définitif",
        "certificat d'achèvement et de conformité",
        "procès-verbaux de remise du matériel (10)",
        "relevé d'identité bancaire (RIB)",
    ):
        assert item in enclosures, item


# --- the certificate of completion and conformity ----------------------------------------


def test_certificate_title_and_no_service_fait(sample_texts) -> None:
    certificate = sample_texts[CERTIFICATE]
    assert certificate.split("\n")[0] == "CERTIFICAT D’ACHÈVEMENT ET DE CONFORMITÉ"
    assert "Certificat d’achèvement et de conformité" in certificate  # the footer
    for text in sample_texts.values():
        assert "service fait" not in text.casefold()


def test_certificate_states_the_operation_its_cost_financing_and_dates(sample_texts) -> None:
    certificate = flat(sample_texts[CERTIFICATE])
    assert "Je soussigné, Guillaume Guérin, Président de Limoges Métropole, agissant en qualité d'ordonnateur" \
        in certificate
    assert ("par décision du 8 décembre 2022 (Arrêté préfectoral n° 87-2022-12-08-00003), a été réalisée "
            "conformément à cette décision") in certificate
    # First purchase: the earliest invoice of the sample (9 January 2023); completion: the handover.
    assert "le premier achat de l'opération date du 9 janvier 2023 (date de la première facture)" in certificate
    assert "achevée le 3 février 2023, date de la remise du matériel aux bénéficiaires" in certificate
    assert "son coût final s'élève à 36 151,25 € HT, plus 7 230,25 € de TVA, soit 43 381,50 € TTC" in certificate
    assert ("État, 28 921,00 € (66,67 % du coût total TTC) ; autres financeurs : néant ; "
            "Limoges Métropole, 14 460,50 € (33,33 %)") in certificate
    lines = sample_texts[CERTIFICATE].split("\n")
    assert lines[lines.index("Le Président de Limoges Métropole") + 1] == "Guillaume Guérin"


def test_certificate_lists_the_records_by_beneficiary_and_date(tmp_path) -> None:
    generate_claim(SAMPLE, tmp_path)
    path = tmp_path / CLAIM / CERTIFICATE
    rows = table_rows(path)
    assert rows[0] == ["Bénéficiaire", "Convention", "Équipements", "Procès-verbal de remise du"]
    records = [r for r in rows[1:] if re.match(r"B\d\d – ", r[0])]
    assert [r[0][:3] for r in records] == [f"B{n:02}" for n in range(1, 11)]
    assert records[0][:3] == ["B01 – Beaubreuil Numérique Solidaire", f"n°{NBSP}LM-2023-B01", "16"]
    assert records[-1][0].endswith("(service de Limoges Métropole)") and records[-1][1] == "—"
    # the sample's records have no signature date: none is presented as signed (the lead
    # sentence says so once, rather than every row)
    assert all(flat(r[3]) == "3 février 2023" for r in records)
    assert ("ni les procès-verbaux de remise joints ni les conventions citées ci-dessous ne sont encore signés"
            in flat(docx_text(path)))
    assert rows[-1] == ["Total", "Total", "121", ""]
    assert ".docx" not in docx_text(path) and "proces-verbal" not in docx_text(path)


# --- the financing plan ---------------------------------------------------------------------


def test_financing_plan_with_forecast_has_both_columns(tmp_path) -> None:
    generate_claim(SAMPLE, tmp_path)
    rows = table_rows(tmp_path / CLAIM / PLAN)
    assert ["Nature de la dépense", "Prévisionnel", "Réalisé"] in rows
    assert ["Financeur", "Prévisionnel", "Réalisé", "% du coût TTC", "Base de calcul"] in rows
    state = next(r for r in rows if flat(r[0]) == "État – décision du 8 décembre 2022")
    assert state[1:4] == [money("28921,00"), money("28921,00"), f"66,67{NBSP}%"]
    assert next(r for r in rows if r[0] == "Autres financeurs")[1:3] == ["néant", "néant"]
    authority = next(r for r in rows if r[0] == "Limoges Métropole (autofinancement)")
    assert authority[2:4] == [money("14460,50"), f"33,33{NBSP}%"]
    expense = next(r for r in rows if r[0].startswith("Acquisition de matériel"))
    assert expense[1:] == [money("36151,25"), money("36151,25")]
    assert ["Subvention attribuée", money("28921,00")] in rows
    text = flat(docx_text(tmp_path / CLAIM / PLAN))
    assert ("représente 33,33 % du coût total de l'opération, et donc au moins autant du montant total des "
            "financements apportés par des personnes publiques : elle atteint le minimum de 20 % de ces "
            "financements prévu par le III de l'article L. 1111-10 du code général des collectivités "
            "territoriales") in text


def test_financing_plan_without_forecast_has_only_the_actual_column(make_workbook, tmp_path) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Dépense subventionnable prévisionnelle", None))
    texts = claim_texts(path, tmp_path / "out")
    rows = table_rows(tmp_path / "out" / CLAIM / PLAN)
    assert ["Nature de la dépense", "Réalisé"] in rows
    assert ["Financeur", "Réalisé", "% du coût TTC", "Base de calcul"] in rows
    assert "Prévisionnel" not in texts[PLAN]
    assert next(r for r in rows if r[0] == "Autres financeurs")[1] == "néant"
    assert "prévisionnelle" not in texts[LETTER]  # neither in the letter's sentence nor its table
    assert "Subvention attribuée par la décision du 8 décembre 2022" in flat(texts[LETTER])


def test_financing_plan_other_funders_and_authority_share_below_20_percent(make_workbook, tmp_path) -> None:
    def mutate(wb):
        set_operation(wb, "Autres financeurs", "Région Nouvelle-Aquitaine")
        set_operation(wb, "Montant des autres financements", 6000)

    texts = claim_texts(make_workbook(mutate), tmp_path / "out")
    rows = table_rows(tmp_path / "out" / CLAIM / PLAN)
    region = next(r for r in rows if r[0] == "Région Nouvelle-Aquitaine")
    # By hand: 6 000 / 43 381,50 = 13,83 %; the authority: 43 381,50 − 28 921,00 − 6 000,00 = 8 460,50.
    assert region[2:4] == [money("6000,00"), f"13,83{NBSP}%"]
    authority = next(r for r in rows if r[0] == "Limoges Métropole (autofinancement)")
    assert authority[2:4] == [money("8460,50"), f"19,5{NBSP}%"]
    assert not any(r[0] == "Autres financeurs" for r in rows)
    plan = flat(texts[PLAN])
    assert "représente 19,5 % du coût total de l'opération." in plan
    assert "minimum de 20" not in plan  # no false claim of compliance
    certificate = flat(texts[CERTIFICATE])
    assert "Région Nouvelle-Aquitaine, 6 000,00 € (13,83 %) ; Limoges Métropole, 8 460,50 € (19,5 %)" in certificate
    assert "néant" not in certificate
