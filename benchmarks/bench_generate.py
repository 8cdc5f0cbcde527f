"""Benchmark: generating the sample batch, against the usual docxtpl loop.

Side by side in one run: (1) ``generate_batch`` on the sample workbook (read, validate,
render, write 26 files); (2) the usual docxtpl loop over the same Word documents
(``DocxTemplate(path).render(context); save()``), without validation or writing;
(3) the tool's ``render()`` alone over the same documents. Figures are ratios to (2),
the baseline the national-scale goal is stated against (ten times faster). Never part
of the test run.

    python benchmarks/bench_generate.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docxtpl import DocxTemplate  # noqa: E402

from dotation_docs.documents import plan_batch  # noqa: E402
from dotation_docs.funding import batch_funding  # noqa: E402
from dotation_docs.pipeline import check_workbook, generate_batch  # noqa: E402
from dotation_docs.rendering import build_environment, render  # noqa: E402

SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
TEMPLATES = ROOT / "templates"


def best_of(repeat: int, job) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dotation = check_workbook(SAMPLE).dotation
    docs = [d for d in plan_batch(dotation, batch_funding(dotation)) if d.template and d.template.endswith(".docx")]
    env = build_environment()
    stamp = datetime(2023, 2, 3)

    def docxtpl_loop() -> None:
        for d in docs:
            tpl = DocxTemplate(TEMPLATES / d.template)
            tpl.render(d.context, jinja_env=env, autoescape=True)
            tpl.save(io.BytesIO())

    def tool_render() -> None:
        for d in docs:
            render(TEMPLATES / d.template, d.context, title=d.title, timestamp=stamp, env=env)

    with tempfile.TemporaryDirectory() as tmp:
        baseline = best_of(args.repeat, docxtpl_loop)
        rows = [
            ("boucle docxtpl habituelle (référence)", baseline),
            ("render() de l'outil, mêmes documents", best_of(args.repeat, tool_render)),
            ("dotation generer complet (26 fichiers)", best_of(args.repeat, lambda: generate_batch(SAMPLE, Path(tmp) / "out", TEMPLATES))),
        ]
    print(f"{len(docs)} documents Word ; référence : {baseline / len(docs) * 1000:.0f} ms par document")
    for name, seconds in rows:
        print(f"  {name:<45} {seconds / baseline:>5.2f}x")


if __name__ == "__main__":
    main()
