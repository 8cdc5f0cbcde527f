"""Summaries: the short French texts the command line prints after each job."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from dotation_docs.documents import LABELS
from dotation_docs.formatting import format_amount, format_list, format_percent, format_quantity, pluralize
from dotation_docs.funding import Funding, batch_totals
from dotation_docs.model import BeneficiaryKind, Dotation
from dotation_docs.templateset import TemplateCheck, TemplateSet
from dotation_docs.writers import OutputFile

SHOWN_NAMES = 5  # file names listed in a summary line before « … »


def describe_totals(dotation: Dotation, funding: Funding) -> str:
    """Return the summary of a workbook: beneficiaries, devices per category, totals
    and shares."""
    kinds = Counter(b.kind for b in dotation.beneficiaries)
    n_assoc = kinds[BeneficiaryKind.ASSOCIATION]
    n_service = kinds[BeneficiaryKind.AUTHORITY_SERVICE]
    totals = batch_totals(dotation)
    per_category = ", ".join(
        format_quantity(c.count, c.category.singular, c.category.plural) for c in totals.by_category
    )
    lines = [
        "Résumé",
        f"  Bénéficiaires : {len(dotation.beneficiaries)} "
        f"({format_quantity(n_assoc, 'association', 'associations')}, "
        f"{format_quantity(n_service, 'service de la collectivité', 'services de la collectivité')})",
        f"  Matériels : {totals.count} ({per_category})",
        f"  Factures : {len(dotation.invoices)}",
        f"  Total HT : {format_amount(funding.ht)}",
        f"  TVA : {format_amount(funding.vat)}",
        f"  Total TTC : {format_amount(funding.ttc)}",
        f"  Part de l'État ({format_percent(funding.rate)} du {funding.rate_base.value}) : "
        f"{format_amount(funding.state_share)}",
        f"  Part de la collectivité : {format_amount(funding.authority_share)}",
    ]
    if funding.cap is not None:
        capped = " (appliqué)" if funding.is_capped else ""
        lines.append(f"  Montant de la subvention attribuée : {format_amount(funding.cap)}{capped}")
    if funding.advances:
        lines.append(f"  Acomptes reçus : {format_amount(funding.advances)}")
    lines.append(f"  Montant à demander à l'État : {format_amount(funding.claimed)}")
    return "\n".join(lines)


def kind_names() -> dict[str, tuple[str, str]]:
    """Return the French names (singular, plural) of each type of file, in catalogue
    order, the manifest last."""
    return {**LABELS, "manifeste": ("manifeste", "manifestes")}


def describe_written(output: Path, files: list[OutputFile]) -> str:
    """Return what was written and where: counts per kind of document and folders."""
    counts = Counter(str(f.type) for f in files)
    names = kind_names()
    unnamed = set(counts) - set(names)
    if unnamed:  # every file written is a type of the catalogue: a bug
        raise ValueError(f"files of unknown types: {sorted(unnamed)}")
    parts = [format_quantity(counts[kind], *names[kind]) for kind in names if counts[kind]]
    folders = sorted({str(output / f.path.split("/")[0]) for f in files if "/" in f.path})
    n = len(files)
    return (
        f"{n} {pluralize(n, 'fichier écrit', 'fichiers écrits')} dans « {output} » : {format_list(parts)}.\n"
        f"Dossiers : {', '.join(folders)}."
    )


def _some(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN_NAMES])
    return shown + (f" et {len(paths) - SHOWN_NAMES} autres" if len(paths) > SHOWN_NAMES else "")


def describe_changes(removed: list[str], foreign: list[str]) -> list[str]:
    """Return the lines on the previous files removed and the agent's own files left in
    the tool's folders (none when there is nothing to say)."""
    lines = []
    if removed:
        n = len(removed)
        lines.append(
            f"Ancien lot : {n} {pluralize(n, 'fichier supprimé', 'fichiers supprimés')} "
            f"(ce lot ne {pluralize(n, 'le', 'les')} produit plus) : {_some(removed)}."
        )
    if foreign:
        lines.append(
            f"Fichiers ajoutés dans les dossiers de l'outil, laissés en place : {len(foreign)} ({_some(foreign)})."
        )
    return lines


def describe_template_set(templates: TemplateSet | None, checked: TemplateCheck) -> list[str]:
    """Return the lines of ``dotation modeles``: each template and where it comes from
    (when ``templates`` is given), then the warnings and the problems."""
    lines = []
    if templates is not None:
        folder = f"« {templates.folder} »" if templates.folder is not None else "aucun (modèles fournis)"
        lines += [f"Modèles fournis : {templates.bundled}", f"Votre dossier : {folder}", ""]
        for name in templates.templates:
            origin = "votre dossier" if templates.is_custom(name) else "fourni"
            lines.append(f"  {name} : {origin} ({templates[name].origin})")
    for warning in checked.warnings:
        lines.append(f"Avertissement – {warning}")
    if checked.problems:
        n = len(checked.problems)
        lines.append(f"{n} {pluralize(n, 'problème', 'problèmes')} dans les modèles :")
        lines += [f"  - {problem}" for problem in checked.problems]
    else:
        lines.append("Modèles valides : aucun problème trouvé.")
    return lines
