"""Pipeline: the user's jobs, each read → validate → plan → render → write.

One function per command; the command line only calls these and prints their result.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

from dotation_docs import __version__, outputdir
from dotation_docs.documents import (
    CLAIM_DIR,
    CLAIM_FILES,
    PlannedDocument,
    plan_batch,
    plan_beneficiary,
    plan_claim,
)
from dotation_docs.exceptions import (
    BeneficiaryNotFoundError,
    InvalidWorkbookError,
    TemplateError,
    describe_os_error,
)
from dotation_docs.formatting import format_list, pluralize
from dotation_docs.funding import Funding, batch_funding, device_totals, unpaid_invoices
from dotation_docs.manifest import Scope, printable_name
from dotation_docs.model import Beneficiary, Dotation, Invoice
from dotation_docs.rendering import build_environment, render
from dotation_docs.report import Report
from dotation_docs.schema import INVOICES, normalize_label
from dotation_docs.spreadsheet import render_expense_statement
from dotation_docs.validation import validate
from dotation_docs.workbook import read_workbook
from dotation_docs.writers import OutputFile, WriteResult, duplicate_paths, write_batch

log = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("output")


def default_templates_dir() -> Path:
    """Return the bundled templates: ``templates/`` inside the installed package, or at
    the root of a source checkout."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "templates"


@dataclass
class Checked:
    """Result of reading and validating a workbook."""

    path: Path
    report: Report
    dotation: Dotation | None
    funding: Funding | None


@dataclass
class Written:
    """Result of a job that wrote files: the files written (the manifest last), the
    previous files removed, the foreign files left in the tool's folders, notes for the
    user, and the beneficiary chosen from a partial name (``convention``)."""

    output: Path
    files: list[OutputFile]
    dotation: Dotation
    funding: Funding
    report: Report
    notes: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    chosen: Beneficiary | None = None


def check_workbook(path: Path) -> Checked:
    """Return the validation report of the workbook at ``path`` and, when it has no
    error, its model and financing. Raises WorkbookOpenError for an unreadable file."""
    raw = read_workbook(path)
    dotation, report = validate(raw)
    return Checked(path, report, dotation, batch_funding(dotation) if dotation else None)


def load_workbook_model(path: Path, strict: bool = False) -> Checked:
    """Return the validated workbook; raises InvalidWorkbookError listing every problem
    when it has errors (or warnings, when ``strict``)."""
    checked = check_workbook(path)
    log.info("Classeur %s lu : %s", path, checked.report.counts())
    if checked.dotation is None or checked.report.has_errors(strict):
        raise InvalidWorkbookError(
            f"le classeur « {path} » contient des erreurs ; aucun document n'a été écrit.\n\n"
            f"{checked.report.format()}\n\n{checked.report.counts()}. Corrigez le classeur puis relancez."
        )
    return checked


def _timestamp(dotation: Dotation) -> datetime:
    # Documents are dated by the operation, not by the clock, so reruns are identical.
    return datetime.combine(dotation.operation.handover_date, time(0, 0))


def _validated(workbook: Path) -> tuple[Checked, Dotation, Funding]:
    """Return the validated workbook with its model and financing (see load_workbook_model)."""
    checked = load_workbook_model(workbook)
    assert checked.dotation is not None and checked.funding is not None
    return checked, checked.dotation, checked.funding


def _render_all(docs: list[PlannedDocument], templates: Path | None, dotation: Dotation) -> list[OutputFile]:
    templates = templates or default_templates_dir()
    env = build_environment()
    stamp = _timestamp(dotation)
    files = []
    for doc in docs:
        log.info("Rendu de %s", doc.path)
        if doc.template is None:
            data = render_expense_statement(doc.context, timestamp=stamp)
        else:
            data = render(templates / doc.template, doc.context, title=doc.title, timestamp=stamp, env=env)
        files.append(OutputFile(doc.path, data, doc.type.value, doc.beneficiary))
    return files


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _totals(dotation: Dotation, funding: Funding) -> dict[str, Any]:
    counts = device_totals(dotation.devices)
    money = {
        "ht": funding.ht, "tva": funding.vat, "ttc": funding.ttc, "eligible": funding.eligible,
        "part_etat": funding.state_share, "part_collectivite": funding.authority_share,
        "acomptes": funding.advances, "montant_demande": funding.claimed,
    }
    return {
        "nombre_materiels": counts.count,
        "par_categorie": {c.category.value: c.count for c in counts.by_category},
        **{k: str(v) for k, v in money.items()},
    }


def _header(workbook: Path, dotation: Dotation, funding: Funding) -> dict[str, Any]:
    """The manifest without its documents. The workbook's name may hold bytes that are
    not UTF-8: they are replaced, the manifest being UTF-8."""
    return {
        "outil": {"nom": "dotation-docs", "version": __version__},
        "classeur": {"fichier": printable_name(workbook.name), "sha256": _sha256(workbook)},
        "totaux": _totals(dotation, funding),
    }


def _check_templates(templates: Path | None) -> None:
    """Raise TemplateError when the templates folder given with -m cannot be used."""
    if templates is None:
        return
    if not templates.exists():
        raise TemplateError(f"le dossier de modèles « {templates} » est introuvable. Vérifiez le chemin donné avec -m.")
    if not templates.is_dir():
        raise TemplateError(f"« {templates} » est un fichier : indiquez avec -m le dossier qui contient les modèles.")
    try:
        os.listdir(templates)
    except OSError as err:
        raise TemplateError(f"le dossier de modèles « {templates} » est illisible : {describe_os_error(err)}.") from err


def _check_unique_paths(docs: list[PlannedDocument]) -> None:
    """Raise InvalidWorkbookError when two planned documents would have one file name."""
    owners = {d.path: d.beneficiary for d in docs}
    groups = duplicate_paths(d.path for d in docs)
    if groups:
        described = " ; ".join(
            f"« {group[0]} » (bénéficiaires {' et '.join(str(owners[p]) for p in group)})" for group in groups
        )
        raise InvalidWorkbookError(
            f"plusieurs documents auraient le même nom de fichier : {described}. Changez l'identifiant ou le nom "
            "de l'un de ces bénéficiaires dans la feuille « Bénéficiaires ». Rien n'a été écrit."
        )


def _run_job(
    workbook: Path,
    output: Path,
    templates: Path | None,
    overwrite: bool,
    checked: Checked,
    docs: list[PlannedDocument],
    scope: Scope,
    notes: Callable[[WriteResult, dict[str, Any]], list[str]],
) -> Written:
    """Lock ``output``, render ``docs`` and write them under the output-folder contract."""
    assert checked.dotation is not None and checked.funding is not None
    dotation, funding = checked.dotation, checked.funding
    _check_unique_paths(docs)
    header = _header(workbook, dotation, funding)
    with outputdir.locked(output) as folder:
        files = _render_all(docs, templates, dotation)
        result = write_batch(output, files, scope, header, overwrite=overwrite)
    job_notes = ([folder.repaired] if folder.repaired else []) + notes(result, header)
    return Written(output, result.written, dotation, funding, checked.report, job_notes,
                   result.removed, result.foreign)


def _prepare(output: Path, templates: Path | None) -> None:
    outputdir.check_output_folder(output)
    _check_templates(templates)


def _batch_notes(result: WriteResult, header: dict[str, Any]) -> list[str]:
    return []


def _unpaid_described(unpaid: tuple[Invoice, ...]) -> str:
    """Return « « SVI-F2301-058 » (ni « N° de mandat » ni « Date de paiement ») ; … »: each
    unpaid invoice with what it lacks, as the sheet « Factures » names its columns."""
    mandate = INVOICES.field("mandate_number").label
    paid = INVOICES.field("payment_date").label
    parts = []
    for invoice in unpaid:
        if not invoice.mandate_number and invoice.payment_date is None:
            missing = f"ni « {mandate} » ni « {paid} »"
        elif not invoice.mandate_number:
            missing = f"pas de « {mandate} »"
        else:
            missing = f"pas de « {paid} »"
        parts.append(f"« {invoice.reference} » ({missing})")
    return " ; ".join(parts)


def _unpaid_count(unpaid: tuple[Invoice, ...]) -> str:
    n = len(unpaid)
    words = pluralize(n, "facture n'est pas payée", "factures ne sont pas payées")
    return f"{n} {words}"


def _claim_left_out_notes(unpaid: tuple[Invoice, ...]) -> Callable[[WriteResult, dict[str, Any]], list[str]]:
    """Notes of a full batch written without its claim file (``unpaid`` invoices)."""

    def notes(result: WriteResult, header: dict[str, Any]) -> list[str]:
        lines = [
            f"le dossier de demande de subvention n'a pas été produit : {_unpaid_count(unpaid)} "
            f"(feuille « {INVOICES.title} ») : {_unpaid_described(unpaid)}. La demande de versement "
            "ne peut porter que sur des dépenses payées : renseignez le numéro de mandat et la date "
            "de paiement de chaque facture, puis relancez « dotation generer » ou « dotation demande »."
        ]
        old = [path for path in result.removed if path.startswith(f"{CLAIM_DIR}/")]
        if old:
            n = len(old)
            lines.append(
                f"l'ancien dossier de demande de subvention a été supprimé "
                f"({n} {pluralize(n, 'fichier', 'fichiers')} : {format_list(old)}) : il ne correspondait "
                "plus au classeur."
            )
        return lines

    return notes


def _partial_notes(result: WriteResult, header: dict[str, Any]) -> list[str]:
    """Notes for a job that rewrites part of the batch."""
    if result.previous is None:
        return ["aucun lot précédent dans ce dossier : seuls ces documents ont été écrits."]
    if result.previous.get("totaux") != header["totaux"]:
        return [
            "les totaux du classeur ont changé depuis la génération précédente : les autres documents "
            "(communiqué, demande de subvention…) ne sont plus à jour ; relancez « dotation generer »."
        ]
    return []


def generate_batch(
    workbook: Path, output: Path = DEFAULT_OUTPUT, templates: Path | None = None, overwrite: bool = False
) -> Written:
    """Validate ``workbook`` and write the whole batch into ``output``: conventions,
    handover records, press release, subsidy claim file and manifest. The claim file is
    left out while an invoice is unpaid (see :func:`funding.unpaid_invoices`; a note names
    them). The tool's previous files that this batch no longer has are removed. Raises
    InvalidWorkbookError (nothing written), TemplateError, OutputConflictError (unless
    ``overwrite``), OutputBusyError or OutputError."""
    _prepare(output, templates)
    checked, dotation, funding = _validated(workbook)
    docs = plan_batch(dotation, funding)
    unpaid = unpaid_invoices(dotation)
    notes = _batch_notes
    if unpaid:
        # The claim file rests on paid invoices only: it is left out, and the scope still
        # covers its types, so a previous claim file of this folder is removed.
        log.info("Dossier de demande non produit : %d facture(s) non payée(s)", len(unpaid))
        docs = [d for d in docs if d.type not in CLAIM_FILES]
        notes = _claim_left_out_notes(unpaid)
    return _run_job(workbook, output, templates, overwrite, checked, docs, Scope.batch(), notes)


def generate_claim(
    workbook: Path, output: Path = DEFAULT_OUTPUT, templates: Path | None = None, overwrite: bool = False
) -> Written:
    """Validate ``workbook`` and write the subsidy claim file only (and update the
    manifest). Raises InvalidWorkbookError (nothing written) when an invoice has no mandate
    number or no payment date, and like :func:`generate_batch`."""
    _prepare(output, templates)
    checked, dotation, funding = _validated(workbook)
    unpaid = unpaid_invoices(dotation)
    if unpaid:
        raise InvalidWorkbookError(
            f"la demande de versement ne peut porter que sur des dépenses payées et "
            f"{_unpaid_count(unpaid)} (feuille « {INVOICES.title} ») : {_unpaid_described(unpaid)}. "
            "Aucun document n'a été écrit. Renseignez le numéro de mandat et la date de paiement de "
            "chaque facture, puis relancez."
        )
    return _run_job(workbook, output, templates, overwrite, checked, plan_claim(dotation, funding),
                    Scope.claim(), _partial_notes)


def _search_key(text: str) -> str:
    """Fold a name for look-up: accents, case, « & » read as « et », punctuation as
    spaces (« Sport & Loisirs de l'Aurence » = « sport et loisirs de l aurence »)."""
    folded = normalize_label(text.replace("&", " et "))
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def _listed(beneficiaries: list[Beneficiary]) -> str:
    return " ; ".join(f"{b.identifier} « {b.name} »" for b in beneficiaries)


def match_beneficiary(dotation: Dotation, query: str) -> tuple[Beneficiary, bool]:
    """Return the beneficiary ``query`` designates and whether it was found from part of
    its name. In order: an identifier (case ignored) wins; then a whole name (case,
    accents and punctuation ignored); then the only name that contains ``query``.
    Raises BeneficiaryNotFoundError when the name is shared or matches several
    beneficiaries (listing them), or matches none (suggesting the closest names)."""
    wanted_id = query.strip().casefold()
    for b in dotation.beneficiaries:
        if b.identifier.casefold() == wanted_id:
            return b, False
    wanted = _search_key(query)
    exact = [b for b in dotation.beneficiaries if _search_key(b.name) == wanted]
    if len(exact) == 1:
        return exact[0], False
    if exact:
        raise BeneficiaryNotFoundError(
            f"plusieurs bénéficiaires s'appellent « {query} » : {_listed(exact)}. Indiquez l'identifiant de celui "
            "à régénérer."
        )
    partial = [b for b in dotation.beneficiaries if wanted and wanted in _search_key(b.name)]
    if len(partial) == 1:
        return partial[0], True
    if partial:
        raise BeneficiaryNotFoundError(
            f"plusieurs bénéficiaires correspondent à « {query} » : {_listed(partial)}. Indiquez l'identifiant ou "
            "le nom complet de celui à régénérer."
        )
    keys: dict[str, Beneficiary] = {}
    for b in dotation.beneficiaries:
        keys.setdefault(_search_key(b.identifier), b)
        keys.setdefault(_search_key(b.name), b)
    close = list(dict.fromkeys(keys[c] for c in difflib.get_close_matches(wanted, keys, n=3, cutoff=0.5)))
    hint = (f"Vouliez-vous dire : {_listed(close)} ?" if close
            else f"Bénéficiaires du classeur : {_listed(list(dotation.beneficiaries))}.")
    raise BeneficiaryNotFoundError(f"aucun bénéficiaire ne correspond à « {query} ». {hint}")


def find_beneficiary(dotation: Dotation, query: str) -> Beneficiary:
    """Return the beneficiary ``query`` designates (see :func:`match_beneficiary`)."""
    return match_beneficiary(dotation, query)[0]


def generate_beneficiary(
    workbook: Path, query: str, output: Path = DEFAULT_OUTPUT, templates: Path | None = None,
    overwrite: bool = False,
) -> Written:
    """Rewrite the convention and handover record of one beneficiary only; its previous
    files under another name (it was renamed) are removed, every other file keeps its
    bytes (the manifest is updated). Raises BeneficiaryNotFoundError and like
    :func:`generate_batch`."""
    _prepare(output, templates)
    checked, dotation, funding = _validated(workbook)
    beneficiary, partial = match_beneficiary(dotation, query)
    if not dotation.devices_of(beneficiary):
        raise BeneficiaryNotFoundError(
            f"le bénéficiaire {beneficiary.identifier} « {beneficiary.name} » n'a aucun matériel dans "
            "la feuille « Matériel » : il n'a ni convention ni procès-verbal."
        )
    written = _run_job(workbook, output, templates, overwrite, checked,
                       plan_beneficiary(dotation, funding, beneficiary),
                       Scope.of_beneficiary(beneficiary.identifier), _partial_notes)
    written.chosen = beneficiary if partial else None
    return written
