"""Benchmark: the PDF engine against a bare ``soffice --convert-to pdf`` of the same files.

Side by side in one run, on the sample batch (24 .docx/.xlsx): (1) ``convert_to_pdf``
(staging copies, fresh profile, one process, checks with pypdf, reproducible bytes);
(2) a bare ``soffice --headless --convert-to pdf --outdir`` of the same files in one
process with a fresh temporary profile (what any safe call pays: a shared profile fails
with concurrent calls); (3) the same bare call on an already initialised profile, for
information. Runs alternate; the best of ``--repeat`` is kept. The target of issue #9 is
(1)/(2) ≤ 1.2. Never part of the test run.

    python benchmarks/bench_pdf.py [--repeat 3] [--pdfa]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dotation_docs.pdf import PDF_FILTER, PDFA_FILTER, convert_to_pdf, find_soffice  # noqa: E402

SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"


def bare(soffice: str, sources: list[Path], profile: Path, outdir: Path, pdf_filter: str) -> None:
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", pdf_filter,
         "--outdir", str(outdir), *map(str, sources)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, LC_ALL="fr_FR.UTF-8"),
    )


def timed(job) -> float:
    start = time.perf_counter()
    job()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pdfa", action="store_true", help="PDF/A-2b instead of PDF")
    args = parser.parse_args()
    soffice = find_soffice(None)
    pdf_filter = PDFA_FILTER if args.pdfa else PDF_FILTER
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "dotation_docs", "generer", str(SAMPLE), "-o", str(work / "lot")],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True, stdout=subprocess.DEVNULL,
        )
        sources = sorted(p for p in (work / "lot").rglob("*") if p.suffix in (".docx", ".xlsx"))
        warm = work / "warm-profile"
        bare(soffice, sources[:1], warm, work / "warm-init", pdf_filter)  # initialise it once
        engine_t, fresh_t, warm_t = [], [], []
        for run in range(args.repeat):
            engine_t.append(timed(lambda: convert_to_pdf(sources, pdfa=args.pdfa, soffice=soffice)))
            fresh_t.append(timed(lambda run=run: bare(soffice, sources, work / f"fresh-{run}", work / f"out-{run}", pdf_filter)))
            warm_t.append(timed(lambda run=run: bare(soffice, sources, warm, work / f"warm-{run}", pdf_filter)))
    engine, fresh, warmed = min(engine_t), min(fresh_t), min(warm_t)
    kind = "PDF/A-2b" if args.pdfa else "PDF"
    print(f"{len(sources)} fichiers .docx/.xlsx → {kind}, meilleur de {args.repeat} essais")
    print(f"  moteur convert_to_pdf            : {engine:6.2f} s")
    print(f"  soffice seul, profil neuf        : {fresh:6.2f} s   rapport moteur/soffice : {engine / fresh:.2f} (cible ≤ 1,2)")
    print(f"  soffice seul, profil déjà prêt   : {warmed:6.2f} s   rapport moteur/soffice : {engine / warmed:.2f}")


if __name__ == "__main__":
    main()
