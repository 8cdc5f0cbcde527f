"""The model sent from the read-ahead process to the command: pickled column by column
(``Dotation.__reduce__``), it must come back identical, index and derived figures included."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from dotation_docs.funding import batch_funding, beneficiary_totals, batch_totals
from dotation_docs.model import Device, Dotation
from dotation_docs.pipeline import Checked, check_workbook


def _round_trip(value):
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def test_dotation_comes_back_identical(sample: Path) -> None:
    checked = check_workbook(sample)
    dotation = checked.dotation
    assert dotation is not None and len(dotation.devices) == 121
    beneficiary = dotation.beneficiaries[0]
    beneficiary_totals(dotation, beneficiary)  # a derived figure, kept by the copy
    copy = _round_trip(checked)
    assert isinstance(copy, Checked)
    back = copy.dotation
    assert back == dotation and back is not dotation
    assert [dataclasses.astuple(d) for d in back.devices] == [dataclasses.astuple(d) for d in dotation.devices]
    assert all(type(d) is Device for d in back.devices)
    assert back._by_beneficiary == dotation._by_beneficiary
    assert back.devices_of(back.beneficiaries[0]) == dotation.devices_of(beneficiary)
    # Each device of the index is the device of the tuple, as built by __post_init__.
    assert back.devices_of(back.beneficiaries[0])[0] is next(
        d for d in back.devices if d.beneficiary == beneficiary.identifier)
    assert back._derived.keys() == dotation._derived.keys()
    assert back._derived == dotation._derived
    assert copy.funding == checked.funding and copy.funding is back._derived["funding"]
    assert copy.report == checked.report
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.devices[0].brand = "x"  # type: ignore[misc]
    assert batch_funding(back) == batch_funding(dotation)
    assert batch_totals(back) == batch_totals(dotation)


def test_dotation_without_devices_round_trips(sample: Path) -> None:
    dotation = check_workbook(sample).dotation
    assert dotation is not None
    empty = Dotation(dotation.operation, dotation.beneficiaries, (), dotation.invoices)
    back = _round_trip(empty)
    assert back == empty and back.devices == () and back._by_beneficiary == {}


def test_shared_values_stay_shared(sample: Path) -> None:
    """A value repeated on many devices (a price, a category) is one object in the copy too."""
    dotation = check_workbook(sample).dotation
    assert dotation is not None
    back = _round_trip(dotation)
    same = [(a, b) for a, b in zip(dotation.devices, dotation.devices[1:], strict=False)
            if a.unit_price_ht is b.unit_price_ht]
    assert same, "the sample repeats a price object"
    index = dotation.devices.index(same[0][0])
    assert back.devices[index].unit_price_ht is back.devices[index + 1].unit_price_ht
