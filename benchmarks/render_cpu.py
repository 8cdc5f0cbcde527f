"""Benchmark: CPU time per Word document of the compiled renderer (:mod:`dotation_docs.fastdocx`)
over a whole synthetic batch, measured with ``time.process_time`` (robust to other processes
sharing the machine, unlike wall time). Never part of the test run.

    python benchmarks/render_cpu.py --beneficiaires 100 1000
    python benchmarks/render_cpu.py --beneficiaires 1000 --profil   # cProfile, top functions
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import batch  # noqa: E402

from dotation_docs.documents import plan_batch  # noqa: E402
from dotation_docs.fastdocx import compile_docx  # noqa: E402
from dotation_docs.funding import batch_funding  # noqa: E402
from dotation_docs.rendering import build_environment, load_template  # noqa: E402
from dotation_docs.validation import validate  # noqa: E402
from dotation_docs.workbook import read_workbook  # noqa: E402

STAMP = datetime(2023, 2, 3)


def word_documents(n: int, cache: Path | None):
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        workbook = cache / f"classeur-{n}.xlsx"
        if not workbook.exists():
            batch.build_workbook(n, workbook)
    else:
        workbook = batch.build_workbook(n, Path(tempfile.mkdtemp()) / "classeur.xlsx")
    dotation, report = validate(read_workbook(workbook))
    assert dotation is not None, report.format()
    return [d for d in plan_batch(dotation, batch_funding(dotation)) if d.template and d.template.endswith(".docx")]


def measure(n: int, cache: Path | None, rounds: int, profile: bool) -> None:
    docs = word_documents(n, cache)
    env = build_environment()
    compiled = {name: compile_docx(load_template(batch.TEMPLATES / name), env) for name in {d.template for d in docs}}
    best = None
    for _ in range(rounds):
        # A fresh compilation each round: nothing remembered from a previous round.
        compiled = {name: compile_docx(load_template(batch.TEMPLATES / name), env) for name in compiled}
        profiler = cProfile.Profile() if profile else None
        start = time.process_time()
        if profiler:
            profiler.enable()
        for d in docs:
            compiled[d.template].render(d.context, title=d.title, timestamp=STAMP)
        if profiler:
            profiler.disable()
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    assert best is not None
    print(f"{n:>5} bénéficiaires, {len(docs):>5} documents Word : {best / len(docs) * 1000:6.2f} ms CPU/document "
          f"(meilleur de {rounds}, {best:.2f} s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beneficiaires", type=int, nargs="+", default=[100], help="multiples de 10")
    parser.add_argument("--tours", type=int, default=3, help="mesures par taille (la meilleure est retenue)")
    parser.add_argument("--cache", type=Path, default=None, help="dossier où garder les classeurs synthétiques")
    parser.add_argument("--profil", action="store_true", help="profil cProfile (un tour)")
    args = parser.parse_args()
    for n in args.beneficiaires:
        measure(n, args.cache, 1 if args.profil else args.tours, args.profil)


if __name__ == "__main__":
    main()
