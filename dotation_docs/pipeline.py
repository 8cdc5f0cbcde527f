"""Pipeline: the user's jobs, through one runner (:func:`run_job`): check the templates
→ read and validate the workbook → plan the selected document types → render → write.

One function per command; the command line only calls these and prints their result.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

from dotation_docs import manifest, outputdir
from dotation_docs.documents import (
    CLAIM_DIR,
    DocumentSpec,
    Job,
    PlannedDocument,
    Renderer,
    inputs,
    plan,
    specs,
    template_names,
)
from dotation_docs.exceptions import BeneficiaryNotFoundError, InvalidWorkbookError, TemplateError, describe_os_error
from dotation_docs.formatting import format_list, pluralize
from dotation_docs.funding import Funding, batch_funding, unpaid_invoices
from dotation_docs.manifest import Scope
from dotation_docs.model import Beneficiary, Dotation, Invoice
from dotation_docs.rendering import build_environment, render
from dotation_docs.report import Report
from dotation_docs.schema import INVOICES, normalize_label
from dotation_docs.spreadsheet import render_expense_statement
from dotation_docs.templateset import (
    TemplateCheck,
    TemplateSet,
    check_templates,
    default_templates_dir,
    load_template_set,
    prepare_templates,
)
from dotation_docs.validation import validate
from dotation_docs.workbook import read_workbook
from dotation_docs.writers import OutputFile, WriteResult, duplicate_paths, write_batch

log = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("output")

__all__ = [
    "DEFAULT_OUTPUT", "Checked", "Written", "check_workbook", "check_template_folder", "default_templates_dir",
    "generate_batch", "generate_beneficiary", "generate_claim", "load_workbook_model", "run_job",
]


@dataclass
class Checked:
    """Result of reading and validating a workbook (and, when asked, the templates):
    ``ok`` is the verdict of ``dotation verifier``."""

    path: Path
    report: Report
    dotation: Dotation | None
    funding: Funding | None
    strict: bool = False
    templates: TemplateCheck | None = None

    @property
    def ok(self) -> bool:
        """True when the workbook has no error (no warning either, when ``strict``) and
        the templates checked have no problem."""
        templates_ok = self.templates is None or self.templates.ok
        return self.dotation is not None and not self.report.has_errors(self.strict) and templates_ok

    def verdict(self) -> str:
        """Return the French last line of ``dotation verifier``."""
        if self.ok:
            return f"Classeur valide ({self.report.counts()})."
        parts = []
        if self.dotation is None or self.report.has_errors(self.strict):
            parts.append(f"{self.report.counts()} : corrigez le classeur")
        if self.templates is not None and not self.templates.ok:
            n = len(self.templates.problems)
            parts.append(f"{n} {pluralize(n, 'problème', 'problèmes')} dans les modèles : corrigez-les")
        return " ; ".join(parts) + " puis relancez."


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
    warnings: list[str] = field(default_factory=list)


def check_reachable(templates: Path | None) -> None:
    """Raise TemplateError when the templates folder cannot even be looked at (a parent
    folder the user cannot enter): ``stat`` then fails with an error other than « not
    found », which the templates check would meet as a crash."""
    if templates is None:
        return
    try:
        os.stat(templates)
    except (FileNotFoundError, NotADirectoryError):
        return  # said in French by the templates check
    except OSError as err:
        raise TemplateError(
            f"impossible d'accéder au dossier de modèles « {templates} » : {describe_os_error(err)}."
        ) from err


def check_template_folder(folder: Path | None) -> tuple[TemplateSet, TemplateCheck]:
    """Return the templates of every document type (the agent's ``folder`` first, then
    the bundled ones) and their check (``dotation modeles``). Raises TemplateError when
    ``folder`` cannot be used."""
    check_reachable(folder)
    templates = load_template_set(template_names(), folder)
    return templates, check_templates(templates)


def check_workbook(path: Path, strict: bool = False, templates: Path | None = None,
                   check_templates_too: bool = False) -> Checked:
    """Return the validation report of the workbook at ``path`` and, when it has no
    error, its model and financing; with ``templates`` (or ``check_templates_too``),
    the check of the template set too (done first: templates do not depend on the data).
    Raises WorkbookOpenError for an unreadable file, TemplateError for an unusable
    templates folder."""
    template_check = check_template_folder(templates)[1] if templates is not None or check_templates_too else None
    raw = read_workbook(path)
    dotation, report = validate(raw)
    return Checked(path, report, dotation, batch_funding(dotation) if dotation else None, strict, template_check)


def load_workbook_model(path: Path, strict: bool = False) -> Checked:
    """Return the validated workbook; raises InvalidWorkbookError listing every problem
    when it has errors (or warnings, when ``strict``)."""
    checked = check_workbook(path, strict)
    log.info("Classeur %s lu : %s", path, checked.report.counts())
    if not checked.ok:
        raise InvalidWorkbookError(
            f"le classeur « {path} » contient des erreurs ; aucun document n'a été écrit.\n\n"
            f"{checked.report.format()}\n\n{checked.report.counts()}. Corrigez le classeur puis relancez."
        )
    return checked


def _timestamp(dotation: Dotation) -> datetime:
    # Documents are dated by the operation, not by the clock, so reruns are identical.
    return datetime.combine(dotation.operation.handover_date, time(0, 0))


def _render_all(docs: list[PlannedDocument], templates: TemplateSet, dotation: Dotation) -> list[OutputFile]:
    """Return the bytes of every planned document, each template as loaded once."""
    env = build_environment()
    stamp = _timestamp(dotation)
    files = []
    for doc in docs:
        log.info("Rendu de %s", doc.path)
        if doc.kind is Renderer.SPREADSHEET:
            data = render_expense_statement(doc.context, timestamp=stamp)
        else:
            assert doc.template is not None
            data = render(templates[doc.template], doc.context, title=doc.title, timestamp=stamp, env=env)
        files.append(OutputFile(doc.path, data, str(doc.type), doc.beneficiary))
    return files


def _check_unique_paths(docs: list[PlannedDocument]) -> None:
    """Raise InvalidWorkbookError when two planned documents would have one file name."""
    owners = {d.path: d.beneficiary for d in docs}
    groups = duplicate_paths(d.path for d in docs)
    if groups and any(owners[p] is None for group in groups for p in group):
        # two types of the catalogue give one file name: a bug, not the agent's to fix
        raise ValueError(f"two planned documents share a path: {groups}")
    if groups:
        described = " ; ".join(
            f"« {group[0]} » (bénéficiaires {' et '.join(str(owners[p]) for p in group)})" for group in groups
        )
        raise InvalidWorkbookError(
            f"plusieurs documents auraient le même nom de fichier : {described}. Changez l'identifiant ou le nom "
            "de l'un de ces bénéficiaires dans la feuille « Bénéficiaires ». Rien n'a été écrit."
        )


Notes = Callable[[WriteResult, dict[str, Any]], list[str]]


@dataclass
class _Selection:
    """What a job writes, once the workbook is read: the types and beneficiaries to plan
    (None: every handed-over one), the scope it replaces, its notes."""

    specs: list[DocumentSpec]
    beneficiaries: list[Beneficiary] | None
    scope: Scope
    notes: Notes
    chosen: Beneficiary | None = None


def _select(job: Job, selected: list[DocumentSpec], dotation: Dotation, query: str | None) -> _Selection:
    """Return what ``job`` writes for this workbook. Raises InvalidWorkbookError
    (``demande`` with an unpaid invoice), BeneficiaryNotFoundError (``convention``)."""
    unpaid = unpaid_invoices(dotation)
    if job is Job.BATCH:
        if not unpaid:
            return _Selection(selected, None, Scope.of_job(job), _batch_notes)
        # The claim file rests on paid invoices only: it is left out, and the scope still
        # covers its types, so a previous claim file of this folder is removed.
        log.info("Dossier de demande non produit : %d facture(s) non payée(s)", len(unpaid))
        kept = [s for s in selected if not s.paid_invoices_only]
        return _Selection(kept, None, Scope.of_job(job), _claim_left_out_notes(unpaid))
    if job is Job.CLAIM:
        if unpaid and any(s.paid_invoices_only for s in selected):
            raise InvalidWorkbookError(
                f"la demande de versement ne peut porter que sur des dépenses payées et "
                f"{_unpaid_count(unpaid)} (feuille « {INVOICES.title} ») : {_unpaid_described(unpaid)}. "
                "Aucun document n'a été écrit. Renseignez le numéro de mandat et la date de paiement de "
                "chaque facture, puis relancez."
            )
        return _Selection(selected, [], Scope.of_job(job), _partial_notes)
    assert query is not None
    beneficiary, partial = match_beneficiary(dotation, query)
    if not dotation.devices_of(beneficiary):
        raise BeneficiaryNotFoundError(
            f"le bénéficiaire {beneficiary.identifier} « {beneficiary.name} » n'a aucun matériel dans "
            "la feuille « Matériel » : il n'a ni convention ni procès-verbal."
        )
    return _Selection(selected, [beneficiary], Scope.of_job(job, beneficiary.identifier), _partial_notes,
                      beneficiary if partial else None)


def run_job(
    job: Job,
    workbook: Path,
    output: Path = DEFAULT_OUTPUT,
    templates: Path | None = None,
    overwrite: bool = False,
    beneficiary: str | None = None,
) -> Written:
    """Run one job: check the templates its document types use (before the workbook is
    read), read and validate ``workbook``, plan the documents, render them and write them
    into ``output`` under the output-folder contract (the files replaced are those of the
    job's types in the catalogue). ``beneficiary`` names the beneficiary of ``convention``.

    Raises TemplateError (every template problem listed), InvalidWorkbookError (nothing
    written), BeneficiaryNotFoundError, OutputConflictError (unless ``overwrite``),
    OutputBusyError or OutputError."""
    outputdir.check_output_folder(output)
    check_reachable(templates)
    template_set, template_check = prepare_templates(specs(job), templates)
    checked = load_workbook_model(workbook)
    assert checked.dotation is not None and checked.funding is not None
    dotation, funding = checked.dotation, checked.funding
    selection = _select(job, specs(job), dotation, beneficiary)
    docs = plan(selection.specs, inputs(dotation, funding), selection.beneficiaries)
    _check_unique_paths(docs)
    header = manifest.header(workbook, dotation, funding)
    with outputdir.locked(output) as folder:
        files = _render_all(docs, template_set, dotation)
        result = write_batch(output, files, selection.scope, header, overwrite=overwrite)
    notes = ([folder.repaired] if folder.repaired else []) + _left_notes(result) + selection.notes(result, header)
    return Written(output, result.written, dotation, funding, checked.report, notes, result.removed,
                   result.foreign, selection.chosen, template_check.warnings)


def _batch_notes(result: WriteResult, header: dict[str, Any]) -> list[str]:
    return []


def _left_notes(result: WriteResult) -> list[str]:
    """The note on the previous manifest's entries the tool would not remove."""
    if not result.left:
        return []
    return [
        f"des entrées de l'ancien manifeste n'ont pas été supprimées ni suivies, car ce ne sont pas des documents "
        f"que l'outil peut remplacer : {' ; '.join(result.left)}. Le manifeste ne les liste plus ; ils sont "
        "laissés tels quels."
    ]


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
    like :func:`run_job`."""
    return run_job(Job.BATCH, workbook, output, templates, overwrite)


def generate_claim(
    workbook: Path, output: Path = DEFAULT_OUTPUT, templates: Path | None = None, overwrite: bool = False
) -> Written:
    """Validate ``workbook`` and write the subsidy claim file only (and update the
    manifest). Raises InvalidWorkbookError (nothing written) when an invoice has no mandate
    number or no payment date, and like :func:`run_job`."""
    return run_job(Job.CLAIM, workbook, output, templates, overwrite)


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
    :func:`run_job`."""
    return run_job(Job.BENEFICIARY, workbook, output, templates, overwrite, query)
