#!/usr/bin/env python3
"""Preview: renders the sample batches and their pages as PNG, for whoever edits the templates.

Usage::

    python scripts/preview_templates.py OUT [--no-pdf]

Generates, with the tool's own pipeline and the bundled templates, two batches:

* ``OUT/reference``: the sample workbook ``data/exemple-limoges-2023.xlsx`` as is;
* ``OUT/variante``: a copy of it (kept as ``OUT/classeur-variante.xlsx``) covering the
  other branches: gift convention (every device at 200 € HT), subsidy capped at
  25 000 € with 5 000 € of advances, no claim date, no delegate, no prefecture
  address, and an association with a hostile name and an address on two lines.

Then, unless ``--no-pdf``, converts every .docx and .xlsx to PDF with LibreOffice
(``OUT/pdf/<batch>``) and every PDF page to PNG at 60 dpi (``OUT/png/<batch>``).
Needs ``soffice`` and ``pdftoppm``. Exits with status 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dotation_docs.exceptions import DotationError  # noqa: E402
from dotation_docs.pipeline import generate_batch  # noqa: E402

SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
TEMPLATES = ROOT / "templates"
HOSTILE_NAME = 'R&D <Quartiers> "Nord" {{ 7*7 }}'
SOFFICE_TIMEOUT = 300  # seconds, per batch
PACKAGES = "libreoffice-writer-nogui libreoffice-calc-nogui fonts-liberation2 fonts-crosextra-carlito poppler-utils"


class PreviewError(Exception):
    """A failure, with its French message for the user."""


def _column(sheet, header: str) -> int:
    """Return the 0-based index of the column headed ``header``."""
    headers = [c.value for c in sheet[1]]
    if header not in headers:
        raise PreviewError(f"colonne « {header} » introuvable dans la feuille « {sheet.title} » de {SAMPLE.name}")
    return headers.index(header)


def _set_operation(wb: openpyxl.Workbook, label: str, value: object) -> None:
    for row in wb["Opération"].iter_rows(min_col=1, max_col=2):
        if row[0].value == label:
            row[1].value = value
            return
    raise PreviewError(f"champ « {label} » introuvable dans la feuille « Opération » de {SAMPLE.name}")


def make_variant(target: Path) -> Path:
    """Save at ``target`` a copy of the sample workbook covering the other branches."""
    wb = openpyxl.load_workbook(SAMPLE)
    devices, invoices = wb["Matériel"], wb["Factures"]
    price, invoice = _column(devices, "Prix unitaire HT"), _column(devices, "Facture")
    per_invoice = Counter()
    for row in devices.iter_rows(min_row=2):
        if row[0].value:  # every device at 200 € HT: the gift convention applies
            row[price].value = 200
            per_invoice[row[invoice].value] += 1
    ht, vat, ttc = (_column(invoices, h) for h in ("Montant HT", "TVA", "Montant TTC"))
    for row in invoices.iter_rows(min_row=2):
        if row[0].value:
            n = per_invoice[row[0].value]
            row[ht].value, row[vat].value, row[ttc].value = 200 * n, 40 * n, 240 * n
    for label, value in {
        "Type de convention": "don", "Plafond de la subvention": 25000, "Acomptes reçus": 5000,
        "Date de la demande de versement": None, "Élu délégué": None,
        "Qualité de l'élu délégué": None, "Adresse de la préfecture": None,
    }.items():
        _set_operation(wb, label, value)
    sheet = wb["Bénéficiaires"]
    first = next(r for r in sheet.iter_rows(min_row=2) if r[_column(sheet, "Type")].value == "association")
    first[_column(sheet, "Nom")].value = HOSTILE_NAME
    first[_column(sheet, "Adresse")].value = "Centre social du Val\n5 rue Maryse Bastié"
    wb.save(target)
    return target


def to_pdf(files: list[Path], outdir: Path) -> None:
    """Convert ``files`` to PDF into ``outdir`` in one LibreOffice call."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apercu-lo-") as tmp:
        home, profile = Path(tmp, "home"), Path(tmp, "profile")
        home.mkdir()
        command = [
            "soffice", "--headless", f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to", "pdf", "--outdir", str(outdir), *map(str, files),
        ]
        env = {**os.environ, "HOME": str(home), "LC_ALL": "fr_FR.UTF-8"}
        try:
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError:
            raise PreviewError(f"LibreOffice (soffice) est introuvable. Installez : apt-get install {PACKAGES}")
        try:
            output, _ = process.communicate(timeout=SOFFICE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise PreviewError(f"LibreOffice n'a pas fini la conversion en {SOFFICE_TIMEOUT} s ; arrêté.")
    missing = [f.name for f in files if not (outdir / f"{f.stem}.pdf").is_file()
               or (outdir / f"{f.stem}.pdf").stat().st_size == 0]
    if process.returncode or missing:
        raise PreviewError(
            f"échec de la conversion en PDF (code {process.returncode}) ; "
            f"PDF manquants : {', '.join(missing) or 'aucun'}\n{output.decode(errors='replace').strip()}"
        )


def to_png(pdf: Path, outdir: Path) -> int:
    """Render every page of ``pdf`` as ``outdir/<stem>-<page>.png``; return the page count."""
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(outdir / pdf.stem)],
                                capture_output=True, text=True)
    except FileNotFoundError:
        raise PreviewError(f"pdftoppm est introuvable. Installez : apt-get install {PACKAGES}")
    if result.returncode:
        raise PreviewError(f"pdftoppm a échoué sur {pdf.name} : {result.stderr.strip()}")
    return len(list(outdir.glob(f"{pdf.stem}-*.png")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="dossier de sortie")
    parser.add_argument("--no-pdf", action="store_true", help="ne pas convertir en PDF ni en PNG")
    args = parser.parse_args(argv)
    out: Path = args.output
    try:
        out.mkdir(parents=True, exist_ok=True)
        for sub in ("pdf", "png"):
            shutil.rmtree(out / sub, ignore_errors=True)
        batches = {
            "reference": SAMPLE,
            "variante": make_variant(out / "classeur-variante.xlsx"),
        }
        for name, workbook in batches.items():
            generate_batch(workbook, out / name, TEMPLATES)
            print(f"Lot « {name} » généré dans {out / name}")
        if args.no_pdf:
            return 0
        for name in batches:
            files = sorted(p for p in (out / name).rglob("*") if p.suffix in (".docx", ".xlsx"))
            to_pdf(files, out / "pdf" / name)
            for f in files:
                pages = to_png(out / "pdf" / name / f"{f.stem}.pdf", out / "png" / name)
                print(f"  {name}/{f.stem}.pdf : {pages} page(s)")
        print(f"Pages en PNG : {out / 'png'}")
        return 0
    except (PreviewError, DotationError, OSError) as err:
        message = err.format_message() if isinstance(err, DotationError) else str(err)
        print(f"Erreur : {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
