"""Funding arithmetic: totals, the State's and the authority's shares, the amount claimed;
and what the claim may certify on its date (paid invoices, signed records).

Rounding rules, stated once:

* every amount is a ``Decimal`` rounded to the cent **half up** (``ROUND_HALF_UP``);
* the State's share is ``rate × base`` (base HT or TTC as the operation says), rounded
  half up to the cent, then capped by the amount granted;
* the authority pays the rest of the TTC: ``TTC − State share − other funding`` (so the
  shares always add up to the TTC, to the cent);
* the State's share is ``min(rate × actual base, amount granted)``: the amount granted by
  the decision (``Montant de la subvention attribuée``) caps it;
* the amount claimed (amount due) is ``State share − advances``;
* with other funders, the authority's own share is ``TTC − State − others`` and must be at
  least 20 % of the TTC (CGCT L1111-10 III; checked by the validation);
* in whole euros (press release), the State's share and the TTC are each **truncated** to
  the euro and the authority's share is their difference, so the printed parts always add
  up to the printed total (28 921 € + 14 460 € = 43 381 €).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from dotation_docs.model import Beneficiary, Category, Device, Dotation, Invoice, Operation, RateBase

CENT = Decimal("0.01")
EURO = Decimal("1")
AUTHORITY_MIN_SHARE = Decimal("0.20")  # CGCT L1111-10 III: the authority funds at least 20 %


def to_cents(value: Decimal) -> Decimal:
    """Return ``value`` rounded half up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_whole_euros(value: Decimal) -> Decimal:
    """Return ``value`` truncated to the whole euro (towards zero)."""
    return value.quantize(EURO, rounding=ROUND_DOWN)


def price_ttc(unit_price_ht: Decimal, vat_rate: Decimal) -> Decimal:
    """Return the TTC price of one device: HT × (1 + VAT rate), to the cent half up."""
    return to_cents(unit_price_ht * (1 + vat_rate))


@dataclass(frozen=True, slots=True)
class CategoryCount:
    """How many devices of one category."""

    category: Category
    count: int


@dataclass(frozen=True, slots=True)
class DeviceTotals:
    """Totals over a set of devices (one beneficiary or the whole batch)."""

    count: int
    by_category: tuple[CategoryCount, ...]
    ht: Decimal
    ttc: Decimal

    @property
    def vat(self) -> Decimal:
        """VAT of these devices: TTC − HT."""
        return self.ttc - self.ht


def device_totals(devices: Iterable[Device]) -> DeviceTotals:
    """Return counts per category (every category, in list order, zeros included) and
    the HT and TTC sums of ``devices``."""
    devices = tuple(devices)
    counts = Counter(d.category for d in devices)
    return DeviceTotals(
        count=len(devices),
        by_category=tuple(CategoryCount(c, counts.get(c, 0)) for c in Category),
        ht=sum((d.unit_price_ht for d in devices), Decimal("0.00")),
        ttc=sum((d.unit_price_ttc for d in devices), Decimal("0.00")),
    )


@dataclass(frozen=True, slots=True)
class Funding:
    """The operation's financing, computed from the invoices."""

    ht: Decimal
    vat: Decimal
    ttc: Decimal
    rate: Decimal
    rate_base: RateBase
    eligible: Decimal
    computed_state_share: Decimal
    cap: Decimal
    state_share: Decimal
    authority_share: Decimal
    advances: Decimal
    claimed: Decimal
    state_share_euros: Decimal
    authority_share_euros: Decimal
    ttc_euros: Decimal

    @property
    def is_capped(self) -> bool:
        """True when the cap lowered the State's share."""
        return self.state_share < self.computed_state_share

    @property
    def state_share_of_ttc(self) -> Decimal:
        """The State's share as a fraction of the TTC, to a hundredth of a percent half
        up (for the financing plan; the authority's is its complement to 100 %)."""
        if not self.ttc:
            return Decimal(0)
        return (self.state_share / self.ttc).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def invoice_eligible(invoice: Invoice, base: RateBase) -> Decimal:
    """Return the eligible amount of ``invoice``: its HT or its TTC, per the base."""
    return invoice.amount_ht if base is RateBase.HT else invoice.amount_ttc


def compute_funding(operation: Operation, invoices: Iterable[Invoice]) -> Funding:
    """Return the financing of ``operation`` from ``invoices`` (see the module's rounding
    rules). The amount claimed may be negative when advances exceed the share; the
    validation reports that as an error."""
    invoices = tuple(invoices)
    ht = sum((i.amount_ht for i in invoices), Decimal("0.00"))
    vat = sum((i.vat for i in invoices), Decimal("0.00"))
    ttc = sum((i.amount_ttc for i in invoices), Decimal("0.00"))
    eligible = sum((invoice_eligible(i, operation.rate_base) for i in invoices), Decimal("0.00"))
    computed = to_cents(operation.state_rate * eligible)
    state = min(computed, operation.amount_granted)
    state_euros = to_whole_euros(state)
    ttc_euros = to_whole_euros(ttc)
    others = operation.other_funding or Decimal("0.00")
    return Funding(
        ht=ht,
        vat=vat,
        ttc=ttc,
        rate=operation.state_rate,
        rate_base=operation.rate_base,
        eligible=eligible,
        computed_state_share=computed,
        cap=operation.amount_granted,
        state_share=state,
        authority_share=ttc - state - others,
        advances=operation.advances,
        claimed=state - operation.advances,
        state_share_euros=state_euros,
        authority_share_euros=ttc_euros - state_euros - to_whole_euros(others),
        ttc_euros=ttc_euros,
    )


def batch_funding(dotation: Dotation) -> Funding:
    """Return the financing of the whole workbook, computed once per model: the
    validation, the pipeline and the documents all get this same object."""
    return dotation.derived("funding", lambda d: compute_funding(d.operation, d.invoices))


def batch_totals(dotation: Dotation) -> DeviceTotals:
    """Return the totals of every device of the workbook, computed once per model."""
    return dotation.derived("device_totals", lambda d: device_totals(d.devices))


def beneficiary_totals(dotation: Dotation, beneficiary: Beneficiary) -> DeviceTotals:
    """Return the totals of the devices handed to ``beneficiary``, computed once per
    model and beneficiary."""
    return dotation.derived(("device_totals", beneficiary.identifier),
                            lambda d: device_totals(d.devices_of(beneficiary)))


# --- what the claim may certify on its date -------------------------------------------------
#
# Never certify what the data does not show. The claim file certifies, on « Date de la
# demande de versement », that the operation is complete and every invoice paid, and the
# certificate of completion points to the signed handover records. When that date is
# empty the claim is dated by hand when sent: only what is missing counts then.


def paid_on_claim_date(invoice: Invoice, claim_date: date | None) -> bool:
    """True when ``invoice`` has its mandate number and payment date, and was paid on
    or before ``claim_date`` (when there is one)."""
    if not invoice.is_paid:
        return False
    assert invoice.payment_date is not None
    return claim_date is None or invoice.payment_date <= claim_date


def signed_on_claim_date(signed_on: date | None, claim_date: date | None) -> bool:
    """True when a document signed on ``signed_on`` (None: not signed) is signed on
    ``claim_date`` (when there is one)."""
    return signed_on is not None and (claim_date is None or signed_on <= claim_date)


def unpaid_invoices(dotation: Dotation) -> tuple[Invoice, ...]:
    """Return the invoices not paid on the claim's date, in workbook order: without
    mandate number or payment date, or paid after « Date de la demande de versement »
    when it is filled. A claim for the balance may rest on paid invoices only, so the
    claim file is not produced while this is not empty."""
    claim_date = dotation.operation.claim_date
    return tuple(i for i in dotation.invoices if not paid_on_claim_date(i, claim_date))


@dataclass(frozen=True, slots=True)
class ClaimHold:
    """Why the claim file cannot be produced (false when it can): the invoices not paid
    on the claim's date (:func:`unpaid_invoices`), and whether the claim is dated before
    the handover (``early``: it would say the operation is complete before it is)."""

    unpaid: tuple[Invoice, ...]
    claim_date: date | None
    handover_date: date

    @property
    def early(self) -> bool:
        """True when the claim is dated before the handover."""
        return self.claim_date is not None and self.claim_date < self.handover_date

    @property
    def paid_late(self) -> tuple[Invoice, ...]:
        """The unpaid invoices that are paid, but after the claim's date."""
        return tuple(i for i in self.unpaid if i.is_paid)

    @property
    def earliest_claim_date(self) -> date:
        """The first day the claim may bear: the handover, or the last payment made after
        the claim's date when later."""
        return max([self.handover_date] + [i.payment_date for i in self.paid_late if i.payment_date is not None])

    def __bool__(self) -> bool:
        return bool(self.unpaid) or self.early


def claim_hold(dotation: Dotation) -> ClaimHold:
    """Return why the claim file of ``dotation`` cannot be produced (a false value when
    it can). The full batch leaves the claim file out and ``dotation demande`` refuses
    while it is true."""
    op = dotation.operation
    return ClaimHold(unpaid_invoices(dotation), op.claim_date, op.handover_date)


@dataclass(frozen=True, slots=True)
class FinancingPlan:
    """The final financing of the operation, as the financing plan and the certificate of
    completion print it: the total cost (TTC) shared between the State, the other funders
    and the authority, with each share as a fraction of the total cost."""

    total_cost: Decimal
    state_share: Decimal
    other_funders: str | None
    other_funding: Decimal
    authority_share: Decimal
    forecast_eligible_expense: Decimal | None
    amount_granted: Decimal

    def share_of_cost(self, amount: Decimal) -> Decimal:
        """Return ``amount`` as a fraction of the total cost, to a hundredth of a percent
        half up (0 when the cost is 0)."""
        if not self.total_cost:
            return Decimal(0)
        return (amount / self.total_cost).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)

    @property
    def state_share_of_cost(self) -> Decimal:
        """The State's share of the total cost."""
        return self.share_of_cost(self.state_share)

    @property
    def other_funding_of_cost(self) -> Decimal:
        """The other funders' share of the total cost."""
        return self.share_of_cost(self.other_funding)

    @property
    def authority_share_of_cost(self) -> Decimal:
        """The authority's share of the total cost: the complement of the two others to
        100 %, so that the printed percentages add up."""
        if not self.total_cost:
            return Decimal(0)
        return 1 - self.state_share_of_cost - self.other_funding_of_cost


def financing_plan(dotation: Dotation, funding: Funding | None = None) -> FinancingPlan:
    """Return the final financing plan of ``dotation``, computed once per model (from
    ``funding`` instead when it is not the model's own :func:`batch_funding`).
    The authority's share may be negative when the funders pay more than the cost; the
    validation reports that as an error."""
    own = batch_funding(dotation)
    if funding is None or funding is own:
        return dotation.derived("financing_plan", lambda d: _financing_plan(d, own))
    return _financing_plan(dotation, funding)


def _financing_plan(dotation: Dotation, funding: Funding) -> FinancingPlan:
    op = dotation.operation
    others = op.other_funding or Decimal("0.00")
    return FinancingPlan(
        total_cost=funding.ttc,
        state_share=funding.state_share,
        other_funders=op.other_funders,
        other_funding=others,
        authority_share=funding.authority_share,
        forecast_eligible_expense=op.forecast_eligible_expense,
        amount_granted=op.amount_granted,
    )
