"""Manifest: what the tool owns in the output folder (``manifeste.json``): the one model
of it, read (:func:`read_manifest`, :func:`entries`), merged (:func:`build_manifest`) and
written (:func:`dump_manifest`); its header (:func:`header`) and entries
(:func:`manifest_entry`).

The tool owns exactly the files its manifest lists. A job declares a :class:`Scope`, the
document types it produces (and, for one beneficiary, whose); the new manifest keeps the
previous entries outside that scope as they were and lists this run's files in place of
the ones inside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from dotation_docs import __version__
from dotation_docs.documents import MANIFEST, OVERVIEW_TYPE, TYPE_FOLDERS, Job, tool_folders, type_names
from dotation_docs.context import funding_amounts
from dotation_docs.funding import Funding, batch_totals
from dotation_docs.model import Dotation
from dotation_docs.outputdir import read_regular_file

log = logging.getLogger(__name__)

__all__ = ["TYPE_FOLDERS", "tool_folders"]  # the folder of each type: derived from the catalogue


# Names of non-empty components, none "." or "..", joined by single slashes, not starting
# with one: a path of this form is safe whatever else it holds (the general check below
# gives the same answer, slower).
_PLAIN_RELATIVE = re.compile(r"(?!\.\.?(?:/|\Z))[^/]+(?:/(?!\.\.?(?:/|\Z))[^/]+)*")


def is_safe_relative(path: object) -> bool:
    """True when ``path`` is a relative POSIX path that stays inside the output folder
    (for paths read back from a manifest, which a person may have edited)."""
    if not isinstance(path, str) or "\\" in path or "\0" in path:
        return False
    if _PLAIN_RELATIVE.fullmatch(path):  # the paths the tool writes: no need to parse them
        return True
    rel = PurePosixPath(path)
    return bool(rel.parts) and not rel.is_absolute() and ".." not in rel.parts and "." not in path.split("/")


@dataclass(frozen=True)
class Entry:
    """One document of a manifest, as read back."""

    type: str
    beneficiary: str | None
    path: str
    sha256: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class Scope:
    """What a job produces: document types (manifest ``type`` values) and, when it
    works on one beneficiary, its identifier. The overview page (``index.html``) is in
    every job's scope, whatever the beneficiary: every job rewrites it."""

    types: frozenset[str]
    beneficiary: str | None = None

    @classmethod
    def of_job(cls, job: Job, beneficiary: str | None = None) -> Scope:
        """The types of document of ``job`` in the catalogue (of one beneficiary when
        ``beneficiary`` is given)."""
        return cls(type_names(job) | {OVERVIEW_TYPE}, beneficiary)

    @classmethod
    def batch(cls) -> Scope:
        """The full batch: every type of the ``generer`` job."""
        return cls.of_job(Job.BATCH)

    @classmethod
    def claim(cls) -> Scope:
        """The subsidy claim file."""
        return cls.of_job(Job.CLAIM)

    @classmethod
    def of_beneficiary(cls, identifier: str) -> Scope:
        """The convention and handover record of one beneficiary."""
        return cls.of_job(Job.BENEFICIARY, identifier)

    def includes(self, type_name: str, beneficiary: str | None) -> bool:
        """True when a file of ``type_name`` about ``beneficiary`` is this job's to write,
        replace or remove (an operation-wide overview page is, for every job)."""
        if type_name not in self.types:
            return False
        return self.beneficiary is None or beneficiary == self.beneficiary or type_name == OVERVIEW_TYPE

    def covers(self, entry: Entry) -> bool:
        """True when ``entry`` is a file this job replaces or removes."""
        return self.includes(entry.type, entry.beneficiary)


#: A manifest larger than this is not one the tool wrote (a batch of 100,000 documents
#: makes about 50 Mio): it is unreadable, not read into memory.
MANIFEST_MAX_BYTES = 256 * 1024 * 1024


def read_manifest(output: Path) -> dict[str, Any] | None:
    """Return the manifest of the previous batch, or None when there is none or it is
    unreadable (the files beside it are then not the tool's): not a regular file (a
    named pipe must not block the command, ``/dev/zero`` must not fill the memory),
    larger than :data:`MANIFEST_MAX_BYTES`, not UTF-8 JSON, nested too deep to parse."""
    try:
        data = json.loads(read_regular_file(output / MANIFEST, MANIFEST_MAX_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("documents"), list) else None


def entries(manifest: dict[str, Any] | None) -> list[Entry]:
    """Return the well-formed entries of ``manifest``, one per path (the first wins):
    a relative path inside the output folder, inside its type's folder for the types
    this version knows, a string hash."""
    found: dict[str, Entry] = {}
    folders = dict(TYPE_FOLDERS.items())  # derived from the catalogue on each look-up: once here
    for raw in (manifest or {}).get("documents", []):
        if not isinstance(raw, dict):
            continue
        kind, path, sha, beneficiary = raw.get("type"), raw.get("fichier"), raw.get("sha256"), raw.get("beneficiaire")
        if not (isinstance(kind, str) and is_safe_relative(path) and isinstance(sha, str)):
            log.info("entrée du manifeste ignorée : %r", raw)
            continue
        assert isinstance(path, str)
        folder = folders.get(kind)
        if folder is not None and path.split("/")[0] != folder:
            log.info("entrée du manifeste hors de son dossier, ignorée : %r", raw)
            continue
        if path.casefold() in found:
            continue
        found[path.casefold()] = Entry(kind, beneficiary if isinstance(beneficiary, str) else None, path, sha, raw)
    return list(found.values())


class Written(Protocol):
    """What the manifest says of a file (``writers.OutputFile``)."""

    path: str
    type: str
    beneficiary: str | None

    @property
    def sha256(self) -> str: ...


#: Keys of an entry that ``meta`` may not replace.
ENTRY_KEYS = frozenset({"type", "beneficiaire", "fichier", "sha256"})


def manifest_entry(f: Written) -> dict[str, Any]:
    """Return the manifest's description of one file: type, beneficiary, path, hash,
    and the items of its ``meta`` when it has any (the fingerprints of
    :mod:`dotation_docs.status`: ``empreinte_donnees``, ``empreinte_modele``). Entries
    of older manifests have no such items and still load (:func:`entries`)."""
    meta = getattr(f, "meta", None) or {}
    clash = ENTRY_KEYS & set(meta)
    if clash:  # meta comes from the code, never from the data: a bug
        raise ValueError(f"meta of {f.path!r} would replace {sorted(clash)}")
    return {**{str(k): str(v) for k, v in meta.items()},
            "type": str(f.type), "beneficiaire": f.beneficiary, "fichier": f.path, "sha256": f.sha256}


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def totals(dotation: Dotation, funding: Funding) -> dict[str, Any]:
    """Return the manifest's ``totaux``: devices per category and the funding figures."""
    counts = batch_totals(dotation)
    return {
        "nombre_materiels": counts.count,
        "par_categorie": {c.category.value: c.count for c in counts.by_category},
        **{k: str(v) for k, v in funding_amounts(funding).items()},
    }


def header(workbook: Path, dotation: Dotation, funding: Funding) -> dict[str, Any]:
    """Return the manifest without its documents. The workbook's name may hold bytes
    that are not UTF-8: they are replaced, the manifest being UTF-8."""
    return {
        "outil": {"nom": "dotation-docs", "version": __version__},
        "classeur": {"fichier": printable_name(workbook.name), "sha256": _sha256(workbook)},
        "totaux": totals(dotation, funding),
    }


def build_manifest(header: dict[str, Any], kept: Iterable[Entry], new: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Return the manifest: ``header`` (outil, classeur, totaux) and the documents,
    the kept entries as they were and the new ones, sorted by path."""
    documents = [e.raw for e in kept] + list(new)
    return {**header, "documents": sorted(documents, key=lambda e: e["fichier"])}


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    """Return the manifest as stable JSON bytes (sorted keys, UTF-8, final newline): the
    bytes of ``json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True)``, the
    documents written by :func:`_dump_documents` (``indent`` takes json's pure-Python
    encoder: a national batch's manifest took 0.2 s)."""
    if not manifest:
        return b"{}\n"
    items = []
    for key in sorted(manifest):
        value = manifest[key]
        if not isinstance(key, str):  # never in a manifest the tool builds: json's own rules
            return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
        text = _dump_documents(value) if key == "documents" else None
        if text is None:
            text = _indented(value, 1)
        items.append(f"  {_string(key)}: {text}")
    return ("{\n" + ",\n".join(items) + "\n}\n").encode("utf-8")


_string = json.encoder.encode_basestring  # json's escaping of a str with ensure_ascii=False (C)


def _indented(value: Any, level: int) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)`` as it appears
    ``level`` levels deep."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).replace("\n", "\n" + "  " * level)


def _dump_documents(documents: Any) -> str | None:
    """The manifest's ``documents`` at level 1 of the manifest, as :func:`dump_manifest`
    writes it, or None when they are not a list of flat entries (str keys; str or None
    values): json then writes them."""
    if not isinstance(documents, list) or not documents:
        return None
    lines = []
    for entry in documents:
        if type(entry) is not dict or not entry:
            return None
        fields = []
        for key in sorted(entry):
            value = entry[key]
            if type(key) is not str:
                return None
            if type(value) is str:
                fields.append(f"      {_string(key)}: {_string(value)}")
            elif value is None:
                fields.append(f"      {_string(key)}: null")
            else:
                return None
        lines.append("    {\n" + ",\n".join(fields) + "\n    }")
    return "[\n" + ",\n".join(lines) + "\n  ]"


def printable_name(name: str) -> str:
    """Return a file name as text that can be written in UTF-8: bytes that are not UTF-8
    (kept by Python as surrogates) become U+FFFD."""
    return os.fsencode(name).decode("utf-8", errors="replace")
