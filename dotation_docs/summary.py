"""Summaries: the short French texts the command line prints after each job."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Protocol

from dotation_docs.documents import LABELS, Renderer, spec_of
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


def _is_pdf_type(kind: str) -> bool:
    try:
        return spec_of(kind).renderer is Renderer.PDF
    except KeyError:
        return False


def describe_written(output: Path, files: list[OutputFile]) -> str:
    """Return what was written and where: counts per kind of document (the PDFs beside
    the documents counted together) and folders."""
    counts = Counter(str(f.type) for f in files)
    names = kind_names()
    unnamed = set(counts) - set(names)
    if unnamed:  # every file written is a type of the catalogue: a bug
        raise ValueError(f"files of unknown types: {sorted(unnamed)}")
    parts = [format_quantity(counts[kind], *names[kind]) for kind in names if counts[kind] and not _is_pdf_type(kind)]
    n_pdf = sum(n for kind, n in counts.items() if _is_pdf_type(kind))
    if n_pdf:
        parts.insert(len(parts) - ("manifeste" in counts), format_quantity(n_pdf, "PDF", "PDF"))
    folders = sorted({str(output / f.path.split("/")[0]) for f in files if "/" in f.path})
    n = len(files)
    return (
        f"{n} {pluralize(n, 'fichier écrit', 'fichiers écrits')} dans « {output} » : {format_list(parts)}.\n"
        f"Dossiers : {', '.join(folders)}."
    )


def _some(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN_NAMES])
    return shown + (f" et {len(paths) - SHOWN_NAMES} autres" if len(paths) > SHOWN_NAMES else "")


class PdfMade(Protocol):
    """What the PDF step made (``pipeline.PdfWritten``)."""

    pdfa: bool
    converted: list[str]
    dossier: str | None
    dossier_parts: int
    attachments: list[str]
    skipped: list[str]


def describe_pdf(made: PdfMade) -> list[str]:
    """Return the lines on the PDFs of a run with ``--pdf``: how many documents were
    converted, and the claim dossier with its parts and attachments."""
    kind = "PDF/A-2b" if made.pdfa else "PDF"
    n = len(made.converted)
    lines = [
        f"PDF : {n} {pluralize(n, 'document converti', 'documents convertis')} en {kind} par LibreOffice, "
        f"chacun à côté de son fichier Word ou Excel."
    ]
    if made.dossier is not None:
        k = len(made.attachments)
        names = [path.rsplit("/", 1)[-1] for path in made.attachments]
        attached = (f", dont {k} {pluralize(k, 'pièce jointe', 'pièces jointes')} : {_some(names)}"
                    if k else ", aucune pièce jointe")
        lines.append(
            f"Dossier de demande ({kind}) : {made.dossier} ({made.dossier_parts} "
            f"{pluralize(made.dossier_parts, 'pièce', 'pièces')}{attached})."
        )
    if made.skipped:
        lines.append(
            f"Pièces jointes laissées hors du dossier, car ce ne sont pas des PDF : {_some(made.skipped)} "
            "(enregistrez-les en PDF pour les y ajouter)."
        )
    return lines


def describe_changes(removed: list[str], foreign: list[str], *, pdf: bool = True) -> list[str]:
    """Return the lines on the previous files removed and the agent's own files left in
    the tool's folders (none when there is nothing to say). Without ``pdf`` (a run
    without ``--pdf``), the PDFs removed are named apart: their documents were rewritten
    without them."""
    lines = []
    stale = [] if pdf else [path for path in removed if path.lower().endswith(".pdf")]
    others = [path for path in removed if path not in stale]
    if others:
        n = len(others)
        lines.append(
            f"Ancien lot : {n} {pluralize(n, 'fichier supprimé', 'fichiers supprimés')} "
            f"(ce lot ne {pluralize(n, 'le', 'les')} produit plus) : {_some(others)}."
        )
    if stale:
        n = len(stale)
        lines.append(
            f"PDF périmés : {n} {pluralize(n, 'PDF supprimé', 'PDF supprimés')}, "
            f"{pluralize(n, 'son document a été réécrit', 'leurs documents ont été réécrits')} sans --pdf : "
            f"{_some(stale)}. Relancez avec --pdf pour {pluralize(n, 'le', 'les')} refaire."
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
