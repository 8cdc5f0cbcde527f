"""Domain model: the validated operation, frozen and typed; it knows no file format.

Money is ``Decimal`` rounded to the cent, dates are ``date``, strings are cleaned.
Derived figures (totals, shares) are computed by :mod:`dotation_docs.funding`, once per
model (:meth:`Dotation.derived` keeps them).
"""

from __future__ import annotations

import collections
import enum
import itertools
import operator
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")


class Category(enum.Enum):
    """Closed list of device categories, in the order documents list them."""

    LAPTOP = "ordinateur_portable"
    DESKTOP = "ordinateur_fixe"
    TABLET = "tablette"
    SMARTPHONE = "smartphone"

    @property
    def singular(self) -> str:
        """French singular label, e.g. ``ordinateur portable``."""
        return _LABELS[self.value][0]

    @property
    def plural(self) -> str:
        """French plural label, e.g. ``ordinateurs portables``."""
        return _LABELS[self.value][1]

    @classmethod
    def from_label(cls, label: str) -> Category:
        """Return the category whose singular label is ``label``; raises KeyError."""
        for category in cls:
            if category.singular == label:
                return category
        raise KeyError(label)


# French labels: singular, plural.
_LABELS = {
    "ordinateur_portable": ("ordinateur portable", "ordinateurs portables"),
    "ordinateur_fixe": ("ordinateur fixe", "ordinateurs fixes"),
    "tablette": ("tablette", "tablettes"),
    "smartphone": ("smartphone", "smartphones"),
}


class BeneficiaryKind(enum.Enum):
    """An association signs a convention; the authority's own service only gets a
    handover record (internal assignment)."""

    ASSOCIATION = "association"
    AUTHORITY_SERVICE = "service de la collectivité"


class ConventionKind(enum.Enum):
    """Loan (the authority keeps ownership) or gift (unit value ≤ 300 €)."""

    LOAN = "mise à disposition"
    GIFT = "don"


class TerritoryKind(enum.Enum):
    """The kind of territory a beneficiary serves: the programme equips digital mediation
    in the priority neighbourhoods of urban policy and in rural areas (ZRR, replaced from
    1 July 2024 by France Ruralités Revitalisation, loi n° 2023-1322, art. 73)."""

    QPV = "QPV"
    ZRR = "ZRR"
    FRR = "FRR"

    @property
    def label(self) -> str:
        """French label with its acronym, e.g. « zone de revitalisation rurale (ZRR) »."""
        return _TERRITORY_LABELS[self.value]

    @property
    def is_rural(self) -> bool:
        """True for the rural kinds (ZRR, FRR), whose territory is a commune."""
        return self is not TerritoryKind.QPV


_TERRITORY_LABELS = {
    "QPV": "quartier prioritaire de la politique de la ville (QPV)",
    "ZRR": "zone de revitalisation rurale (ZRR)",
    "FRR": "France Ruralités Revitalisation (FRR)",
}


class RateBase(enum.Enum):
    """Amount the State's rate applies to."""

    HT = "HT"
    TTC = "TTC"


_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _values(self: Any) -> tuple[Any, ...]:
    """The state of a frozen dataclass with slots, for pickling: its field values in
    order (the dataclass default looks the fields up for each object, and a national
    workbook's model goes from the read-ahead process to the command, see
    :mod:`dotation_docs.workers`)."""
    getter = _GETTERS.get(type(self))
    if getter is None:
        getter = _GETTERS[type(self)] = operator.attrgetter(*self.__slots__)
    return getter(self)  # type: ignore[no-any-return]


def _restore(self: Any, state: tuple[Any, ...]) -> None:
    for name, value in zip(self.__slots__, state, strict=True):
        object.__setattr__(self, name, value)


@dataclass(frozen=True, slots=True)
class Contact:
    """A press contact."""

    __getstate__ = _values
    __setstate__ = _restore

    name: str
    phone: str
    email: str


@dataclass(frozen=True, slots=True)
class Operation:
    """The handover operation: parties, ceremony, funding decision, payment details."""

    __getstate__ = _values
    __setstate__ = _restore

    title: str
    programme: str
    authority_name: str
    authority_siret: str
    authority_address: str
    authority_representative_civility: str | None
    authority_representative: str
    authority_representative_title: str
    delegate: str | None
    delegate_title: str | None
    prefecture: str
    prefecture_address: str | None
    claim_addressee: str
    salutation: str
    state_representative: str
    state_representative_title: str
    handover_date: date
    handover_time: time
    handover_place: str
    signature_town: str
    decision_reference: str
    decision_date: date
    deliberation_reference: str
    deliberation_date: date
    state_rate: Decimal
    rate_base: RateBase
    amount_granted: Decimal
    advances: Decimal
    claim_date: date | None
    iban: str
    bic: str
    account_holder: str | None
    duration_months: int
    convention_kind: ConventionKind
    convention_prefix: str
    court: str
    authority_press: Contact
    prefecture_press: Contact
    # Fields added for issue #7; all optional in the workbook.
    delegation_reference: str | None = None
    conventions_signed_by_delegate: bool = False
    signatory_function: str | None = None
    forecast_eligible_expense: Decimal | None = None
    other_funders: str | None = None
    other_funding: Decimal | None = None
    accounting_office: str | None = None
    accountant_title: str | None = None
    case_officer: str | None = None
    case_officer_phone: str | None = None
    case_officer_email: str | None = None
    context: str | None = None
    objectives: str | None = None
    reform_decision: str | None = None

    @property
    def cap(self) -> Decimal:
        """The amount granted by the decision, which caps the State's share (old name)."""
        return self.amount_granted


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """A beneficiary: an association, or a service of the authority itself."""

    __getstate__ = _values
    __setstate__ = _restore

    identifier: str
    name: str
    kind: BeneficiaryKind
    siret: str | None
    rna: str | None
    address: str
    postcode: str
    town: str
    representative_civility: str
    representative_name: str
    representative_title: str
    email: str | None
    phone: str | None
    territory_name: str
    territory_code: str
    place_of_use: str
    gift_category: str | None = None
    territory_kind: TerritoryKind = TerritoryKind.QPV
    # When the convention and the handover record were signed (batch status); printed
    # only by the claim's certificate of completion (a record not signed yet is marked so).
    convention_signed_on: date | None = None
    handover_signed_on: date | None = None

    @property
    def signs_convention(self) -> bool:
        """True for an association; the authority's own service signs none."""
        return self.kind is BeneficiaryKind.ASSOCIATION


@dataclass(frozen=True, slots=True)
class Device:
    """One device handed over. ``unit_price_ttc`` is HT × (1 + VAT rate), rounded
    half up to the cent."""

    __getstate__ = _values
    __setstate__ = _restore

    inventory_number: str
    category: Category
    brand: str
    model: str
    serial_number: str
    imei: str | None
    accessories: str | None
    condition: str | None
    unit_price_ht: Decimal
    vat_rate: Decimal
    unit_price_ttc: Decimal
    invoice: str
    beneficiary: str


@dataclass(frozen=True, slots=True)
class Invoice:
    """A purchase invoice."""

    __getstate__ = _values
    __setstate__ = _restore

    reference: str
    supplier: str
    supplier_siret: str
    date: date
    description: str
    amount_ht: Decimal
    vat: Decimal
    amount_ttc: Decimal
    mandate_number: str | None
    payment_date: date | None

    @property
    def is_paid(self) -> bool:
        """True when the invoice has both a mandate number and a payment date."""
        return bool(self.mandate_number) and self.payment_date is not None


@dataclass(frozen=True, slots=True)
class Dotation:
    """The whole validated workbook: one operation, its beneficiaries, devices and
    invoices, in workbook order."""

    operation: Operation
    beneficiaries: tuple[Beneficiary, ...]
    devices: tuple[Device, ...]
    invoices: tuple[Invoice, ...]
    _by_beneficiary: dict[str, tuple[Device, ...]] = field(init=False, repr=False, compare=False)
    _derived: dict[Hashable, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Index once: documents ask for each beneficiary's devices many times.
        index: dict[str, list[Device]] = {}
        for d in self.devices:
            index.setdefault(d.beneficiary, []).append(d)
        object.__setattr__(self, "_by_beneficiary", {k: tuple(v) for k, v in index.items()})
        object.__setattr__(self, "_derived", {})

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the devices column by column (a national workbook has 12,000 of them,
        sent from the read-ahead process to the command, see :mod:`dotation_docs.workers`):
        each attribute's values in one tuple, restored in C by :func:`_rebuild_dotation`;
        the index is built again, the figures already derived are kept."""
        columns = tuple(tuple(map(getter, self.devices)) for getter in _DEVICE_GETTERS)
        return _rebuild_dotation, (self.operation, self.beneficiaries, columns, self.invoices, self._derived)

    def derived(self, key: Hashable, compute: Callable[[Dotation], T]) -> T:
        """Return ``compute(self)``, computed on the first call for ``key`` and kept: the
        model is frozen, so a figure derived from it (the funding, the totals) never
        changes and is computed once per run (:mod:`dotation_docs.funding` names the keys).
        A copy made with :func:`dataclasses.replace` starts with nothing computed."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = compute(self)
            return value

    def devices_of(self, beneficiary: Beneficiary) -> tuple[Device, ...]:
        """Return the devices handed to ``beneficiary``, in workbook order."""
        return self._by_beneficiary.get(beneficiary.identifier, ())

    @property
    def associations(self) -> tuple[Beneficiary, ...]:
        """Beneficiaries that sign a convention."""
        return tuple(b for b in self.beneficiaries if b.signs_convention)

    @property
    def authority_services(self) -> tuple[Beneficiary, ...]:
        """Beneficiaries that are services of the authority itself."""
        return tuple(b for b in self.beneficiaries if not b.signs_convention)


_DEVICE_GETTERS = tuple(operator.attrgetter(name) for name in Device.__slots__)
_SETTERS: dict[type, tuple[Callable[[Any, Any], None], ...]] = {}


def from_columns(cls: type[T], columns: Sequence[Sequence[Any]]) -> tuple[T, ...]:
    """``cls`` objects (a frozen dataclass with slots whose ``__init__`` only sets its
    fields), one per row of ``columns`` (the values of each slot, in slot order): their
    slots set in C, without the frozen dataclass's ``__setattr__``, as its ``__init__``
    sets them. The quick way to make thousands of them (a national workbook's devices)."""
    setters = _SETTERS.get(cls)
    if setters is None:
        setters = _SETTERS[cls] = tuple(getattr(cls, name).__set__ for name in cls.__slots__)
    built = tuple(map(object.__new__, itertools.repeat(cls, len(columns[0]) if columns else 0)))
    for setter, column in zip(setters, columns, strict=True):
        collections.deque(map(setter, built, column), maxlen=0)
    return built  # type: ignore[return-value]


def _rebuild_dotation(operation: Operation, beneficiaries: tuple[Beneficiary, ...],
                      columns: tuple[tuple[Any, ...], ...], invoices: tuple[Invoice, ...],
                      derived: dict[Hashable, Any]) -> Dotation:
    """The unpickled :class:`Dotation` (see ``Dotation.__reduce__``)."""
    dotation = Dotation(operation, beneficiaries, from_columns(Device, columns), invoices)
    object.__setattr__(dotation, "_derived", derived)
    return dotation
