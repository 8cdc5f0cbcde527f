"""Document plan: which documents a job produces, their template, file name and context.

Pure functions from the model to a list of :class:`PlannedDocument`; nothing is rendered
or written here. File names are built from the beneficiary's identifier (validated to
letters, digits, ``-`` and ``_``) and a slug of its name, never from a path in the data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from slugify import slugify

from dotation_docs.context import (
    Context,
    beneficiary_context,
    common_context,
    claim_context,
    convention_title,
    handover_title,
    invitation_context,
    press_context,
)
from dotation_docs.funding import Funding
from dotation_docs.model import Beneficiary, ConventionKind, Dotation


class DocumentType(enum.Enum):
    """The kinds of document, as named in ``manifeste.json``."""

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


# Output folders, relative to the output folder.
CONVENTIONS_DIR = "conventions"
HANDOVERS_DIR = "proces-verbaux"
PRESS_DIR = "communique"
CLAIM_DIR = "demande-subvention"
MANIFEST = "manifeste.json"

TEMPLATES = {
    (DocumentType.CONVENTION, ConventionKind.LOAN): "convention-mise-a-disposition.docx",
    (DocumentType.CONVENTION, ConventionKind.GIFT): "convention-don.docx",
    DocumentType.HANDOVER: "proces-verbal-remise.docx",
    DocumentType.PRESS: "communique-de-presse.docx",
    DocumentType.PRESS_HTML: "communique-de-presse.html",
    DocumentType.INVITATION: "invitation-presse.docx",
    DocumentType.INVITATION_HTML: "invitation-presse.html",
    DocumentType.CLAIM_LETTER: "demande-lettre.docx",
    DocumentType.FINANCING_PLAN: "plan-de-financement.docx",
    DocumentType.CERTIFICATE: "attestation-achevement.docx",
}

CLAIM_FILES = {
    DocumentType.CLAIM_LETTER: ("1-lettre-de-demande.docx", "Demande de versement de la subvention"),
    DocumentType.EXPENSE_STATEMENT: ("2-etat-recapitulatif-des-depenses.xlsx", "État récapitulatif des dépenses"),
    DocumentType.FINANCING_PLAN: ("3-plan-de-financement.docx", "Plan de financement définitif"),
    DocumentType.CERTIFICATE: ("4-attestation-achevement.docx", "Certificat d'achèvement et de conformité"),
}


@dataclass(frozen=True)
class PlannedDocument:
    """One document to produce. ``template`` is None for the expense statement, which
    is built by code rather than from a template."""

    type: DocumentType
    path: str
    title: str
    template: str | None
    context: dict[str, Any]
    beneficiary: str | None = None


def file_stem(beneficiary: Beneficiary, kind: str) -> str:
    """Return ``B01-convention-sport-loisirs-de-l-aurence``: identifier, kind, slug."""
    slug = slugify(beneficiary.name, max_length=50, word_boundary=True) or "beneficiaire"
    return f"{beneficiary.identifier}-{kind}-{slug}"


def handover_path(beneficiary: Beneficiary) -> str:
    """Return the path of the handover record of ``beneficiary``."""
    return f"{HANDOVERS_DIR}/{file_stem(beneficiary, 'proces-verbal')}.docx"


def convention_path(beneficiary: Beneficiary) -> str:
    """Return the path of the convention of ``beneficiary``."""
    return f"{CONVENTIONS_DIR}/{file_stem(beneficiary, 'convention')}.docx"


def handed_over(dotation: Dotation) -> tuple[Beneficiary, ...]:
    """Return the beneficiaries that receive at least one device (the others get no
    document; the validation warns about them)."""
    return tuple(b for b in dotation.beneficiaries if dotation.devices_of(b))


def plan_beneficiary(
    dotation: Dotation, funding: Funding, beneficiary: Beneficiary, common: Context | None = None
) -> list[PlannedDocument]:
    """Return the convention (associations only) and the handover record of one
    beneficiary."""
    common = common or common_context(dotation, funding)
    docs = []
    if beneficiary.signs_convention:
        title = convention_title(dotation, beneficiary)
        docs.append(PlannedDocument(
            DocumentType.CONVENTION, convention_path(beneficiary), title,
            TEMPLATES[(DocumentType.CONVENTION, dotation.operation.convention_kind)],
            beneficiary_context(dotation, funding, beneficiary, title, common), beneficiary.identifier,
        ))
    title = handover_title(beneficiary)
    docs.append(PlannedDocument(
        DocumentType.HANDOVER, handover_path(beneficiary), title, TEMPLATES[DocumentType.HANDOVER],
        beneficiary_context(dotation, funding, beneficiary, title, common), beneficiary.identifier,
    ))
    return docs


def plan_press(dotation: Dotation, funding: Funding, common: Context | None = None) -> list[PlannedDocument]:
    """Return the press release (written after the ceremony) and the press invitation
    (sent before it), each as Word and HTML."""
    common = common or common_context(dotation, funding)
    docs = []
    for context, word, html in (
        (press_context(dotation, funding, common), DocumentType.PRESS, DocumentType.PRESS_HTML),
        (invitation_context(dotation, funding, common), DocumentType.INVITATION, DocumentType.INVITATION_HTML),
    ):
        title = context["document"]["titre"]
        for doc_type in (word, html):
            template = TEMPLATES[doc_type]
            docs.append(PlannedDocument(doc_type, f"{PRESS_DIR}/{template}", title, template, context))
    return docs


def plan_claim(dotation: Dotation, funding: Funding, common: Context | None = None) -> list[PlannedDocument]:
    """Return the subsidy claim file: letter, expense statement, financing plan and
    certificate of completion and conformity (the pipeline leaves it out while an invoice
    is unpaid)."""
    common = common or common_context(dotation, funding)
    handovers = {b.identifier: handover_path(b).rsplit("/", 1)[1] for b in handed_over(dotation)}
    docs = []
    for doc_type, (name, title) in CLAIM_FILES.items():
        docs.append(PlannedDocument(
            doc_type, f"{CLAIM_DIR}/{name}", title, TEMPLATES.get(doc_type),
            claim_context(dotation, funding, title, handovers, common),
        ))
    return docs


def plan_batch(dotation: Dotation, funding: Funding) -> list[PlannedDocument]:
    """Return every document of the full batch, in a stable order."""
    common = common_context(dotation, funding)  # once: it lists every beneficiary
    docs = []
    for beneficiary in handed_over(dotation):
        docs.extend(plan_beneficiary(dotation, funding, beneficiary, common))
    return docs + plan_press(dotation, funding, common) + plan_claim(dotation, funding, common)
