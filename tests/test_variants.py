"""Other operations than the sample: a gift instead of a loan, a capped subsidy with
advances, custom templates; and every template uses only variables the tool provides."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jinja2
import jinja2.meta
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text, gift_categories, set_operation
from docxtpl import DocxTemplate

from dotation_docs.documents import TEMPLATES as TEMPLATE_FILES
from dotation_docs.documents import DocumentType, plan_batch
from dotation_docs.funding import batch_funding
from dotation_docs.pipeline import check_workbook, generate_batch, generate_claim
from dotation_docs.rendering import build_environment

NNBSP, NBSP = "\u202f", "\xa0"


def columns(ws) -> dict[str, int]:
    """The index of each header of the table ``ws`` (header lookup, not column letters)."""
    return {cell.value: n for n, cell in enumerate(ws[1])}


def cheap_devices(wb) -> None:
    """Every device at 200 € HT (240 € TTC) and the invoices adjusted to match."""
    devices, invoices = wb["Matériel"], wb["Factures"]
    d, i = columns(devices), columns(invoices)
    per_invoice = Counter()
    for row in devices.iter_rows(min_row=2):
        if row[0].value:
            row[d["Prix unitaire HT"]].value = 200
            per_invoice[row[d["Facture"]].value] += 1
    for row in invoices.iter_rows(min_row=2):
        if row[0].value:
            n = per_invoice[row[i["Référence"]].value]
            row[i["Montant HT"]].value, row[i["TVA"]].value, row[i["Montant TTC"]].value = 200 * n, 40 * n, 240 * n


def test_gift_operation_uses_the_gift_convention(tmp_path: Path, make_workbook) -> None:
    def mutate(wb):
        cheap_devices(wb)
        set_operation(wb, "Type de convention", "don")
        gift_categories(wb, "association reconnue d'utilité publique")

    output = tmp_path / "output"
    generate_batch(make_workbook(mutate), output, TEMPLATES)
    [path] = (output / "conventions").glob("B02-*.docx")
    text = docx_text(path)
    assert "CONVENTION DE DON DE MATÉRIEL INFORMATIQUE" in text
    assert "2022-791" in text
    assert f"240,00{NBSP}€" in text


def test_capped_subsidy_with_advances(tmp_path: Path, make_workbook) -> None:
    def mutate(wb):
        set_operation(wb, "Montant de la subvention attribuée", 25000)
        set_operation(wb, "Acomptes reçus", "5 000,00 €")

    output = tmp_path / "output"
    generate_batch(make_workbook(mutate), output, TEMPLATES)
    letter = docx_text(output / "demande-subvention" / "1-lettre-de-demande.docx")
    assert f"20{NNBSP}000,00{NBSP}€" in letter
    assert "vingt mille euros" in letter
    assert f"25{NNBSP}000,00{NBSP}€" in letter  # the cap is stated
    assert f"5{NNBSP}000,00{NBSP}€" in letter  # and the advances
    plan = docx_text(output / "demande-subvention" / "3-plan-de-financement.docx")
    assert f"25{NNBSP}000,00{NBSP}€" in plan and f"18{NNBSP}381,50{NBSP}€" in plan
    press = docx_text(output / "communique" / "communique-de-presse.docx")
    assert f"25{NNBSP}000{NBSP}€" in press and f"18{NNBSP}381{NBSP}€" in press


def test_custom_template_folder_is_used(tmp_path: Path) -> None:
    import shutil

    templates = tmp_path / "mes-modeles"
    shutil.copytree(TEMPLATES, templates)
    (templates / "communique-de-presse.html").write_text(
        "<h1>{{ collectivite.nom }}</h1><p>{{ totaux.quantites }}</p>", encoding="utf-8"
    )
    output = tmp_path / "output"
    generate_claim(SAMPLE, output, templates)  # the claim does not use the press template
    generate_batch(SAMPLE, output, templates)
    assert (output / "communique" / "communique-de-presse.html").read_text(encoding="utf-8") == (
        f"<h1>Limoges Métropole</h1><p>57{NBSP}ordinateurs portables, 5{NBSP}ordinateurs fixes, "
        f"39{NBSP}tablettes et 20{NBSP}smartphones</p>"
    )


@pytest.mark.parametrize("doc_type", [t for t in DocumentType if t is not DocumentType.EXPENSE_STATEMENT])
def test_templates_use_only_variables_the_tool_provides(doc_type: DocumentType) -> None:
    checked = check_workbook(SAMPLE)
    docs = [d for d in plan_batch(checked.dotation, batch_funding(checked.dotation)) if d.type is doc_type]
    provided = set(docs[0].context)
    names = [v for k, v in TEMPLATE_FILES.items() if k == doc_type or (isinstance(k, tuple) and k[0] == doc_type)]
    env = build_environment()  # unknown filters fail here too
    for name in names:
        path = TEMPLATES / name
        if path.suffix == ".docx":
            used = DocxTemplate(path).get_undeclared_template_variables(env)
        else:
            used = jinja2.meta.find_undeclared_variables(env.parse(path.read_text(encoding="utf-8")))
        assert used <= provided, f"{name}: {sorted(used - provided)}"
        assert used, name


def test_quantities_leave_out_empty_categories_and_use_the_singular_for_one() -> None:
    import dataclasses

    from dotation_docs.context import press_context
    from dotation_docs.model import Category

    dotation = check_workbook(SAMPLE).dotation
    laptop = next(d for d in dotation.devices if d.category is Category.LAPTOP)
    tablet = next(d for d in dotation.devices if d.category is Category.TABLET)
    smaller = dataclasses.replace(dotation, devices=(laptop, tablet, dataclasses.replace(
        laptop, serial_number="X", inventory_number="Y")))
    context = press_context(smaller, batch_funding(smaller))
    assert context["totaux"]["quantites"] == f"2{NBSP}ordinateurs portables et 1{NBSP}tablette"
    assert context["totaux"]["nombre"] == 3
