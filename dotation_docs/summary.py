"""Summaries: the short French texts the command line prints after each job."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Protocol

from dotation_docs.documents import LABELS, MANIFEST, OVERVIEW, DocumentType, Renderer, spec_of, specs
from dotation_docs.formatting import (
    format_amount,
    format_date_short,
    format_first,
    format_list,
    format_number,
    format_percent,
    format_quantity,
    pluralize,
)
from dotation_docs.funding import ClaimHold, Funding, batch_totals, claim_hold
from dotation_docs.model import Beneficiary, BeneficiaryKind, Dotation
from dotation_docs.schema import BENEFICIARIES, INVOICES, OPERATION
from dotation_docs.status import BatchState, DocumentState, Freshness, unsigned_conventions, unsigned_handovers
from dotation_docs.templateset import TemplateCheck, TemplateSet
from dotation_docs.writers import OutputFile

SHOWN_NAMES = 5  # file names listed in a summary line before « … »
CHANGED_NAMES = 10  # documents rewritten by a run, named in its summary (the others counted)
NBSP = "\u00a0"


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
        f"  Bénéficiaires : {format_number(len(dotation.beneficiaries))} "
        f"({format_quantity(n_assoc, 'association', 'associations')}, "
        f"{format_quantity(n_service, 'service de la collectivité', 'services de la collectivité')})",
        f"  Matériels : {format_number(totals.count)} ({per_category})",
        f"  Factures : {format_number(len(dotation.invoices))}",
        f"  Total HT : {format_amount(funding.ht)}",
        f"  TVA : {format_amount(funding.vat)}",
        f"  Total TTC : {format_amount(funding.ttc)}",
        f"  Part de l'État ({_state_share_basis(funding)}) : {format_amount(funding.state_share)}",
        f"  Part de la collectivité : {format_amount(funding.authority_share)}",
    ]
    if funding.cap is not None:
        capped = " (appliqué)" if funding.is_capped else ""
        lines.append(f"  Montant de la subvention attribuée : {format_amount(funding.cap)}{capped}")
    if funding.advances:
        lines.append(f"  Acomptes reçus : {format_amount(funding.advances)}")
    # Never certify what the data does not show: with an unpaid invoice there is no claim yet.
    hold = claim_hold(dotation)
    pending = (" (une fois toutes les factures payées)" if hold.unpaid
               else " (une fois la demande datée du jour de la remise ou d'après)" if hold.early else "")
    lines.append(f"  Montant à demander à l'État{pending} : {format_amount(funding.claimed)}")
    return "\n".join(lines)


def _state_share_basis(funding: Funding) -> str:
    """« 80 % du HT », or, when the amount granted lowered it, what the share is then."""
    basis = f"{format_percent(funding.rate)} du {funding.rate_base.value}"
    if funding.is_capped:
        return (f"plafonnée au montant attribué ; {basis} donneraient "
                f"{format_amount(funding.computed_state_share)}")
    return basis


def kind_names() -> dict[str, tuple[str, str]]:
    """Return the French names (singular, plural) of each type of file, in catalogue
    order, the manifest last."""
    return {**LABELS, "manifeste": ("manifeste", "manifestes")}


def _is_pdf_type(kind: str) -> bool:
    try:
        return spec_of(kind).renderer is Renderer.PDF
    except KeyError:
        return False


def describe_written(output: Path, files: list[OutputFile], unchanged: Collection[str] = (),
                     kept_pdfs: int = 0) -> str:
    """Return what was written and where: counts per kind of document (the PDFs beside
    the documents counted together) and folders; and, when some of them (``unchanged``,
    their paths) were already there with the same content and left untouched, which
    documents were written (those to print again), and how many of the previous PDFs of
    the documents left as they are stay (``kept_pdfs``)."""
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
    if not unchanged:
        return (f"{format_number(n)} {pluralize(n, 'fichier écrit', 'fichiers écrits')} dans « {output} » : "
                f"{format_list(parts)}.\nDossiers : {', '.join(folders)}.")
    # The documents to print again; the overview page and the manifest follow every change.
    changed = sorted(f.path for f in files if f.path not in unchanged and f.path not in (OVERVIEW, MANIFEST))
    same = sum(1 for f in files if f.path in unchanged)
    pdfs = f", et {format_number(kept_pdfs)} PDF de ces documents" if kept_pdfs else ""
    return (
        f"{format_number(n)} fichiers à jour dans « {output} » : {format_list(parts)}.\n"
        f"Dossiers : {', '.join(folders)}.\n"
        f"Documents réécrits ou nouveaux : {format_number(len(changed))}"
        f"{f' ({_some(changed, CHANGED_NAMES)})' if changed else ''} ; déjà identiques dans le dossier, laissés tels "
        f"quels (même contenu, même date de modification) : {format_number(same)} fichiers{pdfs}."
    )


def _some(paths: list[str], shown_names: int = SHOWN_NAMES) -> str:
    return format_first(paths, shown_names)


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
    # A dossier is assembled from many parts (some made for it only): only --pdf remakes it.
    dossiers = {s.path(None) for s in specs() if s.renderer is Renderer.DOSSIER}
    assembled = [path for path in stale if path in dossiers]
    stale = [path for path in stale if path not in dossiers]
    others = [path for path in removed if path not in stale and path not in assembled]
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
    if assembled:
        n = len(assembled)
        assembles = pluralize(n, "l'assemble", "les assemble")
        lines.append(
            f"{pluralize(n, 'Dossier de demande (PDF) supprimé', 'Dossiers de demande (PDF) supprimés')} : "
            f"{_some(assembled)} (seul un lancement avec --pdf {assembles} et peut "
            f"garantir qu'{pluralize(n, 'il est', 'ils sont')} à jour). Relancez avec --pdf pour "
            f"{pluralize(n, 'le', 'les')} refaire."
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


# --- dotation etat ----------------------------------------------------------------------------

STATUS_WIDTH = 100  # the report reads in a terminal of 100 columns


# The documents whose label starts with a feminine noun (« Convention périmée »).
_FEMININE_NOUNS = frozenset({"convention", "lettre", "invitation", "page"})


def _is_feminine(label: str) -> bool:
    return label.split(maxsplit=1)[0].lower() in _FEMININE_NOUNS


def _freshness(state: DocumentState, feminine: bool = False) -> str:
    """« à jour », « périmé (données) », « modifié à la main, périmé (modèle) »…, agreed
    with a feminine document (« Convention périmée »). A changed template changes the
    rendered bytes, the data fingerprint: only the template is then named (whether the
    data changed too cannot be told)."""
    e = "e" if feminine else ""
    changed = "modèle" if state.template_changed else "données" if state.data_changed else ""
    why = f" ({changed})" if changed else ""
    if state.freshness is Freshness.STALE:
        return f"périmé{e}{why}"
    if state.freshness is Freshness.EDITED:
        return f"modifié{e} à la main, périmé{e}{why}" if changed else f"modifié{e} à la main"
    if state.freshness is Freshness.MISSING:
        return f"manquant{e}"
    if state.freshness is Freshness.UNKNOWN:
        return "sans empreinte (lot ancien)"
    return state.freshness.value


def _pdf_column(state: DocumentState) -> str:
    if state.pdf is None:
        return ""
    if state.pdf.freshness is Freshness.ABSENT:
        return "pas de PDF"
    return f"PDF {_freshness(state.pdf)}"


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _signature(day: date | None, feminine: bool) -> str:
    if day is None:
        return "à signer"
    return f"{'signée' if feminine else 'signé'} le {format_date_short(day)}"


def _table(rows: list[list[str]], indent: str) -> list[str]:
    """Rows as aligned columns (two spaces between columns, no trailing space)."""
    widths = [max(len(r[i]) for r in rows) for i in range(max(len(r) for r in rows))]
    return [(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r))).rstrip() for r in rows]


def _wrapped(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, STATUS_WIDTH, subsequent_indent=indent, break_on_hyphens=False)


def _signature_counts(state: BatchState) -> str:
    equipped = [b for b in state.beneficiaries if b.has_devices]
    associations = [b for b in equipped if b.beneficiary.signs_convention]
    conventions = sum(1 for b in associations if b.beneficiary.convention_signed_on is not None)
    handovers = sum(1 for b in equipped if b.beneficiary.handover_signed_on is not None)
    n = len(state.beneficiaries)
    # a no-break space before « ; » (French typography) keeps it off the start of a line
    return (f"{format_quantity(n, 'bénéficiaire', 'bénéficiaires')} : "
            f"{format_quantity(conventions, 'convention signée', 'conventions signées')}, "
            f"{format_number(len(associations) - conventions)} à signer{NBSP}; "
            f"{format_quantity(handovers, 'procès-verbal signé', 'procès-verbaux signés')}, "
            f"{format_number(len(equipped) - handovers)} à signer")


def describe_status(state: BatchState) -> list[str]:
    """Return the lines of ``dotation etat``: per beneficiary its documents (à jour,
    périmé and why, manquant, modifié à la main; their PDFs) and what is signed, then
    the operation's documents, then one summary line."""
    lines = []
    if state.interrupted:
        lines.append(f"Attention : {state.interrupted}")
    lines += [f"Lot : {state.output}", f"Classeur : {state.workbook}"]
    if not state.manifest_found:
        if state.manifest_unreadable:
            why = (f"le manifeste de ce dossier ({MANIFEST}) est illisible : l'état des documents ne peut pas "
                   "être établi. Relancez « dotation generer » pour refaire le lot.")
        else:
            why = f"aucun lot n'a été généré dans ce dossier (pas de {MANIFEST}). Pour le produire :"
        lines += _wrapped(_capitalized(why), "")
        if not state.manifest_unreadable:
            lines.append(f"  dotation generer {state.workbook} -o {state.output}")
        lines += [""] + _wrapped(f"En bref, {_signature_counts(state)}.")
        return lines

    with_pdf = any(d.pdf is not None and d.pdf.freshness is not Freshness.ABSENT for d in state.all_documents())
    dossier_absent = "non produit (option --pdf)"
    lines += ["", "Bénéficiaires"]
    blocks: list[tuple[list[str], list[list[str]]]] = []  # per beneficiary: heading lines, rows
    for b in state.beneficiaries:
        who = b.beneficiary
        kind = "" if who.signs_convention else " (service de la collectivité)"
        heading = _wrapped(f"  {who.identifier} – {who.name}{kind}", "      ")
        rows = []
        for d in b.documents:
            if d.type == DocumentType.CONVENTION:
                label, signed = "Convention", _signature(who.convention_signed_on, feminine=True)
            elif d.type == DocumentType.HANDOVER:
                label, signed = "Procès-verbal", _signature(who.handover_signed_on, feminine=False)
            else:
                label, signed = _capitalized(LABELS[d.type][0]), ""
            rows.append([label, _freshness(d, _is_feminine(label))] + ([_pdf_column(d)] if with_pdf else [])
                        + [signed])
        blocks.append((heading, rows))
    table = iter(_table([row for _heading, rows in blocks for row in rows], "      "))
    for (heading, rows), b in zip(blocks, state.beneficiaries):
        lines += heading
        lines += [next(table) for _row in rows] if b.has_devices else ["      aucun matériel : pas de document"]

    lines += ["", "Documents de l'opération"]
    rows = []
    for d in state.operation:
        label = _capitalized(LABELS[d.type][0])
        found = dossier_absent if d.freshness is Freshness.ABSENT else _freshness(d, _is_feminine(label))
        rows.append([label, found] + ([_pdf_column(d)] if with_pdf else []))
    if rows:
        lines += _table(rows, "  ")
    if state.hold:
        lines += _wrapped(f"  Dossier de demande de subvention : non produit : {_hold_in_short(state.hold)}.")
    if state.obsolete:
        n = len(state.obsolete)
        lines += [""] + _wrapped(
            f"{pluralize(n, 'Document', 'Documents')} du lot que le classeur ne donne plus "
            f"(le prochain « dotation generer » {pluralize(n, 'le supprime', 'les supprime')}) : "
            f"{_some(state.obsolete)}.", "  ")

    documents = [d for d in state.all_documents() if d.freshness is not Freshness.ABSENT]
    counts = Counter(d.freshness for d in documents)
    stale = sum(1 for d in documents if d.freshness is Freshness.STALE)
    parts = [format_quantity(counts[Freshness.UP_TO_DATE], "document à jour", "documents à jour")]
    if stale:
        parts.append(format_quantity(stale, "périmé", "périmés"))
    if counts[Freshness.MISSING]:
        parts.append(format_quantity(counts[Freshness.MISSING], "manquant", "manquants"))
    if counts[Freshness.EDITED]:
        parts.append(format_quantity(counts[Freshness.EDITED], "modifié à la main", "modifiés à la main"))
    if counts[Freshness.UNKNOWN]:
        parts.append(format_quantity(counts[Freshness.UNKNOWN], "sans empreinte", "sans empreinte"))
    if state.obsolete:
        parts.append(format_quantity(len(state.obsolete), "en trop", "en trop"))
    lines += [""] + _wrapped(f"En bref, {_signature_counts(state)}{NBSP}; {', '.join(parts)}.")
    if stale or counts[Freshness.MISSING] or counts[Freshness.EDITED]:
        lines += _wrapped(
            "Les documents périmés ou manquants se refont avec « dotation generer » (ou « dotation convention » "
            "pour un bénéficiaire) ; un document modifié à la main n'est remplacé qu'avec --ecraser.", "")
    return lines


#: Beneficiaries named at most in one note; the others are counted.
NAMED_AT_MOST = 10


def _names(beneficiaries: list[Beneficiary], dates: dict[str, date] | None = None, feminine: bool = False) -> str:
    """« B03 « Clic en Gâtine » ; … » (with « (signé le …) » from ``dates``), the first
    :data:`NAMED_AT_MOST`, then how many more."""
    def name(b: Beneficiary) -> str:
        day = (dates or {}).get(b.identifier)
        signed = f" ({'signée' if feminine else 'signé'} le {format_date_short(day)})" if day is not None else ""
        return f"{b.identifier} « {b.name} »{signed}"

    names = " ; ".join(name(b) for b in beneficiaries[:NAMED_AT_MOST])
    n = len(beneficiaries)
    if n > NAMED_AT_MOST:  # a national batch: the first ones, then how many more
        more = n - NAMED_AT_MOST
        names += f" ; et {format_number(more)} {pluralize(more, 'autre', 'autres')} (la liste complète : « dotation etat »)"
    return names


def _claim_date_cell() -> str:
    return f"« {OPERATION.field('claim_date').label} », feuille « {OPERATION.title} »"


def describe_unsigned_handovers(dotation: Dotation) -> list[str]:
    """Return the notes of ``dotation demande`` and ``generer`` on the handover records
    not signed on the claim's date (none when every one is): those without
    « Date de signature du procès-verbal » (to have signed), those signed after
    « Date de la demande de versement » (a date to fix)."""
    unsigned = unsigned_handovers(dotation)
    column = BENEFICIARIES.field("handover_signed_on").label
    missing = [b for b in unsigned if b.handover_signed_on is None]
    late = [b for b in unsigned if b.handover_signed_on is not None]
    notes = []
    if missing:
        n = len(missing)
        records = pluralize(n, "procès-verbal de remise n'est pas signé", "procès-verbaux de remise ne sont pas signés")
        notes.append(
            f"{format_number(n)} {records} (pas de « {column} » dans la feuille « {BENEFICIARIES.title} ») : "
            f"{_names(missing)}. La demande de versement {pluralize(n, 'le joint', 'les joint')} comme preuve de "
            f"la remise : faites-{pluralize(n, 'le', 'les')} signer avant de l'envoyer."
        )
    if late:
        n, claim = len(late), dotation.operation.claim_date
        assert claim is not None
        records = pluralize(n, "procès-verbal de remise est signé", "procès-verbaux de remise sont signés")
        then = pluralize(n, "il n'était pas signé", "ils n'étaient pas signés")
        notes.append(
            f"{format_number(n)} {records} après la date de la demande de versement ({format_date_short(claim)}, "
            f"{_claim_date_cell()}) : {_names(late, {b.identifier: b.handover_signed_on for b in late})}. "
            f"À cette date, {then} : le certificat d'achèvement {pluralize(n, 'le dit non signé', 'les dit non signés')}. "
            "Datez la demande du jour de son envoi, une fois les procès-verbaux signés (ou corrigez "
            f"« {column} » si elle est fausse), puis relancez."
        )
    return notes


def describe_unsigned_conventions(dotation: Dotation) -> list[str]:
    """Return the notes on the conventions not signed on the claim's date, which the
    certificate of completion cites (as :func:`describe_unsigned_handovers`)."""
    unsigned = unsigned_conventions(dotation)
    column = BENEFICIARIES.field("convention_signed_on").label
    missing = [b for b in unsigned if b.convention_signed_on is None]
    late = [b for b in unsigned if b.convention_signed_on is not None]
    notes = []
    if missing:
        n = len(missing)
        conventions = pluralize(n, "convention n'est pas signée", "conventions ne sont pas signées")
        notes.append(
            f"{format_number(n)} {conventions} "
            f"(pas de « {column} » dans la feuille « {BENEFICIARIES.title} ») : {_names(missing)}. Le certificat "
            f"d'achèvement de la demande de versement {pluralize(n, 'la cite', 'les cite')} et "
            f"{pluralize(n, 'la dit non signée', 'les dit non signées')} : "
            f"faites-{pluralize(n, 'la', 'les')} signer avant d'envoyer la demande."
        )
    if late:
        n, claim = len(late), dotation.operation.claim_date
        assert claim is not None
        notes.append(
            f"{format_number(n)} {pluralize(n, 'convention est signée', 'conventions sont signées')} après la date "
            f"de la demande de versement ({format_date_short(claim)}, {_claim_date_cell()}) : "
            f"{_names(late, {b.identifier: b.convention_signed_on for b in late}, feminine=True)}. Le certificat "
            f"d'achèvement {pluralize(n, 'la dit non signée', 'les dit non signées')} : datez la demande du jour "
            "de son envoi, une fois "
            f"les conventions signées (ou corrigez « {column} » si elle est fausse), puis relancez."
        )
    return notes


def describe_unsigned_records(dotation: Dotation) -> list[str]:
    """Return the notes on the handover records, then the conventions, not signed on the
    claim's date: the claim encloses the records as proof, its certificate cites the
    conventions (none when all are signed)."""
    return describe_unsigned_handovers(dotation) + describe_unsigned_conventions(dotation)


# --- why the claim file is not produced (generer, demande, etat, the overview page) ----------


def _unpaid_count(hold: ClaimHold) -> str:
    """« 2 factures ne sont pas payées », « … au 05/11/2024, date de la demande de
    versement » when one of them is paid after that date."""
    n = len(hold.unpaid)
    words = pluralize(n, "facture n'est pas payée", "factures ne sont pas payées")
    when = (f" au {format_date_short(hold.claim_date)}, date de la demande de versement"
            if hold.paid_late and hold.claim_date is not None else "")
    return f"{n} {words}{when}"


def _unpaid_described(hold: ClaimHold) -> str:
    """Return « « SVI-F2301-058 » (ni « N° de mandat » ni « Date de paiement ») ; … »: each
    unpaid invoice with what it lacks, as the sheet « Factures » names its columns, or
    when it was paid (after the claim's date)."""
    mandate = INVOICES.field("mandate_number").label
    paid = INVOICES.field("payment_date").label
    parts = []
    for invoice in hold.unpaid:
        if invoice.is_paid:
            assert invoice.payment_date is not None
            missing = f"payée le {format_date_short(invoice.payment_date)}, après cette date"
        elif not invoice.mandate_number and invoice.payment_date is None:
            missing = f"ni « {mandate} » ni « {paid} »"
        elif not invoice.mandate_number:
            missing = f"pas de « {mandate} »"
        else:
            missing = f"pas de « {paid} »"
        parts.append(f"« {invoice.reference} » ({missing})")
    return _invoices_capped(parts, " ; ")


def _invoices_capped(parts: list[str], separator: str) -> str:
    """The first :data:`NAMED_AT_MOST` invoices of ``parts``, then how many more: a
    national workbook can hold hundreds of them, each named by « dotation verifier » at
    its cell."""
    shown = separator.join(parts[:NAMED_AT_MOST])
    more = len(parts) - NAMED_AT_MOST
    if more > 0:
        shown += (f"{separator}et {format_number(more)} {pluralize(more, 'autre', 'autres')} (chacune signalée "
                  "à sa cellule par « dotation verifier »)")
    return shown


def _early_claim(hold: ClaimHold) -> str:
    assert hold.claim_date is not None
    return (f"la demande de versement est datée du {format_date_short(hold.claim_date)} ({_claim_date_cell()}), "
            f"avant la remise du matériel le {format_date_short(hold.handover_date)} : à cette date, l'opération "
            "n'était pas achevée")


def _hold_fixes(hold: ClaimHold) -> list[str]:
    """What to do, each a clause (no capital, no final period)."""
    fixes = []
    if any(not i.is_paid for i in hold.unpaid):
        fixes.append("renseignez le numéro de mandat et la date de paiement de chaque facture")
    if hold.paid_late or hold.early:
        fixes.append(
            f"datez la demande ({_claim_date_cell()}) du {format_date_short(hold.earliest_claim_date)} ou "
            "d'après, ou videz la cellule pour la dater à la main le jour de l'envoi"
        )
    return fixes


def describe_claim_refused(hold: ClaimHold) -> str:
    """Return the error of ``dotation demande`` when the claim file cannot be produced."""
    reasons = []
    if hold.unpaid:
        reasons.append("la demande de versement ne peut porter que sur des dépenses payées et "
                       f"{_unpaid_count(hold)} (feuille « {INVOICES.title} ») : {_unpaid_described(hold)}")
    if hold.early:
        reasons.append(_early_claim(hold))
    return (". ".join(_capitalized(r) if k else r for k, r in enumerate(reasons)) + ". Aucun document n'a été écrit. "
            + _capitalized(" ; ".join(_hold_fixes(hold))) + ", puis relancez.")


def describe_claim_left_out(hold: ClaimHold) -> str:
    """Return the note of ``dotation generer`` when the claim file is left out."""
    reasons = []
    if hold.unpaid:
        reasons.append(f"{_unpaid_count(hold)} (feuille « {INVOICES.title} ») : {_unpaid_described(hold)}")
    if hold.early:
        reasons.append(_early_claim(hold))
    fixes = " ; ".join(_hold_fixes(hold))
    lead = "La demande de versement ne peut porter que sur des dépenses payées : " if hold.unpaid and not hold.early else ""
    return (f"le dossier de demande de subvention n'a pas été produit : "
            + ". ".join(_capitalized(r) if k else r for k, r in enumerate(reasons))
            + f". {lead}{fixes if lead else _capitalized(fixes)}, puis relancez « dotation generer » ou "
              "« dotation demande ».")


def _hold_in_short(hold: ClaimHold) -> str:
    """Why the claim file is not produced, in the few words of ``dotation etat``."""
    parts = []
    if hold.unpaid:
        n = len(hold.unpaid)
        when = (f" au {format_date_short(hold.claim_date)}, date de la demande"
                if hold.paid_late and hold.claim_date is not None else "")
        # no-break spaces inside the guillemets: the report's wrapping never leaves « alone
        refs = _invoices_capped([f"«{NBSP}{i.reference}{NBSP}»" + (f" payée le {format_date_short(i.payment_date)}"
                                                                  if i.is_paid and i.payment_date else "")
                                 for i in hold.unpaid], ", ")
        parts.append(f"{n} {pluralize(n, 'facture non payée', 'factures non payées')}{when} ({refs})")
    if hold.early:
        assert hold.claim_date is not None
        parts.append(f"demande datée du {format_date_short(hold.claim_date)}, avant la remise du "
                     f"{format_date_short(hold.handover_date)}")
    return " ; ".join(parts)
