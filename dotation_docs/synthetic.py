"""Synthetic model: a small operation built in code, for checking templates before any
workbook is read (templates do not depend on the data).

One association and one service of the authority, one device per category, one invoice.
:func:`synthetic_dotation` fills every optional field (``filled=True``) or leaves them
all empty, so that a dry render walks both sides of the templates' conditions. Fields are
filled from their types, so a field added to the model needs nothing here unless its
value must mean something (then add it to ``_OVERRIDES``).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from datetime import date, time
from decimal import Decimal
from typing import Any

from dotation_docs import model
from dotation_docs.model import (
    Beneficiary,
    BeneficiaryKind,
    Category,
    Contact,
    ConventionKind,
    Device,
    Dotation,
    Invoice,
    Operation,
    RateBase,
)

ASSOCIATION, SERVICE, INVOICE = "A1", "S1", "F-0001"
UNIT_HT, VAT_RATE = Decimal("250.00"), Decimal("0.20")

# Values that must mean something; any other field gets a value of its type.
_OVERRIDES: dict[type, dict[str, Any]] = {
    Operation: {
        "title": "Opération de démonstration", "authority_name": "Collectivité de démonstration",
        "authority_siret": "21870085600017", "state_rate": Decimal("0.8"), "rate_base": RateBase.HT,
        "amount_granted": Decimal("5000.00"), "advances": Decimal("100.00"),
        "iban": "FR7630006000011234567890189", "bic": "BDFEFRPPCCT", "duration_months": 36,
        "convention_kind": ConventionKind.LOAN, "convention_prefix": "DEMO-", "handover_date": date(2023, 2, 3),
        "handover_time": time(10, 30), "decision_date": date(2022, 12, 8), "deliberation_date": date(2022, 11, 24),
        "claim_date": date(2023, 3, 1), "forecast_eligible_expense": Decimal("1250.00"),
        "other_funding": Decimal("100.00"), "authority_representative_civility": "Madame",
    },
    Beneficiary: {"postcode": "87000", "siret": "21870085600017", "rna": "W872000000", "territory_code": "QN08701M",
                  "representative_civility": "Madame", "email": "contact@example.org", "phone": "05 55 00 00 00"},
    Device: {"imei": "490154203237518", "unit_price_ht": UNIT_HT, "vat_rate": VAT_RATE,
             "unit_price_ttc": UNIT_HT * (1 + VAT_RATE), "invoice": INVOICE},
    Invoice: {"reference": INVOICE, "supplier_siret": "21870085600017", "date": date(2023, 1, 10),
              "payment_date": date(2023, 1, 31), "mandate_number": "M-0001"},
    Contact: {"phone": "05 55 00 00 00", "email": "presse@example.org"},
}


def _optional(hint: Any) -> bool:
    return isinstance(hint, types.UnionType | typing._UnionGenericAlias) and type(None) in typing.get_args(hint)  # type: ignore[attr-defined]


def _base(hint: Any) -> Any:
    if _optional(hint):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _typed(name: str, hint: Any, filled: bool) -> Any:
    """Return a value of type ``hint`` for the field ``name``."""
    kind = _base(hint)
    if kind is bool:
        return filled
    if kind is str:
        return f"Exemple {name.replace('_', ' ')}"
    if kind is Decimal:
        return Decimal("100.00")
    if kind is int:
        return 1
    if kind is date:
        return date(2023, 2, 3)
    if kind is time:
        return time(10, 30)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(iter(kind))
    if dataclasses.is_dataclass(kind):
        return build(kind, filled)  # type: ignore[arg-type]
    raise TypeError(f"no synthetic value for {name}: {hint!r}")


def build(cls: type, filled: bool, **values: Any) -> Any:
    """Return an instance of the model class ``cls``: ``values`` first, then the
    overrides, then a value of each field's type; optional fields are None unless
    ``filled``."""
    hints = typing.get_type_hints(cls, vars(model), {})  # not the class dict: a field may be named « date »
    overrides = _OVERRIDES.get(cls, {})
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name in values:
            kwargs[f.name] = values[f.name]
        elif _optional(hints[f.name]) and not filled:
            kwargs[f.name] = None
        elif f.name in overrides:
            kwargs[f.name] = overrides[f.name]
        else:
            kwargs[f.name] = _typed(f.name, hints[f.name], filled)
    return cls(**kwargs)


@functools.cache
def synthetic_dotation(filled: bool = True, kind: ConventionKind = ConventionKind.LOAN) -> Dotation:
    """Return the synthetic operation (see the module's docstring)."""
    operation = build(Operation, filled, convention_kind=kind)
    association = build(Beneficiary, filled, identifier=ASSOCIATION, name="Association de démonstration",
                        kind=BeneficiaryKind.ASSOCIATION)
    service = build(Beneficiary, filled, identifier=SERVICE, name="Service de démonstration",
                    kind=BeneficiaryKind.AUTHORITY_SERVICE, siret=None, rna=None, gift_category=None)
    devices = tuple(
        build(Device, filled, inventory_number=f"INV-{n}", serial_number=f"SN-{n}", category=category,
              beneficiary=ASSOCIATION if n % 2 else SERVICE)
        for n, category in enumerate(Category, start=1)
    )
    ht = sum((d.unit_price_ht for d in devices), Decimal("0"))
    ttc = sum((d.unit_price_ttc for d in devices), Decimal("0"))
    invoice = build(Invoice, filled, amount_ht=ht, vat=ttc - ht, amount_ttc=ttc)
    return Dotation(operation, (association, service), devices, (invoice,))
