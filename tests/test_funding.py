"""The subsidy arithmetic: shares always add up, whatever the invoices."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dotation_docs.funding import compute_funding, financing_plan, price_ttc, to_cents, unpaid_invoices
from dotation_docs.model import Contact, ConventionKind, Dotation, Invoice, Operation, RateBase

CONTACT = Contact("Presse", "05 55 00 00 00", "presse@exemple.fr")
OPERATION = Operation(
    title="Opération", programme="Programme", authority_name="Collectivité",
    authority_siret="21870085600017", authority_address="Adresse",
    authority_representative_civility="Monsieur", authority_representative="Représentant", authority_representative_title="Président",
    delegate=None, delegate_title=None, prefecture="Préfecture", prefecture_address=None,
    claim_addressee="Monsieur le Préfet", salutation="Monsieur le Préfet", state_representative="Représentant de l'État",
    state_representative_title="Préfet", handover_date=date(2023, 2, 3), handover_time=time(10, 30),
    handover_place="Lieu", signature_town="Ville", decision_reference="Arrêté",
    decision_date=date(2022, 12, 8), deliberation_reference="Délibération",
    deliberation_date=date(2022, 11, 24), state_rate=Decimal("0.8"), rate_base=RateBase.HT,
    amount_granted=Decimal("1000000000000.00"), advances=Decimal("0.00"), claim_date=None, iban="FR7630001007941234567890185",
    bic="BDFEFRPPCCT", account_holder=None, duration_months=36,
    convention_kind=ConventionKind.LOAN, convention_prefix="", court="tribunal administratif",
    authority_press=CONTACT, prefecture_press=CONTACT,
)

cents = st.integers(min_value=1, max_value=10**9).map(lambda n: Decimal(n) / 100)
vat_rates = st.sampled_from([Decimal("0"), Decimal("0.055"), Decimal("0.1"), Decimal("0.2")])
rates = st.integers(min_value=1, max_value=100).map(lambda n: Decimal(n) / 100)


@st.composite
def invoices(draw) -> list[Invoice]:
    result = []
    for n in range(draw(st.integers(min_value=1, max_value=6))):
        ht, vat_rate = draw(cents), draw(vat_rates)
        vat = to_cents(ht * vat_rate)
        result.append(Invoice(f"F{n}", "Fournisseur", "44459500300039", date(2023, 1, 9), "Objet",
                              ht, vat, ht + vat, None, None))
    return result


def test_reference_case() -> None:
    invoice = Invoice("F1", "Fournisseur", "44459500300039", date(2023, 1, 9), "Objet",
                      Decimal("36151.25"), Decimal("7230.25"), Decimal("43381.50"), None, None)
    f = compute_funding(OPERATION, [invoice])
    assert f.state_share == Decimal("28921.00")
    assert f.authority_share == Decimal("14460.50")
    assert (f.state_share_euros, f.authority_share_euros, f.ttc_euros) == (28921, 14460, 43381)


@given(invoices(), rates, st.sampled_from(list(RateBase)))
def test_state_share_plus_authority_share_is_the_ttc(items, rate, base) -> None:
    f = compute_funding(replace(OPERATION, state_rate=rate, rate_base=base), items)
    assert f.state_share + f.authority_share == f.ttc
    assert f.state_share_euros + f.authority_share_euros == f.ttc_euros
    assert f.state_share == to_cents(f.state_share)  # always whole cents
    assert f.claimed == f.state_share


@given(invoices(), rates, cents, cents)
def test_cap_and_advances(items, rate, cap, advances) -> None:
    f = compute_funding(replace(OPERATION, state_rate=rate, amount_granted=cap, advances=advances), items)
    assert f.state_share == min(to_cents(rate * f.ht), cap)
    assert f.claimed == f.state_share - advances
    assert f.state_share + f.authority_share == f.ttc


@given(cents, vat_rates)
def test_device_ttc_is_rounded_half_up_to_the_cent(ht, rate) -> None:
    ttc = price_ttc(ht, rate)
    assert ttc == ttc.quantize(Decimal("0.01"))
    assert abs(ttc - ht * (1 + rate)) <= Decimal("0.005")


def _invoice(reference: str, ht: str, vat: str, mandate: str | None = "M1", paid: date | None = date(2023, 2, 1)) -> Invoice:
    return Invoice(reference, "Fournisseur", "44459500300039", date(2023, 1, 9), "Objet",
                   Decimal(ht), Decimal(vat), Decimal(ht) + Decimal(vat), mandate, paid)


def test_amount_due_with_a_cap_that_bites_and_advances() -> None:
    # By hand: 80 % × 36 151,25 = 28 921,00 > 25 000,00 granted, so the State pays
    # 25 000,00; minus 5 000,00 of advances, 20 000,00 are due; the authority pays
    # 43 381,50 − 25 000,00 = 18 381,50.
    operation = replace(OPERATION, amount_granted=Decimal("25000.00"), advances=Decimal("5000.00"))
    f = compute_funding(operation, [_invoice("F1", "36151.25", "7230.25")])
    assert f.computed_state_share == Decimal("28921.00")
    assert f.state_share == Decimal("25000.00")
    assert f.is_capped
    assert f.claimed == Decimal("20000.00")
    assert f.authority_share == Decimal("18381.50")


def test_amount_granted_above_the_computed_share_does_not_raise_it() -> None:
    operation = replace(OPERATION, amount_granted=Decimal("30000.00"))
    f = compute_funding(operation, [_invoice("F1", "36151.25", "7230.25")])
    assert (f.state_share, f.is_capped, f.claimed) == (Decimal("28921.00"), False, Decimal("28921.00"))


def test_unpaid_invoices_are_those_without_mandate_or_payment_date() -> None:
    items = (
        _invoice("PAID", "100.00", "20.00"),
        _invoice("NO-MANDATE", "100.00", "20.00", mandate=None),
        _invoice("NO-DATE", "100.00", "20.00", paid=None),
        _invoice("NEITHER", "100.00", "20.00", mandate=None, paid=None),
    )
    dotation = Dotation(operation=OPERATION, beneficiaries=(), devices=(), invoices=items)
    assert [i.reference for i in unpaid_invoices(dotation)] == ["NO-MANDATE", "NO-DATE", "NEITHER"]


def test_financing_plan_with_other_funders() -> None:
    # By hand: TTC 12 000,00; State 80 % × 10 000,00 = 8 000,00; region 2 000,00;
    # authority 12 000,00 − 8 000,00 − 2 000,00 = 2 000,00, i.e. 16,67 % of the cost.
    operation = replace(OPERATION, other_funders="Région", other_funding=Decimal("2000.00"))
    dotation = Dotation(operation=operation, beneficiaries=(), devices=(),
                        invoices=(_invoice("F1", "10000.00", "2000.00"),))
    plan = financing_plan(dotation)
    assert (plan.total_cost, plan.state_share, plan.other_funding, plan.authority_share) == (
        Decimal("12000.00"), Decimal("8000.00"), Decimal("2000.00"), Decimal("2000.00"))
    assert plan.state_share_of_cost == Decimal("0.6667")
    assert plan.other_funding_of_cost == Decimal("0.1667")
    assert plan.authority_share_of_cost == Decimal("0.1666")
    f = compute_funding(operation, dotation.invoices)
    assert f.authority_share == Decimal("2000.00")
    assert f.state_share_euros + f.authority_share_euros + 2000 == f.ttc_euros
