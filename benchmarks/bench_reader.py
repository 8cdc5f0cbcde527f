"""Benchmark: reading a workbook whose formatting reaches the last rows of a sheet.

Prints, side by side in one run, the time to check the sample workbook and variants of
it whose Matériel sheet carries formatting down to row 1,000,000, with and without the
reader's empty-row filter. Figures are ratios to the plain sample (this machine is
shared and noisy: compare ratios, not seconds). Never part of the test run.

    python benchmarks/bench_reader.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_workbook import stretch  # noqa: E402  (the test's own workbook builder)

from dotation_docs import workbook  # noqa: E402
from dotation_docs.pipeline import check_workbook  # noqa: E402

SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"


def best_of(path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        checked = check_workbook(path)
        times.append(time.perf_counter() - start)
        assert checked.dotation is not None and len(checked.dotation.devices) == 121
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = {
            "exemple (121 lignes)": SAMPLE,
            "mise en forme jusqu'à la ligne 1 048 576 (une cellule)": stretch(
                folder / "last.xlsx", '<row r="1048576"><c r="L1048576" s="1"/></row>'),
            "1 000 000 de lignes mises en forme": stretch(
                folder / "rows.xlsx",
                "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(130, 1_000_001))),
        }
        check_workbook(SAMPLE)  # warm-up: imports and caches
        base = best_of(SAMPLE, args.repeat)
        print(f"{'cas':<58} {'filtre':>10} {'sans filtre':>12}")
        original = workbook._compact
        for name, path in cases.items():
            with_filter = best_of(path, args.repeat)
            workbook._compact = lambda ws: (ws.reset_dimensions(), ws)[1]  # dimensions only
            try:
                without = best_of(path, 1)
            finally:
                workbook._compact = original
            print(f"{name:<58} {with_filter / base:>9.1f}x {without / base:>11.1f}x")
        print(f"(1x = {base * 1000:.0f} ms pour l'exemple ; meilleur de {args.repeat} essais)")


if __name__ == "__main__":
    main()
