"""Writers: put a job's rendered files into the output folder, under the output-folder
contract.

The tool owns exactly the files its manifest lists. A run writes its files; the files
the previous manifest lists for the same scope (types, beneficiary) and that this run no
longer produces are removed; every other file, listed or not, is left as it is. A file
the agent changed since it was generated, or a file the tool did not write that stands
where a new one goes, is never overwritten or removed without ``overwrite``. The files
are replaced all at once (see :mod:`dotation_docs.outputdir`). A file that already holds
exactly the bytes to write is not touched at all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotation_docs.documents import MANIFEST, TYPE_FOLDERS, Renderer, spec_of, tool_folders
from dotation_docs.exceptions import OutputConflictError, OutputError, describe_os_error
from dotation_docs.formatting import format_first, format_number, pluralize
from dotation_docs.manifest import (
    Entry,
    Scope,
    build_manifest,
    dump_manifest,
    entries,
    is_safe_relative,
    manifest_entry,
    read_manifest,
)
from dotation_docs.outputdir import (
    InPlace,
    Staged,
    Staging,
    Survey,
    describe_target,
    read_regular_file,
    replace_files,
)
from dotation_docs.status import DATA_KEY

log = logging.getLogger(__name__)

__all__ = [
    "OutputFile", "WriteResult", "Scope", "duplicate_paths", "is_safe_relative", "manifest_entry", "write_batch",
]


@dataclass(frozen=True)
class OutputFile:
    """One file to write: its path relative to the output folder (POSIX form), its
    bytes (None when they were streamed to the run's staging folder: ``staged`` says
    where, or that they were not written because the previous manifest lists them at
    that path: :class:`~dotation_docs.outputdir.InPlace`; ``remake`` then makes them
    again), and what the manifest says of it (``meta``: more items of its manifest
    entry, the fingerprints of :mod:`dotation_docs.status`)."""

    path: str
    data: bytes | None
    type: str
    beneficiary: str | None = None
    meta: dict[str, str] = field(default_factory=dict, compare=False)
    staged: Staged | InPlace | None = None
    remake: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def sha256(self) -> str:
        """Hex digest of the content (computed once)."""
        if self.staged is not None:
            return self.staged.sha256
        assert self.data is not None
        return hashlib.sha256(self.data).hexdigest()

    @property
    def content(self) -> bytes | Staged:
        """The bytes, or where they wait in the staging folder (made again when they
        were not written)."""
        if isinstance(self.staged, InPlace):
            assert self.remake is not None, f"{self.path}: not written and cannot be made again"
            return self.remake()
        if self.staged is not None:
            return self.staged
        assert self.data is not None
        return self.data


@dataclass
class WriteResult:
    """What a run did to the output folder: ``written`` (the manifest last; those of
    them that already held these bytes, ``unchanged``, were left untouched), the
    previous files ``removed``, the ``foreign`` files (not the tool's) left in its
    folders, the previous manifest's entries ``left`` alone (each with why: a symbolic
    link, a folder…, which the tool never removes; the new manifest no longer lists
    them), and the ``previous`` manifest (None when there was none)."""

    written: list[OutputFile]
    removed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    previous: dict[str, Any] | None = None
    left: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_pdfs: list[str] = field(default_factory=list)
    left_paths: list[str] = field(default_factory=list)  # the paths ``left`` describes


def duplicate_paths(paths: Iterable[str]) -> list[list[str]]:
    """Return the groups of paths that would be one file (same path, letter case
    ignored as Windows and macOS do)."""
    groups: dict[str, list[str]] = {}
    for p in paths:
        groups.setdefault(p.casefold(), []).append(p)
    return [g for g in groups.values() if len(g) > 1]


def _sha256_file(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _holds(output: Path, rel: str, data: bytes) -> bool:
    """Whether ``rel`` in ``output`` is a regular file (reached through real folders, not a
    link, a named pipe or a device: never opened so as to block) holding exactly ``data``."""
    if Survey(output).examine(rel)[0] != "file":
        return False
    try:
        return read_regular_file(output / rel, len(data)) == data
    except (OSError, ValueError):
        return False


@dataclass
class _Plan:
    removals: list[str]
    kept: list[Entry]
    edited: list[str]
    collisions: list[str]
    left: list[tuple[str, str, str]]  # path, kind, detail (see describe_problems)
    present: list[str]  # the removals that are in the folder now
    same: set[str]  # the files to write that are there already, with these very bytes


# How many paths a refusal names one by one (a national batch has some 1,900).
SHOWN_PATHS = 10


def describe_problems(found: Sequence[tuple[str, str, str]], output: Path | None = None) -> list[str]:
    """The French reasons of :func:`~dotation_docs.outputdir.describe_target` for the paths
    ``found`` (path, kind, detail as :meth:`Survey.examine` gives them), one item each, but
    a folder on the way (a symbolic link, with where it leads when ``output`` is given, or
    not a folder) named once with the documents that go there, the documents that are
    links named in one item, and at most :data:`SHOWN_PATHS` paths named, the others
    counted."""
    through: dict[tuple[str, str], list[str]] = {}
    links: list[str] = []
    single: list[str] = []
    for rel, kind, detail in found:
        if kind in ("link", "blocked") and detail != rel:
            through.setdefault((kind, detail), []).append(rel)
        elif kind == "link":
            links.append(rel)
        else:
            problem = describe_target(rel, kind, detail)
            if problem is not None:
                single.append(problem)
    items = []
    for (kind, folder), paths in through.items():
        if len(paths) == 1:
            items.append(describe_target(paths[0], kind, folder) or "")
            continue
        if kind == "link":
            target = ""
            if output is not None:
                with contextlib.suppress(OSError):
                    target = f" (vers « {os.readlink(output / folder)} »)"
            what = f"est un lien symbolique{target}, pas un vrai dossier"
        else:
            what = "n'est pas un dossier"
        items.append(f"« {folder} » {what} : {format_number(len(paths))} documents du lot y vont "
                     f"({format_first([f'« {p} »' for p in paths], 3)})")
    if len(links) == 1:
        items.append(describe_target(links[0], "link", links[0]) or "")
    elif links:
        quoted = [f"« {p} »" for p in links]
        items.append(f"{format_number(len(links))} documents sont des liens symboliques : "
                     f"{format_first(quoted, SHOWN_PATHS)}")
    items += single[:SHOWN_PATHS]
    more = len(single) - SHOWN_PATHS
    if more > 0:
        items.append(f"et {format_number(more)} {pluralize(more, 'autre chemin', 'autres chemins')}")
    return items


def _blocked_advice(blocked: Sequence[tuple[str, str, str]]) -> str:
    """What to do about the paths a run cannot write (see :func:`describe_problems`)."""
    folders = {detail for rel, kind, detail in blocked if kind in ("link", "blocked") and detail != rel}
    linked = any(kind == "link" and detail != rel for rel, kind, detail in blocked)
    others = [rel for rel, kind, detail in blocked if not (kind in ("link", "blocked") and detail != rel)]
    advice = []
    if folders:
        advice.append(pluralize(len(folders), "remplacez ce dossier de l'outil par un vrai dossier du même nom",
                                "remplacez ces dossiers de l'outil par de vrais dossiers du même nom")
                      + (" (vous pouvez y copier les fichiers vers lesquels mène le lien)" if linked else ""))
    if others:
        advice.append(pluralize(len(others), "déplacez ou renommez ce qui occupe ce chemin",
                                "déplacez ou renommez ce qui occupe ces chemins") + " (l'outil refera les documents)")
    return " ; ".join(advice)


def _plan(output: Path, previous: list[Entry], files: Sequence[OutputFile], scope: Scope,
          keep: frozenset[str] = frozenset()) -> _Plan:
    """Decide what the run removes and keeps, and which existing files it would
    overwrite or remove although they are not as the tool wrote them. Only regular files
    reached through real folders are ever replaced or removed: a previous entry that is a
    folder, a symbolic link or lies beyond one is left alone (and dropped from the
    manifest); a new document that would go there stops the run (OutputError)."""
    survey = Survey(output)
    root = os.fspath(output)
    root = root if root.endswith("/") else root + "/"
    new_paths = {f.path.casefold() for f in files}
    listed = {e.path.casefold(): e for e in previous}
    edited: list[str] = []
    collisions: list[str] = []
    blocked: list[tuple[str, str, str]] = []
    same: set[str] = set()
    for f in files:
        kind, detail = survey.examine(f.path)
        if describe_target(f.path, kind, detail) is not None:
            blocked.append((f.path, kind, detail))
            continue
        if kind == "absent":
            continue
        entry = listed.get(f.path.casefold())
        current = _sha256_file(root + f.path)
        if current == f.sha256:
            same.add(f.path)  # already these very bytes (a rerun, a lost manifest): left as it is
            continue
        if entry is None:
            collisions.append(f.path)
        elif entry.sha256 != current:
            edited.append(f.path)
    sources = _sources(files)
    kept, removals, present = [], [], []
    left: list[tuple[str, str, str]] = []
    for e in previous:
        if e.path.casefold() in new_paths:
            continue
        if not scope.covers(e):
            kept.append(e)
            continue
        kind, detail = survey.examine(e.path)
        problem = describe_target(e.path, kind, detail)
        if problem is None:
            source = _source_of(e, sources) if e.path in keep else None
            if source is not None and kind == "file" and source.path in same:
                kept.append(e)  # a PDF whose document this run leaves as it is: still its PDF
                continue
            removals.append(e.path)
            if kind != "absent":
                present.append(e.path)
        else:
            log.info("entrée du manifeste laissée telle quelle : %s", problem)
            left.append((e.path, kind, detail))
    if blocked:
        raise OutputError(
            f"des documents à écrire ne peuvent pas être mis en place dans « {output} » : "
            + " ; ".join(describe_problems(blocked, output))
            + ". L'outil n'écrit jamais à travers un lien symbolique ni à la place d'un dossier ou d'un fichier "
            f"spécial : {_blocked_advice(blocked)}, puis relancez. Rien n'a été écrit."
        )
    for rel in present:
        if listed[rel.casefold()].sha256 != _sha256_file(root + rel):
            edited.append(rel)
    return _Plan(removals, kept, sorted(edited), sorted(collisions), left, present, same)


def _sources(files: Iterable[OutputFile]) -> dict[tuple[str, str], OutputFile]:
    """This run's files by name without extension and type: where a PDF's source is found."""
    return {(f.path.rpartition(".")[0], f.type): f for f in files}


def _source_type(type_name: str) -> str | None:
    """The type a PDF of type ``type_name`` is converted from (None: not such a PDF)."""
    try:
        spec = spec_of(type_name)
    except KeyError:
        return None
    return spec.source if spec.renderer is Renderer.PDF else None


def _source_of(entry: Entry, sources: dict[tuple[str, str], OutputFile]) -> OutputFile | None:
    """The file of this run ``entry`` is the PDF of (same name, the source's extension),
    if ``entry`` is such a PDF and this run makes that file."""
    source_type = _source_type(entry.type)
    if source_type is None or not entry.path.endswith(".pdf"):
        return None
    return sources.get((entry.path[:-len(".pdf")], source_type))


def may_keep_pdfs(previous: Iterable[Entry], scope: Scope) -> bool:
    """Whether a run of ``scope`` without ``--pdf`` may keep PDFs of the previous batch
    (:func:`pdfs_still_right`): the previous manifest lists PDFs of its documents."""
    return any(scope.covers(e) and e.path.endswith(".pdf") and _source_type(e.type) is not None for e in previous)


def pdfs_still_right(output: Path, previous: Iterable[Entry], files: Sequence[OutputFile], scope: Scope) -> list[Entry]:
    """The previous batch's PDFs that a run of ``scope`` without ``--pdf`` keeps: each the
    PDF of a document of ``files`` that stays as it is (the file in the folder holds the
    bytes the run makes) and was converted from those very bytes (its data fingerprint).
    The others are removed by :func:`write_batch`: it would be a PDF of another version."""
    root = os.path.join(output, "")
    sources = _sources(files)
    new_paths = {f.path.casefold() for f in files}
    survey = Survey(output)
    found = []
    for e in previous:
        if not scope.covers(e) or e.path.casefold() in new_paths:
            continue
        source = _source_of(e, sources)
        if source is None or e.raw.get(DATA_KEY) != source.sha256 or e.beneficiary != source.beneficiary:
            continue
        if survey.examine(e.path)[0] != "file" or survey.examine(source.path)[0] != "file":
            continue
        if _sha256_file(root + source.path) == source.sha256:
            found.append(e)
    return found


def _conflict_message(output: Path, plan: _Plan) -> str:
    lines = [f"ce lancement remplacerait ou supprimerait des fichiers de « {output} » que l'outil n'a pas écrits "
             "tels qu'ils sont ; rien n'a été écrit."]
    if plan.edited:
        lines.append("  Modifiés depuis leur génération : " + ", ".join(plan.edited) + ".")
    if plan.collisions:
        lines.append("  Fichiers qui ne viennent pas de l'outil, au nom d'un document à écrire : "
                     + ", ".join(plan.collisions) + ".")
    lines.append("Enregistrez ailleurs ce que vous voulez garder, puis relancez avec l'option --ecraser "
                 "pour les remplacer.")
    return "\n".join(lines)


def _foreign_files(output: Path, owned: set[str]) -> list[str]:
    """Return the files in the tool's folders that the manifest does not list."""
    found = []
    for folder in tool_folders():
        root = os.path.join(output, folder)
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            where = os.path.relpath(dirpath, output).replace(os.sep, "/") + "/"
            for name in sorted(filenames):
                rel = where + name
                if rel not in owned:
                    found.append(rel)
    return found


def write_batch(
    output: Path, files: Sequence[OutputFile], scope: Scope, header: dict[str, Any], *, overwrite: bool = False,
    staging: Staging | None = None, keep: Iterable[str] = (),
) -> WriteResult:
    """Write ``files`` into ``output`` with the merged manifest built from ``header``,
    removing the previous files of ``scope`` that this run no longer produces. Call it
    under :func:`dotation_docs.outputdir.locked`. Files streamed beforehand are in
    ``staging``, the run's staging folder (removed whatever happens).

    Raises OutputConflictError (nothing written) when a file to replace or remove was
    changed by the agent or was not written by the tool, unless ``overwrite``;
    OutputError when two files share a path or the folder cannot be written. The previous
    PDFs named in ``keep`` (:func:`pdfs_still_right`) stay if their document does.
    """
    folders = dict(TYPE_FOLDERS.items())  # derived from the catalogue on each look-up: once here
    for f in files:  # names and types come from the catalogue: any mismatch is a bug
        if not is_safe_relative(f.path) or f.path == MANIFEST:
            raise ValueError(f"unsafe output path: {f.path!r}")
        if not scope.includes(f.type, f.beneficiary):
            raise ValueError(f"{f.path!r} ({f.type}) is outside the job's scope {scope}")
        folder = folders.get(f.type)
        if folder is not None and f.path.split("/")[0] != folder:
            raise ValueError(f"{f.path!r} is not in the folder of its type {f.type!r} ({folder})")
    duplicates = duplicate_paths(f.path for f in files)
    if duplicates:
        raise OutputError(
            "plusieurs documents du lot auraient le même nom de fichier : "
            + " ; ".join(" et ".join(f"« {p} »" for p in group) for group in duplicates)
            + ". Rien n'a été écrit."
        )
    previous_manifest = read_manifest(output)
    previous = entries(previous_manifest)
    keep = frozenset(keep)
    plan = _plan(output, previous, files, scope, keep)
    if (plan.edited or plan.collisions) and not overwrite:
        raise OutputConflictError(_conflict_message(output, plan))
    if plan.edited or plan.collisions:
        log.info("remplacés sur demande (--ecraser) : %s", ", ".join(plan.edited + plan.collisions))
    manifest = build_manifest(header, plan.kept, [manifest_entry(f) for f in files])
    manifest_file = OutputFile(MANIFEST, dump_manifest(manifest), "manifeste")
    removals = plan.present
    # A file that holds these very bytes already is left as it is: nothing to create, move
    # or delete (a rerun, or the documents a correction did not change).
    changed = [f for f in files if f.path not in plan.same]
    log.info("%d fichiers à écrire (%d identiques, laissés en place), %d à supprimer dans %s",
             len(changed), len(files) - len(changed), len(removals), output)
    assert manifest_file.data is not None
    same = set(plan.same)
    if not changed and not removals and _holds(output, MANIFEST, manifest_file.data):
        same.add(MANIFEST)  # nothing changes at all, not even the manifest: nothing is written
        if staging is not None:
            staging.discard()
    else:
        replace_files(output, [(f.path, f.content) for f in changed] + [(MANIFEST, manifest_file.data)], removals,
                      staging)
    # A previous document left alone (a link now…) is said as such, not as a file added
    owned = {d["fichier"] for d in manifest["documents"]} | {rel for rel, _kind, _detail in plan.left}
    try:
        foreign = _foreign_files(output, owned)
    except OSError as err:  # the batch is written; only the summary is incomplete
        log.warning("liste des fichiers étrangers impossible : %s", describe_os_error(err))
        foreign = []
    return WriteResult([*files, manifest_file], removals, foreign, previous_manifest,
                       describe_problems(plan.left, output), sorted(same),
                       sorted(e.path for e in plan.kept if e.path in keep), [rel for rel, _kind, _detail in plan.left])
