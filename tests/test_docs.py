"""Reference documentation: the committed docs are what scripts/build_docs.py produces,
and they name every workbook field, filter and template variable."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dotation_docs.context import beneficiary_context, claim_context, convention_title, press_context
from dotation_docs.documents import TEMPLATES, handed_over, handover_path
from dotation_docs.formatting import FILTER_DOCS
from dotation_docs.pipeline import check_workbook
from dotation_docs.schema import SHEETS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
REGENERATE = "docs/{name} is out of date: regenerate with python scripts/build_docs.py"


@pytest.fixture(scope="module")
def build_docs() -> ModuleType:
    """The documentation script, imported from its file."""
    spec = importlib.util.spec_from_file_location("build_docs", ROOT / "scripts" / "build_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it is executed
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def classeur(build_docs: ModuleType) -> str:
    return build_docs.render_workbook_doc()


@pytest.fixture(scope="module")
def modeles(build_docs: ModuleType) -> str:
    return build_docs.render_templates_doc()


def _leaf_paths(value: Any, path: str = "") -> set[str]:
    """Every leaf path of a context, list items written ``name[].field``."""
    if isinstance(value, dict):
        return set().union(*(_leaf_paths(v, f"{path}.{k}" if path else k) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(set(), *(_leaf_paths(item, f"{path}[]") for item in value))
    return {path}


@pytest.fixture(scope="module")
def context_leaves() -> set[str]:
    """Leaf paths of the real contexts of the sample: first association, press release,
    subsidy claim."""
    checked = check_workbook(SAMPLE)
    dotation, funding = checked.dotation, checked.funding
    assert dotation is not None and funding is not None
    first = dotation.associations[0]
    handovers = {b.identifier: handover_path(b).rsplit("/", 1)[1] for b in handed_over(dotation)}
    contexts = [
        beneficiary_context(dotation, funding, first, convention_title(dotation, first)),
        press_context(dotation, funding),
        claim_context(dotation, funding, "Demande de versement de la subvention", handovers),
    ]
    return set().union(*(_leaf_paths(c) for c in contexts))


def test_classeur_md_is_up_to_date(classeur: str) -> None:
    committed = (ROOT / "docs" / "classeur.md").read_text(encoding="utf-8")
    assert committed == classeur, REGENERATE.format(name="classeur.md")


def test_modeles_md_is_up_to_date(modeles: str) -> None:
    committed = (ROOT / "docs" / "modeles.md").read_text(encoding="utf-8")
    assert committed == modeles, REGENERATE.format(name="modeles.md")


def test_both_docs_say_they_are_generated(classeur: str, modeles: str) -> None:
    for text in (classeur, modeles):
        assert text.startswith("<!-- Généré par scripts/build_docs.py à partir de ")
        assert text.splitlines()[0].endswith(" : ne pas modifier à la main. -->")


def test_rendering_is_deterministic(build_docs: ModuleType, classeur: str, modeles: str) -> None:
    assert build_docs.render_workbook_doc() == classeur
    assert build_docs.render_templates_doc() == modeles


def test_classeur_names_every_sheet_label_and_alias(classeur: str) -> None:
    missing = [
        name
        for sheet in SHEETS
        for name in (sheet.title, *sheet.aliases, *(n for f in sheet.fields for n in (f.label, *f.aliases)))
        if name not in classeur
    ]
    assert missing == []


def test_classeur_lists_every_choice_of_a_closed_list(classeur: str) -> None:
    choices = {c for sheet in SHEETS for f in sheet.fields for c in f.choices}
    assert [c for c in sorted(choices) if f"« {c} »" not in classeur] == []


def test_classeur_states_the_gift_limit(classeur: str) -> None:
    assert "décret n° 2022-791" in classeur
    assert "300 €" in classeur


def test_modeles_names_every_filter(modeles: str) -> None:
    assert [name for name in FILTER_DOCS if f"`{name}`" not in modeles] == []


def test_modeles_names_every_leaf_path_of_the_real_contexts(modeles: str, context_leaves: set[str]) -> None:
    assert "operation.date_remise" in context_leaves  # the walk itself found the contexts
    assert [p for p in sorted(context_leaves) if f"`{p}`" not in modeles] == []


def test_modeles_names_every_template_file(modeles: str) -> None:
    assert [t for t in TEMPLATES.values() if f"`{t}`" not in modeles] == []


def test_modeles_shows_a_raw_amount_with_its_filter(modeles: str) -> None:
    assert "`28921.00` ; `{{ totaux.part_etat \\| montant }}` → 28\u202f921,00\xa0€" in modeles


def test_a_variable_without_description_fails(build_docs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(build_docs.VARIABLES, "materiels[].numero_serie")
    with pytest.raises(build_docs.DocumentationDriftError, match=r"sans description.*materiels\[\]\.numero_serie"):
        build_docs.render_templates_doc()


def test_a_description_of_a_missing_variable_fails(build_docs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(build_docs.VARIABLES, "beneficiaire.nom_complet", build_docs.Var(build_docs.TEXT, "…"))
    with pytest.raises(build_docs.DocumentationDriftError, match=r"n'existe plus.*beneficiaire\.nom_complet"):
        build_docs.render_templates_doc()


def test_a_description_with_the_wrong_type_fails(build_docs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(build_docs.VARIABLES, "totaux.part_etat", build_docs.Var(build_docs.DATE, "…"))
    with pytest.raises(build_docs.DocumentationDriftError, match=r"totaux\.part_etat : valeur de type Decimal"):
        build_docs.render_templates_doc()
