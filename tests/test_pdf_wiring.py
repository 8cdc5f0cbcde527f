"""PDF step of the runner: ``--pdf``/``--pdfa`` on ``generer``, ``convention`` and
``demande`` (a PDF beside every .docx/.xlsx, one LibreOffice process per run, the claim
dossier, the manifest, stale PDFs removed, errors before anything is written, failures
that leave the previous batch intact).

Most tests use a fake ``soffice`` (``tests/helpers/fake_soffice.py``: it logs its calls and
writes one A4 page per input whose text is the sha256 of that input), so the wiring is
tested fast and exactly. A few end-to-end tests, marked ``libreoffice``, run the real
LibreOffice (and Ghostscript): skipped when a tool is missing, failed instead when
``DOTATION_EXIGER_LIBREOFFICE=1`` (CI), like ``tests/test_pdf.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLE, set_operation
from pypdf import PdfReader, PdfWriter
from test_pdf import pages, require_tools, serials_by_beneficiary, text_of

from dotation_docs import pipeline
from dotation_docs.cli import cli
from dotation_docs.pdf import non_a4_pages, pdfa_identification
from dotation_docs.pipeline import PdfOptions, generate_batch, generate_beneficiary, generate_claim

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "manifeste.json"
DOSSIER = "demande-subvention/dossier-demande-subvention.pdf"
ATTACHMENTS = "demande-subvention/pieces-jointes"
CLAIM_PARTS = [
    ("Lettre de demande", "demande-subvention/1-lettre-de-demande.docx"),
    ("État récapitulatif des dépenses", "demande-subvention/2-etat-recapitulatif-des-depenses.xlsx"),
    ("Plan de financement", "demande-subvention/3-plan-de-financement.docx"),
    ("Certificat d'achèvement et de conformité", "demande-subvention/4-attestation-achevement.docx"),
]

pytestmark = pytest.mark.skipif(os.name == "nt", reason="soffice factice en script Python à shebang")


# --- Helpers --------------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def documents(folder: Path) -> list[str]:
    """The .docx and .xlsx under ``folder``, relative paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.suffix in (".docx", ".xlsx"))


def manifest_of(folder: Path) -> dict[str, dict]:
    data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return {d["fichier"]: d for d in data["documents"]}


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def bookmarks(pdf: bytes) -> list[tuple[str, int]]:
    reader = PdfReader(io.BytesIO(pdf))
    return [(item.title, reader.get_destination_page_number(item)) for item in reader.outline]


def pdf_of_size(*sizes: tuple[float, float]) -> bytes:
    writer = PdfWriter()
    for width, height in sizes:
        writer.add_blank_page(width, height)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def converted_inputs(call: list[str]) -> list[str]:
    return call[call.index("--outdir") + 2:]


# --- The wiring, with a fake soffice ----------------------------------------------------------------


def test_generer_pdf_writes_a_pdf_beside_every_document_in_one_soffice_run(tmp_path: Path, fake_soffice: Path,
                                                                          runner) -> None:
    out = tmp_path / "lot"
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(out), "--pdf"])
    assert result.exit_code == 0, result.output
    sources = documents(out)
    assert len(sources) == 25  # 9 conventions, 10 records, release, invitation, 3 claim .docx, statement
    # one LibreOffice process for the whole run, every document in it, plain PDF filter
    [call] = calls(fake_soffice)
    assert len(converted_inputs(call)) == 25
    assert call[call.index("--convert-to") + 1] == "pdf"
    entries = manifest_of(out)
    for source in sources:
        pdf_path = source.rsplit(".", 1)[0] + ".pdf"
        pdf = (out / pdf_path).read_bytes()
        # the PDF is the conversion of THIS document, as written beside it
        assert page_texts(pdf) == [f"FAKE {sha256((out / source).read_bytes())} PDF"], pdf_path
        entry, source_entry = entries[pdf_path], entries[source]
        assert entry["type"] == source_entry["type"] + "_pdf"
        assert entry["beneficiaire"] == source_entry["beneficiaire"]
        assert entry["sha256"] == sha256(pdf)
    # the HTML documents get no PDF of their own; the dossier is listed too
    assert sorted(p.name for p in (out / "communique").iterdir()) == [
        "communique-de-presse.docx", "communique-de-presse.html", "communique-de-presse.pdf",
        "invitation-presse.docx", "invitation-presse.html", "invitation-presse.pdf"]
    assert entries[DOSSIER]["type"] == "dossier_demande"
    assert entries[DOSSIER]["sha256"] == sha256((out / DOSSIER).read_bytes())
    assert "25 PDF" in result.output
    assert ("PDF : 25 documents convertis en PDF par LibreOffice, chacun à côté de son fichier Word ou Excel."
            in result.output)
    assert (f"Dossier de demande (PDF) : {DOSSIER} (14 pièces, aucune pièce jointe)." in result.output)


def test_convention_pdfa_converts_the_beneficiarys_documents_only(tmp_path: Path, fake_soffice: Path) -> None:
    out = tmp_path / "lot"
    generate_batch(SAMPLE, out)
    before = snapshot(out)
    written = generate_beneficiary(SAMPLE, "B02", out, pdf=PdfOptions(pdfa=True))
    [call] = calls(fake_soffice)
    assert "SelectPdfVersion" in call[call.index("--convert-to") + 1]
    assert len(converted_inputs(call)) == 2
    pdfs = sorted(f.path for f in written.files if f.path.endswith(".pdf"))
    assert pdfs == ["conventions/B02-convention-sport-loisirs-de-l-aurence.pdf",
                    "proces-verbaux/B02-proces-verbal-sport-loisirs-de-l-aurence.pdf"]
    assert all(page_texts((out / p).read_bytes())[0].endswith(" PDFA") for p in pdfs)
    after = snapshot(out)
    assert {k for k in after if after[k] != before.get(k)} == {*pdfs, "index.html", MANIFEST}
    assert written.pdf is not None and written.pdf.dossier is None  # no dossier for one beneficiary


def test_a_pdf_whose_document_is_rewritten_without_pdf_is_removed(tmp_path: Path, fake_soffice: Path,
                                                                  runner, make_workbook) -> None:
    out = tmp_path / "lot"
    generate_batch(SAMPLE, out, pdf=PdfOptions())
    (out / ATTACHMENTS).mkdir()
    (out / ATTACHMENTS / "facture.pdf").write_bytes(pdf_of_size((595.28, 841.89)))
    b01 = ["conventions/B01-convention-beaubreuil-numerique-solidaire.pdf",
           "proces-verbaux/B01-proces-verbal-beaubreuil-numerique-solidaire.pdf"]
    # B01's representative corrected: both its documents are rewritten, their PDFs would lie
    corrected = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("J2", "Nadia Corrigée"))
    result = runner.invoke(cli, ["convention", str(corrected), "B01", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not any((out / p).exists() for p in b01)
    assert (out / "conventions/B02-convention-sport-loisirs-de-l-aurence.pdf").is_file()
    assert not set(b01) & set(manifest_of(out))
    assert (f"PDF périmés : 2 PDF supprimés, leurs documents ont été réécrits sans --pdf : {b01[0]}, {b01[1]}. "
            "Relancez avec --pdf pour les refaire.") in result.output
    # the claim file made again without --pdf, the same: its PDFs still match their documents and
    # stay; the dossier (assembled from parts made for it only) goes; the agent's attachment stays
    claim_pdfs = sorted(p for p in manifest_of(out) if p.startswith("demande-subvention/") and p.endswith(".pdf")
                        and p != DOSSIER)
    assert len(claim_pdfs) == 4
    result = runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / DOSSIER).exists() and all((out / p).is_file() for p in claim_pdfs)
    assert "PDF périmés" not in result.output
    assert (f"Dossier de demande (PDF) supprimé : {DOSSIER} (seul un lancement avec --pdf l'assemble et peut "
            "garantir qu'il est à jour). "
            "Relancez avec --pdf pour le refaire.") in result.output
    assert (out / ATTACHMENTS / "facture.pdf").read_bytes() == pdf_of_size((595.28, 841.89))
    # the full batch without --pdf, after a correction of the handover place: every PDF left is
    # that of a document left as it is (its data fingerprint, the source's bytes)
    moved = make_workbook(lambda wb: set_operation(wb, "Lieu de la remise", "Salle des fêtes de Beaubreuil"))
    generate_batch(moved, out)
    listed = manifest_of(out)
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.pdf"))
    assert f"{ATTACHMENTS}/facture.pdf" in left and not set(b01) & set(left)
    for pdf in (p for p in left if p != f"{ATTACHMENTS}/facture.pdf"):
        source = next(e for f, e in listed.items() if f.rpartition(".")[0] == pdf.rpartition(".")[0]
                      and not f.endswith(".pdf"))
        assert listed[pdf]["empreinte_donnees"] == source["sha256"], pdf
    assert not any(p.startswith("proces-verbaux/") for p in left)  # the place is in every handover record


def test_demande_pdf_dossier_parts_in_order_with_the_agents_attachments(tmp_path: Path, fake_soffice: Path) -> None:
    reference = tmp_path / "reference"
    generate_batch(SAMPLE, reference)  # the same workbook gives the same bytes: the records to expect
    out = tmp_path / "lot"
    attachments = out / ATTACHMENTS
    attachments.mkdir(parents=True)
    letter_size = pdf_of_size((612, 792))
    two_pages = pdf_of_size((595.28, 841.89), (841.89, 595.28))
    (attachments / "2-rib.pdf").write_bytes(letter_size)
    (attachments / "1-facture.PDF").write_bytes(two_pages)
    (attachments / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    written = generate_claim(SAMPLE, out, pdf=PdfOptions())
    # one soffice run: 4 claim documents and the 10 handover records rendered for the dossier only
    [call] = calls(fake_soffice)
    assert len(converted_inputs(call)) == 14
    assert not (out / "proces-verbaux").exists()
    assert not any(e["fichier"].startswith("proces-verbaux/") for e in manifest_of(out).values())
    dossier = (out / DOSSIER).read_bytes()
    records = sorted((reference / "proces-verbaux").glob("*.docx"))
    dotation = pipeline.check_workbook(SAMPLE).dotation
    handed_over = [b for b in dotation.beneficiaries if dotation.devices_of(b)]
    assert [p.name[:3] for p in records] == [b.identifier for b in handed_over]
    marks = bookmarks(dossier)
    assert [title for title, _page in marks] == [
        *(title for title, _path in CLAIM_PARTS),
        *(f"Procès-verbal de remise – {b.identifier} {b.name}" for b in handed_over),
        "Pièce jointe – 1-facture.PDF", "Pièce jointe – 2-rib.pdf",
    ]
    assert marks[4][0] == "Procès-verbal de remise – B01 Beaubreuil Numérique Solidaire"
    assert [page for _title, page in marks] == [*range(15), 16]
    texts = page_texts(dossier)
    assert len(texts) == 17
    expected_sources = [out / path for _title, path in CLAIM_PARTS] + records
    for page, source in enumerate(expected_sources):
        assert texts[page] == f"FAKE {sha256(source.read_bytes())} PDF", source.name
    assert non_a4_pages(dossier) == []  # the US Letter page was brought to A4
    # the agent's files are read, never changed; the JPEG is named as left out
    assert (attachments / "2-rib.pdf").read_bytes() == letter_size
    assert (attachments / "1-facture.PDF").read_bytes() == two_pages
    assert written.pdf is not None and written.pdf.skipped == [f"{ATTACHMENTS}/photo.jpg"]
    assert written.pdf.dossier_parts == 16
    assert manifest_of(out)[DOSSIER]["sha256"] == sha256(dossier)
    assert not any(e["fichier"].startswith(ATTACHMENTS) for e in manifest_of(out).values())


def test_missing_soffice_stops_before_anything_with_the_install_command(tmp_path: Path, runner) -> None:
    out = tmp_path / "lot"
    generate_claim(SAMPLE, out)
    before = snapshot(out)
    empty = tmp_path / "vide"
    empty.mkdir()
    env = {"PATH": str(empty), "DOTATION_SOFFICE": None}
    for args in (["generer", str(SAMPLE)], ["demande", str(SAMPLE)], ["convention", str(SAMPLE), "B01"],
                 ["generer", str(tmp_path / "absent.xlsx")]):  # LibreOffice is checked before the workbook is read
        result = runner.invoke(cli, [*args, "-o", str(out), "--pdf"], env=env)
        assert result.exit_code == 1, result.output
        assert "Erreur : LibreOffice est nécessaire pour produire les PDF (--pdf, --pdfa)" in result.output
        assert ("sudo apt-get install --no-install-recommends libreoffice-writer-nogui libreoffice-calc-nogui "
                "fonts-liberation2 fonts-crosextra-carlito") in result.output
        assert "Traceback" not in result.output
        assert snapshot(out) == before
    # a wrong --soffice is named
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(out), "--pdfa", "--soffice", "/nulle/part/soffice"],
                           env=env)
    assert result.exit_code == 1 and "--soffice indique « /nulle/part/soffice »" in result.output
    assert snapshot(out) == before
    # without --pdf the tool never needs LibreOffice
    fresh = tmp_path / "sans-pdf"
    result = runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(fresh)], env=env)
    assert result.exit_code == 0, result.output
    assert not list(fresh.rglob("*.pdf"))


def test_pdfa_without_ghostscript_stops_before_writing_the_dossier(tmp_path: Path, fake_soffice: Path, runner,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "vide"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("DOTATION_GHOSTSCRIPT", raising=False)
    out = tmp_path / "lot"
    result = runner.invoke(cli, ["demande", str(SAMPLE), "-o", str(out), "--pdfa"])
    assert result.exit_code == 1, result.output
    assert "Erreur : Ghostscript est nécessaire pour produire le dossier de demande au format PDF/A" in result.output
    assert "apt-get install --no-install-recommends ghostscript" in result.output
    assert calls(fake_soffice) == [] and not out.exists()  # checked before rendering and converting
    # one beneficiary has no dossier: no Ghostscript needed
    result = runner.invoke(cli, ["convention", str(SAMPLE), "B01", "-o", str(out), "--pdfa"])
    assert result.exit_code == 0, result.output


def test_a_conversion_failure_names_the_file_and_leaves_the_previous_batch_intact(
    tmp_path: Path, fake_soffice: Path, make_workbook, monkeypatch: pytest.MonkeyPatch, runner
) -> None:
    out = tmp_path / "lot"
    generate_claim(SAMPLE, out, pdf=PdfOptions())
    before = snapshot(out)
    changed = make_workbook(lambda wb: set_operation(wb, "Lieu de la remise", "Salle des fêtes de Beaubreuil"))
    monkeypatch.setenv("FAKE_SOFFICE_FAIL", "3")  # the third document of the run: the financing plan
    result = runner.invoke(cli, ["demande", str(changed), "-o", str(out), "--pdf"])
    assert result.exit_code == 1, result.output
    assert ("Erreur : la conversion en PDF a échoué pour 1 document(s) sur 14 ; rien n'a été écrit, le lot "
            "précédent est intact :\n  - demande-subvention/3-plan-de-financement.docx : LibreOffice "
            "n'a pas pu le convertir") in result.output
    assert snapshot(out) == before


@pytest.mark.slow
def test_an_interrupted_conversion_leaves_the_previous_batch_intact(tmp_path: Path, fake_soffice: Path,
                                                                   make_workbook) -> None:
    out = tmp_path / "lot"
    generate_claim(SAMPLE, out, pdf=PdfOptions())
    before = snapshot(out)
    changed = make_workbook(lambda wb: set_operation(wb, "Lieu de la remise", "Salle des fêtes de Beaubreuil"))
    fake_soffice.unlink()  # the log of this run only
    env = dict(os.environ, PYTHONPATH=str(ROOT), FAKE_SOFFICE_FAIL="hang")
    process = subprocess.Popen(
        [sys.executable, "-m", "dotation_docs", "demande", str(changed), "-o", str(out), "--pdf"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not calls(fake_soffice) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert calls(fake_soffice), "soffice factice jamais lancé"
    [call] = calls(fake_soffice)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode != 0, output
    assert snapshot(out) == before
    # the fake soffice was killed with its process group: no process holds its staging folder
    staged = Path(converted_inputs(call)[0]).parent
    assert not staged.exists()


# --- End to end, with LibreOffice and Ghostscript -------------------------------------------------------


@pytest.mark.libreoffice
def test_generer_pdf_with_libreoffice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tools()
    monkeypatch.delenv("DOTATION_SOFFICE", raising=False)
    runs = []
    real = pipeline.convert_to_pdf

    def counted(sources, **options):
        runs.append(list(sources))
        return real(sources, **options)

    monkeypatch.setattr(pipeline, "convert_to_pdf", counted)
    out = tmp_path / "lot"
    written = generate_batch(SAMPLE, out, pdf=PdfOptions())
    sources = documents(out)
    assert len(runs) == 1 and len(runs[0]) == len(sources) == 25
    for source in sources:
        pdf = (out / (source.rsplit(".", 1)[0] + ".pdf")).read_bytes()
        assert pages(pdf) >= 1 and non_a4_pages(pdf) == [], source
    letter = text_of((out / "demande-subvention/1-lettre-de-demande.pdf").read_bytes())
    assert "28 921" in letter and "février" in letter
    assert "36 151,25 €" in text_of((out / "demande-subvention/2-etat-recapitulatif-des-depenses.pdf").read_bytes())
    serials = serials_by_beneficiary()
    for identifier in ("B02", "B10"):
        record = next((out / "proces-verbaux").glob(f"{identifier}-*.pdf")).read_bytes()
        assert all(serial in text_of(record) for serial in serials[identifier])
    assert written.pdf is not None and len(written.pdf.converted) == 25
    # same workbook, same bytes: another run (another LibreOffice process) gives identical PDFs
    again = tmp_path / "encore"
    generate_beneficiary(SAMPLE, "B02", again, pdf=PdfOptions())
    for pdf in sorted(again.glob("*/*.pdf")):
        assert pdf.read_bytes() == (out / pdf.relative_to(again)).read_bytes(), pdf.name
    assert len(list(again.glob("*/*.pdf"))) == 2


@pytest.mark.libreoffice
def test_demande_pdfa_dossier_with_libreoffice(tmp_path: Path) -> None:
    require_tools()
    out = tmp_path / "lot"
    attachments = out / ATTACHMENTS
    attachments.mkdir(parents=True)
    invoice = pdf_of_size((612, 792))
    (attachments / "facture.pdf").write_bytes(invoice)
    env = {k: v for k, v in os.environ.items() if k not in ("DOTATION_SOFFICE", "FAKE_SOFFICE_LOG")}
    run = subprocess.run(
        [sys.executable, "-m", "dotation_docs", "demande", str(SAMPLE), "-o", str(out), "--pdfa"],
        cwd=ROOT, env=dict(env, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Dossier de demande (PDF/A-2b) : {DOSSIER} (15 pièces, dont 1 pièce jointe : facture.pdf)." in run.stdout
    dossier = (out / DOSSIER).read_bytes()
    ident = pdfa_identification(dossier)
    assert ident is not None and (ident.part, ident.conformance) == ("2", "B")
    for _title, path in CLAIM_PARTS:
        ident = pdfa_identification((out / (path.rsplit(".", 1)[0] + ".pdf")).read_bytes())
        assert ident is not None and ident.part == "2", path
    marks = bookmarks(dossier)
    titles = [t for t, _page in marks]
    assert titles[:4] == [t for t, _path in CLAIM_PARTS]
    assert [t[:29] for t in titles[4:14]] == [f"Procès-verbal de remise – B{n:02d}" for n in range(1, 11)]
    assert titles[4] == "Procès-verbal de remise – B01 Beaubreuil Numérique Solidaire"
    assert titles[14] == "Pièce jointe – facture.pdf"
    starts = [page for _t, page in marks]
    assert starts == sorted(starts) and starts[0] == 0 and starts[-1] == pages(dossier) - 1
    assert non_a4_pages(dossier) == []
    text = text_of(dossier)
    assert "28 921" in text and "36 151,25 €" in text
    serials = serials_by_beneficiary()
    assert all(serial in text for identifier in serials for serial in serials[identifier])
    assert (attachments / "facture.pdf").read_bytes() == invoice
    assert not (out / "proces-verbaux").exists()
