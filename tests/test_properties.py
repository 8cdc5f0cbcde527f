"""Rules that hold for every input: no device is lost, identifiers are checked right."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import pytest
from conftest import SAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.fr import siret

from dotation_docs.documents import DocumentType, plan_batch
from dotation_docs.funding import batch_funding
from dotation_docs.parsing import (
    InvalidValueError,
    parse_identifier,
    parse_imei,
    parse_rna,
    parse_siret,
)
from dotation_docs.pipeline import check_workbook
from dotation_docs.writers import is_safe_relative

SAMPLE_MODEL = check_workbook(SAMPLE).dotation
IDS = [b.identifier for b in SAMPLE_MODEL.beneficiaries]
ASSOCIATIONS = {b.identifier for b in SAMPLE_MODEL.associations}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(IDS), min_size=len(SAMPLE_MODEL.devices), max_size=len(SAMPLE_MODEL.devices)))
def test_every_device_is_in_exactly_one_record_and_one_convention_for_any_spread(owners) -> None:
    devices = tuple(dataclasses.replace(d, beneficiary=o) for d, o in zip(SAMPLE_MODEL.devices, owners, strict=True))
    dotation = dataclasses.replace(SAMPLE_MODEL, devices=devices)
    docs = plan_batch(dotation, batch_funding(dotation))
    in_records = Counter(m["numero_serie"] for d in docs if d.type is DocumentType.HANDOVER for m in d.context["materiels"])
    in_conventions = Counter(m["numero_serie"] for d in docs if d.type is DocumentType.CONVENTION for m in d.context["materiels"])
    for device in devices:
        assert in_records[device.serial_number] == 1
        assert in_conventions[device.serial_number] == (1 if device.beneficiary in ASSOCIATIONS else 0)
    # Beneficiaries without devices get no document; the others get theirs.
    owners_with_devices = set(owners)
    assert {d.beneficiary for d in docs if d.type is DocumentType.HANDOVER} == owners_with_devices
    # The press release counts what the records count.
    [press] = [d for d in docs if d.type is DocumentType.PRESS]
    assert press.context["totaux"]["nombre"] == sum(in_records.values()) == len(devices)
    assert sum(c["nombre"] for c in press.context["totaux"]["categories"]) == len(devices)


digits = st.text(alphabet="0123456789", min_size=1, max_size=20)


@given(digits)
def test_siret_is_accepted_exactly_when_it_is_14_valid_digits(text: str) -> None:
    expected = len(text) == 14 and siret.is_valid(text)
    try:
        assert parse_siret(text) == text and expected
    except InvalidValueError:
        assert not expected


@given(st.text(alphabet="0123456789", min_size=14, max_size=14), st.integers(min_value=0, max_value=14))
def test_imei_check_digit_catches_any_single_typo(body: str, position: int) -> None:
    imei = body + luhn.calc_check_digit(body)
    assert parse_imei(imei) == imei
    typo = imei[:position] + str((int(imei[position]) + 1) % 10) + imei[position + 1:]
    with pytest.raises(InvalidValueError):
        parse_imei(typo)


@given(st.text(min_size=1, max_size=30))
def test_identifier_is_always_a_safe_file_name_part(text: str) -> None:
    try:
        identifier = parse_identifier(text)
    except InvalidValueError:
        return
    assert is_safe_relative(f"conventions/{identifier}-convention.docx")
    # No "-": the identifier prefix of a file name ends at the first "-", so two
    # beneficiaries can never share a file name.
    assert re.fullmatch(r"[A-Za-z0-9_]{1,20}", identifier)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.text(max_size=14))
def test_rna_is_w_and_nine_digits(nine: str, other: str) -> None:
    assert parse_rna(f"W{nine}") == f"W{nine}"
    assert parse_rna(f"w {nine[:3]} {nine[3:]}") == f"W{nine}"  # typed loosely
    try:
        accepted = parse_rna(other)
    except InvalidValueError:
        return
    assert len(accepted) == 10 and accepted[0] == "W" and accepted[1:].isascii() and accepted[1:].isdigit()
