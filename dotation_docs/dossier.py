"""Claim dossier: the PDF stage that merges the claim's PDFs (letter, expense statement,
financing plan, certificate, handover records, the agent's attachments) into one file with
one bookmark per part, every page A4; as PDF/A-2b through Ghostscript with ``pdfa``.

Why Ghostscript for PDF/A: a pypdf merge keeps each part's content but not a valid PDF/A
document (one XMP packet and one output intent for the whole file, every font embedded,
Info and XMP in agreement). Ghostscript's ``pdfwrite`` device rewrites the whole file as
PDF/A-2b (``-dPDFA=2``), is packaged by Debian/Ubuntu (``ghostscript``), Homebrew and has a
Windows installer, and is actively maintained. The bookmarks are given to Ghostscript as
``/OUT`` pdfmarks (its documented way) rather than trusting it to carry over the
merged file's outline, which depends on its version; they are checked afterwards.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from glob import glob
from pathlib import Path

from dotation_docs.exceptions import DotationError
from dotation_docs.pdf import (
    A4,
    PDF_EPOCH,
    is_a4,
    make_reproducible,
    pdfa_identification,
    run_isolated,
)

log = logging.getLogger(__name__)

__all__ = ["DossierError", "GhostscriptNotFoundError", "find_ghostscript", "merge_dossier"]

#: Environment variable naming the Ghostscript executable.
GHOSTSCRIPT_ENV = "DOTATION_GHOSTSCRIPT"

GHOSTSCRIPT_HELP = (
    "Installez Ghostscript :\n"
    "  - Debian/Ubuntu : sudo apt-get install --no-install-recommends ghostscript\n"
    "  - Windows : l'installateur de https://ghostscript.com/releases/gsdnld.html, macOS : "
    "brew install ghostscript ; puis, s'il n'est pas dans le PATH, indiquez le programme "
    "avec la variable d'environnement DOTATION_GHOSTSCRIPT "
    "(par exemple « C:\\Program Files\\gs\\gs10.03.1\\bin\\gswin64c.exe »)."
)

DEFAULT_TITLE = "Dossier de demande de subvention"


class DossierError(DotationError):
    """Raised by :func:`merge_dossier` when a part cannot be merged (an unreadable or
    password-protected PDF, a PDF without pages) or the PDF/A conversion fails; the
    message names the part."""


class GhostscriptNotFoundError(DossierError):
    """Raised by :func:`find_ghostscript` (so before anything is written) when the PDF/A
    dossier is asked for and Ghostscript cannot be found; the message gives the install
    command."""


def find_ghostscript(explicit: str | None = None) -> str:
    """Return the Ghostscript executable: ``explicit``, else ``DOTATION_GHOSTSCRIPT``,
    else ``gs`` (``gswin64c``, ``gswin32c`` on Windows) on the PATH. Raises
    :class:`GhostscriptNotFoundError` with the install command."""
    for origin, value in (("le chemin donné", explicit), (GHOSTSCRIPT_ENV, os.environ.get(GHOSTSCRIPT_ENV))):
        if value:
            found = shutil.which(value) or (value if Path(value).is_file() and os.access(value, os.X_OK) else None)
            if found is None:
                raise GhostscriptNotFoundError(
                    f"Ghostscript introuvable : {origin} indique « {value} », qui n'est pas un "
                    f"programme exécutable.\n{GHOSTSCRIPT_HELP}"
                )
            return found
    for name in ("gs", "gswin64c", "gswin32c"):
        found = shutil.which(name)
        if found:
            return found
    raise GhostscriptNotFoundError(
        "Ghostscript est nécessaire pour produire le dossier de demande au format PDF/A "
        f"(--pdfa), mais le programme « gs » est introuvable.\n{GHOSTSCRIPT_HELP}"
    )


def merge_dossier(
    parts: Sequence[tuple[str, bytes]],
    *,
    pdfa: bool = False,
    title: str = DEFAULT_TITLE,
    ghostscript: str | None = None,
    creation_date: datetime | None = None,
) -> bytes:
    """Merge ``parts`` — (bookmark title, PDF bytes), in order — into one PDF with one
    bookmark per part pointing to its first page, and return its bytes.

    Every page is A4, portrait or landscape: a page of another size (a scanned invoice in
    US Letter…) is scaled to fit an A4 page of its orientation, centred, and a warning is
    logged. With ``pdfa`` the result is PDF/A-2b, made by Ghostscript (found with
    :func:`find_ghostscript` when ``ghostscript`` is None). The same parts give the same
    bytes (``creation_date``, default :data:`~dotation_docs.pdf.PDF_EPOCH`).

    Raises :class:`DossierError` naming the part that cannot be read, and
    :class:`GhostscriptNotFoundError`."""
    from pypdf import PdfWriter

    if not parts:
        raise DossierError("Le dossier de demande n'a aucune pièce à assembler.")
    executable = find_ghostscript(ghostscript) if pdfa else None
    date = creation_date or PDF_EPOCH
    writer = PdfWriter()
    starts: list[tuple[str, int]] = []
    for part_title, data in parts:
        starts.append((part_title, len(writer.pages)))
        for number, page in enumerate(_read_pages(part_title, data), start=1):
            writer.add_page(_fit_to_a4(page, part_title, number))
    writer.add_metadata({"/Title": title})
    if not pdfa:
        for part_title, first in starts:
            writer.add_outline_item(title=part_title, page_number=first)
        writer.page_mode = "/UseOutlines"
        buffer = io.BytesIO()
        writer.write(buffer)
        return make_reproducible(buffer.getvalue(), date)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert executable is not None
    result = _to_pdfa(executable, buffer.getvalue(), starts, title=title, date=date, pages=len(writer.pages))
    _check_pdfa(result, starts)
    return result


def _read_pages(part_title: str, data: bytes) -> list:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:  # pypdf raises this when AES decryption needs the optional "cryptography" package
        from pypdf.errors import DependencyError as DependencyErrors
    except ImportError:  # pragma: no cover - older pypdf
        DependencyErrors = ImportError  # type: ignore[assignment,misc]

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DossierError(
                f"La pièce « {part_title} » est un PDF protégé par un mot de passe : enregistrez-en "
                "une copie sans protection pour l'ajouter au dossier."
            )
        pages = list(reader.pages)
    except DossierError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, NotImplementedError, DependencyErrors) as err:
        log.debug("Unreadable part %s: %r", part_title, err)
        raise DossierError(
            f"La pièce « {part_title} » n'est pas un PDF lisible (fichier endommagé ou protégé) : "
            "remplacez-la par un PDF valide."
        ) from err
    if not pages:
        raise DossierError(f"La pièce « {part_title} » est un PDF sans aucune page.")
    return pages


def _fit_to_a4(page, part_title: str, number: int):
    """Return ``page`` when it is A4, else a new A4 page of the same orientation with
    ``page`` scaled to fit, centred."""
    from pypdf import PageObject, Transformation

    if page.get("/Rotate", 0) % 360:
        page.transfer_rotation_to_content()
    box = page.mediabox
    width, height = float(box.width), float(box.height)
    if is_a4(width, height):
        return page
    target_w, target_h = (A4[1], A4[0]) if width > height else A4
    scale = min(target_w / width, target_h / height)
    log.warning(
        "Pièce « %s », page %d : format %.0f × %.0f mm, ramené au format A4.",
        part_title, number, width * 25.4 / 72, height * 25.4 / 72,
    )
    blank = PageObject.create_blank_page(width=target_w, height=target_h)
    blank.merge_transformed_page(
        page,
        Transformation()
        .translate(-float(box.left), -float(box.bottom))
        .scale(scale, scale)
        .translate((target_w - width * scale) / 2, (target_h - height * scale) / 2),
    )
    return blank


def _ps_text(text: str) -> str:
    """A PostScript string holding ``text`` as UTF-16BE with its byte-order mark, the
    form pdfmark passes through to PDF text strings."""
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _srgb_profile(gs: str, folder: Path, merged: bytes) -> Path:
    """An sRGB ICC profile file: the one shipped with Ghostscript (Debian:
    ``/usr/share/ghostscript/*/iccprofiles/srgb.icc``; Windows/Homebrew: beside its
    ``bin`` folder), else the one LibreOffice embedded in the parts' output intent."""
    from pypdf import PdfReader

    try:
        intents = PdfReader(io.BytesIO(merged)).trailer["/Root"].get("/OutputIntents")
    except Exception:  # noqa: BLE001 - the merged file has no intent: fall back
        intents = None
    candidates: list[str] = []
    resolved = Path(gs).resolve()
    candidates += glob(str(resolved.parent.parent / "iccprofiles" / "srgb.icc"))  # Windows
    candidates += glob(str(resolved.parent.parent / "share" / "ghostscript" / "*" / "iccprofiles" / "srgb.icc"))
    candidates += sorted(glob("/usr/share/ghostscript/*/iccprofiles/srgb.icc"), reverse=True)
    candidates += ["/usr/share/color/icc/ghostscript/srgb.icc"]
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    if intents:
        profile = folder / "srgb.icc"
        profile.write_bytes(intents[0].get_object()["/DestOutputProfile"].get_object().get_data())
        return profile
    raise DossierError(
        "Profil de couleur sRGB de Ghostscript introuvable (fichier srgb.icc) : réinstallez "
        f"Ghostscript.\n{GHOSTSCRIPT_HELP}"
    )


def _to_pdfa(gs: str, merged: bytes, starts: list[tuple[str, int]], *, title: str, date: datetime, pages: int) -> bytes:
    with tempfile.TemporaryDirectory(prefix="dotation-pdfa-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        source = work / "dossier.pdf"
        source.write_bytes(merged)
        profile = _srgb_profile(gs, work, merged)
        # Ghostscript's lib/PDFA_def.ps, with the number of components fixed (sRGB: 3).
        definitions = work / "pdfa_def.ps"
        definitions.write_text(
            "%!\n"
            f"[ /Title {_ps_text(title)} /DOCINFO pdfmark\n"
            f"/ICCProfile ({_ps_path(profile)}) def\n"
            "[/_objdef {icc_PDFA} /type /stream /OBJ pdfmark\n"
            "[{icc_PDFA} << /N 3 >> /PUT pdfmark\n"
            "[{icc_PDFA} ICCProfile (r) file /PUT pdfmark\n"
            "[/_objdef {OutputIntent_PDFA} /type /dict /OBJ pdfmark\n"
            "[{OutputIntent_PDFA} << /Type /OutputIntent /S /GTS_PDFA1 "
            "/DestOutputProfile {icc_PDFA} /OutputConditionIdentifier (sRGB IEC61966-2.1) >> /PUT pdfmark\n"
            "[{Catalog} << /OutputIntents [ {OutputIntent_PDFA} ] >> /PUT pdfmark\n",
            encoding="ascii",
        )
        marks = work / "bookmarks.ps"
        marks.write_text(
            "%!\n"
            + "".join(
                f"[/Title {_ps_text(part_title)} /Page {first + 1} /View [/XYZ null null null] /OUT pdfmark\n"
                for part_title, first in starts
            )
            + "[/PageMode /UseOutlines /DOCVIEW pdfmark\n",
            encoding="ascii",
        )
        output = work / "dossier-pdfa.pdf"
        command = [
            gs, "-q", "-dBATCH", "-dNOPAUSE", "-dNOOUTERSAVE", "-dSAFER",
            "-sDEVICE=pdfwrite", "-dPDFA=2", "-dPDFACompatibilityPolicy=1",
            "-sColorConversionStrategy=RGB", "-sProcessColorModel=DeviceRGB",
            f"--permit-file-read={profile}",
            f"-sOutputFile={output}",
            str(definitions), str(source), str(marks),
        ]
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(int(date.timestamp())), TZ="UTC")
        timeout = 60.0 + 1.0 * pages
        run = run_isolated(command, env=env, cwd=work, timeout=timeout)
        text = run.output.strip()
        if text:
            log.info("Messages de Ghostscript :\n%s", text)
        if run.timed_out:
            raise DossierError(f"Ghostscript n'a pas produit le dossier PDF/A en {timeout:.0f} s : arrêté.")
        if run.returncode != 0 or not output.is_file():
            raise DossierError(
                f"Ghostscript n'a pas pu produire le dossier PDF/A (code {run.returncode}) :\n{text[-2000:]}"
            )
        return make_reproducible(output.read_bytes(), date)


def _ps_path(path: Path) -> str:
    """``path`` as a PostScript string body (forward slashes, escaped parentheses)."""
    return path.as_posix().replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _check_pdfa(pdf: bytes, starts: list[tuple[str, int]]) -> None:
    """Check what Ghostscript produced: PDF/A-2b identification, an output intent, and
    the bookmarks in order on their pages. A failure here is a defect, said plainly."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    ident = pdfa_identification(pdf)
    problems = []
    if ident is None or (ident.part, ident.conformance.upper()) != ("2", "B"):
        problems.append(f"identification PDF/A attendue 2B, trouvée {ident}")
    if not reader.trailer["/Root"].get("/OutputIntents"):
        problems.append("pas de profil de sortie (OutputIntent)")
    found = [(item.title, reader.get_destination_page_number(item)) for item in reader.outline if not isinstance(item, list)]
    if found != starts:
        problems.append(f"signets attendus {starts}, trouvés {found}")
    if problems:
        raise DossierError("Le dossier PDF/A produit par Ghostscript est incorrect : " + " ; ".join(problems))
