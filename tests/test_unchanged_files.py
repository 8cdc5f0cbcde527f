"""A file that already holds the bytes a run would write is left untouched.

After a correction, the agent regenerates the whole batch: only the documents the
correction changed are written again; the others keep their file (same inode, same
modification date), so that the agent sees what changed, and the run creates, moves and
deletes only what it must (on a national batch: some 1,900 files).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE, docx_text

from dotation_docs.cli import cli
from dotation_docs.pipeline import generate_batch

ROOT = Path(__file__).resolve().parent.parent
B02_CONVENTION = "conventions/B02-convention-sport-loisirs-de-l-aurence.docx"
B03_CONVENTION = "conventions/B03-convention-centre-social-la-bastide-ensemble.docx"
UNCHANGED = "déjà identiques dans le dossier, laissés tels quels (même contenu, même date de modification)"


def identities(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file's inode and modification time (ns), by relative path."""
    found = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            found[p.relative_to(folder).as_posix()] = (st.st_ino, st.st_mtime_ns)
    return found


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifeste.json").read_text(encoding="utf-8"))


def assert_matches_manifest(folder: Path) -> None:
    documents = manifest_of(folder)["documents"]
    assert documents
    for d in documents:
        assert hashlib.sha256((folder / d["fichier"]).read_bytes()).hexdigest() == d["sha256"], d["fichier"]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dotation_docs", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("inchanges") / "lot"
    generate_batch(SAMPLE, output, None)
    return output


@pytest.fixture
def batch(generated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "lot"))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_rerun_touches_no_document_and_says_so(batch: Path, tmp_path: Path, jobs: str) -> None:
    before = identities(batch)
    result = run(["generer", str(SAMPLE), "-o", str(batch), "-j", jobs], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"29 fichiers à jour dans « {batch} » : 9 conventions, ")
    assert f"Documents réécrits ou nouveaux : 0 ; {UNCHANGED} : 29 fichiers.\n" in result.stdout
    after = identities(batch)
    assert after.keys() == before.keys()
    changed = sorted(rel for rel in after if after[rel] != before[rel])
    assert changed == []  # not even the manifest: its bytes are the same
    assert_matches_manifest(batch)
    assert not [p for p in batch.iterdir() if p.name.startswith(".dotation-staging")]


def test_a_correction_rewrites_only_the_documents_it_changes(runner, batch: Path, make_workbook) -> None:
    # B02's address changes: its convention and record change, another's convention does not.
    corrected = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("F3", "12 rue Corrigée"))
    before = identities(batch)
    result = runner.invoke(cli, ["generer", str(corrected), "-o", str(batch)])
    assert result.exit_code == 0, result.output
    after = identities(batch)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    assert B02_CONVENTION in changed and B03_CONVENTION not in changed
    assert "12 rue Corrigée" in docx_text(batch / B02_CONVENTION)
    assert "12 rue Corrigée" not in docx_text(batch / B03_CONVENTION)
    kept = len(after) - len(changed)
    assert kept > 0
    assert changed == {B02_CONVENTION, "index.html", "manifeste.json"}  # the record does not print the address
    assert f"Documents réécrits ou nouveaux : 1 ({B02_CONVENTION}) ; {UNCHANGED} : {kept} fichiers.\n" in result.output
    assert_matches_manifest(batch)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_document_deleted_by_hand_is_made_again(batch: Path, tmp_path: Path, jobs: str) -> None:
    (batch / B02_CONVENTION).unlink()
    (batch / "index.html").unlink()
    result = run(["generer", str(SAMPLE), "-o", str(batch), "-j", jobs], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Documents réécrits ou nouveaux : 1 ({B02_CONVENTION}) ; {UNCHANGED} : 26 fichiers.\n" in result.stdout
    assert "Sport & Loisirs de l’Aurence" in docx_text(batch / B02_CONVENTION)
    assert "Sport &amp; Loisirs de l’Aurence" in (batch / "index.html").read_text(encoding="utf-8")
    assert_matches_manifest(batch)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_document_edited_by_hand_stops_the_run_then_is_made_again_with_ecraser(
        batch: Path, tmp_path: Path, jobs: str) -> None:
    edited = batch / B03_CONVENTION
    edited.write_bytes(b"annotee a la main")
    refused = run(["generer", str(SAMPLE), "-o", str(batch), "-j", jobs], tmp_path)
    assert refused.returncode == 1
    assert f"Modifiés depuis leur génération : {B03_CONVENTION}." in refused.stderr
    assert edited.read_bytes() == b"annotee a la main"
    forced = run(["generer", str(SAMPLE), "-o", str(batch), "-j", jobs, "--ecraser"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "Centre social La Bastide Ensemble" in docx_text(edited)
    assert f"Documents réécrits ou nouveaux : 1 ({B03_CONVENTION}) ; {UNCHANGED} : 27 fichiers.\n" in forced.stdout
    assert_matches_manifest(batch)


def test_a_manifest_that_lies_about_a_file_does_not_keep_it(batch: Path, tmp_path: Path) -> None:
    """The previous manifest only says which bytes to expect: the file itself is checked."""
    target = batch / B03_CONVENTION
    good = target.read_bytes()
    target.write_bytes(b"autre contenu")
    manifest = manifest_of(batch)  # still lists the generated bytes' digest: the file was "edited"
    assert any(d["fichier"] == B03_CONVENTION and d["sha256"] == hashlib.sha256(good).hexdigest()
               for d in manifest["documents"])
    result = run(["generer", str(SAMPLE), "-o", str(batch), "--ecraser"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == good


def test_convention_after_generer_leaves_its_unchanged_files(batch: Path, tmp_path: Path) -> None:
    before = identities(batch)
    result = run(["convention", str(SAMPLE), "B02", "-o", str(batch)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Documents réécrits ou nouveaux : 0 ; {UNCHANGED} : 4 fichiers.\n" in result.stdout
    after = identities(batch)
    assert [rel for rel in after if after[rel] != before[rel]] == []
    assert_matches_manifest(batch)
