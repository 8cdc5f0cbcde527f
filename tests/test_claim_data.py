"""Issue #7, the data side: amount granted, unpaid invoices, other funders, signatures by
delegation, gift categories, device condition, and the context the templates will use."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from cells import put
from conftest import SAMPLE, errors_of, gift_categories, operation_row, set_operation, warnings_of

from dotation_docs.context import (
    claim_context,
    common_context,
    signatures_context,
    with_article,
)
from dotation_docs.funding import batch_funding, unpaid_invoices
from dotation_docs.model import RateBase
from dotation_docs.pipeline import check_workbook

NNBSP, NBSP = "\u202f", "\xa0"


@pytest.fixture(scope="module")
def dotation():
    return check_workbook(SAMPLE).dotation


def _common(dotation, **changes):
    dotation = dataclasses.replace(dotation, operation=dataclasses.replace(dotation.operation, **changes))
    return common_context(dotation, batch_funding(dotation))


# --- the sample ------------------------------------------------------------------------


def test_sample_is_clean_and_every_invoice_is_paid(dotation) -> None:
    report = check_workbook(SAMPLE).report
    assert (report.errors, report.warnings) == ([], [])
    assert unpaid_invoices(dotation) == ()
    assert all(i.mandate_number and i.payment_date for i in dotation.invoices)


def test_sample_letter_goes_to_the_prefete(dotation) -> None:
    assert dotation.operation.claim_addressee == "Madame la Préfète de la Haute-Vienne"
    assert dotation.operation.salutation == "Madame la Préfète"


def test_sample_amount_granted_and_forecast(dotation) -> None:
    assert dotation.operation.amount_granted == Decimal("28921.00")
    assert dotation.operation.forecast_eligible_expense == Decimal("36151.25")


# --- unpaid invoices --------------------------------------------------------------------


def test_each_unpaid_invoice_is_named_with_its_cell(make_workbook) -> None:
    def mutate(wb):
        put(wb, "Factures", "N° de mandat", 3, None)  # RNL-2023-0019: no mandate
        put(wb, "Factures", "Date de paiement", 5, None)  # SVI-F2301-058: no payment date
        for header in ("N° de mandat", "Date de paiement"):  # SVI-F2301-047: neither
            put(wb, "Factures", header, 4, None)

    path = make_workbook(mutate)
    assert errors_of(path) == []
    assert warnings_of(path) == [
        "Factures!I3 : la facture « RNL-2023-0019 » n'a pas de « N° de mandat » : elle n'est pas "
        "payée. La demande de versement ne peut porter que sur des dépenses payées ; elle ne sera "
        "pas produite tant que cette facture n'aura pas son numéro de mandat et sa date de paiement.",
        "Factures!I4 : la facture « SVI-F2301-047 » n'a ni « N° de mandat » ni « Date de paiement » : "
        "elle n'est pas payée. La demande de versement ne peut porter que sur des dépenses payées ; "
        "elle ne sera pas produite tant que cette facture n'aura pas son numéro de mandat et sa date "
        "de paiement.",
        "Factures!J5 : la facture « SVI-F2301-058 » n'a pas de « Date de paiement » : elle n'est pas "
        "payée. La demande de versement ne peut porter que sur des dépenses payées ; elle ne sera pas "
        "produite tant que cette facture n'aura pas son numéro de mandat et sa date de paiement.",
    ]
    dotation = check_workbook(path).dotation
    assert [i.reference for i in unpaid_invoices(dotation)] == ["RNL-2023-0019", "SVI-F2301-047", "SVI-F2301-058"]


# --- amount granted ---------------------------------------------------------------------


def test_missing_amount_granted_is_an_error(make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Montant de la subvention attribuée", None))
    [error] = errors_of(path)
    assert error.endswith(" : Montant de la subvention attribuée : cellule vide ; attendu : un montant "
                          "en euros (ex. 1 234,50 €, 1.234,50, 25 000 ou 1234.50 ; deux décimales au plus).")
    assert error.startswith("Opération!B")


def test_missing_amount_granted_row_is_an_error(make_workbook) -> None:
    def mutate(wb):
        wb["Opération"].delete_rows(operation_row(wb, "Montant de la subvention attribuée"))

    [error] = errors_of(make_workbook(mutate))
    assert error.startswith("Opération : ligne « Montant de la subvention attribuée » manquante")


def test_old_label_plafond_is_still_read(make_workbook) -> None:
    def mutate(wb):
        row = operation_row(wb, "Montant de la subvention attribuée")
        wb["Opération"].cell(row, 1).value = "Plafond de la subvention"
        wb["Opération"].cell(row, 2).value = 25000

    checked = check_workbook(make_workbook(mutate))
    assert checked.report.errors == []
    assert checked.dotation.operation.amount_granted == Decimal("25000.00")
    assert checked.funding.state_share == Decimal("25000.00")


def test_amount_due_in_the_context_with_a_cap_and_advances(dotation) -> None:
    changed = dataclasses.replace(dotation, operation=dataclasses.replace(
        dotation.operation, amount_granted=Decimal("25000.00"), advances=Decimal("5000.00")))
    funding = batch_funding(changed)
    context = claim_context(changed, funding, "Demande", {})
    # By hand: min(0,8 × 36 151,25 = 28 921,00 ; 25 000,00) − 5 000,00 = 20 000,00.
    assert context["demande"]["montant_du"] == Decimal("20000.00")
    assert context["demande"]["acomptes_neant"] is False
    financing = context["financement"]
    assert (financing["part_etat_calculee"], financing["part_etat"]) == (Decimal("28921.00"), Decimal("25000.00"))
    assert financing["est_plafonne"] is True
    assert financing["montant_du"] == Decimal("20000.00")
    # TTC 43 381,50 − 25 000,00 = 18 381,50 that the State does not pay.
    assert financing["reste"] == Decimal("18381.50")
    assert financing["texte_taux_assiette"] == (
        f"80{NBSP}% du montant HT (36{NNBSP}151,25{NBSP}€{NBSP}HT), dans la limite de la subvention "
        f"attribuée (25{NNBSP}000,00{NBSP}€)"
    )
    assert financing["texte_reste"] == (
        f"le reste, soit la part du montant HT que l’État ne finance pas et la TVA, 18{NNBSP}381,50{NBSP}€"
    )


# --- financing phrases and plan -----------------------------------------------------------


def test_sample_financing_phrases(dotation) -> None:
    financing = common_context(dotation, batch_funding(dotation))["financement"]
    assert financing["texte_taux_assiette"] == f"80{NBSP}% du montant HT (36{NNBSP}151,25{NBSP}€{NBSP}HT)"
    assert financing["texte_reste"] == f"le reste, soit 20{NBSP}% du montant HT et la TVA, 14{NNBSP}460,50{NBSP}€"
    assert financing["texte_reste_euros"] == f"le reste, soit 20{NBSP}% du montant HT et la TVA, 14{NNBSP}460{NBSP}€"
    assert financing["texte_taux_assiette_euros"] == f"80{NBSP}% du montant HT (36{NNBSP}151{NBSP}€{NBSP}HT)"
    assert financing["autres_neant"] is True and financing["autres_financeurs"] is None
    assert financing["acomptes_neant"] is True
    assert financing["part_collectivite"] == Decimal("14460.50")
    assert financing["part_collectivite_pourcentage"] == Decimal("0.3333")
    assert financing["part_collectivite_suffisante"] is True
    assert (financing["a_previsionnel"], financing["depense_previsionnelle"]) == (True, Decimal("36151.25"))


def test_ttc_base_phrases_do_not_mention_the_vat(dotation) -> None:
    financing = _common(dotation, rate_base=RateBase.TTC, state_rate=Decimal("0.5"),
                        amount_granted=Decimal("30000.00"))["financement"]
    # 50 % × 43 381,50 = 21 690,75; the rest is 21 690,75 too.
    assert financing["texte_taux_assiette"] == f"50{NBSP}% du montant TTC (43{NNBSP}381,50{NBSP}€{NBSP}TTC)"
    assert financing["texte_reste"] == f"le reste, soit 50{NBSP}% du montant TTC, 21{NNBSP}690,75{NBSP}€"


def test_other_funders_one_without_the_other_is_an_error(make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Autres financeurs", "Région Nouvelle-Aquitaine"))
    [error] = errors_of(path)
    row = None
    assert error.startswith("Opération!B")
    assert "Montant des autres financements : cellule vide alors que « Autres financeurs » est rempli" in error

    def amount_only(wb):
        set_operation(wb, "Montant des autres financements", 5000)
        nonlocal row
        row = operation_row(wb, "Autres financeurs")

    [error] = errors_of(make_workbook(amount_only))
    assert error.startswith(f"Opération!B{row} : Autres financeurs : cellule vide alors que « Montant des "
                            "autres financements » est rempli")


def test_authority_share_below_20_percent_is_a_warning(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Autres financeurs", "Région Nouvelle-Aquitaine")
        set_operation(wb, "Montant des autres financements", 6000)

    path = make_workbook(mutate)
    assert errors_of(path) == []
    [warning] = warnings_of(path)
    # By hand: 43 381,50 − 28 921,00 − 6 000,00 = 8 460,50, i.e. 19,50 % of the TTC.
    assert warning.endswith(
        f"la part de la collectivité, 8{NNBSP}460,50{NBSP}€, ne représente que 19,5{NBSP}% du coût total de "
        f"43{NNBSP}381,50{NBSP}€ TTC (État : 28{NNBSP}921,00{NBSP}€ ; autres financeurs : 6{NNBSP}000,00{NBSP}€) ; "
        "le maître d'ouvrage doit financer au moins 20 % du projet (CGCT, art. L1111-10 III)."
    )
    checked = check_workbook(path)
    financing = common_context(checked.dotation, checked.funding)["financement"]
    assert financing["autres_financements"] == Decimal("6000.00")
    assert financing["part_collectivite"] == Decimal("8460.50")
    assert financing["part_collectivite_suffisante"] is False
    assert financing["autres_neant"] is False


# --- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(("function", "civility", "expected"), [
    ("Président de Limoges Métropole", "Monsieur", "Le Président de Limoges Métropole"),
    ("Présidente de Limoges Métropole", "Madame", "La Présidente de Limoges Métropole"),
    ("Administratrice générale", "Madame", "L’Administratrice générale"),
    ("adjoint au maire", "Monsieur", "L’adjoint au maire"),
    ("Élu délégué", "Monsieur", "L’Élu délégué"),
    ("la Maire de Limoges", "Madame", "La Maire de Limoges"),
    ("l'Administrateur", None, "L’Administrateur"),
    ("Maire de Limoges", None, "Maire de Limoges"),
])
def test_signatory_function_gets_its_article(function, civility, expected) -> None:
    assert with_article(function, civility) == expected


def test_signatory_function_in_the_context(dotation) -> None:
    assert _common(dotation)["collectivite"]["signataire_fonction"] == "Le Président de Limoges Métropole"
    woman = _common(dotation, authority_representative_civility="Madame",
                    signatory_function="Présidente de Limoges Métropole")
    assert woman["collectivite"]["signataire_fonction"] == "La Présidente de Limoges Métropole"
    assert woman["signatures"]["proces_verbal"]["entete"] == "Pour la Présidente et par délégation"


def test_sample_handover_records_are_signed_by_delegation(dotation) -> None:
    signatures = signatures_context(dotation.operation)
    handover = signatures["proces_verbal"]
    assert handover["par_delegation"] is True
    assert handover["acte"] == "arrêté n° 2020-0145 du 17 juillet 2020"
    assert handover["formule"] == (
        "Pour le Président et par délégation, Ibrahima Dia, conseiller communautaire délégué à la "
        "politique de la ville et à la lutte contre les discriminations"
    )
    # The conventions stay signed by the President unless the workbook says otherwise.
    assert signatures["convention"]["nom"] == "Guillaume Guérin"
    assert signatures["convention"]["entete"] == "Le Président de Limoges Métropole"
    assert signatures["convention"]["par_delegation"] is False
    delegated = signatures_context(dataclasses.replace(dotation.operation, conventions_signed_by_delegate=True))
    assert delegated["convention"] == handover


def test_without_delegation_reference_the_delegate_signs_as_before(dotation) -> None:
    signatures = signatures_context(dataclasses.replace(dotation.operation, delegation_reference=None,
                                                        conventions_signed_by_delegate=True))
    assert signatures["proces_verbal"]["par_delegation"] is False
    assert signatures["proces_verbal"]["entete"] is None
    assert signatures["proces_verbal"]["nom"] == "Ibrahima Dia"
    assert signatures["convention"]["nom"] == "Guillaume Guérin"


def test_conventions_by_delegate_without_reference_is_an_error(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Référence de la délégation de signature", None)
        set_operation(wb, "Les conventions sont signées par l'élu délégué", "oui")

    [error] = errors_of(make_workbook(mutate))
    assert "Les conventions sont signées par l'élu délégué : « oui », mais « Référence de la délégation " \
           "de signature » est vide" in error


def test_officials_and_services_are_listed(dotation) -> None:
    common = _common(dotation)
    assert [(o["nom"], o["est_etat"]) for o in common["officiels"]] == [
        ("Olivier du Cray", True), ("Ibrahima Dia", False)]
    assert [s["identifiant"] for s in common["services"]] == ["B10"]
    assert common["collectivite"]["comptable_poste"] == "Service de gestion comptable de Limoges"
    assert common["collectivite"]["affaire_suivie_par"]["nom"].startswith("Sandrine Peyroux")
    assert common["operation"]["contexte"].startswith("La crise sanitaire")


def test_certificate_data(dotation) -> None:
    context = claim_context(dotation, batch_funding(dotation), "Certificat", {})
    claim = context["demande"]
    assert claim["date_premier_achat"] == date(2023, 1, 9)
    assert claim["date_achevement"] == date(2023, 2, 3)
    assert claim["cout_final"] == Decimal("43381.50")
    assert claim["factures_payees"] is True


# --- gifts and device condition -------------------------------------------------------------


def test_gift_category_is_required_for_a_gift(make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Type de convention", "don")
        gift_categories(wb, "association d'étudiants")
        put(wb, "Bénéficiaires", "Catégorie du bénéficiaire du don", 3, None)  # B02 has none

    errors = [e for e in errors_of(make_workbook(mutate)) if e.startswith("Bénéficiaires")]
    assert errors == [
        "Bénéficiaires!Q3 : Catégorie du bénéficiaire du don : cellule vide pour une association alors "
        "que le type de convention est « don » ; un don n'est permis qu'aux organismes que cite l'article "
        "L3212-2 3° du CG3P ; attendu : une valeur de la liste : « association de parents d'élèves », "
        "« association de soutien scolaire », « association reconnue d'utilité publique », « organisme de "
        "réemploi agréé ESUS », « association d'intérêt général (précarité) », « association d'étudiants »."
    ]


def test_gift_category_is_exposed(make_workbook) -> None:
    def mutate(wb):
        put(wb, "Bénéficiaires", "Catégorie du bénéficiaire du don", 2, "Association reconnue d'utilité publique")

    checked = check_workbook(make_workbook(mutate))
    assert checked.report.errors == []
    first = common_context(checked.dotation, checked.funding)["beneficiaires"][0]
    assert first["categorie_don"] == "association reconnue d’utilité publique"  # prose: typographic


def test_empty_condition_stays_empty(dotation) -> None:
    empty = [d for d in dotation.devices if d.condition is None]
    assert empty  # the sample leaves some conditions empty
    assert all(d.condition != "reconditionné, bon état" for d in dotation.devices)
