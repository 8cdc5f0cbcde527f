"""Overview: the page ``index.html`` of the output folder, rewritten by every job that
writes (:func:`overview_file`, called by :func:`pipeline.run_job` before the write).

One self-contained French page (inline CSS and SVG, no script, no network): the
operation, its totals and financing, the devices per category and per served territory,
each beneficiary with links to its documents and its signatures, the batch-level
documents (or why the claim file is missing) and the validation warnings.

The page lists exactly the files the folder holds after the run: this run's files and
the entries of the previous manifest that the job keeps (``convention B03`` rewrites one
beneficiary's documents; the page still lists every other one). It is written like any
other file of the batch (staging, journal, swap) and listed in the manifest under the
type ``apercu``. It carries no date of its own: the same folder gives the same bytes.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import jinja2

from dotation_docs.context import typeset
from dotation_docs.documents import (
    CLAIM_DIR,
    LABELS,
    OVERVIEW,
    OVERVIEW_TYPE,
    PRESS_DIR,
    DocumentType,
    spec_of,
)
from dotation_docs.formatting import (
    format_amount,
    format_date,
    format_number,
    format_percent,
    format_quantity,
    format_time,
    pluralize,
    typographic_apostrophes,
)
from dotation_docs.funding import ClaimHold, DeviceTotals, Funding, batch_totals, beneficiary_totals, claim_hold
from dotation_docs.manifest import Scope, entries, printable_name, read_manifest
from dotation_docs.model import Beneficiary, Dotation
from dotation_docs.report import Report
from dotation_docs.summary import describe_unsigned_records
from dotation_docs.writers import OutputFile

log = logging.getLogger(__name__)

__all__ = ["overview_file", "render_overview"]

TEMPLATE = "apercu.html.j2"
FORMATS = {".docx": "Word", ".xlsx": "Excel", ".html": "HTML", ".pdf": "PDF"}
# The chart's geometry (SVG user units): one row per bar, its label above it.
CHART_WIDTH = 520
BAR_MAX = 440
ROW_HEIGHT = 44


@dataclass(frozen=True)
class Listed:
    """A file of the batch as the page shows it: path, manifest type and beneficiary,
    and whether it is in the folder (a kept entry whose file the agent deleted is not)."""

    path: str
    type: str
    beneficiary: str | None
    present: bool = True

    @cached_property
    def href(self) -> str:
        """The relative, percent-encoded link to the file."""
        return _href(self.path)

    @cached_property
    def format(self) -> str:
        """« Word », « PDF »…: what the link opens."""
        suffix = os.path.splitext(self.path)[1]
        return FORMATS.get(suffix.lower(), suffix.lstrip(".") or "fichier")


@dataclass
class Group:
    """The formats of one document (« communique-de-presse » as Word, HTML and PDF)."""

    label: str
    files: list[Listed] = field(default_factory=list)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, its figure and its length in SVG units."""

    label: str
    count: int
    width: float

    @property
    def figure(self) -> str:
        return format_number(self.count)


# Characters ``quote(path, safe="/")`` leaves as they are: a path made of them only is its own link.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~/-]*")


def _href(path: str) -> str:
    return path if _UNQUOTED.fullmatch(path) else quote(path, safe="/")


@lru_cache(maxsize=4096)
def _count(n: int) -> str:
    """``format_number`` of a count (a national batch formats the same few counts thousands of times)."""
    return format_number(n)


@lru_cache(maxsize=4096)
def _quantity(n: int, singular: str, plural: str) -> str:
    """``format_quantity`` of a count, its noun joined by a no-break space."""
    return format_quantity(n, singular, plural, space="\xa0")


# --- What the page reads from the model -------------------------------------------------------


def signature_dates(b: Beneficiary) -> tuple[date | None, date | None]:
    """Return the dates ``b`` signed its convention and its handover record (None: not
    signed). Helper « etat » adds these attributes to the model (issue #11): read with
    ``getattr`` so the page works with a model that does not have them yet."""
    return getattr(b, "convention_signed_on", None), getattr(b, "handover_signed_on", None)


def territory_of(b: Beneficiary) -> tuple[str, str]:
    """Return the territory ``b`` serves: its label (« Beaubreuil (QP087005) ») and a key
    grouping beneficiaries that serve the same one. The one place that reads the
    model's territory fields: a QPV by its name and code, a rural commune by its name, its
    kind and its INSEE code (« Vasles (ZRR, commune 79339) »)."""
    kind = b.territory_kind
    if kind.is_rural:
        return f"{b.territory_name} ({kind.value}, code INSEE {b.territory_code})", f"{kind.value}:{b.territory_code}"
    return f"{b.territory_name} ({b.territory_code})", f"{kind.value}:{b.territory_code}"


# --- The files of the folder after the run ----------------------------------------------------


def listed_files(output: Path, files: Sequence[OutputFile], scope: Scope) -> list[Listed]:
    """Return the files of the batch after this run, sorted by path: ``files`` (this
    run's) and the previous manifest's entries the run keeps, as :func:`writers.write_batch`
    decides (outside ``scope`` and not rewritten). The overview itself is left out."""
    new = {f.path.casefold() for f in files}
    found = [Listed(f.path, str(f.type), f.beneficiary) for f in files if f.type != OVERVIEW_TYPE]
    root = os.path.join(output, "")  # a string: thousands of paths are looked at
    for e in entries(read_manifest(output)):
        if scope.covers(e) or e.path.casefold() in new or e.type == OVERVIEW_TYPE:
            continue
        found.append(Listed(e.path, e.type, e.beneficiary, os.path.isfile(root + e.path)))
    return sorted(found, key=lambda f: f.path)


@lru_cache(maxsize=None)
def _base_type(type_name: str) -> str:
    """The type a file is made from (a PDF's source), to group the formats of one document."""
    try:
        return spec_of(type_name).source or type_name
    except KeyError:
        return type_name


def _label(type_name: str) -> str:
    """The French name of a type, without the format the summaries add (« (.docx) »)."""
    singular = LABELS.get(type_name, (type_name, type_name))[0]
    singular = typographic_apostrophes(re.sub(r"\s*\((\.\w+|PDF)\)$", "", singular))
    return singular[:1].upper() + singular[1:]


def _groups(found: list[Listed]) -> list[Group]:
    """Group files by document (same folder and file name but the extension), in order."""
    groups: dict[str, Group] = {}
    for f in found:
        stem = os.path.splitext(f.path)[0]
        group = groups.setdefault(stem, Group(_label(_base_type(f.type))))
        group.files.append(f)
    for g in groups.values():
        g.files.sort(key=lambda f: (f.format == "PDF", f.path))
    return list(groups.values())


# --- The page's context -----------------------------------------------------------------------


def _bars(items: list[tuple[str, int]]) -> list[Bar]:
    top = max((n for _label, n in items), default=0) or 1
    return [Bar(label, n, round(BAR_MAX * n / top, 1)) for label, n in items]


def _chart(title: str, items: list[tuple[str, int]], ident: str) -> dict[str, Any]:
    bars = _bars(items)
    return {
        "id": ident, "title": title, "bars": bars, "width": CHART_WIDTH,
        "height": ROW_HEIGHT * len(bars) + 8, "row": ROW_HEIGHT,
        "description": " ; ".join(f"{b.label} : {b.figure}" for b in bars) + ".",
    }


def _territory_counts(people: list[tuple[Beneficiary, DeviceTotals]]) -> list[tuple[str, int]]:
    """The devices per served territory, ``people`` being each (typeset) beneficiary with its totals."""
    counts: dict[str, list[Any]] = {}
    for b, totals in people:
        n = totals.count
        if n:
            label, key = territory_of(b)
            counts.setdefault(key, [label, 0])[1] += n
    return [(label, n) for label, n in counts.values()]


def _people(dotation: Dotation) -> list[tuple[Beneficiary, DeviceTotals]]:
    """Each beneficiary, typeset, with the totals of its devices: computed once for the page."""
    return [(typeset(b), beneficiary_totals(dotation, b)) for b in dotation.beneficiaries]


def _signature(signed: date | None, due: bool, feminine: bool, why_not: str = "") -> SimpleNamespace:
    """The state (« done », « todo », « none »: not due) and French words of one signature."""
    if not due:
        return SimpleNamespace(state="none", text=why_not)
    if signed is None:
        return SimpleNamespace(state="todo", text="non signée" if feminine else "non signé")
    return SimpleNamespace(state="done", text=f"{'signée' if feminine else 'signé'} le {format_date(signed)}")


def _beneficiaries(people: list[tuple[Beneficiary, DeviceTotals]], found: list[Listed]) -> list[SimpleNamespace]:
    """One row of the table per beneficiary. Rows are read by attribute (the template reads
    an attribute of a dict only after a failed attribute look-up: 2 µs each, 25 a row)."""
    # The files of each beneficiary, in the order of ``found``, sorted out in one pass.
    by_beneficiary: dict[str | None, tuple[list[Listed], list[Listed], list[Listed]]] = {}
    for f in found:
        conventions, handovers, others = by_beneficiary.setdefault(f.beneficiary, ([], [], []))
        base = _base_type(f.type)
        if base == DocumentType.CONVENTION:
            conventions.append(f)
        elif base == DocumentType.HANDOVER:
            handovers.append(f)
        else:
            others.append(f)
    rows = []
    for b, totals in people:
        conventions, handovers, others = by_beneficiary.get(b.identifier, ([], [], []))
        convention_on, handover_on = signature_dates(b)
        rows.append(SimpleNamespace(
            b=b,
            kind=b.kind.value,
            territory=territory_of(b)[0],
            devices=_count(totals.count),
            categories=", ".join(_quantity(c.count, c.category.singular, c.category.plural)
                                 for c in totals.by_category if c.count),
            convention=conventions,
            handover=handovers,
            others=others,
            convention_signature=_signature(
                convention_on, b.signs_convention and bool(totals.count), True,
                "sans convention" if totals.count else "aucun matériel",
            ),
            handover_signature=_signature(handover_on, bool(totals.count), False, "aucun matériel"),
        ))
    return rows


def _unpaid(hold: ClaimHold) -> list[str]:
    lines = []
    for i in map(typeset, hold.unpaid):
        if i.is_paid:  # paid after the claim's date
            lines.append(f"{i.reference} ({i.supplier}, {format_amount(i.amount_ttc)} TTC) : payée le "
                         f"{format_date(i.payment_date)}, après la date de la demande")
            continue
        missing = [what for what, absent in (("numéro de mandat", not i.mandate_number),
                                              ("date de paiement", i.payment_date is None)) if absent]
        lines.append(f"{i.reference} ({i.supplier}, {format_amount(i.amount_ttc)} TTC) : sans "
                     + " ni ".join(missing))
    return lines


def _early(hold: ClaimHold) -> str:
    """Why a claim dated before the handover is not produced, and what to do (empty when
    it is not)."""
    if not hold.early:
        return ""
    assert hold.claim_date is not None
    return (f"{'De plus, l' if hold.unpaid else 'Non produit : l'}a demande de versement est datée du "
            f"{format_date(hold.claim_date)}, avant la remise du matériel le {format_date(hold.handover_date)} : "
            f"à cette date, l’opération n’était pas achevée. Datez-la du {format_date(hold.earliest_claim_date)} "
            "ou d’après "
            "(« Date de la demande de versement », feuille « Opération »), ou videz la cellule pour la dater à "
            "la main le jour de l’envoi.")


def _funding(funding: Funding, dotation: Dotation) -> list[tuple[str, str]]:
    op = typeset(dotation.operation)
    rows = [
        ("Total HT", format_amount(funding.ht)),
        ("TVA", format_amount(funding.vat)),
        ("Total TTC", format_amount(funding.ttc)),
        (f"Part de l’État ({format_percent(funding.rate)} du {funding.rate_base.value}"
         f"{', plafonnée' if funding.is_capped else ''})", format_amount(funding.state_share)),
    ]
    if op.other_funding:
        rows.append((f"Autres financeurs ({op.other_funders or 'non nommés'})", format_amount(op.other_funding)))
    rows.append(("Part de la collectivité", format_amount(funding.authority_share)))
    rows.append(("Subvention attribuée par l’État", format_amount(funding.cap)))
    if funding.advances:
        rows.append(("Acomptes déjà reçus", format_amount(funding.advances)))
    rows.append(("Montant à demander à l’État", format_amount(funding.claimed)))
    return rows


def overview_context(output: Path, files: Sequence[OutputFile], scope: Scope, dotation: Dotation,
                     funding: Funding, report: Report, workbook: str | None = None) -> dict[str, Any]:
    """Return the page's context: every value as the page prints it (escaped by the template)."""
    op = typeset(dotation.operation)
    found = listed_files(output, files, scope)
    ids = {b.identifier for b in dotation.beneficiaries}
    press, claim, others = [], [], []
    for f in found:  # the paths are unique: a file is in one list at most
        folder = f.path.split("/", 1)[0] if f.beneficiary is None else None
        if folder == PRESS_DIR:
            press.append(f)
        elif folder == CLAIM_DIR:
            claim.append(f)
        elif f.beneficiary not in ids:
            others.append(f)
    totals = batch_totals(dotation)
    people = _people(dotation)
    rows = _beneficiaries(people, found)
    due_conventions = [r for r in rows if r.convention_signature.state != "none"]
    due_handovers = [r for r in rows if r.handover_signature.state != "none"]
    signed_c = sum(r.convention_signature.state == "done" for r in due_conventions)
    signed_h = sum(r.handover_signature.state == "done" for r in due_handovers)
    hold = claim_hold(dotation)
    return {
        "op": op,
        "workbook": workbook,
        "date": format_date(op.handover_date),
        "time": format_time(op.handover_time),
        "devices": format_quantity(totals.count, "matériel", "matériels"),
        "beneficiaries_count": format_quantity(len(dotation.beneficiaries), "bénéficiaire", "bénéficiaires"),
        "funding": _funding(funding, dotation),
        "charts": [
            _chart("Matériels par catégorie",
                   [(c.category.plural if c.count > 1 else c.category.singular, c.count)
                    for c in totals.by_category if c.count], "categories"),
            _chart("Matériels par territoire desservi", _territory_counts(people), "territoires"),
        ],
        "rows": rows,
        "signatures": (
            f"Conventions signées : {format_number(signed_c)} sur {format_number(len(due_conventions))} ; "
            f"procès-verbaux de remise signés : {format_number(signed_h)} sur {format_number(len(due_handovers))}."
        ),
        "press": _groups(press),
        "claim": _groups(claim),
        "unpaid": _unpaid(hold) if not claim else [],
        "unpaid_on": format_date(hold.claim_date) if hold.paid_late and hold.claim_date is not None else "",
        "early": _early(hold) if not claim else "",
        # the claim encloses the handover records as proof and its certificate cites the
        # conventions: unsigned ones hold it back
        "unsigned": [n.replace("'", "’") for n in describe_unsigned_records(dotation)] if claim else [],
        "others": _groups(others),
        "missing": [f.path for f in found if not f.present],
        "warnings": [(w.location, w.message) for w in report.warnings],
        "count": format_quantity(len(found), "fichier", "fichiers"),
    }


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    source = resources.files("dotation_docs").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    return env.from_string(source)


def prepare_overview() -> None:
    """Compile the page's template now (remembered): a command waiting for its workbook
    does it meanwhile."""
    _template()


def render_overview(context: dict[str, Any]) -> bytes:
    """Return the page's UTF-8 bytes (every workbook value HTML-escaped)."""
    return _template().render(context).encode("utf-8")


def overview_file(output: Path, files: Sequence[OutputFile], scope: Scope, dotation: Dotation,
                  funding: Funding, report: Report, workbook: str | None = None) -> OutputFile:
    """Return the overview page of ``output`` as it will be after this run writes
    ``files`` for ``scope`` (read the previous manifest under the job's lock)."""
    log.info("Page d'aperçu %s", OVERVIEW)
    name = printable_name(workbook) if workbook is not None else None  # a file name may hold bytes that are not UTF-8
    data = render_overview(overview_context(output, files, scope, dotation, funding, report, name))
    return OutputFile(OVERVIEW, data, OVERVIEW_TYPE)
