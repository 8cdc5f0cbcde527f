"""PDF stage: conversion through LibreOffice (one process per batch, PDF/A-2b, reproducible
bytes, failures named, no orphan process) and the claim dossier (bookmarks, A4, PDF/A
through Ghostscript).

Tests marked ``libreoffice`` need ``soffice``, poppler-utils (``pdftotext``, ``pdffonts``)
and Ghostscript: they are skipped when one is missing, and fail instead when
``DOTATION_EXIGER_LIBREOFFICE=1`` (CI sets it). The sample batch is converted once per
module.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader, PdfWriter

from dotation_docs.dossier import (
    DossierError,
    GhostscriptNotFoundError,
    find_ghostscript,
    merge_dossier,
)
from dotation_docs.exceptions import DotationError
from dotation_docs.pdf import (
    PdfConversionError,
    SofficeNotFoundError,
    convert_to_pdf,
    find_soffice,
    make_reproducible,
    non_a4_pages,
    pdfa_identification,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
REQUIRE = "DOTATION_EXIGER_LIBREOFFICE"


# --- Tools: skip, or fail in CI ---------------------------------------------------------------


def require_tools() -> None:
    """Skip the test when LibreOffice, poppler-utils or Ghostscript is missing, or fail
    when DOTATION_EXIGER_LIBREOFFICE=1."""
    missing = []
    try:
        find_soffice(None)
    except SofficeNotFoundError:
        missing.append("LibreOffice (soffice)")
    missing += [f"{tool} (poppler-utils)" for tool in ("pdftotext", "pdffonts") if shutil.which(tool) is None]
    try:
        find_ghostscript(None)
    except GhostscriptNotFoundError:
        missing.append("Ghostscript (gs)")
    if not missing:
        return
    message = "outils absents : " + ", ".join(missing)
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{message}, alors que {REQUIRE}=1 exige les tests de conversion PDF")
    pytest.skip(f"{message} : tests de conversion PDF ignorés (voir docs/pdf.md pour l'installation)")


def text_of(pdf: bytes) -> str:
    """pdftotext's text of ``pdf``, spaces normalised (narrow and no-break spaces)."""
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    text = out.decode("utf-8")
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


def pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def fonts_embedded(pdf: bytes, tmp: Path) -> list[tuple[str, str]]:
    """(font name, emb column) of every font pdffonts lists."""
    path = tmp / "fonts.pdf"
    path.write_bytes(pdf)
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    # columns: name type [type…] encoding emb sub uni object ID
    return [(line.split()[0], line.split()[-5]) for line in lines if line.strip()]


def xref_is_valid(pdf: bytes) -> bool:
    """Every in-use entry of the classic cross-reference table points to its object."""
    start = int(re.search(rb"startxref\s+(\d+)", pdf).group(1))
    assert pdf[start:].startswith(b"xref")
    body = pdf[start:pdf.index(b"trailer", start)]
    ok = True
    number = 0
    for line in body.splitlines()[1:]:
        fields = line.split()
        if len(fields) == 2:
            number = int(fields[0])
            continue
        if fields[2] == b"n":
            ok &= re.match(rb"\s*%d 0 obj" % number, pdf[int(fields[0]):int(fields[0]) + 20]) is not None
        number += 1
    return ok


def serials_by_beneficiary() -> dict[str, list[str]]:
    """Serial numbers per beneficiary identifier, read from the sample workbook itself."""
    sheet = openpyxl.load_workbook(SAMPLE, read_only=True)["Matériel"]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows)
    serial, owner = header.index("N° de série"), header.index("Bénéficiaire")
    found: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row[serial]:
            found[row[owner]].append(str(row[serial]))
    return found


def blank_pdf(*sizes: tuple[float, float]) -> bytes:
    writer = PdfWriter()
    for width, height in sizes:
        writer.add_blank_page(width, height)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


A4P = (595.28, 841.89)
A4L = (841.89, 595.28)
LETTER = (612, 792)


# --- Module fixtures: the sample batch, converted once -----------------------------------------


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools()
    out = tmp_path_factory.mktemp("lot") / "sortie"
    subprocess.run(
        [sys.executable, "-m", "dotation_docs", "generer", str(SAMPLE), "-o", str(out)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True, capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def sources(batch: Path) -> list[Path]:
    found = sorted(p for p in batch.rglob("*") if p.suffix in (".docx", ".xlsx"))
    assert len(found) == 25  # 9 conventions, 10 records, release, invitation, 3 claim .docx, statement
    return found


@pytest.fixture(scope="module")
def extras(batch: Path) -> dict[str, Path]:
    """A corrupt .docx, and two different documents with the same base name."""
    root = batch.parent / "extras"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    corrupt = root / "convention-abimee.docx"
    corrupt.write_bytes(os.urandom(4096))
    twin_a, twin_b = root / "a" / "meme-nom.docx", root / "b" / "meme-nom.docx"
    shutil.copy(next(batch.glob("conventions/B01-*.docx")), twin_a)
    shutil.copy(next(batch.glob("conventions/B02-*.docx")), twin_b)
    return {"corrupt": corrupt, "twin_a": twin_a, "twin_b": twin_b}


@pytest.fixture(scope="module")
def converted(sources: list[Path], extras: dict[str, Path]) -> tuple[dict[Path, bytes], PdfConversionError, float]:
    """The whole batch, the corrupt file and the twins, in ONE conversion (plain PDF)."""
    start = time.perf_counter()
    with pytest.raises(PdfConversionError) as caught:
        convert_to_pdf([*sources, extras["corrupt"], extras["twin_a"], extras["twin_b"]], pdfa=False)
    return caught.value.converted, caught.value, time.perf_counter() - start


@pytest.fixture(scope="module")
def claim_parts(batch: Path) -> list[Path]:
    claim = sorted((batch / "demande-subvention").glob("*.*"))
    records = sorted((batch / "proces-verbaux").glob("B0[12]-*.docx"))
    return [*claim, *records]


@pytest.fixture(scope="module")
def pdfa(claim_parts: list[Path]) -> dict[Path, bytes]:
    """Letter, statement (.xlsx), plan, certificate and two records as PDF/A-2b."""
    return convert_to_pdf(claim_parts, pdfa=True)


# --- Finding LibreOffice (no LibreOffice needed) -----------------------------------------------


def fake_program(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.mark.skipif(os.name == "nt", reason="programme factice en shell")
def test_find_soffice_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = fake_program(tmp_path, "soffice")
    from_env = fake_program(tmp_path, "lo-env")
    explicit = fake_program(tmp_path, "lo-explicit")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DOTATION_SOFFICE", raising=False)
    assert find_soffice(None) == str(on_path)
    monkeypatch.setenv("DOTATION_SOFFICE", str(from_env))
    assert find_soffice(None) == str(from_env)
    assert find_soffice(str(explicit)) == str(explicit)


def test_missing_soffice_gives_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DOTATION_SOFFICE", raising=False)
    with pytest.raises(SofficeNotFoundError) as caught:
        find_soffice(None)
    message = caught.value.format_message()
    assert isinstance(caught.value, DotationError)
    assert "« soffice » est introuvable" in message
    assert (
        "apt-get install --no-install-recommends libreoffice-writer-nogui libreoffice-calc-nogui "
        "fonts-liberation2 fonts-crosextra-carlito" in message
    )
    assert "--soffice CHEMIN" in message and "DOTATION_SOFFICE" in message


def test_wrong_explicit_soffice_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOTATION_SOFFICE", raising=False)
    with pytest.raises(SofficeNotFoundError, match=r"--soffice indique « /nulle/part/soffice »"):
        find_soffice("/nulle/part/soffice")
    monkeypatch.setenv("DOTATION_SOFFICE", "/nulle/part/lo")
    with pytest.raises(SofficeNotFoundError, match=r"DOTATION_SOFFICE indique « /nulle/part/lo »"):
        convert_to_pdf([tmp_path / "x.docx"], soffice=None)


def test_missing_ghostscript_gives_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DOTATION_GHOSTSCRIPT", raising=False)
    with pytest.raises(GhostscriptNotFoundError, match="apt-get install --no-install-recommends ghostscript"):
        merge_dossier([("Lettre", blank_pdf(A4P))], pdfa=True)


# --- Merging (pypdf only) ------------------------------------------------------------------------


def test_merge_bookmarks_in_order_and_a4() -> None:
    parts = [
        ("Lettre de demande", blank_pdf(A4P)),
        ("État récapitulatif des dépenses", blank_pdf(A4L, A4L)),
        ("Procès-verbal de remise – B01", blank_pdf(A4P, A4P)),
        ("Facture (format lettre US)", blank_pdf(LETTER, (792, 612))),
    ]
    merged = merge_dossier(parts, pdfa=False)
    reader = PdfReader(io.BytesIO(merged))
    assert [(o.title, reader.get_destination_page_number(o)) for o in reader.outline] == [
        ("Lettre de demande", 0),
        ("État récapitulatif des dépenses", 1),
        ("Procès-verbal de remise – B01", 3),
        ("Facture (format lettre US)", 5),
    ]
    assert len(reader.pages) == 7
    assert non_a4_pages(merged) == []
    # the Letter pages keep their orientation on A4
    assert [round(float(p.mediabox.width)) for p in reader.pages[5:]] == [595, 842]
    assert pdfa_identification(merged) is None  # a pypdf merge claims no PDF/A
    assert merge_dossier(parts, pdfa=False) == merged


def test_non_a4_pages_reports_sizes() -> None:
    assert non_a4_pages(blank_pdf(A4P, LETTER, A4L)) == [(2, 215.9, 279.4)]


def test_merge_names_an_unreadable_part() -> None:
    with pytest.raises(DossierError, match=r"La pièce « Facture SVI-F2301-047 » n'est pas un PDF lisible"):
        merge_dossier([("Lettre", blank_pdf(A4P)), ("Facture SVI-F2301-047", b"%PDF-1.4 pas un pdf")], pdfa=False)
    with pytest.raises(DossierError, match=r"« RIB » est un PDF sans aucune page"):
        merge_dossier([("RIB", PdfWriterBytes.empty())], pdfa=False)


def test_merge_names_a_password_protected_part() -> None:
    writer = PdfWriter()
    writer.add_blank_page(*A4P)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(DossierError, match=r"« RIB » est un PDF protégé par un mot de passe"):
        merge_dossier([("RIB", buffer.getvalue())], pdfa=False)


class PdfWriterBytes:
    @staticmethod
    def empty() -> bytes:
        buffer = io.BytesIO()
        PdfWriter().write(buffer)
        return buffer.getvalue()


# --- Converting the sample batch -----------------------------------------------------------------


@pytest.mark.libreoffice
def test_every_source_converted_except_the_corrupt_one(converted, sources, extras) -> None:
    pdfs, error, _seconds = converted
    assert set(pdfs) == {*sources, extras["twin_a"], extras["twin_b"]}
    assert set(error.failed) == {extras["corrupt"]}
    message = error.format_message()
    assert "La conversion en PDF a échoué pour 1 fichier(s) sur 28" in message
    assert f"{extras['corrupt']} : ce n'est pas un fichier Word valide" in message
    for source in sources:
        assert str(source) not in message


@pytest.mark.libreoffice
def test_pdfs_are_a4_with_plausible_page_counts(converted, sources) -> None:
    pdfs = converted[0]
    expected = {"conventions": (2, 8), "proces-verbaux": (1, 4), "demande-subvention": (1, 3), "communique": (1, 2)}
    for source in sources:
        low, high = expected[source.parent.name]
        assert low <= pages(pdfs[source]) <= high, source.name
        assert non_a4_pages(pdfs[source]) == [], source.name


@pytest.mark.libreoffice
def test_text_accents_and_figures(converted, batch) -> None:
    pdfs = converted[0]
    letter = text_of(pdfs[batch / "demande-subvention" / "1-lettre-de-demande.docx"])
    statement = text_of(pdfs[batch / "demande-subvention" / "2-etat-recapitulatif-des-depenses.xlsx"])
    release = text_of(pdfs[batch / "communique" / "communique-de-presse.docx"])
    assert "28 921" in letter and "février" in letter
    assert "28 921" in release and "février" in release
    # French number formats in the spreadsheet: LC_ALL=fr_FR.UTF-8 reaches LibreOffice
    assert "36 151,25 €" in statement and "ÉTAT RÉCAPITULATIF DES DÉPENSES" in statement


@pytest.mark.libreoffice
def test_each_serial_in_its_handover_record(converted, batch) -> None:
    pdfs = converted[0]
    serials = serials_by_beneficiary()
    records = sorted((batch / "proces-verbaux").glob("*.docx"))
    assert len(records) == len(serials) == 10
    all_serials = {s for values in serials.values() for s in values}
    for record in records:
        identifier = record.name[:3]
        text = text_of(pdfs[record])
        assert "février" in text
        for serial in serials[identifier]:
            assert serial in text, (record.name, serial)
        others = all_serials - set(serials[identifier])
        assert not [s for s in others if re.search(rf"\b{s}\b", text)], record.name


@pytest.mark.libreoffice
def test_same_base_names_do_not_overwrite_each_other(converted, extras) -> None:
    pdfs = converted[0]
    first, second = text_of(pdfs[extras["twin_a"]]), text_of(pdfs[extras["twin_b"]])
    assert "Beaubreuil Numérique Solidaire" in first and "LM-2023-B01" in first
    assert "Sport & Loisirs de l'Aurence" in second or "LM-2023-B02" in second
    assert "LM-2023-B02" not in first and "LM-2023-B01" not in second


@pytest.mark.libreoffice
def test_plain_pdf_is_reproducible_in_place(converted, batch) -> None:
    pdf = converted[0][batch / "demande-subvention" / "1-lettre-de-demande.docx"]
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info["/CreationDate"].startswith("D:19800101000000")
    assert xref_is_valid(pdf)
    assert make_reproducible(pdf) == pdf


# --- PDF/A ---------------------------------------------------------------------------------------


@pytest.mark.libreoffice
def test_pdfa_identification_intent_fonts_no_encryption(pdfa, claim_parts, tmp_path) -> None:
    assert any(p.suffix == ".xlsx" for p in claim_parts)  # the statement, in the same call
    for source in claim_parts:
        pdf = pdfa[source]
        ident = pdfa_identification(pdf)
        assert (ident.part, ident.conformance) == ("2", "B"), source.name
        reader = PdfReader(io.BytesIO(pdf))
        assert not reader.is_encrypted
        intent = reader.trailer["/Root"]["/OutputIntents"][0].get_object()
        assert intent["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent
        fonts = fonts_embedded(pdf, tmp_path)
        assert fonts and all(emb == "yes" for _name, emb in fonts), (source.name, fonts)
        # XMP and Info agree on the creation date
        xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
        assert "<xmp:CreateDate>1980-01-01T00:00:00Z</xmp:CreateDate>" in xmp
        assert reader.metadata["/CreationDate"].startswith("D:19800101000000")
        assert xref_is_valid(pdf), source.name


@pytest.mark.libreoffice
def test_pdfa_bytes_identical_across_runs(pdfa, claim_parts) -> None:
    # another process, another batch composition, a few seconds later: same bytes
    again = convert_to_pdf(claim_parts[1:3], pdfa=True)
    for source, pdf in again.items():
        assert pdf == pdfa[source], source.name


@pytest.mark.libreoffice
def test_pdfa_dossier(pdfa, claim_parts, tmp_path) -> None:
    titles = [f"Pièce {n} – {p.stem}" for n, p in enumerate(claim_parts, start=1)]
    parts = [*zip(titles, (pdfa[p] for p in claim_parts)), ("Facture scannée (lettre US)", blank_pdf(LETTER))]
    dossier = merge_dossier(parts, pdfa=True)
    reader = PdfReader(io.BytesIO(dossier))
    starts = [0]
    for _title, data in parts[:-1]:
        starts.append(starts[-1] + pages(data))
    assert [(o.title, reader.get_destination_page_number(o)) for o in reader.outline] == list(
        zip([t for t, _ in parts], starts)
    )
    assert len(reader.pages) == starts[-1] + 1
    assert non_a4_pages(dossier) == []
    ident = pdfa_identification(dossier)
    assert (ident.part, ident.conformance) == ("2", "B")
    assert reader.trailer["/Root"]["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert not reader.is_encrypted
    assert all(emb == "yes" for _name, emb in fonts_embedded(dossier, tmp_path))
    text = text_of(dossier)
    assert "28 921" in text and "36 151,25 €" in text
    assert merge_dossier(parts, pdfa=True) == dossier


# --- Timeout and interruption: no LibreOffice left behind ------------------------------------------


def soffice_processes(marker: str) -> list[int]:
    """Pids of LibreOffice processes whose environment or command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if (b"soffice" in command or b"oosplash" in command) and marker.encode() in command + environment:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.libreoffice
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="/proc nécessaire")
def test_timeout_kills_the_group_and_names_the_files(sources, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(PdfConversionError) as caught:
        convert_to_pdf(sources[:3], timeout=0.5)
    message = caught.value.format_message()
    assert "échoué pour 3 fichier(s) sur 3" in message
    for source in sources[:3]:
        assert f"{source} : non converti : LibreOffice a dépassé le délai de 0,5 s" in message
    assert wait_until(lambda: not soffice_processes(str(tmp_path)), 5)
    assert not list(tmp_path.glob("dotation-pdf-*"))


CHILD = """
import sys
from pathlib import Path
from dotation_docs.pdf import convert_to_pdf
convert_to_pdf([Path(p) for p in sys.argv[1:]])
"""


@pytest.mark.libreoffice
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="/proc nécessaire")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_conversion_leaves_no_soffice(sources, tmp_path, signum) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    # four copies of the batch: a conversion far longer than the few seconds allowed below
    many = []
    for copy in range(4):
        for source in sources:
            target = tmp_path / f"lot{copy}" / source.name
            target.parent.mkdir(exist_ok=True)
            shutil.copy(source, target)
            many.append(target)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, many)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(temp)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        started = wait_until(lambda: any(b"soffice.bin" in command_line(p) for p in soffice_processes(str(temp))), 60)
        assert started, "soffice.bin n'a pas démarré"
        time.sleep(0.5)
        child.send_signal(signum)
        signalled = time.monotonic()
        child.wait(timeout=60)
        # LibreOffice was killed, not waited for until the end of its 96 files
        assert time.monotonic() - signalled < 3
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0
    assert wait_until(lambda: not soffice_processes(str(temp)), 5), soffice_processes(str(temp))
    assert not list(temp.glob("dotation-pdf-*"))
