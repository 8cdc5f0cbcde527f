"""Pipeline: the user's jobs, through one runner (:func:`run_job`): check the templates
→ read and validate the workbook → plan the selected document types → render → (with
``--pdf``) convert to PDF and assemble the claim dossier → write.

One function per command; the command line only calls these and prints their result.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from dotation_docs import DEFAULT_OUTPUT, manifest, outputdir, reading, status
from dotation_docs.context import common_context
from dotation_docs.documents import (
    Applies,
    CLAIM_DIR,
    CONVERTIBLE,
    RENDERED,
    DocumentSpec,
    DocumentType,
    Inputs,
    OVERVIEW,
    OVERVIEW_TYPE,
    Job,
    PlannedDocument,
    Renderer,
    handover_path,
    inputs,
    plan,
    plan_pdf,
    spec_of,
    specs,
    template_names,
)
from dotation_docs.dossier import find_ghostscript, merge_dossier
from dotation_docs.exceptions import (
    BeneficiaryNotFoundError,
    InvalidWorkbookError,
    OutputError,
    TemplateError,
    describe_os_error,
)
from dotation_docs.formatting import format_date_short, format_list, pluralize
from dotation_docs.funding import ClaimHold, Funding, claim_hold
from dotation_docs.manifest import Scope
from dotation_docs.model import Beneficiary, Dotation
from dotation_docs.overview import overview_file, prepare_overview, signature_dates
from dotation_docs.pdf import PdfConversionError, convert_to_pdf, find_soffice
from dotation_docs.rendering import build_environment, render
from dotation_docs.report import Report
from dotation_docs.schema import normalize_label
from dotation_docs.summary import describe_claim_left_out, describe_claim_refused, describe_unsigned_records
from dotation_docs.templateset import (
    TemplateCheck,
    TemplateSet,
    check_templates,
    default_templates_dir,
    load_template_set,
    prepare_templates,
)
from dotation_docs.reading import Checked, read_ahead, read_behind
from dotation_docs.timings import TIMINGS
from dotation_docs.workers import Background, default_jobs, long_lived, run_parallel, usable_jobs
from dotation_docs.writers import (
    OutputFile,
    WriteResult,
    duplicate_paths,
    may_keep_pdfs,
    pdfs_still_right,
    write_batch,
)

log = logging.getLogger(__name__)


__all__ = [
    "DEFAULT_OUTPUT", "Checked", "PdfOptions", "PdfWritten", "Written", "check_workbook", "check_template_folder",
    "default_jobs", "default_templates_dir",
    "generate_batch", "generate_beneficiary", "generate_claim", "load_workbook_model", "run_job",
]


@dataclass(frozen=True)
class PdfOptions:
    """What ``--pdf``/``--pdfa``/``--soffice`` ask for: PDF (or PDF/A-2b with ``pdfa``)
    beside every .docx and .xlsx of the run, through the LibreOffice ``soffice`` (found
    by :func:`pdf.find_soffice` when None)."""

    pdfa: bool = False
    soffice: str | None = None


@dataclass
class PdfWritten:
    """What the PDF step made: the documents converted (paths of their sources), the
    claim dossier's path (None when the run has none), its part count and the agent's
    attachments it includes (paths), the attachments left out (not PDF)."""

    pdfa: bool
    converted: list[str] = field(default_factory=list)
    dossier: str | None = None
    dossier_parts: int = 0
    attachments: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class Written:
    """Result of a job that wrote files: the files written (the manifest last; those
    ``unchanged`` already held these bytes and were left untouched), the previous files
    removed, the foreign files left in the tool's folders, notes for the user, the
    beneficiary chosen from a partial name (``convention``) and what the PDF step made
    (None without ``--pdf``)."""

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
    pdf: PdfWritten | None = None
    unchanged: list[str] = field(default_factory=list)
    kept_pdfs: list[str] = field(default_factory=list)  # the previous PDFs of documents left as they are


# Imported on first use: openpyxl takes a tenth of the start-up, and only the process
# that makes the expense statement needs it (the workbook's modules: see reading).


def render_expense_statement(context: Any, timestamp: datetime) -> bytes:
    """:func:`dotation_docs.spreadsheet.render_expense_statement`."""
    from dotation_docs.spreadsheet import render_expense_statement as make

    return make(context, timestamp=timestamp)




def interrupted_run(output: Path) -> str | None:
    """Return a French sentence when an interrupted run left ``output`` to repair (for
    commands that only read: nothing is locked, repaired or written), else None."""
    return outputdir.inspect(output).describe()


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
    checked = reading.check_workbook(path, strict)
    checked.templates = template_check
    return checked


def load_workbook_model(path: Path, strict: bool = False,
                        consequence: str = "aucun document n'a été écrit") -> Checked:
    """Return the validated workbook; raises InvalidWorkbookError listing every problem
    when it has errors (or warnings, when ``strict``), saying ``consequence``."""
    return _accepted(check_workbook(path, strict), consequence)


def _accepted(checked: Checked, consequence: str = "aucun document n'a été écrit") -> Checked:
    """Return ``checked``; raises InvalidWorkbookError listing every problem when the
    workbook has errors (or warnings, when strict), saying ``consequence``."""
    path = checked.path
    log.info("Classeur %s lu : %s", path, checked.report.counts())
    if not checked.ok:
        raise InvalidWorkbookError(
            f"le classeur « {path} » contient des erreurs ; {consequence}.\n\n"
            f"{checked.report.format()}\n\n{checked.report.counts()}. Corrigez le classeur puis relancez."
        )
    return checked


def _timestamp(dotation: Dotation) -> datetime:
    # Documents are dated by the operation, not by the clock, so reruns are identical.
    return datetime.combine(dotation.operation.handover_date, time(0, 0))


class _DocumentRenderer:
    """Renders the planned documents of a run, one at a time: each Word template compiled
    once (:meth:`TemplateSet.word`, :mod:`dotation_docs.fastdocx`: the same bytes as
    :func:`render`, which it falls back to for what it does not handle), HTML templates
    through :func:`render`, the expense statement through openpyxl."""

    def __init__(self, docs: list[PlannedDocument], templates: TemplateSet, dotation: Dotation,
                 env: Any | None = None) -> None:
        self.docs = docs
        self.templates = templates
        self.env = env or build_environment()
        self.stamp = _timestamp(dotation)

    def compile(self) -> None:
        """Compile every Word template the documents use (before workers are forked, so
        that they inherit them)."""
        for name in dict.fromkeys(d.template for d in self.docs if d.template is not None):
            if self.templates[name].is_docx:
                self.templates.word(name, self.env)

    def render(self, index: int) -> bytes:
        doc = self.docs[index]
        log.info("Rendu de %s", doc.path)
        if doc.kind is Renderer.SPREADSHEET:
            return render_expense_statement(doc.context, timestamp=self.stamp)
        assert doc.template is not None
        template = self.templates[doc.template]
        if template.is_docx:
            return self.templates.word(template.name, self.env).render(doc.context, title=doc.title,
                                                                       timestamp=self.stamp)
        return render(template, doc.context, title=doc.title, timestamp=self.stamp, env=self.env)


Progress = Callable[[int], AbstractContextManager[Callable[[int], None]]]
"""Given the number of documents to render, a context manager yielding ``advance(n)``
(the command line's progress bar)."""


@dataclass(frozen=True)
class _Page:
    """A file of the run made by a function rather than planned from a template (the
    overview page), made with the documents: by whichever process claims it."""

    path: str
    type: str
    make: Callable[[], bytes]


def _render_all(docs: list[PlannedDocument], templates: TemplateSet, dotation: Dotation,
                staging: outputdir.Staging | None = None, jobs: int = 1, progress: Progress | None = None,
                env: Any | None = None, pages: Sequence[_Page] = (),
                listed: Mapping[str, str] | None = None) -> list[OutputFile]:
    """Return every planned document, then every one of ``pages``, as an OutputFile.
    Without ``staging``, the bytes are in memory; with it, each document is written into
    the staging folder as soon as it is rendered (the OutputFile says where), by ``jobs``
    worker processes when more than one (same bytes), except a document whose bytes
    ``listed`` (the previous manifest: path → SHA-256) gives for its path: that one is
    not written (:class:`~dotation_docs.outputdir.InPlace`; the OutputFile can make it
    again). Raises TemplateError, OutputError like :func:`render`."""
    renderer = _DocumentRenderer(docs, templates, dotation, env)
    fingerprint = status.Fingerprinter(templates)  # manifest fingerprints, for `dotation etat`
    count = len(docs)

    def make(index: int) -> bytes:
        return renderer.render(index) if index < count else pages[index - count].make()

    total = count + len(pages)
    if staging is None:
        made = [make(i) for i in range(total)]
        return [OutputFile(d.path, data, str(d.type), d.beneficiary, fingerprint(d, hashlib.sha256(data).hexdigest()))
                for d, data in zip(docs, made, strict=False)] + \
            [OutputFile(p.path, data, p.type) for p, data in zip(pages, made[count:], strict=True)]
    first = staging.reserve(total)
    output, folder = staging.output, staging.path
    listed = listed or {}
    paths = [d.path for d in docs] + [p.path for p in pages]

    def produce(index: int) -> outputdir.Staged | outputdir.InPlace:
        data = make(index)
        digest = hashlib.sha256(data).hexdigest()
        if listed.get(paths[index]) == digest:
            # Creating, moving and deleting a file costs more than making it (a national
            # batch is some 1,900 files): a file already holding these bytes stays.
            return outputdir.InPlace(digest)
        return outputdir.write_staged(output, folder, first + index, data, digest)

    renderer.compile()
    with progress(total) if progress is not None else contextlib.nullcontext(None) as advance:
        # A process for one document is not worth its start (nor for a page and two
        # documents: after a fork, both processes copy every page of memory they write to).
        workers = min(usable_jobs(jobs), total // 2)
        if workers > 1:
            # The pages, the expense statement (thousands of rows) and the HTML documents
            # are the longest to make: started first.
            heavy = [*range(count, total), *(i for i, d in enumerate(docs) if d.kind is not Renderer.WORD)]
            staged = run_parallel(produce, total, workers, advance, heavy)
        else:
            staged = []
            for index in range(total):
                staged.append(produce(index))
                if advance is not None:
                    advance(1)
    return [OutputFile(d.path, None, str(d.type), d.beneficiary, fingerprint(d, s.sha256), staged=s,
                       remake=functools.partial(make, i))
            for i, (d, s) in enumerate(zip(docs, staged, strict=False))] + \
        [OutputFile(p.path, None, p.type, staged=s, remake=functools.partial(make, count + i))
         for i, (p, s) in enumerate(zip(pages, staged[count:], strict=True))]


def rendered_digests(docs: list[PlannedDocument], templates: TemplateSet, dotation: Dotation) -> list[str]:
    """Return the SHA-256 of the bytes each of ``docs`` renders to now, one at a time in
    memory (``dotation etat``: nothing is written). Raises TemplateError."""
    renderer = _DocumentRenderer(docs, templates, dotation)
    return [hashlib.sha256(renderer.render(i)).hexdigest() for i in range(len(docs))]


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
    (``demande`` with an invoice unpaid on the claim's date, or a claim dated before the
    handover), BeneficiaryNotFoundError (``convention``)."""
    hold = claim_hold(dotation)
    if job is Job.BATCH:
        if not hold:
            # the claim file is written: its records not signed yet hold it back
            return _Selection(selected, None, Scope.of_job(job),
                              lambda result, header: describe_unsigned_records(dotation))
        # The claim file certifies paid invoices and a completed operation on its date: it
        # is left out, and the scope still covers its types, so a previous claim file of
        # this folder is removed.
        log.info("Dossier de demande non produit : %d facture(s) non payée(s), demande datée avant la remise : %s",
                 len(hold.unpaid), hold.early)
        kept = [s for s in selected if not s.paid_invoices_only]
        return _Selection(kept, None, Scope.of_job(job), _claim_left_out_notes(hold))
    if job is Job.CLAIM:
        if hold and any(s.paid_invoices_only for s in selected):
            raise InvalidWorkbookError(describe_claim_refused(hold))
        return _Selection(selected, [], Scope.of_job(job), _claim_notes(dotation))  # (helper "etat")
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
    pdf: PdfOptions | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    ahead: Background | None = None,
) -> Written:
    """Run one job: check the templates its document types use (before the workbook is
    read), read and validate ``workbook``, plan the documents, render them, with ``pdf``
    convert every .docx/.xlsx to PDF (one LibreOffice process) and assemble the claim
    dossier, and write everything into ``output`` under the output-folder contract (the
    files replaced are those of the job's types in the catalogue, PDF types included: a
    run without ``pdf`` removes the PDFs of the documents it rewrites). ``beneficiary``
    names the beneficiary of ``convention``. Documents are written into the staging
    folder as they are rendered, by ``jobs`` worker processes (1: in this process);
    ``progress`` follows the rendering. ``ahead`` is the workbook's reading already
    started (:func:`reading.read_ahead`); without it, and with more than one process
    allowed, it is started here.

    Raises SofficeNotFoundError and GhostscriptNotFoundError (``pdf``, before anything
    is read or written), TemplateError (every template problem listed),
    InvalidWorkbookError (nothing written), BeneficiaryNotFoundError,
    PdfConversionError and DossierError (nothing written), OutputConflictError (unless
    ``overwrite``), OutputBusyError or OutputError."""
    outputdir.check_output_folder(output)
    outputdir.check_not_busy(output)
    soffice = find_soffice(pdf.soffice) if pdf is not None else None
    job_specs = specs(job)
    check_reachable(templates)
    env = build_environment()
    # With other processes allowed, the workbook is read and validated by one (started by
    # the command line before its imports, or here) while this one checks and compiles the
    # templates: the two longest steps before rendering, at once. Errors come in the same
    # order: the templates' first.
    with contextlib.ExitStack() as stack:
        if ahead is None:
            ahead = stack.enter_context(read_ahead(workbook, jobs))
        with TIMINGS.step("modeles"):
            template_set, template_check = prepare_templates(_template_specs(job_specs, pdf is not None),
                                                             templates, env=env)
            if ahead is not None:  # meanwhile: compiled now (else only those the plan uses, later)
                for name in template_set.templates:
                    if template_set[name].is_docx:
                        template_set.word(name, env)
                prepare_overview()
        checked = _accepted(read_behind(ahead, workbook))
    # The model of a national workbook holds hundreds of thousands of objects, which each
    # collection would otherwise walk again (about a second over a batch).
    with long_lived():
        return _run(job, job_specs, workbook, output, overwrite, beneficiary, pdf, soffice, env, jobs,
                    progress, template_set, template_check, checked)


def _run(job: Job, job_specs: list[DocumentSpec], workbook: Path, output: Path, overwrite: bool,
         beneficiary: str | None, pdf: PdfOptions | None, soffice: str | None, env: Any, jobs: int,
         progress: Progress | None, template_set: TemplateSet, template_check: Any, checked: Checked) -> Written:
    """:func:`run_job` once the templates are checked and the workbook read."""
    assert checked.dotation is not None and checked.funding is not None
    dotation, funding = checked.dotation, checked.funding
    selection = _select(job, job_specs, dotation, beneficiary)
    chosen = [s for s in selection.specs if pdf is not None or s.renderer in RENDERED]
    with TIMINGS.step("plan"):
        given = _inputs(dotation, funding, selection.beneficiaries)
        docs = plan(chosen, given, selection.beneficiaries)
    gc.freeze()  # the plan lives until the end too (handed back by run_job's long_lived())
    conversions = plan_pdf(chosen, docs)
    dossiers = [s for s in chosen if s.renderer is Renderer.DOSSIER]
    extra = _dossier_only_documents(dossiers, docs, given)
    ghostscript = find_ghostscript() if pdf is not None and pdf.pdfa and dossiers else None
    _check_unique_paths(docs + conversions + [_planned_dossier(s) for s in dossiers])
    header = manifest.header(workbook, dotation, funding)
    pdf_written = None
    with outputdir.locked(output) as folder, outputdir.Staging(output) as staging:

        def overview(listed: Sequence[OutputFile]) -> OutputFile:
            # Overview page (issue #11): index.html lists this run's files and the kept ones (it
            # reads the previous manifest: under the lock); in every job's scope.
            return overview_file(output, listed, selection.scope, dotation, funding, checked.report, workbook.name)

        def planned_overview() -> bytes:
            page = overview([OutputFile(d.path, None, str(d.type), d.beneficiary) for d in docs])
            assert page.data is not None
            return page.data

        previous = manifest.entries(manifest.read_manifest(output))
        # Without PDF, a document whose bytes the previous manifest lists at its path is not
        # written again (the PDF step reads every source from the staging folder); the PDFs of
        # the previous batch made from documents left as they are stay.
        listed = {e.path: e.sha256 for e in previous} if pdf is None else {}
        keeping = pdf is None and may_keep_pdfs(previous, selection.scope)
        # Without PDF, the run's files are the planned documents: the page is made while they
        # are rendered, in parallel; with PDF, once the conversions are known; when PDFs may
        # stay, once the documents are made (which PDFs stay depends on their bytes).
        pages = [_Page(OVERVIEW, OVERVIEW_TYPE, planned_overview)] if pdf is None and not keeping else []
        with TIMINGS.step("rendu"):
            rendered = _render_all(docs + extra, template_set, dotation, staging, jobs, progress, env, pages,
                                   listed)
        files = rendered[:len(docs)]
        kept_pdfs: list[manifest.Entry] = []
        if keeping:
            kept_pdfs = pdfs_still_right(output, previous, files, selection.scope)
            files.append(overview(files + [OutputFile(e.path, None, e.type, e.beneficiary) for e in kept_pdfs]))
        elif pdf is not None:
            assert soffice is not None
            pdf_files, pdf_written = _pdf_step(
                rendered, conversions, dossiers, output, dotation, pdf, soffice, ghostscript, staging
            )
            files += pdf_files
            files.append(overview(files))
        else:
            files += rendered[len(docs) + len(extra):]
        with TIMINGS.step("ecriture"):
            result = write_batch(output, files, selection.scope, header, overwrite=overwrite, staging=staging,
                                 keep=[e.path for e in kept_pdfs])
    TIMINGS.save()
    before = _previous_versions(result)
    notes = ([folder.repaired] if folder.repaired else []) + _left_notes(result) + selection.notes(result, header) \
        + _signed_but_changed(result, dotation, before) \
        + _dossier_left_stale(result, dotation, output, workbook, pdf is not None, before)
    return Written(output, result.written, dotation, funding, checked.report, notes, result.removed,
                   result.foreign, selection.chosen, template_check.warnings, pdf_written, result.unchanged,
                   result.kept_pdfs)


def _inputs(dotation: Dotation, funding: Funding, beneficiaries: list[Beneficiary] | None) -> Inputs:
    """The plan's inputs. A job for some beneficiaries (``convention``) names only their
    handover records (the claim's list is not part of it): nothing is computed for the
    other beneficiaries of a national workbook."""
    given = inputs(dotation, funding) if not beneficiaries else Inputs(
        dotation, funding, common_context(dotation, funding),
        {b.identifier: handover_path(b).rsplit("/", 1)[1] for b in beneficiaries if dotation.devices_of(b)})
    return given


def _template_specs(job_specs: list[DocumentSpec], pdf: bool) -> list[DocumentSpec]:
    """The types whose templates a run loads: the job's, and with ``pdf`` the parts of
    its dossiers that the job does not produce (``demande`` renders the handover records
    for its dossier)."""
    if not pdf:
        return job_specs
    names = {str(s.type) for s in job_specs}
    parts = dict.fromkeys(str(t) for s in job_specs if s.renderer is Renderer.DOSSIER for t, _title in s.parts)
    return job_specs + [spec_of(t) for t in parts if t not in names]


def _dossier_only_documents(dossiers: list[DocumentSpec], docs: list[PlannedDocument],
                            given: Inputs) -> list[PlannedDocument]:
    """The parts of the ``dossiers`` that the job does not write itself (for
    ``demande``: every handover record), planned to be rendered and converted for the
    dossier only, never written as such."""
    planned = {str(d.type) for d in docs}
    missing = dict.fromkeys(str(t) for s in dossiers for t, _title in s.parts if str(t) not in planned)
    return plan([spec_of(t) for t in missing], given) if missing else []


def _planned_dossier(spec: DocumentSpec) -> PlannedDocument:
    title = spec.title(None, None)  # type: ignore[arg-type]  # a dossier's title needs no input
    return PlannedDocument(spec.type, spec.path(None), title, None, {}, None, spec.renderer)


def _pdf_timestamp(dotation: Dotation) -> datetime:
    # The PDFs carry the same date as the .docx/.xlsx properties: the operation's.
    return _timestamp(dotation).replace(tzinfo=UTC)


def _pdf_step(
    rendered: list[OutputFile], conversions: list[PlannedDocument], dossiers: list[DocumentSpec], output: Path,
    dotation: Dotation, options: PdfOptions, soffice: str, ghostscript: str | None,
    staging: outputdir.Staging | None = None,
) -> tuple[list[OutputFile], PdfWritten]:
    """Convert every rendered .docx/.xlsx (the dossier-only parts included) in one
    LibreOffice process, then merge each dossier; return the PDF files to write (still
    in memory: they go through the same atomic write as the rest) and what was made."""
    date = _pdf_timestamp(dotation)
    sources = [f for f in rendered if spec_of(f.type).renderer in CONVERTIBLE]
    pdfs = _convert(sources, options, soffice, date, staging)
    by_path = {f.path: f for f in rendered}
    # a PDF has its source's fingerprints (helper "etat")
    files = [OutputFile(c.path, pdfs[c.source], str(c.type), c.beneficiary, by_path[c.source].meta)
             for c in conversions if c.source]
    made = PdfWritten(options.pdfa, [c.source for c in conversions if c.source])
    for spec in dossiers:
        parts = _dossier_parts(spec, sources, pdfs, dotation)
        attachments, skipped = _attachments(output, spec)
        made.attachments += [path for path, _data in attachments]
        made.skipped += skipped
        parts += [(f"Pièce jointe – {path.rsplit('/', 1)[1]}", data) for path, data in attachments]
        log.info("Assemblage du dossier %s (%d pièces)", spec.path(None), len(parts))
        data = merge_dossier(parts, pdfa=options.pdfa, title=spec.title(None, None),  # type: ignore[arg-type]
                             ghostscript=ghostscript, creation_date=date)
        meta = status.dossier_fingerprints([f.meta for f in status.dossier_parts(spec, sources)],  # helper "etat"
                                           [(path, hashlib.sha256(blob).hexdigest()) for path, blob in attachments])
        files.append(OutputFile(spec.path(None), data, str(spec.type), meta=meta))
        made.dossier, made.dossier_parts = spec.path(None), len(parts)
    assert all(c.source in by_path for c in conversions)
    return files, made


def _convert(sources: list[OutputFile], options: PdfOptions, soffice: str, date: datetime,
             staging: outputdir.Staging | None = None) -> dict[str, bytes]:
    """Return the PDF of each of ``sources`` (by path), converted in ONE LibreOffice
    process from a private temporary copy (the output folder is not touched; files
    streamed to ``staging`` are copied from there). Raises
    PdfConversionError naming each file not converted, by its path in the output
    folder."""
    if not sources:
        return {}
    with tempfile.TemporaryDirectory(prefix="dotation-sources-", ignore_cleanup_errors=True) as tmp:
        staged: dict[Path, str] = {}
        for f in sources:
            path = Path(tmp, *f.path.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            if f.staged is not None:
                assert staging is not None
                shutil.copyfile(staging.file(f.staged), path)
            else:
                assert f.data is not None
                path.write_bytes(f.data)
            staged[path] = f.path
        log.info("Conversion en %s de %d documents par LibreOffice", "PDF/A-2b" if options.pdfa else "PDF",
                 len(staged))
        try:
            pdfs = convert_to_pdf(list(staged), pdfa=options.pdfa, soffice=soffice, creation_date=date)
        except PdfConversionError as err:
            failed = {staged.get(p, str(p)): reason for p, reason in err.failed.items()}
            lines = [f"  - {path} : {reason}" for path, reason in failed.items()]
            raise PdfConversionError(
                f"la conversion en PDF a échoué pour {len(failed)} document(s) sur {len(staged)} ; rien n'a été "
                "écrit, le lot précédent est intact :\n" + "\n".join(lines),
                converted={Path(staged[p]): data for p, data in err.converted.items()},
                failed={Path(path): reason for path, reason in failed.items()},
            ) from err
    return {staged[p]: data for p, data in pdfs.items()}


def _dossier_parts(spec: DocumentSpec, sources: list[OutputFile], pdfs: dict[str, bytes],
                   dotation: Dotation) -> list[tuple[str, bytes]]:
    """The (bookmark title, PDF) of each part of the dossier ``spec`` declares, in its
    order; per beneficiary, in the order of the plan (the workbook's)."""
    names = {b.identifier: b.name for b in dotation.beneficiaries}
    parts = []
    for type_name, title in spec.parts:
        for f in sources:
            if f.type == str(type_name):
                label = f"{title} – {f.beneficiary} {names[f.beneficiary]}" if f.beneficiary else title
                parts.append((label, pdfs[f.path]))
    return parts


def _attachments(output: Path, spec: DocumentSpec) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The agent's PDFs in the dossier's attachments folder, in name order (path,
    bytes), and the other files of that folder (left out). The tool only reads them."""
    if spec.attachments is None:
        return [], []
    folder = output / spec.attachments
    try:
        entries = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: (p.name.casefold(), p.name))
    except FileNotFoundError:
        return [], []
    except OSError as err:
        raise OutputError(f"impossible de lire le dossier des pièces jointes « {folder} » : "
                          f"{describe_os_error(err)}. Rien n'a été écrit.") from err
    found, skipped = [], []
    for path in entries:
        rel = f"{spec.attachments}/{path.name}"
        if path.suffix.lower() != ".pdf":
            skipped.append(rel)
            continue
        try:
            found.append((rel, path.read_bytes()))
        except OSError as err:
            raise OutputError(f"impossible de lire la pièce jointe « {path} » : {describe_os_error(err)}. "
                              "Rien n'a été écrit.") from err
    return found, skipped


Versions = dict[tuple[str | None, str], set[str]]


def _previous_versions(result: WriteResult) -> Versions:
    """The digests of the previous manifest's documents, by beneficiary and type: the
    previous version of a beneficiary's document (its file name follows the beneficiary's
    name, which a correction may change)."""
    before: Versions = {}
    for e in manifest.entries(result.previous) if result.previous is not None else []:
        before.setdefault((e.beneficiary, e.type), set()).add(e.sha256)
    return before


def _signed_but_changed(result: WriteResult, dotation: Dotation, before: Versions) -> list[str]:
    """A note per convention or handover record the workbook says is signed and that this
    run rewrote with another content than its previous version (``before``): the signed
    paper is of the previous version."""
    if result.previous is None:
        return []
    by_id = {b.identifier: b for b in dotation.beneficiaries}
    notes = []
    for f in result.written:
        b = by_id.get(f.beneficiary or "")
        previous = before.get((f.beneficiary, f.type))
        if b is None or not previous or f.sha256 in previous or f.path.endswith(".pdf"):
            continue  # a new document, or the very bytes signed
        convention_on, handover_on = signature_dates(b)
        kind = spec_of(f.type).source or f.type
        if kind == DocumentType.CONVENTION and convention_on is not None:
            what, column, signed = "la convention", "Date de signature de la convention", convention_on
        elif kind == DocumentType.HANDOVER and handover_on is not None:
            what, column, signed = "le procès-verbal de remise", "Date de signature du procès-verbal", handover_on
        else:
            continue
        notes.append(
            f"{what} de {b.identifier} « {b.name} », signé{'e' if what.startswith('la') else ''} "
            f"le {format_date_short(signed)} d'après le classeur, a changé ({f.path}) : faites signer la nouvelle version, "
            f"puis mettez à jour « {column} » dans la feuille « Bénéficiaires »."
        )
    return notes


def _dossier_left_stale(result: WriteResult, dotation: Dotation, output: Path, workbook: Path,
                        pdf: bool, before: Versions) -> list[str]:
    """A note per claim dossier that this run left in the folder as it was (it did not
    assemble it again, nor remove it: ``convention``, with or without ``--pdf``) although
    it rewrote, with other bytes, a document the dossier encloses: the dossier, still
    listed, holds the previous version. Said only when the dossier's data fingerprint
    (:func:`status.dossier_fingerprints`, from the manifest's fingerprints of its parts
    and the attachments now in the folder) no longer matches: a dossier that ``demande
    --pdf`` already assembled from the corrected records is up to date."""
    if result.previous is None or not result.written:
        return []
    written = {f.path for f in result.written}
    left = [s for s in specs() if s.renderer is Renderer.DOSSIER and s.path(None) not in written
            and s.path(None) not in result.removed and (output / s.path(None)).is_file()]
    if not left:
        return []
    by_id = {b.identifier: b for b in dotation.beneficiaries}
    now: list[manifest.Entry] | None = None
    notes = []
    for spec in left:
        kinds = {str(t) for t, _title in spec.parts}
        changed = [f for f in result.written
                   if f.type in kinds and f.sha256 not in before.get((f.beneficiary, f.type), set())]
        if not changed:
            continue
        if now is None:  # the manifest this run wrote (its last file): what the folder lists now
            data = result.written[-1].data
            now = manifest.entries(json.loads(data)) if data is not None else []
        path = spec.path(None)
        entry = next((e for e in now if e.path == path), None)
        if entry is None:
            continue
        recorded = entry.raw.get(status.DATA_KEY)
        if isinstance(recorded, str) and recorded == _dossier_fingerprint(spec, now, dotation, output):
            continue  # assembled from these very versions already (``demande --pdf`` after the correction)
        described = []
        for f in changed:  # a beneficiary's record in practice: a job rewriting the claim covers the dossier
            b = by_id.get(f.beneficiary or "")
            described.append(f"le {spec_of(f.type).label[0]} de {b.identifier} « {b.name} » ({f.path})"
                             if b is not None else f"« {f.path} »")
        n = len(changed)
        verb = pluralize(n, "a changé", "ont changé")
        versions = pluralize(n, "l'ancienne version", "les anciennes versions")
        # Without --pdf, this run also removed the PDFs of the documents it rewrote: only
        # generer makes them again; with --pdf, demande is enough.
        command = f"dotation {'demande' if pdf else 'generer'} {shlex.quote(str(workbook))} -o " \
                  f"{shlex.quote(str(output))} --pdf"
        notes.append(
            f"le dossier de demande ({path}) n'est plus à jour : {format_list(described)} {verb}, le dossier en "
            f"contient {versions}. Refaites-le avant de l'imprimer ou de l'envoyer : « {command} »."
        )
    return notes


def _dossier_fingerprint(spec: DocumentSpec, entries: list[manifest.Entry], dotation: Dotation,
                         output: Path) -> str:
    """The data fingerprint the dossier ``spec`` would have if it were assembled now from
    the documents ``entries`` (the manifest) lists: its parts in the dossier's order, a
    beneficiary's in the workbook's (as :func:`plan` orders them), and the agent's
    attachments in the folder."""
    found = {(e.beneficiary, e.type): e.raw for e in entries}
    people = [b.identifier for b in dotation.beneficiaries if dotation.devices_of(b)]
    parts: list[Mapping[str, Any]] = []
    for type_name, _title in spec.parts:
        kind = str(type_name)
        if spec_of(kind).applies is Applies.OPERATION:
            parts.append(found.get((None, kind), {}))
        else:
            parts += [found[(who, kind)] for who in people if (who, kind) in found]
    attachments = status.attachment_digests(output, spec)  # the same reading as `dotation etat`
    return status.dossier_fingerprints(parts, attachments)[status.DATA_KEY]


def _left_notes(result: WriteResult) -> list[str]:
    """The note on the previous manifest's entries the tool would not remove."""
    n = len(result.left_paths)
    if not n:
        return []
    return [
        f"l'outil n'a ni supprimé ni suivi {pluralize(n, 'ce fichier', 'ces fichiers')} d'un lot précédent, "
        f"qu'il ne peut plus remplacer : {' ; '.join(result.left)}. Le manifeste ne "
        f"{pluralize(n, 'le liste plus ; supprimez-le vous-même', 'les liste plus ; supprimez-les vous-même')} "
        f"s'{pluralize(n, 'il ne sert plus', 'ils ne servent plus')}."
    ]


def _claim_left_out_notes(hold: ClaimHold) -> Callable[[WriteResult, dict[str, Any]], list[str]]:
    """Notes of a full batch written without its claim file (``hold`` says why)."""

    def notes(result: WriteResult, header: dict[str, Any]) -> list[str]:
        lines = [describe_claim_left_out(hold)]
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


def _claim_notes(dotation: Dotation) -> Notes:
    """Notes of ``demande``: those of a partial job, and the handover records and
    conventions not signed on the claim's date (the claim encloses the records as proof,
    its certificate cites the conventions)."""
    return lambda result, header: _partial_notes(result, header) + describe_unsigned_records(dotation)


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
    workbook: Path, output: Path = DEFAULT_OUTPUT, templates: Path | None = None, overwrite: bool = False,
    pdf: PdfOptions | None = None, jobs: int = 1, progress: Progress | None = None, ahead: Background | None = None,
) -> Written:
    """Validate ``workbook`` and write the whole batch into ``output``: conventions,
    handover records, press release, subsidy claim file and manifest. The claim file is
    left out while an invoice is unpaid on the claim's date or the claim is dated before
    the handover (see :func:`funding.claim_hold`; a note says why). The tool's previous
    files that this batch no longer has are removed. With
    ``pdf``, a PDF beside every .docx/.xlsx and the claim dossier. Raises like
    :func:`run_job`."""
    return run_job(Job.BATCH, workbook, output, templates, overwrite, pdf=pdf, jobs=jobs, progress=progress,
                   ahead=ahead)


def generate_claim(
    workbook: Path, output: Path = DEFAULT_OUTPUT, templates: Path | None = None, overwrite: bool = False,
    pdf: PdfOptions | None = None, jobs: int = 1, progress: Progress | None = None, ahead: Background | None = None,
) -> Written:
    """Validate ``workbook`` and write the subsidy claim file only (and update the
    manifest). Raises InvalidWorkbookError (nothing written) when an invoice has no mandate
    number or no payment date, and like :func:`run_job`. With ``pdf``, the PDFs of the
    claim's documents and the dossier (the handover records rendered for it only)."""
    return run_job(Job.CLAIM, workbook, output, templates, overwrite, pdf=pdf, jobs=jobs, progress=progress,
                   ahead=ahead)


def _search_key(text: str) -> str:
    """Fold a name for look-up: accents, case, « & » read as « et », punctuation as
    spaces (« Sport & Loisirs de l'Aurence » = « sport et loisirs de l aurence »)."""
    folded = normalize_label(text.replace("&", " et "))
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


LISTED_BENEFICIARIES = 10
"""How many beneficiaries an unknown name's message lists when none is close to it."""


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
    if close:
        hint = f"Vouliez-vous dire : {_listed(close)} ?"
    else:  # a national workbook's thousand names would bury the message: the first ones
        everyone = list(dotation.beneficiaries)
        more = len(everyone) - LISTED_BENEFICIARIES
        hint = f"Bénéficiaires du classeur : {_listed(everyone[:LISTED_BENEFICIARIES])}" + (
            f" ; et {more} autres (feuille « Bénéficiaires » du classeur)." if more > 0 else ".")
    raise BeneficiaryNotFoundError(f"aucun bénéficiaire ne correspond à « {query} ». {hint}")


def find_beneficiary(dotation: Dotation, query: str) -> Beneficiary:
    """Return the beneficiary ``query`` designates (see :func:`match_beneficiary`)."""
    return match_beneficiary(dotation, query)[0]


def generate_beneficiary(
    workbook: Path, query: str, output: Path = DEFAULT_OUTPUT, templates: Path | None = None,
    overwrite: bool = False, pdf: PdfOptions | None = None, jobs: int = 1, progress: Progress | None = None,
    ahead: Background | None = None,
) -> Written:
    """Rewrite the convention and handover record of one beneficiary only; its previous
    files under another name (it was renamed) are removed, every other file keeps its
    bytes (the manifest is updated). Raises BeneficiaryNotFoundError and like
    :func:`run_job`."""
    return run_job(Job.BENEFICIARY, workbook, output, templates, overwrite, query, pdf, jobs, progress, ahead)
