"""PDF conversion: the optional last stage, which turns the written .docx/.xlsx into PDF
(or PDF/A-2b) through LibreOffice, all files in one process.

The engine is independent of the output folder: :func:`convert_to_pdf` takes source files
and returns the PDF bytes per source, so that the writer stages them atomically with the
rest of the batch. :func:`find_soffice` locates LibreOffice (and fails with the install
command in French) before anything is written.

How one conversion runs:

* every source is copied into a flat staging folder under a unique name (``0001.docx``…),
  because ``--outdir`` is flat and two sources with the same base name would overwrite
  each other's PDF;
* one ``soffice --headless --convert-to pdf`` process converts them all, with a fresh
  temporary profile (``-env:UserInstallation``), a temporary ``HOME``, ``LC_ALL=fr_FR.UTF-8``
  (LibreOffice reads the name itself: French number formats work even when the system
  has no such locale) and ``TZ=UTC``, in its own process session; the whole process group
  is killed on timeout and when our own process is interrupted (Ctrl-C, SIGTERM), since
  ``soffice.bin`` outlives the ``soffice`` launcher;
* LibreOffice exits 0 even when a file could not be loaded, and turns random bytes named
  ``.docx`` into a junk PDF: Office Open XML sources are checked to be zip packages first,
  and each expected PDF is checked to exist and have pages;
* the PDFs are made reproducible: LibreOffice's creation date (in the Info dictionary and
  in the XMP metadata, both rewritten to the same instant) and the document ``/ID`` (a
  digest of the content) are patched in place, same length, so the cross-reference
  offsets stay valid and PDF/A stays consistent.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dotation_docs.exceptions import DotationError, describe_os_error

log = logging.getLogger(__name__)

__all__ = [
    "A4",
    "PDFA_FILTER",
    "PDF_EPOCH",
    "PdfConversionError",
    "SofficeNotFoundError",
    "conversion_timeout",
    "convert_to_pdf",
    "find_soffice",
    "is_a4",
    "make_reproducible",
    "non_a4_pages",
    "pdfa_identification",
    "run_isolated",
]

#: Environment variable naming the LibreOffice executable (like ``--soffice CHEMIN``).
SOFFICE_ENV = "DOTATION_SOFFICE"

#: Export filter of PDF/A-2b. ``writer_pdf_Export`` also serves .xlsx inputs in the same
#: call (measured with LibreOffice 7.4: Calc exports them, PDF/A-2b identification and
#: output intent included), so one process converts the whole batch.
PDFA_FILTER = 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}'
PDF_FILTER = "pdf"

#: The creation date written into every PDF unless the caller gives one: the same
#: instant as the .docx/.xlsx zip entries (see ``rendering.ZIP_EPOCH``), so that the same
#: input gives the same bytes.
PDF_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)

#: A4 in PDF points (1/72 in), and the tolerance on its sides.
A4 = (595.28, 841.89)
A4_TOLERANCE = 2.0

# Office Open XML suffixes: such a source must be a zip package, or LibreOffice would
# import its bytes as plain text and export a junk PDF.
_OOXML = {".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".xltx", ".pptx"}

INSTALL_HELP = (
    "Installez LibreOffice :\n"
    "  - Debian/Ubuntu : sudo apt-get install --no-install-recommends "
    "libreoffice-writer-nogui libreoffice-calc-nogui fonts-liberation2 fonts-crosextra-carlito\n"
    "  - Windows/macOS : l'installateur de https://fr.libreoffice.org/download/telecharger-libreoffice/, "
    "puis indiquez le programme avec --soffice CHEMIN ou la variable d'environnement DOTATION_SOFFICE "
    "(par exemple « C:\\Program Files\\LibreOffice\\program\\soffice.exe » ou "
    "« /Applications/LibreOffice.app/Contents/MacOS/soffice »)."
)


class SofficeNotFoundError(DotationError):
    """Raised by :func:`find_soffice` (so before anything is written) when LibreOffice
    cannot be found: not at the path given, not in ``DOTATION_SOFFICE``, not on the PATH;
    the message gives the install command."""


class PdfConversionError(DotationError):
    """Raised by :func:`convert_to_pdf` when at least one source was not converted
    (unreadable source, LibreOffice could not load it, timeout, interruption); the
    message names every such file with the reason. ``converted`` holds the PDFs that
    were made, ``failed`` maps each other source to its reason (French)."""

    def __init__(self, message: str, converted: dict[Path, bytes], failed: dict[Path, str]) -> None:
        super().__init__(message)
        self.converted = converted
        self.failed = failed


# --- Finding LibreOffice ----------------------------------------------------------------


def find_soffice(explicit: str | None = None) -> str:
    """Return the path of the LibreOffice executable: ``explicit`` (the ``--soffice``
    option) if given, else ``DOTATION_SOFFICE``, else ``soffice`` or ``libreoffice`` on
    the PATH. Raises :class:`SofficeNotFoundError` with the install command."""
    for origin, value in (("--soffice", explicit), (SOFFICE_ENV, os.environ.get(SOFFICE_ENV))):
        if value:
            found = _executable(value)
            if found is None:
                raise SofficeNotFoundError(
                    f"LibreOffice introuvable : {origin} indique « {value} », qui n'est pas un programme "
                    f"exécutable.\n{INSTALL_HELP}"
                )
            return found
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise SofficeNotFoundError(
        "LibreOffice est nécessaire pour produire les PDF (--pdf, --pdfa), mais le programme "
        f"« soffice » est introuvable.\n{INSTALL_HELP}"
    )


def _executable(value: str) -> str | None:
    """``value`` as an executable file path, or a command name found on the PATH."""
    path = Path(value).expanduser()
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    return shutil.which(value)


# --- Converting -------------------------------------------------------------------------


def conversion_timeout(count: int) -> float:
    """Seconds allowed to one LibreOffice process converting ``count`` files: 60 s of
    start-up (a fresh profile on a slow, busy machine) plus 2 s per file, four times the
    ~0.5 s per file measured, so that a slow machine never fails a good batch
    (2,000 documents: about 70 minutes at most)."""
    return 60.0 + 2.0 * count


def convert_to_pdf(
    sources: Sequence[Path],
    *,
    pdfa: bool = False,
    soffice: str | None = None,
    timeout: float | None = None,
    creation_date: datetime | None = None,
) -> dict[Path, bytes]:
    """Convert every source (.docx, .xlsx…) to PDF, or PDF/A-2b with ``pdfa``, in one
    LibreOffice process, and return the PDF bytes per source (keys: the paths as given,
    in the given order).

    ``soffice`` is the executable (see :func:`find_soffice`, called when it is None);
    ``timeout`` in seconds defaults to :func:`conversion_timeout`; ``creation_date`` (default
    :data:`PDF_EPOCH`) is written into every PDF. The same sources give the same bytes.

    Raises :class:`SofficeNotFoundError` when LibreOffice is missing and
    :class:`PdfConversionError`, naming each file, when any source was not converted.
    An interruption (KeyboardInterrupt, SystemExit from SIGTERM) kills LibreOffice's
    whole process group, then propagates.
    """
    sources = list(dict.fromkeys(Path(s) for s in sources))
    if not sources:
        return {}
    executable = find_soffice(soffice)
    limit = conversion_timeout(len(sources)) if timeout is None else timeout
    date = creation_date or PDF_EPOCH
    failed: dict[Path, str] = {}
    converted: dict[Path, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="dotation-pdf-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        staged = _stage(sources, work / "sources", failed)
        if staged:
            outdir = work / "pdf"
            outdir.mkdir()
            timed_out, output = _run_soffice(
                executable,
                [str(p) for p in staged],
                outdir=outdir,
                work=work,
                pdf_filter=PDFA_FILTER if pdfa else PDF_FILTER,
                timeout=limit,
            )
            for copy, source in staged.items():
                pdf = outdir / (copy.stem + ".pdf")
                problem = _check_pdf(pdf)
                if problem is None:
                    converted[source] = make_reproducible(pdf.read_bytes(), date)
                elif timed_out:
                    failed[source] = f"non converti : LibreOffice a dépassé le délai de {_seconds(limit)} et a été arrêté"
                else:
                    failed[source] = problem
            if failed and output.strip():
                log.info("Messages de LibreOffice :\n%s", output.strip())
    if failed:
        lines = [f"  - {source} : {reason}" for source, reason in failed.items()]
        raise PdfConversionError(
            f"La conversion en PDF a échoué pour {len(failed)} fichier(s) sur {len(sources)} :\n"
            + "\n".join(lines),
            converted={s: converted[s] for s in sources if s in converted},
            failed=failed,
        )
    return {s: converted[s] for s in sources}


def _seconds(value: float) -> str:
    """``value`` seconds in French: "90 s", "0,5 s"."""
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s".replace(".", ",")


def _stage(sources: list[Path], folder: Path, failed: dict[Path, str]) -> dict[Path, Path]:
    """Copy each readable source into ``folder`` as ``0001.docx``…; return copy → source.
    Unreadable sources go to ``failed`` with their reason."""
    folder.mkdir()
    staged: dict[Path, Path] = {}
    for number, source in enumerate(sources, start=1):
        suffix = source.suffix.lower()
        copy = folder / f"{number:04d}{suffix}"
        try:
            shutil.copyfile(source, copy)
        except OSError as err:
            failed[source] = f"fichier illisible ({describe_os_error(err)})"
            continue
        if suffix in _OOXML and not _is_ooxml_package(copy):
            kind = "Excel" if suffix.startswith(".xl") else "Word" if suffix.startswith(".do") else "Office"
            failed[source] = f"ce n'est pas un fichier {kind} valide (fichier endommagé ?) : non converti"
            continue
        staged[copy] = source
    return staged


def _is_ooxml_package(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as package:
            return "[Content_Types].xml" in package.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _check_pdf(pdf: Path) -> str | None:
    """None when ``pdf`` exists and has pages, else the French reason."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not pdf.is_file():
        return "LibreOffice n'a pas pu le convertir (fichier endommagé ou format non reconnu)"
    try:
        pages = len(PdfReader(pdf).pages)
    except (PyPdfError, OSError, ValueError) as err:
        log.debug("Unreadable PDF %s: %s", pdf, err)
        return "LibreOffice a produit un PDF illisible"
    return None if pages else "LibreOffice a produit un PDF sans page"


def _run_soffice(
    executable: str, inputs: list[str], *, outdir: Path, work: Path, pdf_filter: str, timeout: float
) -> tuple[bool, str]:
    """Run one LibreOffice process on ``inputs``; return (timed out, its output)."""
    profile = work / "profile"
    home = work / "home"
    home.mkdir()
    command = [
        executable,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless", "--invisible", "--nologo", "--norestore", "--nodefault", "--nolockcheck",
        "--convert-to", pdf_filter,
        "--outdir", str(outdir),
        *inputs,
    ]
    env = dict(os.environ)
    env.update(
        HOME=str(home), USERPROFILE=str(home), TMPDIR=str(work), TMP=str(work), TEMP=str(work),
        LC_ALL="fr_FR.UTF-8", LANG="fr_FR.UTF-8", LANGUAGE="fr_FR", TZ="UTC",
    )
    log.debug("Running %s", command[:11] + [f"… {len(inputs)} fichier(s)"])
    run = run_isolated(command, env=env, cwd=work, timeout=timeout)
    if run.timed_out:
        log.warning("LibreOffice a dépassé %s : ses processus ont été arrêtés.", _seconds(timeout))
    return run.timed_out, run.output


@dataclass(frozen=True)
class IsolatedRun:
    """What :func:`run_isolated` saw: whether the time ran out, the exit status, the
    merged standard output and error."""

    timed_out: bool
    returncode: int
    output: str


def run_isolated(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> IsolatedRun:
    """Run ``command`` in its own process session (group) and return how it ended.

    The whole group is killed when the time runs out, when our process is interrupted
    (KeyboardInterrupt, or SIGTERM/SIGHUP turned into SystemExit meanwhile, see
    :func:`_signals_raise`) — the interruption then propagates — and after a normal exit,
    so no child (``soffice.bin``, which outlives ``soffice``) is left behind."""
    with _signals_raise():
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **_new_group(),
        )
        try:
            output, _ = process.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            timed_out = True
        except BaseException:
            _kill_group(process)
            process.wait()
            raise
        finally:
            _kill_group(process)
    return IsolatedRun(timed_out, process.returncode, output.decode("utf-8", "replace"))


def _new_group() -> dict:
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the launcher and everything in its process group (``soffice.bin``)."""
    if os.name == "nt":
        # taskkill /T ends the whole tree of the launcher.
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(process.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def _signals_raise() -> Iterator[None]:
    """While LibreOffice runs, make SIGTERM and SIGHUP raise SystemExit (as the CLI
    does) if they would otherwise end the process at once, so that the clean-up above
    kills LibreOffice's process group: no orphan ``soffice.bin`` is left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            installed[signum] = signal.signal(signum, _raise_exit)
    try:
        yield
    finally:
        for signum, previous in installed.items():
            signal.signal(signum, previous)


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


# --- Reproducible bytes -----------------------------------------------------------------

_INFO_DATE = re.compile(rb"/(CreationDate|ModDate)\s*\(D:(\d{14})(Z'|Z00'00'|Z|[+-]\d\d'\d\d'?)\)")
_XMP_DATE = re.compile(rb"(<xmp:(?:CreateDate|ModifyDate|MetadataDate)>)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(Z|[+-]\d\d:\d\d)(</xmp:)")
_XMP_DATE_ATTR = re.compile(rb"(xmp:(?:CreateDate|ModifyDate|MetadataDate)=['\"])(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(Z|[+-]\d\d:\d\d)(['\"])")
_TRAILER_ID = re.compile(rb"/ID\s*\[\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*\]")
_DOC_CHECKSUM = re.compile(rb"/DocChecksum\s*/([0-9A-Fa-f]{32})")


def make_reproducible(pdf: bytes, creation_date: datetime = PDF_EPOCH) -> bytes:
    """Return ``pdf`` with its dates set to ``creation_date`` (UTC) and its ``/ID`` set to
    a digest of its content, so that the same document gives the same bytes.

    Dates and identifiers are replaced in place, same length; a date in a form of other
    length is left as it is. The Info dictionary and the XMP metadata get the same
    instant, as PDF/A requires. The ICC profile LibreOffice embeds in a PDF/A output
    intent carries its creation time in its header: it is set to ``creation_date`` too,
    and the stream re-compressed, the cross-reference offsets being shifted accordingly.
    Raises nothing."""
    when = creation_date.astimezone(UTC)
    pdf = _fix_icc_dates(pdf, when)
    info_digits = when.strftime("%Y%m%d%H%M%S").encode()
    xmp_stamp = when.strftime("%Y-%m-%dT%H:%M:%S").encode()

    def info(match: re.Match[bytes]) -> bytes:
        zone = match.group(3)
        if zone.startswith((b"+", b"-")):
            if len(zone) != 7:  # "+01'00" has no same-length UTC form: leave it
                return match.group(0)
            zone = b"Z00'00'"
        return b"/" + match.group(1) + b"(D:" + info_digits + zone + b")"

    def xmp(match: re.Match[bytes]) -> bytes:
        zone = match.group(3)
        if zone != b"Z" and zone != b"+00:00":
            zone = b"+00:00"  # same length as any ±hh:mm
        return match.group(1) + xmp_stamp + zone + match.group(4)

    # Only the last trailer's Info/XMP are rewritten in practice: each producer writes
    # them once; a same-length substitution anywhere is harmless.
    patched = _INFO_DATE.sub(info, pdf)
    patched = _XMP_DATE.sub(xmp, patched)
    patched = _XMP_DATE_ATTR.sub(xmp, patched)

    ids = list(_TRAILER_ID.finditer(patched))
    checks = list(_DOC_CHECKSUM.finditer(patched))
    if not ids and not checks:
        return patched
    blank = bytearray(patched)
    spans = [m.span(g) for m in ids for g in (1, 2)] + [m.span(1) for m in checks]
    for start, end in spans:
        blank[start:end] = b"0" * (end - start)
    digest = hashlib.md5(bytes(blank), usedforsecurity=False).hexdigest().upper().encode()
    for start, end in spans:
        blank[start:end] = (digest * 4)[: end - start]
    return bytes(blank)


_ICC_STREAM = re.compile(
    rb"(?<![0-9])\d+ 0 obj\s*<<(?P<dict>[^>]*?/N 3[^>]*?)>>\s*stream\r?\n"
)
_LENGTH = re.compile(rb"/Length\s+(?:(?P<ref>\d+) 0 R|(?P<value>\d+))")


def _fix_icc_dates(pdf: bytes, when: datetime) -> bytes:
    """Set the creation date in the header of every Flate-compressed ICC profile stream
    (``/N 3``) to ``when``; return ``pdf`` unchanged when its layout is not the simple
    one LibreOffice writes (one classic cross-reference table)."""
    import zlib

    edits: list[tuple[int, int, bytes]] = []
    for match in _ICC_STREAM.finditer(pdf):
        header = match.group("dict")
        length = _LENGTH.search(header)
        if b"/FlateDecode" not in header or length is None:
            continue
        if length.group("value"):
            size = int(length.group("value"))
            length_span = (match.start("dict") + length.start("value"), match.start("dict") + length.end("value"))
        else:
            holder = re.search(rb"(?<![0-9])" + length.group("ref") + rb" 0 obj\s*(\d+)\s*endobj", pdf)
            if holder is None:
                continue
            size = int(holder.group(1))
            length_span = holder.span(1)
        start = match.end()
        try:
            profile = bytearray(zlib.decompress(pdf[start : start + size]))
        except zlib.error:
            continue
        if len(profile) < 128 or profile[36:40] != b"acsp" or any(profile[84:100]):
            continue  # not an ICC profile, or one with an MD5 profile ID (left alone)
        stamp = b"".join(v.to_bytes(2, "big") for v in (when.year, when.month, when.day, when.hour, when.minute, when.second))
        if profile[24:36] == stamp:
            continue
        profile[24:36] = stamp
        data = zlib.compress(bytes(profile), 9)
        edits.append((start, start + size, data))
        edits.append((*length_span, str(len(data)).encode()))
    return _apply_edits(pdf, edits) if edits else pdf


_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) n")


def _apply_edits(pdf: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Replace the byte ranges of ``edits`` and shift the classic cross-reference table
    and ``startxref`` accordingly; return ``pdf`` unchanged if it has no such table
    (a cross-reference stream, incremental updates)."""
    tail = _STARTXREF.search(pdf)
    if tail is None or pdf.count(b"startxref") != 1:
        return pdf
    xref_at = int(tail.group(1))
    trailer_at = pdf.find(b"trailer", xref_at)
    if not pdf.startswith(b"xref", xref_at) or trailer_at < 0:
        return pdf
    edits = sorted(edits)
    if any(end > xref_at for _start, end, _data in edits):
        return pdf

    def moved(offset: int) -> int:
        return offset + sum(len(data) - (end - start) for start, end, data in edits if end <= offset)

    table = _XREF_ENTRY.sub(
        lambda m: b"%010d %s n" % (moved(int(m.group(1))), m.group(2)), pdf[xref_at:trailer_at]
    )
    out = bytearray()
    cursor = 0
    for start, end, data in edits:
        out += pdf[cursor:start] + data
        cursor = end
    out += pdf[cursor:xref_at]
    out += table + pdf[trailer_at : tail.start()]
    out += b"startxref\n%d\n%%%%EOF\n" % moved(xref_at)
    return bytes(out)


# --- Inspecting PDFs (used by the dossier and the tests) -----------------------------------


@dataclass(frozen=True)
class PdfaIdentification:
    """The PDF/A identification of the XMP metadata: part (``"2"``) and conformance
    (``"B"``)."""

    part: str
    conformance: str


_PDFAID = re.compile(r"pdfaid:(part|conformance)(?:>\s*([^<\s]+)\s*<|\s*=\s*['\"]([^'\"]*)['\"])")


def pdfa_identification(pdf: bytes) -> PdfaIdentification | None:
    """Return the PDF/A identification of ``pdf`` read from its catalog's XMP metadata
    (element or attribute form), or None when it has none. Raises pypdf's errors on an
    unreadable PDF."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    metadata = reader.trailer["/Root"].get("/Metadata")
    if metadata is None:
        return None
    text = metadata.get_object().get_data().decode("utf-8", "replace")
    found: dict[str, str] = {}
    for match in _PDFAID.finditer(text):
        found.setdefault(match.group(1), match.group(2) or match.group(3))
    if "part" not in found:
        return None
    return PdfaIdentification(found["part"], found.get("conformance", ""))


def non_a4_pages(pdf: bytes) -> list[tuple[int, float, float]]:
    """Return (page number from 1, width mm, height mm) of every page of ``pdf`` that is
    not A4, portrait or landscape (±2 pt)."""
    import io

    from pypdf import PdfReader

    return [
        (number, round(float(w) * 25.4 / 72, 1), round(float(h) * 25.4 / 72, 1))
        for number, (w, h) in enumerate(_page_sizes(PdfReader(io.BytesIO(pdf))), start=1)
        if not is_a4(w, h)
    ]


def is_a4(width: float, height: float) -> bool:
    """Whether a page of ``width`` × ``height`` points is A4, portrait or landscape."""
    short, long = sorted((float(width), float(height)))
    return abs(short - A4[0]) <= A4_TOLERANCE and abs(long - A4[1]) <= A4_TOLERANCE


def _page_sizes(reader) -> Iterator[tuple[float, float]]:
    for page in reader.pages:
        box = page.mediabox
        yield float(box.width), float(box.height)
