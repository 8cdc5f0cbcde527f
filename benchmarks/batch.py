"""Benchmark: a national-scale batch, the usual docxtpl loop against the compiled renderer.

Builds a valid workbook of N beneficiaries (the sample's ten replicated N/10 times, with
unique identifiers, serial and inventory numbers, IMEIs and invoice references), checks it
with ``dotation verifier``, then measures in one run, on the same templates and contexts:

(a) the usual docxtpl loop: a new ``DocxTemplate`` per document, ``render``, ``save``;
(b) :mod:`dotation_docs.fastdocx`: each template compiled once, then ``render`` per document
    (bytes identical to ``rendering.render``);
(c) ``dotation generer -j JOBS`` in a fresh process (the whole pipeline: templates checked,
    read, validate, render, with (b) for Word documents, write, manifest), into a new folder,
    then over that batch (same workbook), then ``dotation convention`` for one beneficiary,
    then ``generer`` after a correction of one beneficiary, and after a correction that
    changes every document; each ``--fois`` times (median reported: this 2-core machine is
    shared): wall and CPU time, the split into steps (``DOTATION_MESURES``), the peak of the
    summed RSS of the process and its workers (sampled from /proc, in one more run);

and the time to read and to validate the workbook; and a fixed pure-Python loop before and
after, which tells how fast the shared machine ran meanwhile. (a) and (b) are compared on the same
documents (at most ``--limite``, spread over the batch: the docxtpl loop is slow); (b) is also
timed over every Word document of the batch. Never part of the test run.

    python benchmarks/batch.py --beneficiaires 1000
    python benchmarks/batch.py --serie            # N = 10, 100, 1000: time per document
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openpyxl  # noqa: E402
from docxtpl import DocxTemplate  # noqa: E402

from dotation_docs import schema  # noqa: E402
from dotation_docs.documents import plan_batch  # noqa: E402
from dotation_docs.fastdocx import compile_docx  # noqa: E402
from dotation_docs.funding import batch_funding  # noqa: E402
from dotation_docs.replication import columns, replicate_workbook  # noqa: E402
from dotation_docs.rendering import build_environment, load_template  # noqa: E402
from dotation_docs.validation import validate  # noqa: E402
from dotation_docs.workbook import read_workbook  # noqa: E402

SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
TEMPLATES = ROOT / "templates"
STAMP = datetime(2023, 2, 3)


# --- The synthetic workbook ---------------------------------------------------------------


def build_workbook(beneficiaries: int, target: Path, correction: str | None = None) -> Path:
    """Write at ``target`` the sample replicated ``beneficiaries / 10`` times. With a
    ``correction``, one value differs: ``"beneficiaire"``, the first beneficiary's address
    (its documents change); ``"operation"``, the place of the handover (every document)."""
    copies = max(1, beneficiaries // 10)
    wb = replicate_workbook(SAMPLE, copies)
    ben_ws, op_ws = wb[schema.BENEFICIARIES.title], wb[schema.OPERATION.title]
    if correction == "beneficiaire":
        ben_ws.cell(2, columns(ben_ws, schema.BENEFICIARIES)["address"] + 1).value = "12 rue Corrigée"
    elif correction == "operation":
        label = schema.normalize_label(schema.OPERATION.field("handover_place").label)
        for row in op_ws.iter_rows(min_row=2):
            if schema.normalize_label(str(row[0].value or "")) == label:
                row[1].value = "Salle du conseil, hôtel de la métropole"
    wb.save(target)
    return target


# --- Measures -----------------------------------------------------------------------------


def docxtpl_loop(docs, env) -> None:
    for d in docs:
        tpl = DocxTemplate(TEMPLATES / d.template)
        tpl.render(d.context, jinja_env=env, autoescape=True)
        tpl.save(io.BytesIO())


def compiled_loop(docs, compiled) -> None:
    for d in docs:
        compiled[d.template].render(d.context, title=d.title, timestamp=STAMP)


def timed(job) -> float:
    start = time.perf_counter()
    job()
    return time.perf_counter() - start


def _tree_memory_kb(pid: int) -> tuple[int, int]:
    """The summed RSS and PSS (kB) of ``pid`` and all its descendants, from /proc (Linux).
    RSS counts the pages a forked worker shares with its parent once per process; PSS
    shares them out (the memory really used)."""
    rss = pss = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return rss, pss


SETTLE = 3.0  # seconds left to the file system between two measured runs (its writes flushed)

def measured(args: list[str], memory: bool = False, patience: Patience | None = None) -> dict[str, Any]:
    """Run ``dotation ARGS`` in a fresh process; return its wall time, CPU time (user +
    system, its workers included) and the split of the run (``DOTATION_MESURES``); with
    ``memory``, the peak of the summed RSS of the process and its workers (MB, sampled
    every 10 ms; reading the memory of a process slows it down: such a run is not timed).
    The machine's speed is measured just before and just after the run; before it, while
    ``patience`` lasts, the benchmark waits for the machine to run at its normal speed (see
    :func:`normal_speed_reached`). ``normal`` says whether it did, before and after."""
    # The previous run's writes are flushed first. (What the benchmark cannot wait for: on
    # an ext4 file system without a journal, such as this machine's, creating a file skips
    # every inode deleted less than 60 s ago, 6 min while not yet written out, one lookup
    # each; so the runs below never delete files before a run they time: see whole_batch.)
    os.sync()
    time.sleep(SETTLE)
    pace, waited = normal_speed_reached(patience)
    with tempfile.TemporaryDirectory() as tmp:
        timings = Path(tmp) / "mesures.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DOTATION_MESURES": str(timings)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "dotation_docs", *args], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = peak_pss = 0
        if memory:
            while proc.poll() is None:
                rss, pss = _tree_memory_kb(proc.pid)
                peak, peak_pss = max(peak, rss), max(peak_pss, pss)
                time.sleep(0.01)
        proc.wait()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"dotation {' '.join(args)} : code de sortie {proc.returncode}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        steps = json.loads(timings.read_text(encoding="utf-8")) if timings.exists() else {}
    pace_after = speed()
    return {"wall": wall, "cpu": cpu, "rss_mb": peak / 1024, "pss_mb": peak_pss / 1024, "steps": steps,
            "speed": (pace + pace_after) / 2, "speeds": (pace, pace_after), "waited": waited,
            "normal": min(pace, pace_after) >= NORMAL_SPEED}


# A run counts as made at the machine's normal speed when the speed measured just before
# and just after it is at least this (1: the machine when quiet; the host slows this
# shared machine down to 0.55-0.7 for minutes at a time).
NORMAL_SPEED = 0.9
STEADY = 3  # probes in a row at normal speed before a run, once the benchmark has had to wait
RETRIES = 2  # further attempts at a run the host slowed down (each one shown)


class Patience:
    """How long the whole benchmark may still wait for the machine's normal speed (its
    runs and their new attempts): the host may slow it down for the whole benchmark."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds
        self.waited = 0.0

    def spend(self, seconds: float) -> None:
        self.left -= seconds
        self.waited += seconds


def normal_speed_reached(patience: Patience | None) -> tuple[float, float]:
    """Measure the machine's speed; while it is below :data:`NORMAL_SPEED` and
    ``patience`` lasts, measure it again every few seconds. Once the benchmark has had to
    wait, the speed must be normal on :data:`STEADY` probes in a row (about 9 s): the
    host gives the machine its speed back in bursts of a few seconds, and a run started on
    one probe's word was as slow as the slowed ones (session 20). Return the last speed
    measured and the seconds waited."""
    start = time.perf_counter()
    pace = speed()
    steady = int(pace >= NORMAL_SPEED)  # normal-speed probes in a row
    needed = 1 if steady else STEADY  # once it has to wait, the speed must hold
    while steady < needed and patience is not None and patience.left > 0:
        turn = time.perf_counter()
        time.sleep(min(4.0, patience.left))
        pace = speed()
        patience.spend(time.perf_counter() - turn)
        steady = steady + 1 if pace >= NORMAL_SPEED else 0
    return pace, time.perf_counter() - start


def whole_batch(workbooks: dict[str, Path], output: Path, jobs: int, repeat: int, patience: Patience
                ) -> dict[str, Any]:
    """(c): ``repeat`` times, in a new folder each time, ``dotation generer`` with ``jobs``
    workers, then again over that batch with the same workbook (every document is already
    there), then ``dotation convention`` for one beneficiary of the same workbook, then
    ``generer`` after one beneficiary's correction; then ``repeat`` times ``generer`` after a
    correction that changes every document (the workbook with the handover place changed,
    and back). Each run is a fresh process. Then the peak memory of ``generer`` (into a new
    folder) and ``convention`` (one more run of each, not timed).

    Before each run, while ``patience`` lasts, the benchmark waits for the machine to
    run at its normal speed; a run the host slowed down all the same (speed below
    :data:`NORMAL_SPEED` just before or just after it) is made again while ``patience``
    lasts, up to :data:`RETRIES` times, in the same conditions (a batch into a new folder, a
    correction over the uncorrected batch, restored by a run that is not timed). Every
    attempt is kept and shown; the verdict is taken on the runs made at normal speed.

    No folder is deleted before the end (see :data:`SETTLE`): the last phase, which
    replaces every file each time, comes after the others."""
    workbook = workbooks["base"]
    runs: dict[str, list[dict[str, Any]]] = {"batch": [], "again": [], "convention": [], "corrected": [],
                                             "everything": []}
    identifier = _first_identifier(workbook)
    options = ["-j", str(jobs), "-q"]
    folders: list[Path] = []

    def attempt(name: str, args: list[str], restore: list[str] | None = None,
                before_each: Any = None) -> None:
        for tries in range(1 + RETRIES):
            if tries and restore is not None:
                measured(restore)  # not timed: back to the state the run starts from
            if before_each is not None:
                args = before_each()
            run = measured(args, patience=patience)
            run["attempt"] = tries + 1
            runs[name].append(run)
            if run["normal"] or patience.left <= 0:
                return

    def new_folder() -> list[str]:
        folders.append(output.with_name(f"{output.name}-{len(folders)}"))
        return ["generer", str(workbook), "-o", str(folders[-1]), *options]

    for _ in range(repeat):
        attempt("batch", [], before_each=new_folder)
        folder = str(folders[-1])
        attempt("again", ["generer", str(workbook), "-o", folder, *options])
        attempt("convention", ["convention", str(workbook), identifier, "-o", folder, *options])
        attempt("corrected", ["generer", str(workbooks["beneficiaire"]), "-o", folder, *options],
                restore=["generer", str(workbook), "-o", folder, *options])
    memory = output.with_name(f"{output.name}-memoire")
    sampled = measured(["generer", str(workbook), "-o", str(memory), *options], memory=True)
    one_sampled = measured(["convention", str(workbook), identifier, "-o", str(memory), *options], memory=True)
    alternate = itertools.count()

    def changed() -> list[str]:  # the other workbook than the batch in place: every document changes
        source = workbooks["operation"] if next(alternate) % 2 == 0 else workbook
        return ["generer", str(source), "-o", str(folders[0]), *options]

    for _ in range(repeat):
        attempt("everything", [], before_each=changed)
    result: dict[str, Any] = {}
    for name, runs_of in runs.items():
        # The median of the runs made at the machine's normal speed (of all of them when
        # the host slowed every one down) stands for the command; the run of median wall
        # time among them shows its steps.
        normal = [r for r in runs_of if r["normal"]]
        kept = normal or runs_of
        ordered = sorted(kept, key=lambda r: r["wall"])
        median = dict(ordered[len(ordered) // 2])
        median["walls"] = [(r["wall"], r["speeds"], r["normal"], r["waited"]) for r in runs_of]
        median["normal_count"], median["count"], median["repeat"] = len(normal), len(runs_of), repeat
        # Issue #10's measure: from the process start to the manifest written, i.e. without
        # the clean-up after the commit (the previous files deleted) and what follows it.
        committed = sorted(r["wall"] - _after_commit(r) for r in kept)
        median["to_manifest"] = committed[len(committed) // 2]
        # The same over every attempt, the slowed-down ones included.
        every = sorted(r["wall"] - _after_commit(r) for r in runs_of)
        median["to_manifest_all"] = every[len(every) // 2]
        walls = sorted(r["wall"] for r in runs_of)
        median["wall_all"] = walls[len(walls) // 2]
        of = one_sampled if name == "convention" else sampled
        median["rss_mb"], median["pss_mb"] = of["rss_mb"], of["pss_mb"]
        result[name] = median
    return result


def _after_commit(run: dict[str, Any]) -> float:
    """Seconds of a run after its manifest was in place: the clean-up (``nettoyage``: the
    previous files deleted) and the rest of the writing step after it (the summary)."""
    clean = run["steps"].get("nettoyage")
    write = run["steps"].get("ecriture")
    if not clean or not write:
        return 0.0
    return max(0.0, write["start"] + write["wall"] - clean["start"])


# CPU time of one turn of the loop below on this machine when it is quiet (10 million turns
# in 0.57 s, 27 November 2026): the speed a run is measured at is this over the time taken now.
QUIET_TURN_S = 0.057e-6


def calibration(turns: int = 10_000_000) -> float:
    """CPU seconds of a fixed pure-Python loop of ``turns`` turns: how fast this shared
    machine runs now (10 million turns take about 0.57 s on it when it is quiet)."""
    start = time.process_time()
    total = 0
    for i in range(turns):
        total += i * i
    return time.process_time() - start


def speed() -> float:
    """How fast the machine runs now, 1.0 being its speed when quiet (a loop of 0.3 s: a
    shorter one varies too much from one run to the next), on both cores at once: the
    loop runs here and in a forked process together, and their mean time counts (the
    commands use both cores; the host may slow one down more than the other)."""
    turns = 5_000_000
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    other = context.Process(target=lambda: sender.send(calibration(turns)))
    other.start()
    here = calibration(turns)
    there = receiver.recv()
    other.join()
    return turns * QUIET_TURN_S / ((here + there) / 2)


def _first_identifier(workbook: Path) -> str:
    wb = openpyxl.load_workbook(workbook, read_only=True)
    ws = wb[schema.BENEFICIARIES.title]
    column = columns(ws, schema.BENEFICIARIES)["identifier"]
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[column]:
            return str(row[column])
    raise SystemExit("aucun bénéficiaire")


def run(beneficiaries: int, limit: int, batch: bool, jobs: int, repeat: int, wait: float) -> dict[str, Any]:
    patience = Patience(wait)
    with tempfile.TemporaryDirectory() as tmp:
        workbook = build_workbook(beneficiaries, Path(tmp) / "classeur.xlsx")
        workbooks = {"base": workbook}
        if batch:
            for correction in ("beneficiaire", "operation"):
                workbooks[correction] = build_workbook(beneficiaries, Path(tmp) / f"classeur-{correction}.xlsx",
                                                       correction)
        check = subprocess.run([sys.executable, "-m", "dotation_docs", "verifier", str(workbook)],
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit(f"classeur synthétique refusé :\n{check.stdout}{check.stderr}")
        results: dict[str, Any] = {}
        if batch:
            results["c"] = whole_batch(workbooks, Path(tmp) / "sortie", jobs, repeat, patience)
            results["jobs"], results["repeat"], results["wait"] = jobs, repeat, wait
            results["waited"], results["wait_left"] = patience.waited, patience.left
        reads, validations = [], []
        pace, _ = normal_speed_reached(patience)  # as for (c): at the machine's normal speed if it can be
        for _ in range(repeat):  # the median of each: this machine's speed varies
            start = time.perf_counter()
            raw = read_workbook(workbook)
            reads.append(time.perf_counter() - start)
            start = time.perf_counter()
            dotation, report = validate(raw)
            validations.append(time.perf_counter() - start)
        results["read_s"], results["validate_s"] = sorted(reads)[repeat // 2], sorted(validations)[repeat // 2]
        results["read_speeds"] = (pace, speed())
        assert dotation is not None, report.format()
        results["devices"] = len(dotation.devices)
        docs = [d for d in plan_batch(dotation, batch_funding(dotation))
                if d.template and d.template.endswith(".docx")]
        for d in docs:  # contexts built now (the plan builds them on first use): not timed in (a) nor (b)
            d.context  # noqa: B018
        env = build_environment()
        start = time.perf_counter()
        compiled = {name: compile_docx(load_template(TEMPLATES / name), env) for name in {d.template for d in docs}}
        results["compile_s"] = time.perf_counter() - start
        step = max(1, len(docs) // limit)
        subset = docs[::step][:limit]
        compiled_loop(subset[:5], compiled)  # warm-up
        docxtpl_loop(subset[:2], env)
        results["docs"], results["subset"] = len(docs), len(subset)
        results["a_s"] = timed(lambda: docxtpl_loop(subset, env))
        results["b_subset_s"] = timed(lambda: compiled_loop(subset, compiled))
        results["b_all_s"] = timed(lambda: compiled_loop(docs, compiled))
        results["self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return results


def report(n: int, r: dict[str, Any]) -> None:
    a_ms = r["a_s"] / r["subset"] * 1000
    b_ms = r["b_subset_s"] / r["subset"] * 1000
    all_ms = r["b_all_s"] / r["docs"] * 1000
    print(f"\n== {n} bénéficiaires, {int(r['devices'])} matériels, {int(r['docs'])} documents Word ==")
    before, after = r["read_speeds"]
    print(f"lecture du classeur : {_n(r['read_s'], 2)} s ; validation : {_n(r['validate_s'], 2)} s "
          f"(total {_n(r['read_s'] + r['validate_s'], 2)} s ; médianes, dans le processus du banc ; vitesse de la "
          f"machine juste avant et juste après : [{_n(before, 2)}–{_n(after, 2)}]"
          f"{'' if min(before, after) >= NORMAL_SPEED else ' ralenti'})")
    print(f"compilation des modèles (une fois) : {r['compile_s'] * 1000:.0f} ms")
    print(f"mêmes {int(r['subset'])} documents :")
    print(f"  (a) boucle docxtpl habituelle : {_n(a_ms, 1, 7)} ms/document, {_n(1000 / a_ms, 1, 7)} documents/s")
    print(f"  (b) rendu compilé (fastdocx)  : {_n(b_ms, 2, 7)} ms/document, {_n(1000 / b_ms, 1, 7)} documents/s")
    print(f"  rapport (b)/(a) : {_n(a_ms / b_ms, 1)}x")
    print(f"  (b) sur tout le lot : {_n(all_ms, 2)} ms/document ({_n(r['b_all_s'], 1)} s)")
    if "c" in r:
        batch, again, one = r["c"]["batch"], r["c"]["again"], r["c"]["convention"]
        steps = (("modeles", "vérification des modèles"), ("lecture", "lecture (en parallèle)"),
                 ("validation", "validation (en parallèle)"), ("plan", "plan"),
                 ("rendu", "rendu, page d'aperçu (et dépôt)"), ("ecriture", "écriture (mise en place)"),
                 ("nettoyage", "  dont, après le manifeste, nettoyage"))
        exhausted = ("" if r["wait_left"] > 0 else " Attente permise épuisée : les lancements ralentis qui ont suivi "
                     "n'ont pas été refaits.")
        print(f"  (c) chaque commande demandée {r['repeat']} fois (plus les lancements refaits), chaque fois dans un "
              "processus neuf ; avant chaque lancement, le banc attend que la machine tourne à sa vitesse normale (quand "
              f"il a dû attendre, sur {STEADY} mesures de suite, à quelques secondes d'écart : l'hôte rend sa vitesse à la "
              "machine par à-coups ; en "
              f"tout {r['wait']:.0f} s d'attente au plus ; attente réelle : {r['waited']:.0f} s) ; un lancement que "
              f"l'hôte a ralenti quand même (vitesse sous {_n(NORMAL_SPEED, 1)} juste avant ou juste après lui) est "
              f"refait, {RETRIES} fois au plus tant que l'attente permise n'est pas épuisée, et reste affiché "
              "(« ralenti ») ; la médiane est celle des lancements faits à vitesse normale (de tous les lancements, "
              "ralentis compris, quand aucun ne l'a été). Pour chaque lancement, entre crochets, la vitesse de la "
              "machine sur ses deux cœurs juste avant et juste après lui (1 : au calme ; 0,5 : deux fois plus lente, "
              f"partagée) ; le détail par étape est celui du lancement médian.{exhausted}")
        for run, how in ((batch, "dans un dossier neuf"), (again, "par-dessus ce lot, même classeur"),
                         (r["c"]["corrected"], "par-dessus ce lot, après correction de l'adresse d'un bénéficiaire"),
                         (r["c"]["everything"], "par-dessus un lot, après une correction qui change tous les "
                                                "documents (lieu de la remise)")):
            print(f"  (c) dotation generer -j {r['jobs']} complet {how} : médiane {_n(run['wall'], 1)} s écoulées "
                  f"({_walls(run)}), dont jusqu'au manifeste écrit {_n(run['to_manifest'], 1)} s"
                  f"{_all_runs(run, run['to_manifest_all'])}, {_n(run['cpu'], 1)} s CPU, {_n(r['docs'] / run['wall'], 1)} documents Word/s, "
                  f"mémoire de pointe (processus et auxiliaires ensemble, mesurée lors d'un autre lancement) : "
                  f"RSS {run['rss_mb']:.0f} Mo, PSS {run['pss_mb']:.0f} Mo")
            for name, label in steps:
                _print_step(label, run["steps"].get(name))
        print(f"  (c) dotation convention (un bénéficiaire du même classeur) : médiane {_n(one['wall'], 1)} s écoulées "
              f"({_walls(one)}{_all_runs(one, one['wall_all'], ' ; ')}), {_n(one['cpu'], 1)} s CPU, "
              f"mémoire de pointe RSS {one['rss_mb']:.0f} Mo, "
              f"PSS {one['pss_mb']:.0f} Mo")
        for name, label in steps:
            _print_step(label, one["steps"].get(name))
    before, after = r["calibration"]
    print(f"vitesse de la machine : boucle de référence {_n(before, 2)} s avant le banc, {_n(after, 2)} s après "
          f"({_n(10_000_000 * QUIET_TURN_S, 2)} s au calme)")
    print(f"mémoire de pointe du banc lui-même : {r['self_mb']:.0f} Mo")
    targets(r)


def _n(value: float, digits: int, width: int = 0) -> str:
    """``value`` with ``digits`` decimals and a decimal comma (French), right-aligned in
    ``width`` characters."""
    return f"{value:{width}.{digits}f}".replace(".", ",")


def _all_runs(run: dict[str, Any], median_all: float, joint: str = " (") -> str:
    """The median of every run, the slowed-down ones included, when it differs from the
    retained one in what it covers (some runs, not all, made at normal speed)."""
    if not 0 < run["normal_count"] < run["count"]:
        return ""
    return f"{joint}médiane de tous les lancements, ralentis compris : {_n(median_all, 1)} s{')' if joint == ' (' else ''}"


def _walls(run: dict[str, Any]) -> str:
    """Each run's wall time and, in brackets, the machine's speed just before and just after
    it (1 = quiet); « ralenti » for a run the host slowed down (not in the median), and the
    wait for the machine's normal speed when there was one."""
    shown = []
    for wall, (before, after), normal, waited in run["walls"]:
        wait = f", après {waited:.0f} s d'attente" if waited >= 1 else ""
        shown.append(f"{_n(wall, 1)} s [{_n(before, 2)}–{_n(after, 2)}{wait}]{'' if normal else ' ralenti'}")
    count = run["count"]
    if run["normal_count"]:
        counted = (f"{run['normal_count']} {'lancement' if run['normal_count'] == 1 else 'lancements'} sur {count} "
                   "à vitesse normale")
    else:
        counted = f"aucun lancement sur {count} à vitesse normale : médiane de tous les lancements"
    return " ; ".join(shown) + f" ; {counted}"


def _print_step(label: str, step: dict[str, float] | None) -> None:
    """One step of a command: its wall and CPU time, and when it started (seconds after the
    command's modules were imported: the steps run in parallel show as such)."""
    if step:
        start = f", de {_n(step['start'], 2, 5)} à {_n(step['start'] + step['wall'], 2, 5)} s" if "start" in step else ""
        print(f"      {label:<32} {_n(step['wall'], 2, 6)} s écoulées, {_n(step['cpu'], 2, 6)} s CPU{start}")


def targets(r: dict[str, Any]) -> None:
    """The targets of issue #10 and what this run measured."""
    a_ms = r["a_s"] / r["subset"] * 1000
    b_ms = r["b_subset_s"] / r["subset"] * 1000
    rows = [("rendu compilé / boucle docxtpl", "≥ 10x", f"{_n(a_ms / b_ms, 1)}x", a_ms / b_ms >= 10),
            ("temps par document Word (b)", "≤ 2,5 ms", f"{_n(b_ms, 2)} ms", b_ms <= 2.5),
            ("lecture + validation", "≤ 1,5 s", f"{_n(r['read_s'] + r['validate_s'], 2)} s"
             f"{'' if min(r['read_speeds']) >= NORMAL_SPEED else ' (machine ralentie)'}",
             _met(r["read_s"] + r["validate_s"], 1.5,
                  {"normal_count": int(min(r["read_speeds"]) >= NORMAL_SPEED), "repeat": 1}))]
    if "c" in r:
        batch, again, one = r["c"]["batch"], r["c"]["again"], r["c"]["convention"]
        corrected, everything = r["c"]["corrected"], r["c"]["everything"]

        def batch_row(name: str, run: dict[str, Any]) -> tuple[str, str, str, bool | None]:
            # The measure: process start to manifest written; the whole process beside it.
            return (name, "≤ 5 s", f"{_n(run['to_manifest'], 1)} s (en tout {_n(run['wall'], 1)} s ; "
                    f"{run['normal_count']}/{run['count']} à vitesse normale)",
                    _met(run["to_manifest"], 5, run))

        rows += [batch_row("dotation generer, dossier neuf (médiane)", batch),
                 batch_row("dotation generer, par-dessus (médiane)", again),
                 batch_row("  après correction d'un bénéficiaire", corrected),
                 batch_row("  après correction de tous les documents", everything),
                 ("mémoire de pointe (tous processus)", "≤ 400 Mo",
                  f"{max(batch['rss_mb'], again['rss_mb']):.0f} Mo RSS",
                  max(batch["rss_mb"], again["rss_mb"]) <= 400),
                 ("dotation convention (médiane)", "≤ 2 s",
                  f"{_n(one['wall'], 1)} s ({one['normal_count']}/{one['count']} à vitesse normale)",
                  _met(one["wall"], 2, one))]
    print("objectifs du ticket #10 (un lot : du lancement au manifeste écrit, comme le ticket le définit ; "
          "en tout : jusqu'à la fin du processus, suppression des anciens fichiers comprise ; médiane des "
          "lancements faits à vitesse normale, ou de tous quand aucun ne l'a été (la colonne dit combien l'ont "
          "été) ; un objectif atteint par des lancements ralentis l'est à plus forte raison à vitesse normale) :")
    for name, goal, got, met in rows:
        verdict = {True: "atteint", None: "pas de verdict : machine ralentie (trop peu de lancements à vitesse "
                                          "normale)", False: "NON atteint"}[met]
        print(f"  {name:<42} {goal:>9}  mesuré {got:<52} {verdict}")


def _met(measured: float, goal: float, run: dict[str, Any]) -> bool | None:
    """Whether the median ``measured`` meets ``goal``; None (no verdict) when it does not
    and fewer than half the runs asked for were made at the machine's normal speed (the
    host slowed the machine down for most of the benchmark). A median of slowed-down runs
    that meets the goal meets it all the more at normal speed."""
    if measured <= goal:
        return True
    return None if run["normal_count"] * 2 < run["repeat"] else False


def main() -> None:
    parser = argparse.ArgumentParser(description="Banc d'essai à l'échelle nationale (ticket #10) : la boucle "
                                     "docxtpl habituelle face au rendu compilé, et les commandes complètes.")
    parser.add_argument("--beneficiaires", type=int, default=100, help="nombre de bénéficiaires (multiple de 10)")
    parser.add_argument("--serie", action="store_true", help="N = 10, 100 et 1000 : temps par document")
    parser.add_argument("--limite", type=int, default=150, help="documents comparés entre (a) et (b)")
    parser.add_argument("--sans-lot", action="store_true", help="ne pas mesurer (c) dotation generer")
    parser.add_argument("--fois", type=int, default=5,
                        help="lancements de chaque commande de (c) : la médiane des lancements faits à vitesse "
                             "normale est retenue (par défaut : 5)")
    parser.add_argument("--attente", type=float, default=600,
                        help="durée totale (s) pendant laquelle le banc peut attendre que la machine retrouve sa "
                             "vitesse normale avant les lancements de (c) ; une fois épuisée, les lancements ralentis "
                             "ne sont plus refaits (par défaut : 600)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processus de rendu de (c) (par défaut : le nombre de cœurs)")
    args = parser.parse_args()
    print(f"machine : {platform.machine()}, {os.cpu_count()} cœurs, Python {platform.python_version()} ; "
          f"{datetime.now():%Y-%m-%d %H:%M}")
    sizes = [10, 100, 1000] if args.serie else [args.beneficiaires]
    rows = []
    for n in sizes:
        before = calibration()
        r = run(n, args.limite, not args.sans_lot, args.jobs, max(1, args.fois), max(0.0, args.attente))
        r["calibration"] = (before, calibration())
        report(n, r)
        rows.append((n, r))
    if args.serie:
        print("\nN     ms/document (a)  ms/document (b)  (b)/(a)")
        for n, r in rows:
            a_ms, b_ms = r["a_s"] / r["subset"] * 1000, r["b_subset_s"] / r["subset"] * 1000
            print(f"{n:<5} {_n(a_ms, 1, 15)} {_n(b_ms, 2, 16)} {_n(a_ms / b_ms, 1, 8)}x")


if __name__ == "__main__":
    main()
