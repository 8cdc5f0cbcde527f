"""Status: the fingerprints that tell whether a generated document is out of date, and the
state of a generated batch (``dotation etat``), seen without changing anything.

A document's **data fingerprint** is the SHA-256 of the bytes it was rendered to. Rendering
is deterministic (the same workbook and templates give the same bytes), so ``dotation etat``
renders every document again, in memory, and a document is out of date exactly when the
current workbook and templates would write other bytes: a change the document does not
print (a telephone number, another beneficiary's name) leaves it up to date. The signature
dates of « Bénéficiaires » count only in the claim's letter (it cites the signed handover
records as proof) and its certificate of completion (it marks a record or a convention not
signed on the claim's date): signing a document makes those out of date, nothing else. Its
**template fingerprint** is the SHA-256 of its template's bytes (the expense
statement, built by code, has a constant tag instead, :data:`SPREADSHEET_VERSION`): it says
*why* a document is out of date (its template changed, or else its data). A PDF has the
fingerprints of the document it is converted from; the claim dossier, those of its parts
(and the names and hashes of the agent's attachments). The manifest keeps them in each
entry (:data:`DATA_KEY`, :data:`TEMPLATE_KEY`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dotation_docs import outputdir
from dotation_docs.documents import (
    CLAIM_DOSSIER,
    MANIFEST,
    RENDERED,
    DocumentSpec,
    Job,
    PlannedDocument,
    handed_over,
    inputs,
    plan,
    plan_pdf,
    specs,
    template_names,
)
from dotation_docs.funding import ClaimHold, Funding, claim_hold, signed_on_claim_date
from dotation_docs.manifest import Entry, entries, read_manifest
from dotation_docs.model import Beneficiary, Dotation
from dotation_docs.rendering import LoadedTemplate

log = logging.getLogger(__name__)

#: Manifest keys of the fingerprints (French, like the manifest's other keys).
DATA_KEY = "empreinte_donnees"
TEMPLATE_KEY = "empreinte_modele"
#: The expense statement's « template »: the code of :mod:`dotation_docs.spreadsheet`.
#: Change it when that code changes what the statement looks like.
SPREADSHEET_VERSION = "etat-depenses-openpyxl-2"


# --- Fingerprints -------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """Return ``value`` as plain JSON data: mappings with string keys, lists, ``Decimal``, dates and times as strings, enums as their
    value. Raises TypeError for anything else (a context holds nothing else)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    raise TypeError(f"cannot fingerprint a {type(value).__name__}: {value!r}")


def digest(value: Any) -> str:
    """Return the SHA-256 (hex) of ``value`` canonically serialised (sorted keys)."""
    text = json.dumps(canonical(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Templates(Protocol):
    """The templates of a run by name (``templateset.TemplateSet``); KeyError when absent."""

    def __getitem__(self, name: str) -> LoadedTemplate: ...


class Fingerprinter:
    """Compute the fingerprints of the documents of one run from their rendered bytes'
    SHA-256 and their templates (each template hashed once)."""

    def __init__(self, templates: Templates) -> None:
        self._templates = templates
        self._template_digests: dict[str, str] = {}

    def template(self, doc: PlannedDocument) -> str:
        """Return the template fingerprint of ``doc`` (empty when its template is not
        loaded: then it never matches)."""
        if doc.template is None:
            return hashlib.sha256(SPREADSHEET_VERSION.encode()).hexdigest()
        found = self._template_digests.get(doc.template)
        if found is None:
            try:
                data = self._templates[doc.template].data
            except KeyError:
                return ""
            found = self._template_digests[doc.template] = hashlib.sha256(data).hexdigest()
        return found

    def __call__(self, doc: PlannedDocument, rendered_sha256: str) -> dict[str, str]:
        """Return the manifest's fingerprints of ``doc``, rendered to bytes whose SHA-256
        is ``rendered_sha256``."""
        return {DATA_KEY: rendered_sha256, TEMPLATE_KEY: self.template(doc)}


def dossier_fingerprints(parts: Iterable[Mapping[str, str]], attachments: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return the fingerprints of a claim dossier from those of its ``parts``, in order,
    and its ``attachments`` (path, SHA-256 of the bytes), in order."""
    parts = list(parts)
    return {
        DATA_KEY: digest({"pieces": [p.get(DATA_KEY, "") for p in parts], "pieces_jointes": list(attachments)}),
        TEMPLATE_KEY: digest([p.get(TEMPLATE_KEY, "") for p in parts]),
    }


def dossier_parts(spec: DocumentSpec, files: Sequence[Any]) -> list[Any]:
    """Return the items of ``files`` (anything with a ``type``) that are parts of the
    dossier ``spec``, in the dossier's order (per type, in the order given)."""
    return [f for type_name, _title in spec.parts for f in files if str(f.type) == str(type_name)]


# --- State of a batch (``dotation etat``) -----------------------------------------------------


class Freshness(enum.Enum):
    """What became of one document since it was generated."""

    UP_TO_DATE = "à jour"
    STALE = "périmé"
    MISSING = "manquant"
    EDITED = "modifié à la main"
    UNKNOWN = "sans empreinte"  # generated by a version that did not record fingerprints
    ABSENT = "absent"  # an optional document (a PDF) never generated


@dataclass(frozen=True)
class DocumentState:
    """One document the current workbook gives, as found in the output folder:
    ``freshness``, and for a stale (or edited) one whether its ``data`` or ``template``
    changed."""

    type: str
    path: str
    freshness: Freshness
    data_changed: bool = False
    template_changed: bool = False
    pdf: DocumentState | None = None  # its PDF companion, when it has one

    @property
    def stale(self) -> bool:
        """True when the data or the template changed since it was generated."""
        return self.data_changed or self.template_changed


@dataclass(frozen=True)
class BeneficiaryState:
    """One beneficiary: its documents (none without devices) and signatures."""

    beneficiary: Beneficiary
    has_devices: bool
    documents: list[DocumentState]


@dataclass
class BatchState:
    """The state of the batch in ``output`` for the current workbook: ``manifest_found``
    (False: no batch was generated there; ``manifest_unreadable`` when a manifest is
    there but cannot be read), the interrupted run (French sentence or None), each
    beneficiary, the operation's documents, why the claim file is left out (``hold``:
    unpaid invoices, a claim dated before the handover) and the manifest's documents the
    workbook no longer gives (``obsolete``)."""

    workbook: Path
    output: Path
    dotation: Dotation
    funding: Funding
    manifest_found: bool
    manifest_unreadable: bool = False
    interrupted: str | None = None
    beneficiaries: list[BeneficiaryState] = field(default_factory=list)
    operation: list[DocumentState] = field(default_factory=list)
    hold: ClaimHold | None = None
    obsolete: list[str] = field(default_factory=list)

    def all_documents(self) -> list[DocumentState]:
        """Every document state, PDFs included."""
        found = []
        for d in [doc for b in self.beneficiaries for doc in b.documents] + self.operation:
            found.append(d)
            if d.pdf is not None:
                found.append(d.pdf)
        return found


def _sha256_file(path: Path) -> str | None:
    """The SHA-256 of a regular file (never following a symbolic link), or None."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _state(output: Path, type_name: str, path: str, entry: Entry | None, expected: Mapping[str, str],
           optional: bool = False) -> DocumentState:
    """Compare the document at ``path`` with the manifest's ``entry`` and the
    fingerprints it would have now."""
    current = _sha256_file(output / path)
    if entry is None:
        return DocumentState(type_name, path, Freshness.ABSENT if optional and current is None else Freshness.MISSING)
    if current is None:
        return DocumentState(type_name, path, Freshness.MISSING)
    recorded_data, recorded_template = entry.raw.get(DATA_KEY), entry.raw.get(TEMPLATE_KEY)
    data_changed = isinstance(recorded_data, str) and recorded_data != expected[DATA_KEY]
    template_changed = isinstance(recorded_template, str) and recorded_template != expected[TEMPLATE_KEY]
    if current != entry.sha256:
        freshness = Freshness.EDITED
    elif not isinstance(recorded_data, str) or not isinstance(recorded_template, str):
        freshness = Freshness.UNKNOWN
    elif data_changed or template_changed:
        freshness = Freshness.STALE
    else:
        freshness = Freshness.UP_TO_DATE
    return DocumentState(type_name, path, freshness, data_changed, template_changed)


def attachment_digests(output: Path, spec: DocumentSpec) -> list[tuple[str, str]]:
    """The agent's PDFs of the dossier's attachments folder, as generation takes them
    (name order), with their SHA-256."""
    if spec.attachments is None:
        return []
    folder = output / spec.attachments
    try:
        found = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: (p.name.casefold(), p.name))
    except OSError:
        return []
    return [(f"{spec.attachments}/{p.name}", _sha256_file(p) or "") for p in found if p.suffix.lower() == ".pdf"]


def batch_state(workbook: Path, dotation: Dotation, funding: Funding, output: Path,
                templates: Templates, render: Callable[[list[PlannedDocument]], list[str]]) -> BatchState:
    """Return the state of the batch in ``output`` for ``dotation`` (read from
    ``workbook``) and ``templates``: the documents ``dotation generer`` would write now
    (planned as it plans them, and rendered in memory by ``render``, which returns the
    SHA-256 of each document's bytes), each compared with the manifest and the file.
    Reads only; raises nothing for an absent or unreadable folder (TemplateError from
    ``render``)."""
    state = BatchState(workbook, output, dotation, funding, manifest_found=False,
                       interrupted=outputdir.inspect(output).describe(), hold=claim_hold(dotation))
    equipped = {b.identifier for b in handed_over(dotation)}
    state.beneficiaries = [BeneficiaryState(b, b.identifier in equipped, []) for b in dotation.beneficiaries]
    manifest = read_manifest(output)
    if manifest is None:
        state.manifest_unreadable = os.path.lexists(output / MANIFEST)
        return state
    state.manifest_found = True
    listed = {e.path.casefold(): e for e in entries(manifest)}

    chosen = [s for s in specs(Job.BATCH) if not (state.hold and s.paid_invoices_only)]
    given = inputs(dotation, funding)
    docs = plan([s for s in chosen if s.renderer in RENDERED], given)
    pdfs = {p.source: p for p in plan_pdf(chosen, docs)}
    fingerprint = Fingerprinter(templates)
    expected = {d.path: fingerprint(d, sha) for d, sha in zip(docs, render(docs), strict=True)}

    def with_pdf(doc: PlannedDocument) -> DocumentState:
        found = _state(output, str(doc.type), doc.path, listed.get(doc.path.casefold()), expected[doc.path])
        companion = pdfs.get(doc.path)
        if companion is None:
            return found
        pdf = _state(output, str(companion.type), companion.path, listed.get(companion.path.casefold()),
                     expected[doc.path], optional=True)
        return DocumentState(found.type, found.path, found.freshness, found.data_changed, found.template_changed,
                             pdf)

    by_beneficiary: dict[str, list[DocumentState]] = {}
    for doc in docs:
        if doc.beneficiary is not None:
            by_beneficiary.setdefault(doc.beneficiary, []).append(with_pdf(doc))
        else:
            state.operation.append(with_pdf(doc))
    for b in state.beneficiaries:
        b.documents.extend(by_beneficiary.get(b.beneficiary.identifier, []))
    for spec in chosen:
        if spec.type == CLAIM_DOSSIER:
            parts = [expected[d.path] for d in dossier_parts(spec, docs)]
            path = spec.path(None)
            state.operation.append(_state(output, str(spec.type), path, listed.get(path.casefold()),
                                          dossier_fingerprints(parts, attachment_digests(output, spec)),
                                          optional=True))
    planned = {p.casefold() for p in expected} | {p.path.casefold() for p in pdfs.values()}
    planned |= {d.path.casefold() for d in state.operation}
    batch_types = {str(s.type) for s in specs(Job.BATCH)}
    state.obsolete = sorted(e.path for e in listed.values()
                            if e.type in batch_types and e.path.casefold() not in planned)
    return state


def read_status(workbook: Path, output: Path, templates_folder: Path | None = None) -> BatchState:
    """Return the state of the batch in ``output`` for the workbook at ``workbook`` and
    the templates (the agent's ``templates_folder`` first, then the bundled ones).
    Writes, locks and repairs nothing. Raises InvalidWorkbookError (the workbook has
    errors), WorkbookOpenError, TemplateError (the templates folder cannot be used)."""
    # Imported here: the pipeline imports this module for its fingerprints.
    from dotation_docs.pipeline import check_reachable, load_workbook_model, rendered_digests
    from dotation_docs.templateset import load_template_set

    check_reachable(templates_folder)
    templates = load_template_set(template_names(specs(Job.BATCH)), templates_folder)
    checked = load_workbook_model(workbook, consequence="l'état du lot ne peut pas être établi (rien n'a été "
                                                        "modifié dans le dossier de sortie)")
    assert checked.dotation is not None and checked.funding is not None
    dotation = checked.dotation
    return batch_state(workbook, dotation, checked.funding, output, templates,
                       lambda docs: rendered_digests(docs, templates, dotation))


def unsigned_handovers(dotation: Dotation) -> list[Beneficiary]:
    """Return the beneficiaries with devices whose handover record is not signed on the
    claim's date (no signature date, or signed after « Date de la demande de versement »
    when it is filled), in workbook order: the claim encloses these records as proof."""
    claim_date = dotation.operation.claim_date
    return [b for b in handed_over(dotation) if not signed_on_claim_date(b.handover_signed_on, claim_date)]


def unsigned_conventions(dotation: Dotation) -> list[Beneficiary]:
    """Return the associations with devices whose convention is not signed on the
    claim's date (as :func:`unsigned_handovers`), in workbook order: the certificate of
    completion cites each convention by its number."""
    claim_date = dotation.operation.claim_date
    return [b for b in handed_over(dotation)
            if b.signs_convention and not signed_on_claim_date(b.convention_signed_on, claim_date)]


__all__ = [
    "BatchState", "BeneficiaryState", "DATA_KEY", "DocumentState", "Fingerprinter", "Freshness",
    "TEMPLATE_KEY", "batch_state", "canonical", "digest", "dossier_fingerprints", "read_status",
    "unsigned_conventions", "unsigned_handovers",
]
