"""The subsidy arithmetic: shares always add up, whatever the invoices."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dotation_docs.funding import compute_funding, price_ttc, to_cents
from dotation_docs.model import Contact, ConventionKind, Invoice, Operation, RateBase

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
    cap=None, advances=Decimal("0.00"), claim_date=None, iban="FR7630001007941234567890185",
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
    f = compute_funding(replace(OPERATION, state_rate=rate, cap=cap, advances=advances), items)
    assert f.state_share == min(to_cents(rate * f.ht), cap)
    assert f.claimed == f.state_share - advances
    assert f.state_share + f.authority_share == f.ttc


@given(cents, vat_rates)
def test_device_ttc_is_rounded_half_up_to_the_cent(ht, rate) -> None:
    ttc = price_ttc(ht, rate)
    assert ttc == ttc.quantize(Decimal("0.01"))
    assert abs(ttc - ht * (1 + rate)) <= Decimal("0.005")
