"""Writers: put rendered files into the output folder atomically, with their manifest.

Everything is first written to a staging folder inside the output folder; only when
all files are written are they moved into place. A failure before that point leaves the
previous batch untouched; a failure while moving puts the previous files back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dotation_docs.exceptions import OutputError

log = logging.getLogger(__name__)

STAGING_PREFIX = ".dotation-"


@dataclass(frozen=True)
class OutputFile:
    """One file to write: its path relative to the output folder (POSIX form), its
    bytes, and what the manifest says of it."""

    path: str
    data: bytes
    type: str
    beneficiary: str | None = None

    @property
    def sha256(self) -> str:
        """Hex digest of the content."""
        return hashlib.sha256(self.data).hexdigest()


def is_safe_relative(path: object) -> bool:
    """True when ``path`` is a relative POSIX path that stays inside the output folder
    (for paths read back from a manifest, which a person may have edited)."""
    if not isinstance(path, str) or "\\" in path:
        return False
    rel = PurePosixPath(path)
    return bool(rel.parts) and not rel.is_absolute() and ".." not in rel.parts


def _safe_relative(path: str) -> PurePosixPath:
    """Return ``path`` as a relative path that stays inside the output folder; raises
    ValueError otherwise (file names are built by the tool, so this is a bug guard)."""
    if not is_safe_relative(path):
        raise ValueError(f"unsafe output path: {path!r}")
    return PurePosixPath(path)


def manifest_entry(f: OutputFile) -> dict[str, Any]:
    """Return the manifest's description of one file."""
    return {"type": f.type, "beneficiaire": f.beneficiary, "fichier": f.path, "sha256": f.sha256}


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    """Return the manifest as stable JSON bytes (sorted keys, UTF-8, final newline)."""
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def read_manifest(output: Path, name: str) -> dict[str, Any] | None:
    """Return the manifest of a previous batch, or None when there is none or it is
    unreadable (it is then rebuilt from what this run writes)."""
    try:
        data = json.loads((output / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("documents"), list) else None


def write_output(
    output: Path,
    files: Sequence[OutputFile],
    *,
    replace: Iterable[str],
    remove: Iterable[str] = (),
) -> None:
    """Write ``files`` under ``output``.

    ``replace`` lists the top-level entries (folders or files, relative to ``output``)
    this run owns: each is swapped whole for its new version, so stale files inside it
    disappear. ``remove`` lists further stale files to delete. Raises
    :class:`OutputError` when the folder cannot be written.
    """
    try:
        output.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=output))
    except OSError as err:
        raise OutputError(f"impossible de créer le dossier de sortie « {output} » : {err.strerror}.") from err
    try:
        for f in files:
            target = staging / "new" / _safe_relative(f.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.data)
        log.info("%d fichiers préparés dans %s ; mise en place", len(files), staging)
        _swap(output, staging, [str(_safe_relative(r)) for r in replace],
              [str(_safe_relative(r)) for r in remove])
    except OSError as err:
        raise OutputError(
            f"écriture impossible dans « {output} » ({err.strerror}) ; le lot précédent est conservé."
        ) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap(output: Path, staging: Path, replace: list[str], remove: list[str]) -> None:
    """Move each staged entry into place, keeping the old ones in ``staging/old`` until
    every move has succeeded; on failure, put the old ones back."""
    new, old = staging / "new", staging / "old"
    old.mkdir()
    moved: list[tuple[Path, Path | None]] = []  # (target, backup)
    try:
        for rel in [*replace, *remove]:
            target = output / rel
            backup = None
            if target.exists():
                backup = old / rel
                backup.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, backup)
            moved.append((target, backup))
            source = new / rel
            if rel in replace and source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
    except OSError:
        for target, backup in reversed(moved):
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            elif target.exists():
                target.unlink()
            if backup is not None:
                os.replace(backup, target)
        raise
