"""Pipeline: the user's jobs, each read → validate → plan → render → write.

One function per command; the command line only calls these and prints their result.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

from dotation_docs import __version__
from dotation_docs.documents import (
    CLAIM_DIR,
    CLAIM_FILES,
    CONVENTIONS_DIR,
    HANDOVERS_DIR,
    MANIFEST,
    PRESS_DIR,
    PlannedDocument,
    plan_batch,
    plan_beneficiary,
    plan_claim,
)
from dotation_docs.exceptions import BeneficiaryNotFoundError, InvalidWorkbookError
from dotation_docs.funding import Funding, batch_funding, device_totals
from dotation_docs.model import Beneficiary, Dotation
from dotation_docs.rendering import build_environment, render
from dotation_docs.report import Report
from dotation_docs.schema import normalize_label
from dotation_docs.spreadsheet import render_expense_statement
from dotation_docs.validation import validate
from dotation_docs.workbook import read_workbook
from dotation_docs.writers import (
    OutputFile,
    dump_manifest,
    is_safe_relative,
    manifest_entry,
    read_manifest,
    write_output,
)

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
    """Result of a job that wrote files."""

    output: Path
    files: list[OutputFile]
    dotation: Dotation
    funding: Funding
    report: Report
    notes: list[str] = field(default_factory=list)


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
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def _manifest(workbook: Path, dotation: Dotation, funding: Funding, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "outil": {"nom": "dotation-docs", "version": __version__},
        "classeur": {"fichier": workbook.name, "sha256": _sha256(workbook)},
        "totaux": _totals(dotation, funding),
        "documents": sorted(entries, key=lambda e: e["fichier"]),
    }


def generate_batch(workbook: Path, output: Path = DEFAULT_OUTPUT, templates: Path | None = None) -> Written:
    """Validate ``workbook`` and write the whole batch into ``output``: conventions,
    handover records, press release, subsidy claim file and manifest. Raises
    InvalidWorkbookError (nothing written), TemplateError or OutputError."""
    checked, dotation, funding = _validated(workbook)
    files = _render_all(plan_batch(dotation, funding), templates, dotation)
    manifest = _manifest(workbook, dotation, funding, [manifest_entry(f) for f in files])
    files.append(OutputFile(MANIFEST, dump_manifest(manifest), "manifeste"))
    write_output(output, files, replace=[CONVENTIONS_DIR, HANDOVERS_DIR, PRESS_DIR, CLAIM_DIR, MANIFEST])
    return Written(output, files, dotation, funding, checked.report)


def generate_claim(workbook: Path, output: Path = DEFAULT_OUTPUT, templates: Path | None = None) -> Written:
    """Validate ``workbook`` and write the subsidy claim file only (and update the
    manifest). Raises like :func:`generate_batch`."""
    checked, dotation, funding = _validated(workbook)
    files = _render_all(plan_claim(dotation, funding), templates, dotation)
    claim_types = {t.value for t in CLAIM_FILES}
    manifest, notes = _merge_manifest(output, workbook, dotation, funding,
                                      keep=lambda e: e.get("type") not in claim_types, new=files)
    files.append(OutputFile(MANIFEST, dump_manifest(manifest), "manifeste"))
    write_output(output, files, replace=[CLAIM_DIR, MANIFEST])
    return Written(output, files, dotation, funding, checked.report, notes)


def _search_key(text: str) -> str:
    """Fold a name for look-up: accents, case, « & » read as « et », punctuation as
    spaces (« Sport & Loisirs de l'Aurence » = « sport et loisirs de l aurence »)."""
    folded = normalize_label(text.replace("&", " et "))
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def find_beneficiary(dotation: Dotation, query: str) -> Beneficiary:
    """Return the beneficiary whose identifier or name is ``query`` (case, accents and
    punctuation ignored). Raises BeneficiaryNotFoundError suggesting the closest names."""
    wanted = _search_key(query)
    keys = {}
    for b in dotation.beneficiaries:
        keys[_search_key(b.identifier)] = b
        keys[_search_key(b.name)] = b
    if wanted in keys:
        return keys[wanted]
    # A name that contains what was typed is the best guess; otherwise the closest spellings.
    partial = [b for b in dotation.beneficiaries if wanted and wanted in _search_key(b.name)]
    close = [keys[c] for c in difflib.get_close_matches(wanted, keys, n=3, cutoff=0.5)]
    suggestions = list(dict.fromkeys(partial or close))[:3]
    listed = suggestions or dotation.beneficiaries
    names = " ; ".join(f"{b.identifier} « {b.name} »" for b in listed)
    hint = f"Vouliez-vous dire : {names} ?" if suggestions else f"Bénéficiaires du classeur : {names}."
    raise BeneficiaryNotFoundError(f"aucun bénéficiaire ne correspond à « {query} ». {hint}")


def generate_beneficiary(
    workbook: Path, query: str, output: Path = DEFAULT_OUTPUT, templates: Path | None = None
) -> Written:
    """Rewrite the convention and handover record of one beneficiary only; every other
    file keeps its bytes (the manifest is updated). Raises BeneficiaryNotFoundError
    and like :func:`generate_batch`."""
    checked, dotation, funding = _validated(workbook)
    beneficiary = find_beneficiary(dotation, query)
    if not dotation.devices_of(beneficiary):
        raise BeneficiaryNotFoundError(
            f"le bénéficiaire {beneficiary.identifier} « {beneficiary.name} » n'a aucun matériel dans "
            "la feuille « Matériel » : il n'a ni convention ni procès-verbal."
        )
    files = _render_all(plan_beneficiary(dotation, funding, beneficiary), templates, dotation)
    previous = read_manifest(output, MANIFEST)
    # Old files of this beneficiary under another name (it was renamed). The manifest
    # may have been edited by hand: only its own folders' files are ever removed.
    stale = [
        e["fichier"] for e in (previous or {}).get("documents", [])
        if isinstance(e, dict) and e.get("beneficiaire") == beneficiary.identifier
        and is_safe_relative(e.get("fichier"))
        and e["fichier"].split("/")[0] in (CONVENTIONS_DIR, HANDOVERS_DIR)
        and e["fichier"] not in {f.path for f in files}
    ]
    manifest, notes = _merge_manifest(
        output, workbook, dotation, funding,
        keep=lambda e: e.get("beneficiaire") != beneficiary.identifier, new=files,
    )
    files.append(OutputFile(MANIFEST, dump_manifest(manifest), "manifeste"))
    write_output(output, files, replace=[f.path for f in files], remove=stale)
    return Written(output, files, dotation, funding, checked.report, notes)


def _merge_manifest(
    output: Path, workbook: Path, dotation: Dotation, funding: Funding, keep: Any, new: list[OutputFile]
) -> tuple[dict[str, Any], list[str]]:
    """Return the manifest with this run's files in place of the ones it replaces, and
    notes for the user when the rest of the batch may be out of date."""
    previous = read_manifest(output, MANIFEST)
    notes = []
    kept = [e for e in (previous or {}).get("documents", []) if isinstance(e, dict) and keep(e)]
    manifest = _manifest(workbook, dotation, funding, kept + [manifest_entry(f) for f in new])
    if previous is None:
        notes.append("aucun lot précédent dans ce dossier : seuls ces documents ont été écrits.")
    elif previous.get("totaux") != manifest["totaux"]:
        notes.append(
            "les totaux du classeur ont changé depuis la génération précédente : les autres documents "
            "(communiqué, demande de subvention…) ne sont plus à jour ; relancez « dotation generer »."
        )
    return manifest, notes
