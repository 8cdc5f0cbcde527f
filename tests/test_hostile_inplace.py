"""Hostile tests of the files left in place (a file already holding the bytes to write is
not touched): hand changes between and during runs, hostile manifests, kills during the
swap, the PDF step. Real subprocesses and signals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLE, docx_text, fake_soffice_program

from dotation_docs.pipeline import generate_batch

ROOT = Path(__file__).resolve().parent.parent
SLOW = ROOT / "tests" / "helpers" / "slow_swap.py"
B01 = "conventions/B01-convention-beaubreuil-numerique-solidaire.docx"
B02 = "conventions/B02-convention-sport-loisirs-de-l-aurence.docx"
B03 = "conventions/B03-convention-centre-social-la-bastide-ensemble.docx"


def _env(**more: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LC_ALL": "C.UTF-8", **more}
    env.pop("FAKE_SOFFICE_FAIL", None)
    return env


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dotation_docs", *args], cwd=ROOT, env=_env(**env),
                          capture_output=True, text=True, timeout=300)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifeste.json").read_text(encoding="utf-8"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_nothing_lost(folder: Path) -> None:
    """Every listed file is a regular file with its digest; no leftover of the tool."""
    documents = manifest_of(folder)["documents"]
    assert documents
    for d in documents:
        p = folder / d["fichier"]
        assert p.is_file() and not p.is_symlink(), d["fichier"]
        assert sha(p) == d["sha256"], d["fichier"]
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".dotation-")]


def identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("hostile-inplace") / "lot"
    generate_batch(SAMPLE, output, None)
    return output


@pytest.fixture
def batch(generated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "lot"))


@pytest.fixture(scope="module")
def corrected(tmp_path_factory) -> Path:
    """The sample with B02's address corrected: only B02's convention and the page change."""
    wb = openpyxl.load_workbook(SAMPLE)
    wb["Bénéficiaires"]["F3"] = "12 rue Corrigée"
    path = tmp_path_factory.mktemp("corrige") / "corrige.xlsx"
    wb.save(path)
    return path


def run_slow(args: list[str], marker: str, action: Callable[[], object], sig: int | None = None,
             delay: float = 0.05) -> tuple[int, str, str]:
    """Run the slowed command line; at the stderr line starting with ``marker`` call
    ``action`` and, with ``sig``, send it. Return the exit status, stdout, stderr."""
    proc = subprocess.Popen([sys.executable, str(SLOW), *args], cwd=ROOT, env=_env(DOTATION_TEST_DELAY=str(delay)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(marker):
            action()
            if sig is not None:
                proc.send_signal(sig)
            break
    else:
        proc.wait(timeout=60)
        pytest.fail(f"« {marker} » never printed:\n{''.join(seen)}")
    out, rest = proc.communicate(timeout=120)
    return proc.returncode, out, "".join(seen) + rest


# --- Guard rails ----------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_every_file_deleted_by_hand_is_made_again_with_the_same_bytes(batch: Path, generated: Path,
                                                                     jobs: str) -> None:
    for p in batch.rglob("*"):
        if p.is_file() and p.name != "manifeste.json":
            p.unlink()
    result = run("generer", str(SAMPLE), "-o", str(batch), "-j", jobs)
    assert result.returncode == 0, result.stderr
    for d in manifest_of(generated)["documents"]:
        assert (batch / d["fichier"]).read_bytes() == (generated / d["fichier"]).read_bytes(), d["fichier"]
    assert_nothing_lost(batch)


def test_claim_documents_deleted_by_hand_are_made_again_by_demande(batch: Path) -> None:
    for p in (batch / "demande-subvention").iterdir():
        p.unlink()
    result = run("demande", str(SAMPLE), "-o", str(batch), "-j", "2")
    assert result.returncode == 0, result.stderr
    assert "Documents réécrits ou nouveaux : 4 (demande-subvention/1-lettre-de-demande.docx" in result.stdout
    assert_nothing_lost(batch)


def test_a_same_bytes_hardlink_is_left_and_the_outside_file_never_written(batch: Path, tmp_path: Path,
                                                                          corrected: Path) -> None:
    outside = tmp_path / "envoye.docx"
    shutil.copyfile(batch / B02, outside)
    original = outside.read_bytes()
    (batch / B02).unlink()
    os.link(outside, batch / B02)
    same = run("generer", str(SAMPLE), "-o", str(batch))
    assert same.returncode == 0, same.stderr
    assert os.path.samefile(outside, batch / B02)
    changed = run("generer", str(corrected), "-o", str(batch))  # B02 changes: replaced by a new file
    assert changed.returncode == 0, changed.stderr
    assert outside.read_bytes() == original
    assert not os.path.samefile(outside, batch / B02)
    assert "12 rue Corrigée" in docx_text(batch / B02)
    assert_nothing_lost(batch)


def test_a_same_bytes_symlink_or_a_folder_stops_the_run_and_nothing_is_written(batch: Path,
                                                                               tmp_path: Path) -> None:
    outside = tmp_path / "copie.docx"
    shutil.copyfile(batch / B02, outside)
    (batch / B02).unlink()
    (batch / B02).symlink_to(outside)
    (batch / B03).unlink()
    (batch / B03).mkdir()
    manifest = (batch / "manifeste.json").read_bytes()
    result = run("generer", str(SAMPLE), "-o", str(batch))
    assert result.returncode == 1
    assert "est un lien symbolique" in result.stderr and "est un dossier, pas un document" in result.stderr
    assert (batch / B02).is_symlink() and (batch / B03).is_dir()
    assert (batch / "manifeste.json").read_bytes() == manifest


def test_a_manifest_with_a_duplicate_wrong_entry_first_still_checks_the_file(batch: Path) -> None:
    manifest = manifest_of(batch)
    entry = next(d for d in manifest["documents"] if d["fichier"] == B03)
    manifest["documents"].insert(0, {**entry, "sha256": "0" * 64})  # first wins: a wrong digest
    manifest["documents"].append({**entry, "fichier": "../" + B03})
    manifest["documents"].append({**entry, "fichier": "/etc/passwd"})
    (batch / "manifeste.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = identity(batch / B01)
    result = run("generer", str(SAMPLE), "-o", str(batch))
    # B03 holds the generated bytes: nothing to lose, left as it is; the manifest is clean again.
    assert result.returncode == 0, result.stderr
    assert identity(batch / B01) == before
    paths = [d["fichier"] for d in manifest_of(batch)["documents"]]
    assert paths.count(B03) == 1 and not [p for p in paths if ".." in p or p.startswith("/")]
    assert_nothing_lost(batch)


def test_a_manifest_claiming_the_new_bytes_of_a_foreign_file_stops_the_run(batch: Path, corrected: Path) -> None:
    """The manifest says B02 already holds the corrected bytes; the file holds something else."""
    fresh = run("generer", str(corrected), "-o", str(batch.parent / "autre"))
    assert fresh.returncode == 0, fresh.stderr
    wanted = sha(batch.parent / "autre" / B02)
    manifest = manifest_of(batch)
    for d in manifest["documents"]:
        if d["fichier"] == B02:
            d["sha256"] = wanted
    (batch / "manifeste.json").write_text(json.dumps(manifest), encoding="utf-8")
    old = (batch / B02).read_bytes()
    result = run("generer", str(corrected), "-o", str(batch))
    assert result.returncode == 1
    assert f"Modifiés depuis leur génération : {B02}." in result.stderr
    assert (batch / B02).read_bytes() == old


def test_an_unchanged_document_edited_during_the_swap_keeps_the_edit(batch: Path, corrected: Path) -> None:
    """Edited after the plan (first rename): left as edited, the next run reports it."""
    rc, out, err = run_slow(["generer", str(corrected), "-o", str(batch)], "RENAME 1",
                            lambda: (batch / B03).write_bytes(b"annotee"))
    assert rc == 0, err
    assert (batch / B03).read_bytes() == b"annotee"
    again = run("generer", str(corrected), "-o", str(batch))
    assert again.returncode == 1 and f"Modifiés depuis leur génération : {B03}." in again.stderr
    assert (batch / B03).read_bytes() == b"annotee"


def test_an_unchanged_document_deleted_during_rendering_is_made_again(batch: Path, corrected: Path,
                                                                      generated: Path) -> None:
    rc, out, err = run_slow(["generer", str(corrected), "-o", str(batch)], "STAGE 1",
                            lambda: (batch / B01).unlink(), delay=0.3)
    assert rc == 0, err
    assert f"Documents réécrits ou nouveaux : 2 ({B01}, {B02}) ;" in out
    assert (batch / B01).read_bytes() == (generated / B01).read_bytes()
    assert_nothing_lost(batch)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "marker"), [
    (signal.SIGKILL, "STAGE 1"), (signal.SIGKILL, "RENAME 1"), (signal.SIGKILL, "RENAME 3"),
    (signal.SIGKILL, "RENAME 5"), (signal.SIGKILL, "RENAME 7"),
    (signal.SIGTERM, "RENAME 3"), (signal.SIGINT, "STAGE 1"),
])
def test_a_killed_correction_is_repaired_by_the_next_command(batch: Path, corrected: Path, sig: int,
                                                             marker: str) -> None:
    before = identity(batch / B03)
    run_slow(["generer", str(corrected), "-o", str(batch)], marker, lambda: None, sig=sig)
    state = run("etat", str(corrected), "-o", str(batch))
    assert state.returncode == 0, state.stderr
    again = run("generer", str(corrected), "-o", str(batch), "-j", "2")
    assert again.returncode == 0, again.stderr
    assert "12 rue Corrigée" in docx_text(batch / B02)
    assert identity(batch / B03) == before  # never touched, whatever the kill
    assert_nothing_lost(batch)
    state = run("etat", str(corrected), "-o", str(batch))
    assert state.returncode == 0 and "interrompu" not in state.stdout + state.stderr


def test_two_runs_racing_the_second_is_refused_and_the_first_completes(batch: Path, corrected: Path) -> None:
    answers = []
    rc, out, err = run_slow(["generer", str(corrected), "-o", str(batch)], "STAGE 1",
                            lambda: answers.append(run("generer", str(SAMPLE), "-o", str(batch))), delay=0.2)
    assert rc == 0, err
    assert answers[0].returncode == 1 and "utilisé par une autre commande dotation" in answers[0].stderr
    assert "12 rue Corrigée" in docx_text(batch / B02)
    assert_nothing_lost(batch)


def test_a_sequence_of_commands_keeps_the_folder_as_its_manifest_says(batch: Path, corrected: Path,
                                                                      tmp_path: Path) -> None:
    templates = Path(shutil.copytree(ROOT / "templates", tmp_path / "modeles"))
    # Another word in the conventions: every convention changes, nothing else.
    import zipfile
    for name in ("convention-don.docx", "convention-mise-a-disposition.docx"):
        src = ROOT / "templates" / name
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(templates / name, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename == "word/document.xml":
                    data = data.replace(b"Article", b"ARTICLE")
                zout.writestr(info, data)
    pv = "proces-verbaux/B01-proces-verbal-beaubreuil-numerique-solidaire.docx"
    kept = identity(batch / pv)
    steps = [
        ["generer", str(SAMPLE), "-m", str(templates)],
        ["convention", str(corrected), "B02"],
        ["demande", str(corrected), "-j", "2"],
        ["generer", str(corrected), "-m", str(templates), "-j", "3"],
        ["convention", str(SAMPLE), "B02", "-m", str(templates)],
        ["generer", str(SAMPLE)],
    ]
    for step in steps:
        result = run(*step, "-o", str(batch))
        assert result.returncode == 0, (step, result.stderr)
        assert_nothing_lost(batch)
    assert "ARTICLE" not in docx_text(batch / B01)
    assert identity(batch / pv) == kept  # a record no step changed: never rewritten


# --- Found by this file, fixed -------------------------------------------------------------------


@pytest.fixture
def fake_soffice(tmp_path: Path) -> str:
    """The fake soffice as an executable program (the repository's file is not executable)."""
    return str(fake_soffice_program(tmp_path))


def test_pdfs_of_documents_left_untouched_are_kept(batch: Path, tmp_path: Path, fake_soffice: str) -> None:
    made = run("generer", str(SAMPLE), "-o", str(batch), "--pdf", DOTATION_SOFFICE=fake_soffice)
    assert made.returncode == 0, made.stderr
    pdf = batch / B01.replace(".docx", ".pdf")
    assert pdf.is_file()
    again = run("generer", str(SAMPLE), "-o", str(batch))
    assert again.returncode == 0, again.stderr
    # Nothing changed: B01's .docx is left as it is, so its PDF still matches it. Only the
    # assembled dossier goes (index.html no longer lists it).
    assert "Documents réécrits ou nouveaux : 0 ;" in again.stdout and ", et 25 PDF de ces documents." in again.stdout
    assert "PDF périmés" not in again.stdout
    assert "Dossier de demande (PDF) supprimé : demande-subvention/dossier-demande-subvention.pdf" in again.stdout
    assert pdf.is_file()
    assert_nothing_lost(batch)
    # A correction of B02 only: B02's convention is rewritten, its PDF removed; B01's stays.
    wb = openpyxl.load_workbook(SAMPLE)
    wb["Bénéficiaires"]["F3"] = "12 rue Corrigée"
    corrected = tmp_path / "corrige.xlsx"
    wb.save(corrected)
    fixed = run("generer", str(corrected), "-o", str(batch))
    assert fixed.returncode == 0, fixed.stderr
    b02_pdf = "conventions/B02-convention-sport-loisirs-de-l-aurence.pdf"
    assert f"PDF périmés : 1 PDF supprimé, son document a été réécrit sans --pdf : {b02_pdf}." in fixed.stdout
    assert pdf.is_file() and not (batch / b02_pdf).exists()
    assert_nothing_lost(batch)


def test_with_pdf_documents_holding_the_same_bytes_stay_too(batch: Path, fake_soffice: str) -> None:
    before = identity(batch / B01)
    made = run("generer", str(SAMPLE), "-o", str(batch), "--pdf", DOTATION_SOFFICE=fake_soffice)
    assert made.returncode == 0, made.stderr
    assert "déjà identiques dans le dossier, laissés tels quels" in made.stdout
    assert identity(batch / B01) == before
    assert (batch / B01.replace(".docx", ".pdf")).is_file()
    assert_nothing_lost(batch)


def test_no_previous_batch_is_claimed_without_a_manifest(generated: Path, tmp_path: Path) -> None:
    output = tmp_path / "neuf"
    (output / "conventions").mkdir(parents=True)
    shutil.copyfile(generated / B01, output / B01)
    result = run("generer", str(SAMPLE), "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert "lot précédent" not in result.stdout


def test_the_overview_lists_the_pdfs_that_stay(batch: Path, fake_soffice: str) -> None:
    """Found by the page reader: the page listed no PDF after a run without --pdf kept them."""
    made = run("generer", str(SAMPLE), "-o", str(batch), "--pdf", DOTATION_SOFFICE=fake_soffice)
    assert made.returncode == 0, made.stderr
    again = run("generer", str(SAMPLE), "-o", str(batch))
    assert again.returncode == 0, again.stderr
    page = (batch / "index.html").read_text(encoding="utf-8")
    listed = json.loads((batch / "manifeste.json").read_text(encoding="utf-8"))["documents"]
    pdfs = [d["fichier"] for d in listed if d["fichier"].endswith(".pdf")]
    assert len(pdfs) == 25 and all((batch / p).is_file() for p in pdfs)
    assert all(f'href="{p}"' in page for p in pdfs), [p for p in pdfs if f'href="{p}"' not in page]
    assert f"le lot compte {len(listed) - 1} fichiers en plus de cette page" in page


def test_a_signed_document_that_changes_is_said(batch: Path, tmp_path: Path) -> None:
    """Found by the page reader: a convention the workbook says is signed was rewritten
    without a word; the signed paper is of the previous version."""
    wb = openpyxl.load_workbook(SAMPLE)
    wb["Bénéficiaires"]["S3"] = datetime(2023, 1, 20)
    signed = tmp_path / "signe.xlsx"
    wb.save(signed)
    assert run("generer", str(signed), "-o", str(batch)).returncode == 0
    wb["Bénéficiaires"]["F3"] = "12 rue Corrigée"
    corrected = tmp_path / "signe-corrige.xlsx"
    wb.save(corrected)
    result = run("generer", str(corrected), "-o", str(batch))
    assert result.returncode == 0, result.stderr
    assert ("Attention : la convention de B02 « Sport & Loisirs de l'Aurence », signée le 20/01/2023 d'après le "
            "classeur, a changé (conventions/B02-convention-sport-loisirs-de-l-aurence.docx) : faites signer la "
            "nouvelle version, puis mettez à jour « Date de signature de la convention » dans la feuille "
            "« Bénéficiaires ».") in result.stdout
    assert result.stdout.count("signée le") == 1  # the unchanged record, the other conventions: nothing


def test_an_identical_manifest_behind_a_link_is_not_left_in_place(batch: Path, tmp_path: Path) -> None:
    """A rerun writes nothing when nothing changes, manifest included, but only a real file
    holding the same bytes counts: a link to a copy stops the run as before."""
    copy = tmp_path / "copie-manifeste.json"
    shutil.copyfile(batch / "manifeste.json", copy)
    (batch / "manifeste.json").unlink()
    (batch / "manifeste.json").symlink_to(copy)
    result = run("generer", str(SAMPLE), "-o", str(batch))
    assert result.returncode == 1
    assert "lien" in result.stderr and "Traceback" not in result.stderr
    assert (batch / "manifeste.json").is_symlink()
