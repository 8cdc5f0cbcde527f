"""Benchmark: reading a workbook whose formatting reaches the last rows of a sheet.

Prints, side by side in one run, the time to check the sample workbook and variants of
it whose Matériel sheet carries formatting down to row 1,000,000, with the fast reader
and with the reference openpyxl reader (its empty-row filter on). Figures are ratios to the plain sample (this machine is
shared and noisy: compare ratios, not seconds). Never part of the test run.

With ``--beneficiaires N`` (a multiple of 10), it builds instead the national-scale
workbook of ``benchmarks/batch.py`` (N beneficiaries, 12.1 N devices) and prints, side by
side in one run, the CPU and wall time of reading it with the fast reader and with the
reference openpyxl reader (and their ratio), and with lxml alone (the scanner of
``workbook._scan_sheet`` switched off), then of validating it.

    python benchmarks/bench_reader.py [--repeat 3]
    python benchmarks/bench_reader.py --beneficiaires 1000 [--repeat 3]
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

from dotation_docs import reading, workbook  # noqa: E402
from dotation_docs.pipeline import check_workbook  # noqa: E402
from dotation_docs.validation import validate  # noqa: E402

SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"


def best_of(path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        checked = check_workbook(path)
        times.append(time.perf_counter() - start)
        assert checked.dotation is not None and len(checked.dotation.devices) == 121
    return min(times)


def timed(action, repeat: int):
    """Return (result, best CPU seconds, best wall seconds) of ``repeat`` runs of ``action``."""
    cpu, wall, result = [], [], None
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        result = action()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return result, min(cpu), min(wall)


def national(beneficiaries: int, repeat: int) -> None:
    """Read and validate the synthetic workbook of ``beneficiaries`` beneficiaries."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import batch  # noqa: PLC0415  (the batch benchmark's workbook builder)

    with tempfile.TemporaryDirectory() as tmp:
        path = batch.build_workbook(beneficiaries, Path(tmp) / "national.xlsx")
        workbook.read_workbook(SAMPLE)  # warm-up: imports and caches
        raw, fast_cpu, fast_wall = timed(lambda: workbook.read_workbook(path), repeat)
        reference, old_cpu, old_wall = timed(lambda: workbook.read_workbook_with_openpyxl(path), 1)
        assert reference.sheets == raw.sheets and reference.report.issues == raw.report.issues
        scanners = workbook._scan_sheet, workbook._scan_shared_strings
        workbook._scan_sheet = workbook._scan_shared_strings = lambda *args: None  # lxml alone
        try:
            parsed, lxml_cpu, lxml_wall = timed(lambda: workbook.read_workbook(path), repeat)
        finally:
            workbook._scan_sheet, workbook._scan_shared_strings = scanners
        assert parsed.sheets == raw.sheets and parsed.report.issues == raw.report.issues
        (dotation, report), val_cpu, val_wall = timed(lambda: validate(raw), repeat)
        assert dotation is not None, report.errors[:3]
        devices = len(dotation.devices)
    print(f"classeur : {beneficiaries} bénéficiaires, {devices} matériels")
    print(f"{'étape':<36} {'CPU (s)':>9} {'mur (s)':>9}")
    print(f"{'lecture, lecteur rapide':<36} {fast_cpu:>9.2f} {fast_wall:>9.2f}")
    print(f"{'lecture, lxml seul (sans analyseur)':<36} {lxml_cpu:>9.2f} {lxml_wall:>9.2f}")
    print(f"{'lecture, openpyxl (référence)':<36} {old_cpu:>9.2f} {old_wall:>9.2f}")
    print(f"{'validation':<36} {val_cpu:>9.2f} {val_wall:>9.2f}")
    print(f"{'lecture + validation':<36} {fast_cpu + val_cpu:>9.2f} {fast_wall + val_wall:>9.2f}")
    print(f"rapport openpyxl / lecteur rapide : {old_cpu / fast_cpu:.1f}x (CPU) ; "
          f"meilleur de {repeat} essais, openpyxl lu une fois")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--beneficiaires", type=int, default=None,
                        help="lire et valider le classeur synthétique de N bénéficiaires")
    args = parser.parse_args()
    if args.beneficiaires:
        national(args.beneficiaires, args.repeat)
        return
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
        print(f"{'cas':<58} {'rapide':>10} {'openpyxl':>12}")
        original = reading.read_workbook
        for name, path in cases.items():
            fast = best_of(path, args.repeat)
            reading.read_workbook = workbook.read_workbook_with_openpyxl  # the reference reader
            try:
                reference = best_of(path, 1)
            finally:
                reading.read_workbook = original
            print(f"{name:<58} {fast / base:>9.1f}x {reference / base:>11.1f}x")
        print(f"(1x = {base * 1000:.0f} ms pour l'exemple ; meilleur de {args.repeat} essais)")


if __name__ == "__main__":
    main()
