"""Document catalogue and plan: every type of document the tool produces, declared once,
and the plan of the documents a job produces (template, file name, context).

:data:`CATALOGUE` holds one :class:`DocumentSpec` per type: its manifest name, folder, file
name rule, template(s), renderer, the beneficiaries it applies to, the jobs it belongs to
and its French labels. Jobs (:class:`Job`) are selections from it; the folders a job
replaces, the manifest's folders and the summaries' labels are derived from it. Adding a
document type is one :func:`register` call (or one entry below) plus a template.

PDF types are in the catalogue too. Every Word or spreadsheet type has a PDF companion
(:func:`pdf_companion`, type ``<type>_pdf``, same folder and file name with ``.pdf``, same
jobs and beneficiaries), added with it: a job's scope therefore covers the PDFs of the
types it produces, and a run without ``--pdf`` removes the PDFs of the documents it
rewrites. The claim dossier is one entry (:data:`CLAIM_DOSSIER`) that declares its parts,
in order, and the folder of the agent's attachments. :func:`plan` plans the rendered
types only; :func:`plan_pdf` the PDFs of the rendered documents.

Nothing is rendered or written here. File names are built from the beneficiary's
identifier (validated to letters, digits, ``-`` and ``_``) and a slug of its name, never
from a path in the data.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from slugify import slugify

from dotation_docs.context import (
    Context,
    beneficiary_context,
    claim_context,
    common_context,
    convention_title,
    handover_title,
    invitation_context,
    press_context,
)
from dotation_docs.funding import Funding
from dotation_docs.model import Beneficiary, ConventionKind, Dotation


class DocumentType(enum.StrEnum):
    """The bundled kinds of document; the value is the ``type`` of ``manifeste.json``
    (a registered type may be any other string)."""

    CONVENTION = "convention"
    HANDOVER = "proces_verbal"
    PRESS = "communique"
    PRESS_HTML = "communique_html"
    INVITATION = "invitation"
    INVITATION_HTML = "invitation_html"
    CLAIM_LETTER = "demande_lettre"
    EXPENSE_STATEMENT = "etat_depenses"
    FINANCING_PLAN = "plan_financement"
    CERTIFICATE = "attestation"


class Renderer(enum.Enum):
    """How a document is made: from a Word or HTML template, or in code (spreadsheet)."""

    WORD = "word"
    HTML = "html"
    SPREADSHEET = "spreadsheet"
    PDF = "pdf"  # converted from another type's document by LibreOffice (``--pdf``)
    DOSSIER = "dossier"  # PDFs of other types merged into one (``--pdf``)


#: Renderers of the documents made from the workbook (the others are made from them).
RENDERED = frozenset({Renderer.WORD, Renderer.HTML, Renderer.SPREADSHEET})
#: Renderers whose documents LibreOffice converts to PDF (.docx, .xlsx).
CONVERTIBLE = frozenset({Renderer.WORD, Renderer.SPREADSHEET})


class Applies(enum.Enum):
    """Which beneficiaries a type gives one document each: none (one document for the
    operation), the associations, or every beneficiary that receives devices."""

    OPERATION = "operation"
    ASSOCIATIONS = "associations"
    HANDED_OVER = "beneficiaires"


class Job(enum.Enum):
    """The commands that write documents; the value is the command's name."""

    BATCH = "generer"
    BENEFICIARY = "convention"
    CLAIM = "demande"


# Output folders, relative to the output folder.
CONVENTIONS_DIR = "conventions"
HANDOVERS_DIR = "proces-verbaux"
PRESS_DIR = "communique"
CLAIM_DIR = "demande-subvention"
MANIFEST = "manifeste.json"
# The agent's PDFs appended to the claim dossier (never changed by the tool).
ATTACHMENTS_DIR = f"{CLAIM_DIR}/pieces-jointes"
#: Manifest type of the claim dossier (``demande-subvention/dossier-demande-subvention.pdf``).
CLAIM_DOSSIER = "dossier_demande"
#: The overview page of the output folder (:mod:`dotation_docs.overview`) and its manifest
#: type. It lies at the root, like the manifest, so it is not a catalogue type (no folder,
#: no template of the set): every job rewrites it, whatever types it produces.
OVERVIEW = "index.html"
OVERVIEW_TYPE = "apercu"
OVERVIEW_LABEL = ("page d'aperçu (index.html)", "pages d'aperçu (index.html)")


@dataclass(frozen=True)
class Inputs:
    """What a plan is built from: the model, its funding, the common context (built once
    per job) and the file name of each handover record (for the claim's list)."""

    dotation: Dotation
    funding: Funding
    common: Context
    handover_files: dict[str, str]


@dataclass(frozen=True)
class DocumentSpec:
    """One type of document.

    ``file_name(beneficiary)`` gives the file name inside ``folder`` (``beneficiary`` is
    None for an operation-level type). ``template`` is a file name, a mapping from the
    convention kind to a file name (loan and gift variants), or None for a spreadsheet.
    ``title(inputs, beneficiary)`` gives the document's title; ``context(inputs,
    beneficiary, title)`` its template context. ``paid_invoices_only``: the type rests on
    paid invoices (the claim file), and the full batch leaves it out while one is unpaid.
    ``label`` is French (singular, plural) for the summaries.

    ``source``: for a PDF type, the type it is converted from. ``parts``: for a dossier,
    the (type, French bookmark title) of its parts in order (a type given once per
    beneficiary gets one part each, « title – B01 name »), then the PDFs of the
    ``attachments`` folder, in name order.
    """

    type: str
    folder: str
    file_name: Callable[[Beneficiary | None], str]
    template: str | Mapping[ConventionKind, str] | None
    renderer: Renderer
    applies: Applies
    jobs: frozenset[Job]
    label: tuple[str, str]
    title: Callable[[Inputs, Beneficiary | None], str]
    context: Callable[[Inputs, Beneficiary | None, str], Context]
    paid_invoices_only: bool = False
    source: str | None = None
    parts: tuple[tuple[str, str], ...] = ()
    attachments: str | None = None

    @property
    def template_names(self) -> tuple[str, ...]:
        """Every template file this type may use (both variants of a convention)."""
        if self.template is None:
            return ()
        if isinstance(self.template, str):
            return (self.template,)
        return tuple(self.template.values())

    def template_for(self, dotation: Dotation) -> str | None:
        """Return the template this operation uses for this type."""
        if self.template is None or isinstance(self.template, str):
            return self.template
        return self.template[dotation.operation.convention_kind]

    def path(self, beneficiary: Beneficiary | None) -> str:
        """Return the document's path relative to the output folder."""
        return f"{self.folder}/{self.file_name(beneficiary)}"


@dataclass(frozen=True)
class PlannedDocument:
    """One document to produce. ``template`` is None for the expense statement, which
    is built by code rather than from a template. Its context is given, or built on
    first use from a function (:attr:`context`)."""

    type: str
    path: str
    title: str
    template: str | None
    _context: dict[str, Any] | Callable[[], dict[str, Any]] = field(repr=False, compare=False)
    beneficiary: str | None = None
    renderer: Renderer | None = None
    source: str | None = None  # a PDF: the path of the document it is converted from

    @property
    def context(self) -> dict[str, Any]:
        """The document's template context. Planned from the workbook, it is built on
        first use: a national batch plans thousands of documents, and each context is
        then built where its document is rendered (by a worker process, see
        :mod:`dotation_docs.workers`) rather than all of them before rendering starts."""
        context = self._context
        if callable(context):
            context = context()
            object.__setattr__(self, "_context", context)
        return context

    @property
    def kind(self) -> Renderer:
        """The renderer, from the spec or (for a document built by hand) the file name."""
        if self.renderer is not None:
            return self.renderer
        if self.template is None:
            return Renderer.SPREADSHEET
        return Renderer.HTML if self.template.lower().endswith(".html") else Renderer.WORD


def file_stem(beneficiary: Beneficiary, kind: str) -> str:
    """Return ``B01-convention-sport-loisirs-de-l-aurence``: identifier, kind, slug."""
    return f"{beneficiary.identifier}-{kind}-{_slug(beneficiary.name)}"


@functools.lru_cache(maxsize=4096)
def _slug(name: str) -> str:
    """The name in a file name: ``sport-loisirs-de-l-aurence``. Transliterated by
    text-unidecode, named: left to « auto », python-slugify would look for another
    library at each call (slow), and would pick it if installed (other file names)."""
    return slugify(name, max_length=50, word_boundary=True, backend="text-unidecode") or "beneficiaire"


def per_beneficiary(kind: str, suffix: str) -> Callable[[Beneficiary | None], str]:
    """Return the file name rule ``<identifier>-<kind>-<slug of the name><suffix>``."""

    def name(beneficiary: Beneficiary | None) -> str:
        assert beneficiary is not None
        return f"{file_stem(beneficiary, kind)}{suffix}"

    return name


def fixed(name: str) -> Callable[[Beneficiary | None], str]:
    """Return the file name rule of an operation-level document: always ``name``."""
    return lambda _beneficiary: name


def beneficiary_document(title: Callable[[Dotation, Beneficiary], str]) -> dict[str, Any]:
    """Return the ``title`` and ``context`` of a spec about one beneficiary: ``title``
    from the model, the context of :func:`context.beneficiary_context`."""
    def make_title(inputs: Inputs, b: Beneficiary | None) -> str:
        assert b is not None
        return title(inputs.dotation, b)

    def make_context(inputs: Inputs, b: Beneficiary | None, doc_title: str) -> Context:
        assert b is not None
        return beneficiary_context(inputs.dotation, inputs.funding, b, doc_title, inputs.common)

    return {"title": make_title, "context": make_context}


def operation_document(build: Callable[[Dotation, Funding, Context], Context]) -> dict[str, Any]:
    """Title and context of a document whose context states its own title."""

    def make_context(inputs: Inputs, _b: Beneficiary | None, _title: str) -> Context:
        return build(inputs.dotation, inputs.funding, inputs.common)

    def make_title(inputs: Inputs, b: Beneficiary | None) -> str:
        return str(make_context(inputs, b, "")["document"]["titre"])

    return {"title": make_title, "context": make_context}


def claim_document(title: str) -> dict[str, Any]:
    """Return the ``title`` and ``context`` of a piece of the subsidy claim file."""
    def make_context(inputs: Inputs, _b: Beneficiary | None, doc_title: str) -> Context:
        return claim_context(inputs.dotation, inputs.funding, doc_title, inputs.handover_files, inputs.common)

    return {"title": lambda _inputs, _b: title, "context": make_context}


def produced(title: str) -> dict[str, Any]:
    """Title and (empty) context of a type made from other documents, not from a template."""
    return {"title": lambda _inputs, _b: title, "context": lambda _inputs, _b, _title: {}}


def pdf_companion(spec: DocumentSpec) -> DocumentSpec:
    """Return the PDF type of ``spec`` (a Word or spreadsheet type): ``<type>_pdf``, the
    same folder, file name with ``.pdf``, beneficiaries and jobs, converted from it."""
    def file_name(beneficiary: Beneficiary | None) -> str:
        stem, _dot, _suffix = spec.file_name(beneficiary).rpartition(".")
        return f"{stem}.pdf"

    return DocumentSpec(
        f"{spec.type}_pdf", spec.folder, file_name, None, Renderer.PDF, spec.applies, spec.jobs,
        (f"{spec.label[0]} (PDF)", f"{spec.label[1]} (PDF)"), spec.title, lambda _inputs, _b, _title: {},
        paid_invoices_only=spec.paid_invoices_only, source=str(spec.type),
    )


_BATCH = frozenset({Job.BATCH})
_BENEFICIARY = frozenset({Job.BATCH, Job.BENEFICIARY})
_CLAIM = frozenset({Job.BATCH, Job.CLAIM})

# The catalogue, in the order documents are planned and named in summaries.
CATALOGUE: list[DocumentSpec] = [
    DocumentSpec(
        DocumentType.CONVENTION, CONVENTIONS_DIR, per_beneficiary("convention", ".docx"),
        {ConventionKind.LOAN: "convention-mise-a-disposition.docx", ConventionKind.GIFT: "convention-don.docx"},
        Renderer.WORD, Applies.ASSOCIATIONS, _BENEFICIARY, ("convention", "conventions"),
        **beneficiary_document(convention_title),
    ),
    DocumentSpec(
        DocumentType.HANDOVER, HANDOVERS_DIR, per_beneficiary("proces-verbal", ".docx"),
        "proces-verbal-remise.docx", Renderer.WORD, Applies.HANDED_OVER, _BENEFICIARY,
        ("procès-verbal de remise", "procès-verbaux de remise"),
        **beneficiary_document(lambda _dotation, b: handover_title(b)),
    ),
    DocumentSpec(
        DocumentType.PRESS, PRESS_DIR, fixed("communique-de-presse.docx"), "communique-de-presse.docx",
        Renderer.WORD, Applies.OPERATION, _BATCH,
        ("communiqué de presse (.docx)", "communiqués de presse (.docx)"), **operation_document(press_context),
    ),
    DocumentSpec(
        DocumentType.PRESS_HTML, PRESS_DIR, fixed("communique-de-presse.html"), "communique-de-presse.html",
        Renderer.HTML, Applies.OPERATION, _BATCH,
        ("communiqué de presse (.html)", "communiqués de presse (.html)"), **operation_document(press_context),
    ),
    DocumentSpec(
        DocumentType.INVITATION, PRESS_DIR, fixed("invitation-presse.docx"), "invitation-presse.docx",
        Renderer.WORD, Applies.OPERATION, _BATCH,
        ("invitation presse (.docx)", "invitations presse (.docx)"), **operation_document(invitation_context),
    ),
    DocumentSpec(
        DocumentType.INVITATION_HTML, PRESS_DIR, fixed("invitation-presse.html"), "invitation-presse.html",
        Renderer.HTML, Applies.OPERATION, _BATCH,
        ("invitation presse (.html)", "invitations presse (.html)"), **operation_document(invitation_context),
    ),
    DocumentSpec(
        DocumentType.CLAIM_LETTER, CLAIM_DIR, fixed("1-lettre-de-demande.docx"), "demande-lettre.docx",
        Renderer.WORD, Applies.OPERATION, _CLAIM,
        ("lettre de demande de versement", "lettres de demande de versement"),
        paid_invoices_only=True, **claim_document("Demande de versement de la subvention"),
    ),
    DocumentSpec(
        DocumentType.EXPENSE_STATEMENT, CLAIM_DIR, fixed("2-etat-recapitulatif-des-depenses.xlsx"), None,
        Renderer.SPREADSHEET, Applies.OPERATION, _CLAIM,
        ("état récapitulatif des dépenses", "états récapitulatifs des dépenses"),
        paid_invoices_only=True, **claim_document("État récapitulatif des dépenses"),
    ),
    DocumentSpec(
        DocumentType.FINANCING_PLAN, CLAIM_DIR, fixed("3-plan-de-financement.docx"), "plan-de-financement.docx",
        Renderer.WORD, Applies.OPERATION, _CLAIM, ("plan de financement", "plans de financement"),
        paid_invoices_only=True, **claim_document("Plan de financement définitif"),
    ),
    DocumentSpec(
        DocumentType.CERTIFICATE, CLAIM_DIR, fixed("4-attestation-achevement.docx"), "attestation-achevement.docx",
        Renderer.WORD, Applies.OPERATION, _CLAIM, ("certificat d'achèvement et de conformité", "certificats d'achèvement et de conformité"),
        paid_invoices_only=True, **claim_document("Certificat d'achèvement et de conformité"),
    ),
    DocumentSpec(
        CLAIM_DOSSIER, CLAIM_DIR, fixed("dossier-demande-subvention.pdf"), None, Renderer.DOSSIER,
        Applies.OPERATION, _CLAIM, ("dossier de demande (PDF)", "dossiers de demande (PDF)"),
        paid_invoices_only=True, **produced("Dossier de demande de subvention"),
        parts=(
            (DocumentType.CLAIM_LETTER, "Lettre de demande"),
            (DocumentType.EXPENSE_STATEMENT, "État récapitulatif des dépenses"),
            (DocumentType.FINANCING_PLAN, "Plan de financement"),
            (DocumentType.CERTIFICATE, "Certificat d'achèvement et de conformité"),
            (DocumentType.HANDOVER, "Procès-verbal de remise"),
        ),
        attachments=ATTACHMENTS_DIR,
    ),
]
CATALOGUE += [pdf_companion(s) for s in list(CATALOGUE) if s.renderer in CONVERTIBLE]


def register(spec: DocumentSpec) -> None:
    """Add a type of document to the catalogue (after the others), with its PDF
    companion when it is a Word or spreadsheet type. Raises ValueError when its type
    name, a template name or its folder clashes with another type's."""
    added = [spec, pdf_companion(spec)] if spec.renderer in CONVERTIBLE else [spec]
    for other in CATALOGUE:
        for new in added:
            if other.type == new.type:
                raise ValueError(f"document type {new.type!r} already registered")
        if set(other.template_names) & set(spec.template_names):
            raise ValueError(f"template of {spec.type!r} already used by {other.type!r}")
    CATALOGUE.extend(added)


def unregister(type_name: str) -> None:
    """Remove a type of document, and its PDF companion, from the catalogue (for tests)."""
    CATALOGUE[:] = [s for s in CATALOGUE if s.type != type_name and s.source != type_name]


def specs(job: Job | None = None) -> list[DocumentSpec]:
    """Return the types of document of ``job`` (every type when None), in catalogue order."""
    return [s for s in CATALOGUE if job is None or job in s.jobs]


def spec_of(type_name: str) -> DocumentSpec:
    """Return the spec of a manifest type name; raises KeyError."""
    for s in CATALOGUE:
        if s.type == type_name:
            return s
    raise KeyError(type_name)


def type_names(job: Job | None = None) -> frozenset[str]:
    """Return the manifest type names of ``job`` (every type when None)."""
    return frozenset(str(s.type) for s in specs(job))


def template_names(selected: Iterable[DocumentSpec] | None = None) -> list[str]:
    """Return the template files of ``selected`` (every type when None), once each."""
    chosen = CATALOGUE if selected is None else selected
    return list(dict.fromkeys(name for s in chosen for name in s.template_names))


class _Derived(Mapping[Any, Any]):
    """A read-only mapping computed from the catalogue at each access, so that a type
    registered later is seen."""

    def __init__(self, build: Callable[[], dict[Any, Any]]) -> None:
        self._build = build

    def __getitem__(self, key: Any) -> Any:
        return self._build()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())


def _templates() -> dict[Any, str]:
    found: dict[Any, str] = {}
    for s in CATALOGUE:
        if isinstance(s.template, str):
            found[s.type] = s.template
        elif s.template is not None:
            found.update({(s.type, kind): name for kind, name in s.template.items()})
    return found


# Template file of each type; (type, convention kind) for the variants.
TEMPLATES: Mapping[Any, str] = _Derived(_templates)
# File name and title of each document of the subsidy claim file.
CLAIM_FILES: Mapping[str, tuple[str, str]] = _Derived(lambda: {
    s.type: (s.file_name(None), s.title(None, None))  # type: ignore[arg-type]
    for s in CATALOGUE if s.paid_invoices_only and s.renderer in RENDERED
})
# The folder of each type (manifest type name → folder).
TYPE_FOLDERS: Mapping[str, str] = _Derived(lambda: {str(s.type): s.folder for s in CATALOGUE})
# French names (singular, plural) of each type, for the summaries (the overview page last).
LABELS: Mapping[str, tuple[str, str]] = _Derived(
    lambda: {**{str(s.type): s.label for s in CATALOGUE}, OVERVIEW_TYPE: OVERVIEW_LABEL}
)


def tool_folders() -> tuple[str, ...]:
    """Return the folders the tool writes into, once each."""
    return tuple(dict.fromkeys(s.folder for s in CATALOGUE))


def handover_path(beneficiary: Beneficiary) -> str:
    """Return the path of the handover record of ``beneficiary``."""
    return spec_of(DocumentType.HANDOVER).path(beneficiary)


def convention_path(beneficiary: Beneficiary) -> str:
    """Return the path of the convention of ``beneficiary``."""
    return spec_of(DocumentType.CONVENTION).path(beneficiary)


def handed_over(dotation: Dotation) -> tuple[Beneficiary, ...]:
    """Return the beneficiaries that receive at least one device (the others get no
    document; the validation warns about them)."""
    return tuple(b for b in dotation.beneficiaries if dotation.devices_of(b))


def inputs(dotation: Dotation, funding: Funding, common: Context | None = None) -> Inputs:
    """Return what plans are built from (the common context built once)."""
    handovers = {b.identifier: handover_path(b).rsplit("/", 1)[1] for b in handed_over(dotation)}
    return Inputs(dotation, funding, common or common_context(dotation, funding), handovers)


def _applies_to(spec: DocumentSpec, beneficiary: Beneficiary) -> bool:
    if spec.applies is Applies.ASSOCIATIONS:
        return beneficiary.signs_convention
    return spec.applies is Applies.HANDED_OVER


def _planned(spec: DocumentSpec, given: Inputs, beneficiary: Beneficiary | None) -> PlannedDocument:
    title = spec.title(given, beneficiary)
    return PlannedDocument(
        spec.type, spec.path(beneficiary), title, spec.template_for(given.dotation),
        lambda: spec.context(given, beneficiary, title), beneficiary.identifier if beneficiary else None,
        spec.renderer,
    )


def plan(
    selected: Iterable[DocumentSpec], given: Inputs, beneficiaries: Iterable[Beneficiary] | None = None
) -> list[PlannedDocument]:
    """Return the documents of the ``selected`` types made from the workbook (PDF types
    and dossiers are left to :func:`plan_pdf` and the runner): for each beneficiary
    (every handed-over one when None) its documents in catalogue order, then the
    operation-level documents."""
    chosen = [s for s in selected if s.renderer in RENDERED]
    people = handed_over(given.dotation) if beneficiaries is None else tuple(beneficiaries)
    docs = [
        _planned(spec, given, b)
        for b in people
        for spec in chosen
        if spec.applies is not Applies.OPERATION and _applies_to(spec, b)
    ]
    return docs + [_planned(spec, given, None) for spec in chosen if spec.applies is Applies.OPERATION]


def plan_pdf(selected: Iterable[DocumentSpec], docs: Iterable[PlannedDocument]) -> list[PlannedDocument]:
    """Return the PDFs of the ``selected`` PDF types for the planned ``docs`` they are
    converted from, in the order of ``docs``: each beside its source, same name with
    ``.pdf``."""
    companions = {s.source: s for s in selected if s.renderer is Renderer.PDF and s.source is not None}
    found = []
    for doc in docs:
        spec = companions.get(str(doc.type))
        if spec is not None:
            stem, _dot, _suffix = doc.path.rpartition(".")
            found.append(PlannedDocument(spec.type, f"{stem}.pdf", doc.title, None, {}, doc.beneficiary,
                                         Renderer.PDF, doc.path))
    return found


def plan_beneficiary(
    dotation: Dotation, funding: Funding, beneficiary: Beneficiary, common: Context | None = None
) -> list[PlannedDocument]:
    """Return the convention (associations only) and the handover record of one
    beneficiary."""
    return plan(specs(Job.BENEFICIARY), inputs(dotation, funding, common), [beneficiary])


def plan_press(dotation: Dotation, funding: Funding, common: Context | None = None) -> list[PlannedDocument]:
    """Return the press release and the press invitation, each as Word and HTML."""
    press = [s for s in specs(Job.BATCH) if s.folder == PRESS_DIR]
    return plan(press, inputs(dotation, funding, common), [])


def plan_claim(dotation: Dotation, funding: Funding, common: Context | None = None) -> list[PlannedDocument]:
    """Return the subsidy claim file: letter, expense statement, financing plan and
    certificate of completion and conformity."""
    return plan(specs(Job.CLAIM), inputs(dotation, funding, common), [])


def plan_batch(dotation: Dotation, funding: Funding) -> list[PlannedDocument]:
    """Return every document of the full batch, in a stable order."""
    return plan(specs(Job.BATCH), inputs(dotation, funding))
