"""The schema is the only description of the workbook, and each derived figure is
computed once: the funding, each device's TTC, the device totals."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from decimal import Decimal
from typing import get_type_hints

import jinja2
import pytest
from conftest import SAMPLE, TEMPLATES, ROOT

from dotation_docs import funding as funding_module
from dotation_docs import validation, workbook
from dotation_docs.context import (
    DEPRECATED_VARIABLES,
    FUNDING_NAMES,
    beneficiary_context,
    common_context,
    convention_title,
    funding_amounts,
)
from dotation_docs.documents import plan_batch
from dotation_docs.funding import batch_funding, batch_totals, beneficiary_totals, financing_plan
from dotation_docs.model import BeneficiaryKind, Category, ConventionKind, Invoice, RateBase
from dotation_docs.pipeline import check_workbook
from dotation_docs.schema import BENEFICIARIES, DEVICES, INVOICES, OPERATION, SHEETS, Field, Kind, Sheet


@pytest.fixture(scope="module")
def checked():
    return check_workbook(SAMPLE)


# --- the schema knows the workbook -----------------------------------------------------


@pytest.mark.parametrize("sheet", SHEETS, ids=lambda s: s.key)
def test_each_field_fills_an_attribute_of_its_sheets_model(sheet: Sheet) -> None:
    hints = get_type_hints(sheet.model)
    filled: dict[str, set[str]] = {}
    for f in sheet.fields:
        head, _, tail = f.key.partition(".")
        assert head in hints, f.key
        if tail:
            assert tail in {a.name for a in dataclasses.fields(hints[head])}, f.key
            filled.setdefault(head, set()).add(tail)
        else:
            filled[head] = set()
    for head, tails in filled.items():
        if tails:  # a nested dataclass is filled whole
            assert tails == {a.name for a in dataclasses.fields(hints[head])}, head
    init = {a.name for a in dataclasses.fields(sheet.model) if a.init}
    assert set(filled) | set(sheet.computed) == init


def test_keys_are_english_attribute_names() -> None:
    keys = [f.key for s in SHEETS for f in s.fields]
    assert "titre" not in keys and "collectivite_nom" not in keys
    assert {"title", "authority_name", "authority_press.email", "handover_date"} <= set(keys)


def test_closed_lists_come_from_the_model_enums() -> None:
    assert BENEFICIARIES.field("kind").vocabulary == {k.value: k for k in BeneficiaryKind}
    assert OPERATION.field("convention_kind").vocabulary == {k.value: k for k in ConventionKind}
    assert OPERATION.field("rate_base").choices == tuple(b.value for b in RateBase)
    assert DEVICES.field("category").choices == tuple(c.singular for c in Category)
    assert OPERATION.field("conventions_signed_by_delegate").vocabulary == {"oui": True, "non": False}


def test_the_model_holds_model_values(checked) -> None:
    d = checked.dotation
    assert d.operation.rate_base is RateBase.HT
    assert d.operation.convention_kind is ConventionKind.LOAN
    assert d.operation.conventions_signed_by_delegate is False
    assert d.operation.authority_press.name == "Émilie Roussel"
    assert {b.kind for b in d.beneficiaries} == set(BeneficiaryKind)
    assert {dev.category for dev in d.devices} == set(Category)


def test_the_form_header_words_are_the_schemas(make_workbook) -> None:
    assert OPERATION.is_header("Champ") and OPERATION.is_header(" LIBELLE ")
    assert OPERATION.is_header("information") and not OPERATION.is_header("Valeur")

    def mutate(wb):
        wb["Opération"]["A1"] = "Information"

    assert check_workbook(make_workbook(mutate)).report.issues == []


def test_a_new_column_needs_the_schema_and_the_model_only(make_workbook, monkeypatch) -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class CodedInvoice(Invoice):
        project_code: str | None = None

    field = Field("project_code", "Code projet", Kind.TEXT, required=False)
    coded = dataclasses.replace(INVOICES, model=CodedInvoice, fields=(*INVOICES.fields, field))
    monkeypatch.setattr(workbook, "SHEETS", tuple(coded if s is INVOICES else s for s in SHEETS))

    def mutate(wb):
        ws = wb["Factures"]
        ws.cell(1, ws.max_column + 1, "Code projet")
        ws.cell(3, ws.max_column, "  ANCT-87  ")

    checked = check_workbook(make_workbook(mutate))
    assert checked.report.issues == []
    assert [i.project_code for i in checked.dotation.invoices] == [None, "ANCT-87", None, None]


# --- computed once ---------------------------------------------------------------------


def test_the_funding_is_computed_once_per_run(monkeypatch) -> None:
    calls = []
    compute = funding_module.compute_funding
    monkeypatch.setattr(funding_module, "compute_funding", lambda *a: calls.append(a) or compute(*a))
    checked = check_workbook(SAMPLE)  # validation, then the pipeline's Checked
    assert len(calls) == 1
    assert checked.funding is batch_funding(checked.dotation)
    assert financing_plan(checked.dotation) is financing_plan(checked.dotation, checked.funding)
    plan_batch(checked.dotation, checked.funding)
    assert len(calls) == 1


def test_each_device_ttc_is_computed_once(monkeypatch) -> None:
    calls = []
    price_ttc = validation.price_ttc
    monkeypatch.setattr(validation, "price_ttc", lambda *a: calls.append(a) or price_ttc(*a))
    checked = check_workbook(SAMPLE)
    assert len(calls) == len(checked.dotation.devices) == 121
    assert all(d.unit_price_ttc == price_ttc(d.unit_price_ht, d.vat_rate) for d in checked.dotation.devices)


def test_device_totals_are_computed_once_per_beneficiary(checked, monkeypatch) -> None:
    dotation = dataclasses.replace(checked.dotation)  # nothing computed yet
    calls = []
    totals = funding_module.device_totals
    monkeypatch.setattr(funding_module, "device_totals", lambda devices: calls.append(1) or totals(devices))
    docs = plan_batch(dotation, batch_funding(dotation))
    assert len(calls) == 1  # the operation's: contexts are built where each document is rendered
    for doc in docs:
        doc.context  # noqa: B018
    served = [b for b in dotation.beneficiaries if dotation.devices_of(b)]
    assert len(calls) == len(served) + 1  # each beneficiary's, and the operation's
    first = served[0]
    assert beneficiary_totals(dotation, first) is beneficiary_totals(dotation, first)
    assert batch_totals(dotation).count == 121


def test_a_changed_copy_is_computed_again(checked) -> None:
    dotation = checked.dotation
    changed = dataclasses.replace(dotation, operation=dataclasses.replace(dotation.operation,
                                                                          advances=Decimal("1000.00")))
    assert batch_funding(changed) is not batch_funding(dotation)
    assert batch_funding(changed).claimed == batch_funding(dotation).claimed - Decimal("1000.00")


# --- one name per meaning --------------------------------------------------------------


def test_funding_amounts_have_their_french_names_once(checked) -> None:
    amounts = funding_amounts(checked.funding)
    assert list(amounts) == ["ht", "tva", "ttc", "eligible", "part_etat", "part_collectivite",
                             "acomptes", "montant_demande"]
    assert amounts["part_etat"] == Decimal("28921.00") and amounts["tva"] == Decimal("7230.25")
    totals = common_context(checked.dotation, checked.funding)["totaux"]
    assert {name: totals[name] for name in FUNDING_NAMES.values()} == amounts


def _lookup(context: dict, dotted: str):
    value = context
    for part in dotted.split("."):
        value = value[part]
    return value


def test_old_variable_names_still_render_the_new_values(checked) -> None:
    dotation, first = checked.dotation, checked.dotation.associations[0]
    context = beneficiary_context(dotation, checked.funding, first, convention_title(dotation, first))
    devices = context["materiel_beneficiaire"]
    assert devices["valeur_ttc"] == sum(d.unit_price_ttc for d in dotation.devices_of(first))
    assert devices["valeur_ttc"] != context["totaux"]["ttc"]  # the invoices' total: another meaning
    for old, new in DEPRECATED_VARIABLES.items():
        if "." in old:  # a whole group renamed: its members are listed one by one
            assert _lookup(context, old) == _lookup(context, new), old
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        "{{ totaux_beneficiaire.ttc }} {{ totaux_beneficiaire.nombre }} {{ totaux_beneficiaire.avec_imei }}")
    assert template.render(context) == f"{devices['valeur_ttc']} {devices['nombre']} {devices['avec_imei']}"


def test_no_bundled_template_uses_an_old_name() -> None:
    old = re.compile("|".join(re.escape(name) for name in DEPRECATED_VARIABLES))
    texts = {p.name: p.read_text(encoding="utf-8") for p in (TEMPLATES / "textes").glob("*.md")}
    texts["build_templates.py"] = (ROOT / "scripts" / "build_templates.py").read_text(encoding="utf-8")
    for path in [*TEMPLATES.glob("*.docx"), *TEMPLATES.glob("*.html")]:
        if path.suffix == ".html":
            texts[path.name] = path.read_text(encoding="utf-8")
        else:
            with zipfile.ZipFile(path) as z:
                texts[path.name] = " ".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    assert {name: old.findall(text) for name, text in texts.items() if old.search(text)} == {}
    assert len(texts) > 15
