"""Counts of a national batch are printed grouped by thousands (« 12 100 », « (1 000) »)
wherever the paperwork prints a count, as the amounts are: the certificate's total and
per-record counts, the letter's enclosed invoices and handover records, and a handover
record's device count (page reader, session 19: « 12100 » beside « 12 100 équipements »)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from conftest import SAMPLE, docx_text
from dotation_docs.documents import plan_batch
from dotation_docs.funding import batch_funding
from dotation_docs.reading import check_workbook
from dotation_docs.rendering import build_environment, load_template, render
from dotation_docs.summary import describe_totals

NNBSP = "\u202f"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ENV = build_environment()


@pytest.fixture(scope="module")
def planned() -> dict[str, object]:
    checked = check_workbook(SAMPLE)
    assert checked.dotation is not None and checked.funding is not None
    docs = plan_batch(checked.dotation, checked.funding)
    return {d.template: d for d in docs if d.template}


def rendered(doc, inflate) -> str:
    context = copy.deepcopy(doc.context)
    inflate(context)
    data = render(load_template(TEMPLATES / doc.template), context, title=doc.title,
                  timestamp=datetime(2023, 2, 3), env=ENV)
    return docx_text(data)


def test_certificate_groups_the_total_and_each_record_count(planned) -> None:
    def inflate(context: dict) -> None:
        context["totaux"]["nombre"] = 12100
        context["proces_verbaux"][0]["nombre_materiels"] = 1210

    text = rendered(planned["attestation-achevement.docx"], inflate)
    assert f"12{NNBSP}100" in text and f"1{NNBSP}210" in text
    assert "12100" not in text and "1210" not in text


def test_letter_groups_the_enclosed_counts(planned) -> None:
    def inflate(context: dict) -> None:
        context["factures"] = context["factures"] * 500  # 2 000 invoices (4 in the sample)
        context["proces_verbaux"] = context["proces_verbaux"] * 100  # 1 000 records (10 in the sample)

    text = rendered(planned["demande-lettre.docx"], inflate)
    assert f"(2{NNBSP}000)" in text and f"(1{NNBSP}000)" in text
    assert "(2000)" not in text and "(1000)" not in text


def test_handover_record_groups_its_device_count(planned) -> None:
    def inflate(context: dict) -> None:
        context["materiel_beneficiaire"]["nombre"] = 1500

    text = rendered(planned["proces-verbal-remise.docx"], inflate)
    assert f"1{NNBSP}500" in text and "1500" not in text


def test_summary_groups_counts() -> None:
    """The command line's summary of a batch of 1 000 beneficiaries (12 100 devices)."""
    checked = check_workbook(SAMPLE)
    dotation = checked.dotation
    assert dotation is not None
    many = dataclasses.replace(dotation, beneficiaries=dotation.beneficiaries * 100,
                               devices=dotation.devices * 100, invoices=dotation.invoices * 250)
    text = describe_totals(many, batch_funding(many))
    assert f"Bénéficiaires : 1{NNBSP}000 (" in text
    assert f"Matériels : 12{NNBSP}100 (" in text
    assert f"Factures : 1{NNBSP}000" in text
