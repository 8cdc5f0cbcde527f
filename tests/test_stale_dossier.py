"""The claim dossier left stale by a partial job: ``convention`` rewrites a beneficiary's
handover record, which the dossier assembled by an earlier ``--pdf`` run encloses, and does
not assemble the dossier again: the command says so (« Attention : … »), only when it is
true.

One ``generer --pdf`` batch is made per module with the real LibreOffice (skipped when it
is missing, failed when ``DOTATION_EXIGER_LIBREOFFICE=1``, like ``tests/test_pdf.py``) and
copied for each test. The one later run that only needs *a* dossier assembled from other
records (``demande --pdf``) uses the fake ``soffice`` of ``tests/helpers``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLE
from test_pdf import require_tools

from dotation_docs.cli import cli
from dotation_docs.status import Freshness, read_status

DOSSIER = "demande-subvention/dossier-demande-subvention.pdf"
RECORD = "proces-verbaux/B02-proces-verbal-sport-loisirs-de-l-aurence.docx"
CONVENTION = "conventions/B02-convention-sport-loisirs-de-l-aurence.docx"
NOTE = (
    f"Attention : le dossier de demande ({DOSSIER}) n'est plus à jour : le procès-verbal de remise de B02 "
    f"« Sport & Loisirs de l'Aurence » ({RECORD}) a changé, le dossier en contient l'ancienne version. "
    "Refaites-le avant de l'imprimer ou de l'envoyer : « dotation {command} {workbook} -o {output} --pdf »."
)


def note(workbook: Path, output: Path, pdf: bool = False) -> str:
    """The note, with the command to run: generer makes the PDFs a run without --pdf removed."""
    return NOTE.format(command="demande" if pdf else "generer", workbook=workbook, output=output)

pytestmark = [pytest.mark.libreoffice,
              pytest.mark.skipif(os.name == "nt", reason="soffice factice en script Python à shebang")]


def changed_b02(folder: Path, column: str, value: str) -> Path:
    """A copy of the sample workbook with B02's cell ``column`` (sheet « Bénéficiaires »)
    set to ``value``."""
    wb = openpyxl.load_workbook(SAMPLE)
    wb["Bénéficiaires"][f"{column}3"] = value  # row 3: B02 Sport & Loisirs de l'Aurence
    path = folder / f"classeur-{column}.xlsx"
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample, and two corrections of B02: its place of use (printed in its convention
    and its handover record) and its address (printed in its convention only)."""
    folder = tmp_path_factory.mktemp("classeurs")
    return {
        "sample": SAMPLE,
        "place": changed_b02(folder, "P", "Gymnase de l'Aurence, 3 rue Louis Armand, 87100 Limoges"),
        "address": changed_b02(folder, "F", "20 allée Fabre d'Églantine"),
    }


@pytest.fixture(scope="module")
def pdf_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's batch made by ``generer --pdf`` with LibreOffice (once per module)."""
    require_tools()
    out = tmp_path_factory.mktemp("lot-pdf") / "lot"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DOTATION_SOFFICE", raising=False)
        result = _invoke(["generer", str(SAMPLE), "-o", str(out), "--pdf"])
    assert result.exit_code == 0, result.output
    assert (out / DOSSIER).is_file() and DOSSIER in _manifest(out)
    return out


@pytest.fixture
def batch(pdf_batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the module's ``--pdf`` batch (real LibreOffice for later --pdf runs)."""
    monkeypatch.delenv("DOTATION_SOFFICE", raising=False)
    out = tmp_path / "lot"
    shutil.copytree(pdf_batch, out)
    return out


def _invoke(args: list[str]):
    from click.testing import CliRunner

    return CliRunner().invoke(cli, args)


def _manifest(folder: Path) -> dict[str, dict]:
    data = json.loads((folder / "manifeste.json").read_text(encoding="utf-8"))
    return {d["fichier"]: d for d in data["documents"]}


def run(*args: str) -> str:
    result = _invoke(list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_convention_after_a_correction_of_the_record_says_the_dossier_is_stale(batch: Path, workbooks) -> None:
    dossier = (batch / DOSSIER).read_bytes()
    before = _manifest(batch)
    output = run("convention", str(workbooks["place"]), "B02", "-o", str(batch))
    after = _manifest(batch)
    assert after[RECORD]["sha256"] != before[RECORD]["sha256"]  # the record did change
    assert note(workbooks["place"], batch) in output
    assert output.count("dossier de demande") == 1
    # the dossier itself is left as it was, still listed: `etat` says it is stale too
    assert (batch / DOSSIER).read_bytes() == dossier and after[DOSSIER] == before[DOSSIER]
    state = read_status(workbooks["place"], batch)
    [found] = [d for d in state.operation if d.path == DOSSIER]
    assert found.freshness is Freshness.STALE
    # the same job again changes nothing: it says nothing of the dossier (its note was given)
    again = run("convention", str(workbooks["place"]), "B02", "-o", str(batch))
    assert "dossier de demande" not in again


def test_convention_pdf_does_not_assemble_the_dossier_and_says_it_is_stale(batch: Path, workbooks) -> None:
    output = run("convention", str(workbooks["place"]), "B02", "-o", str(batch), "--pdf")
    assert (batch / RECORD.replace(".docx", ".pdf")).is_file()
    assert note(workbooks["place"], batch, pdf=True) in output


def test_no_note_when_nothing_the_dossier_encloses_changed(batch: Path, workbooks) -> None:
    # the workbook unchanged: nothing rewritten
    assert "dossier de demande" not in run("convention", str(workbooks["sample"]), "B02", "-o", str(batch))
    # the address is printed in the convention only: the convention changes, not the record
    before = _manifest(batch)
    output = run("convention", str(workbooks["address"]), "B02", "-o", str(batch))
    after = _manifest(batch)
    assert after[CONVENTION]["sha256"] != before[CONVENTION]["sha256"]
    assert after[RECORD]["sha256"] == before[RECORD]["sha256"]
    assert "dossier de demande" not in output


@pytest.mark.usefixtures("fake_soffice")
def test_no_note_when_the_dossier_already_encloses_the_corrected_record(batch: Path, workbooks, tmp_path: Path) -> None:
    # `demande --pdf` assembles the dossier from records rendered for it only: the corrected
    # B02 record is in the dossier before `convention` writes it in proces-verbaux/
    before = _manifest(batch)
    run("demande", str(workbooks["place"]), "-o", str(batch), "--pdf")
    assert _manifest(batch)[DOSSIER]["sha256"] != before[DOSSIER]["sha256"]
    output = run("convention", str(workbooks["place"]), "B02", "-o", str(batch))
    assert _manifest(batch)[RECORD]["sha256"] != before[RECORD]["sha256"]  # the record did change
    assert "dossier de demande" not in output
    # and the dossier is up to date indeed
    [found] = [d for d in read_status(workbooks["place"], batch).operation if d.path == DOSSIER]
    assert found.freshness is Freshness.UP_TO_DATE
    # then another record corrected: the note names it alone
    both = tmp_path / "classeur-b03.xlsx"
    wb = openpyxl.load_workbook(workbooks["place"])
    wb["Bénéficiaires"]["P4"] = "Salle polyvalente, 87100 Limoges"  # row 4: B03
    wb.save(both)
    output = run("convention", str(both), "B03", "-o", str(batch))
    [note] = [line for line in output.splitlines() if "dossier de demande" in line]
    assert note.startswith(f"Attention : le dossier de demande ({DOSSIER}) n'est plus à jour : le procès-verbal "
                           "de remise de B03 « ")
    assert "B02" not in note
