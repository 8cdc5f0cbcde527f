"""Hostile tests of the latest output changes (helper hostile17b): PDFs kept without --pdf,
the rerun that writes nothing, the warning on signed documents that change. Real subprocesses.
Each bug this file found is fixed; its test guards it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLE, fake_soffice_program

ROOT = Path(__file__).resolve().parent.parent
PV_B06 = "proces-verbaux/B06-proces-verbal-le-sablard-en-lien.pdf"
CONV_B03 = "conventions/B03-convention-centre-social-la-bastide-ensemble.docx"

pytestmark = pytest.mark.skipif(os.name == "nt", reason="soffice factice en script Python à shebang")


@pytest.fixture(scope="module")
def soffice(tmp_path_factory) -> Path:
    return fake_soffice_program(tmp_path_factory.mktemp("soffice"))


def run(soffice: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LC_ALL": "C.UTF-8", "DOTATION_SOFFICE": str(soffice)}
    env.pop("FAKE_SOFFICE_FAIL", None)
    env.pop("FAKE_SOFFICE_LOG", None)
    return subprocess.run([sys.executable, "-m", "dotation_docs", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifeste.json").read_text(encoding="utf-8"))


def signed_workbook(tmp_path: Path, name: str, rename_b04: bool = False) -> Path:
    """The sample with every convention signed on 02/05/2023; B04 renamed if asked."""
    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb["Bénéficiaires"]
    header = [c.value for c in ws[1]]
    column = header.index("Date de signature de la convention") + 1
    kind = header.index("Type") + 1
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, 1).value and "service" not in str(ws.cell(r, kind).value).lower():
            ws.cell(r, column).value = datetime(2023, 5, 2)
        if rename_b04 and ws.cell(r, 1).value == "B04":
            ws.cell(r, 2).value = "Portes-Ferrées Solidarités Renommée"
    target = tmp_path / name
    wb.save(target)
    return target


def assert_consistent(folder: Path) -> None:
    for d in manifest_of(folder)["documents"]:
        p = folder / d["fichier"]
        assert p.is_file() and not p.is_symlink(), d["fichier"]
        assert hashlib.sha256(p.read_bytes()).hexdigest() == d["sha256"], d["fichier"]


def test_a_signed_convention_renamed_and_changed_is_said(tmp_path: Path, soffice: Path) -> None:
    out = tmp_path / "lot"
    assert run(soffice, "generer", "-o", str(out), str(signed_workbook(tmp_path, "a.xlsx"))).returncode == 0
    result = run(soffice, "generer", "-o", str(out), str(signed_workbook(tmp_path, "b.xlsx", rename_b04=True)))
    assert result.returncode == 0, result.stderr
    assert "conventions/B04-convention-portes-ferrees-solidarites-renommee.docx" in result.stdout
    assert "la convention de B04" in result.stdout


def test_a_signed_convention_restored_to_the_same_bytes_is_not_said_changed(tmp_path: Path,
                                                                            soffice: Path) -> None:
    out = tmp_path / "lot"
    workbook = signed_workbook(tmp_path, "a.xlsx")
    assert run(soffice, "generer", "-o", str(out), str(workbook)).returncode == 0
    original = (out / CONV_B03).read_bytes()
    (out / CONV_B03).write_bytes(original + b"modifie a la main")
    result = run(soffice, "generer", "-o", str(out), str(workbook), "--ecraser")
    assert result.returncode == 0, result.stderr
    assert (out / CONV_B03).read_bytes() == original  # restored: the signed version
    assert "la convention de B03" not in result.stdout


def test_a_kept_pdf_claiming_another_beneficiary_is_not_carried_on(tmp_path: Path, soffice: Path) -> None:
    out = tmp_path / "lot"
    assert run(soffice, "generer", "-o", str(out), str(SAMPLE), "--pdf").returncode == 0
    m = manifest_of(out)
    for e in m["documents"]:
        if e["fichier"] == PV_B06:
            e["beneficiaire"] = "B07"
    (out / "manifeste.json").write_text(json.dumps(m, ensure_ascii=False, indent=2), encoding="utf-8")
    result = run(soffice, "generer", "-o", str(out), str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert_consistent(out)
    entries = [e for e in manifest_of(out)["documents"] if e["fichier"] == PV_B06]
    assert all(e.get("beneficiaire") == "B06" for e in entries), entries


def test_kept_pdfs_and_hand_changes(tmp_path: Path, soffice: Path) -> None:
    """Held: PDFs of untouched documents stay and are linked; a PDF replaced by a link, a folder
    or a pipe is left alone and unlisted; the page links exactly the manifest's files."""
    out = tmp_path / "lot"
    assert run(soffice, "generer", "-o", str(out), str(SAMPLE), "--pdf").returncode == 0
    pdfs = sorted(e["fichier"] for e in manifest_of(out)["documents"] if e["fichier"].startswith("conventions/")
                  and e["fichier"].endswith(".pdf"))
    (out / pdfs[0]).unlink()
    (out / pdfs[0]).symlink_to("/etc/passwd")
    (out / pdfs[1]).unlink()
    (out / pdfs[1]).mkdir()
    (out / pdfs[2]).unlink()
    os.mkfifo(out / pdfs[2])
    result = run(soffice, "generer", "-o", str(out), str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert_consistent(out)
    listed = {e["fichier"] for e in manifest_of(out)["documents"]}
    assert not listed & set(pdfs[:3])
    assert set(pdfs[3:]) <= listed
    page = (out / "index.html").read_text(encoding="utf-8")
    for p in pdfs[:3]:
        assert f'href="{p}"' not in page
    for p in pdfs[3:]:
        assert f'href="{p}"' in page
    assert (out / pdfs[0]).is_symlink() and (out / pdfs[1]).is_dir()


def test_a_manifest_that_is_a_pipe_stops_without_blocking(tmp_path: Path, soffice: Path) -> None:
    out = tmp_path / "lot"
    assert run(soffice, "generer", "-o", str(out), str(SAMPLE)).returncode == 0
    (out / "manifeste.json").unlink()
    os.mkfifo(out / "manifeste.json")
    result = run(soffice, "generer", "-o", str(out), str(SAMPLE))
    assert result.returncode == 1
    assert "fichier spécial" in result.stderr and "Traceback" not in result.stderr


def test_an_equivalent_manifest_is_rewritten_to_the_tools_bytes(tmp_path: Path, soffice: Path) -> None:
    out = tmp_path / "lot"
    assert run(soffice, "generer", "-o", str(out), str(SAMPLE)).returncode == 0
    wanted = (out / "manifeste.json").read_bytes()
    (out / "manifeste.json").write_text(json.dumps(json.loads(wanted)), encoding="utf-8")
    assert run(soffice, "generer", "-o", str(out), str(SAMPLE)).returncode == 0
    assert (out / "manifeste.json").read_bytes() == wanted
    before = (out / "manifeste.json").stat().st_mtime_ns
    assert run(soffice, "generer", "-o", str(out), str(SAMPLE)).returncode == 0
    assert (out / "manifeste.json").stat().st_mtime_ns == before  # nothing changed: not rewritten
