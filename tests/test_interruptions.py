"""Interruptions: a run killed at any instant leaves the previous batch or the new one,
consistent with its manifest, at the latest after the next command; two runs on one
folder never mix.

The first tests simulate a kill after every single file operation (and during the
repair itself) in-process; the slow ones kill real ``dotation`` processes with SIGKILL,
SIGTERM and SIGINT at chosen instants, the file operations slowed down by
``tests/helpers/slow_swap.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLE, set_operation

from dotation_docs import outputdir
from dotation_docs.exceptions import OutputBusyError, OutputError
from dotation_docs.pipeline import generate_batch, generate_claim

ROOT = Path(__file__).resolve().parent.parent
HELPER = ROOT / "tests" / "helpers" / "slow_swap.py"
MANIFEST = "manifeste.json"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def tool_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".dotation"))


def assert_matches_manifest(folder: Path) -> None:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for d in manifest["documents"]:
        assert hashlib.sha256((folder / d["fichier"]).read_bytes()).hexdigest() == d["sha256"], d["fichier"]


# --- A kill after every file operation, simulated in-process ---------------------------------


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no except OSError catches it)."""


OLD = [("conventions/a.docx", b"old a"), ("conventions/b.docx", b"old b"), (MANIFEST, b"old manifest")]
NEW = [("conventions/a.docx", b"new a"), ("proces-verbaux/c.docx", b"new c"), (MANIFEST, b"new manifest")]
REMOVED = ["conventions/b.docx"]


def old_folder(folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    (folder / "conventions").mkdir()
    (folder / "conventions" / "scan-signe.pdf").write_bytes(b"foreign")
    outputdir.replace_files(folder, OLD, [])
    return snapshot(folder)


def expected_new(old: dict[str, bytes]) -> dict[str, bytes]:
    new = {k: v for k, v in old.items() if k not in REMOVED}
    new.update(dict(NEW))
    return new


def killing_os(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """Make the output folder's ``os.replace`` die at its call number ``after`` (0-based)."""
    calls = {"n": 0}

    def replace(src, dst):  # type: ignore[no-untyped-def]
        if calls["n"] == after:
            raise Killed
        calls["n"] += 1
        os.replace(src, dst)

    proxy = types.ModuleType("os")
    proxy.__dict__.update(os.__dict__)
    proxy.replace = replace  # type: ignore[attr-defined]
    monkeypatch.setattr(outputdir, "os", proxy)


def repair(folder: Path) -> None:
    """What every writing command does first: lock the folder, repair it."""
    with outputdir.locked(folder):
        pass


RENAMES = 1 + 2 * 2 + 1 + 1  # journal; a (backup + new); c (new); b (backup); manifest (backup + new)


@pytest.mark.parametrize("kill_at", range(RENAMES + 1))
def test_a_kill_after_any_rename_leaves_the_old_or_the_new_batch(tmp_path: Path, monkeypatch, kill_at: int) -> None:
    folder = tmp_path / "sortie"
    old = old_folder(folder)
    killing_os(monkeypatch, kill_at)
    try:
        outputdir.replace_files(folder, NEW, REMOVED)
        finished = True
    except Killed:
        finished = False
    assert finished == (kill_at == RENAMES)
    monkeypatch.setattr(outputdir, "os", os)
    repair(folder)
    after = snapshot(folder)
    assert after in (old, expected_new(old)), kill_at
    assert tool_leftovers(folder) == []
    assert after["conventions/scan-signe.pdf"] == b"foreign"


@pytest.mark.parametrize("kill_at", range(1, RENAMES))
def test_a_kill_during_the_repair_is_repaired_too(tmp_path: Path, monkeypatch, kill_at: int) -> None:
    folder = tmp_path / "sortie"
    old = old_folder(folder)
    killing_os(monkeypatch, kill_at)
    with pytest.raises(Killed):
        outputdir.replace_files(folder, NEW, REMOVED)
    for repair_kill in range(4):
        killing_os(monkeypatch, repair_kill)
        try:
            outputdir.recover(folder)
        except Killed:
            pass
    monkeypatch.setattr(outputdir, "os", os)
    repair(folder)
    assert snapshot(folder) in (old, expected_new(old))
    assert tool_leftovers(folder) == []


def test_a_kill_just_after_the_manifest_is_in_place_finishes_the_new_batch(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "sortie"
    old = old_folder(folder)

    def killed(*_args):  # type: ignore[no-untyped-def]
        raise Killed

    monkeypatch.setattr(outputdir, "_finish", killed)
    with pytest.raises(Killed):
        outputdir.replace_files(folder, NEW, REMOVED)
    assert (folder / outputdir.JOURNAL_NAME).exists()
    monkeypatch.undo()
    repair(folder)
    assert snapshot(folder) == expected_new(old)
    assert tool_leftovers(folder) == []


def test_inspect_reports_an_interrupted_run_without_repairing(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "sortie"
    old_folder(folder)
    assert outputdir.inspect(folder).clean
    assert outputdir.inspect(folder).describe() is None
    killing_os(monkeypatch, 3)
    with pytest.raises(Killed):
        outputdir.replace_files(folder, NEW, REMOVED)
    monkeypatch.setattr(outputdir, "os", os)
    before = snapshot(folder)
    state = outputdir.inspect(folder)
    assert state.interrupted and not state.clean
    assert state.describe() == (
        f"un lancement interrompu a laissé le dossier « {folder} » à réparer : la prochaine commande qui "
        "écrit (generer, convention ou demande) remettra en place un lot complet."
    )
    assert snapshot(folder) == before  # nothing repaired, nothing moved
    assert outputdir.inspect(tmp_path / "absent").clean


def test_inspect_reports_a_staging_folder_left_by_a_kill(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    old_folder(folder)
    (folder / ".dotation-staging-x1").mkdir()
    state = outputdir.inspect(folder)
    assert not state.interrupted and state.leftovers == [".dotation-staging-x1"]
    assert "fichiers temporaires" in (state.describe() or "")
    repair(folder)
    assert tool_leftovers(folder) == []


def test_a_failed_rename_puts_the_previous_batch_back(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "sortie"
    old = old_folder(folder)
    calls = {"n": 0}

    def replace(src, dst):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        os.replace(src, dst)

    proxy = types.ModuleType("os")
    proxy.__dict__.update(os.__dict__)
    proxy.replace = replace  # type: ignore[attr-defined]
    monkeypatch.setattr(outputdir, "os", proxy)
    with pytest.raises(OutputError) as err:
        outputdir.replace_files(folder, NEW, REMOVED)
    assert err.value.message == (
        f"écriture impossible dans « {folder} » : plus d'espace libre sur le disque. "
        "Le lot précédent a été remis en place."
    )
    assert snapshot(folder) == old
    assert tool_leftovers(folder) == []


def test_a_damaged_journal_is_reported_not_guessed(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    old_folder(folder)
    (folder / outputdir.JOURNAL_NAME).write_text("{pas du json", encoding="utf-8")
    with pytest.raises(OutputError, match="est endommagé : le dossier ne peut pas être réparé automatiquement"):
        repair(folder)


def test_signals_are_held_back_during_the_swap() -> None:
    with pytest.raises(KeyboardInterrupt):
        with outputdir.deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            reached = True  # the signal did not interrupt the block
    assert reached
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_swap_that_fails_keeps_its_error_over_a_held_back_signal() -> None:
    """Ctrl-C during a swap that then fails: the command stops on the French error (what
    was put back), not on a bare « Interrompu. »."""
    with pytest.raises(OutputError, match="remis en place"):
        with outputdir.deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            raise OutputError("écriture impossible : Le lot précédent a été remis en place.")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_run_on_a_locked_folder_stops_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    with outputdir.locked(folder):
        with pytest.raises(OutputBusyError) as err:
            generate_claim(SAMPLE, folder)
    assert err.value.message == (
        f"le dossier de sortie « {folder} » est utilisé par une autre commande dotation en cours : "
        "attendez qu'elle se termine, puis relancez. Rien n'a été écrit."
    )
    assert not folder.exists()  # created for the lock, removed as it stayed empty


def test_a_busy_folder_is_said_before_the_templates_and_the_workbook_are_checked(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    from dotation_docs import pipeline, reading

    folder = tmp_path / "sortie"
    read = []
    monkeypatch.setattr(reading, "check_workbook", lambda *a, **k: read.append(a))
    monkeypatch.setattr(pipeline, "prepare_templates", lambda *a, **k: read.append(a))
    with outputdir.locked(folder):
        before = sorted(p.name for p in folder.iterdir())
        with pytest.raises(OutputBusyError):
            generate_batch(SAMPLE, folder, jobs=1)
        assert sorted(p.name for p in folder.iterdir()) == before  # the look created nothing
    assert read == []
    outputdir.check_not_busy(folder)  # released: no error, and nothing created
    outputdir.check_not_busy(tmp_path / "absente")
    assert not (tmp_path / "absente").exists() and not folder.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes: POSIX")
def test_a_named_pipe_for_a_lock_file_gives_an_error_not_a_wait(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    folder.mkdir()
    os.mkfifo(folder / outputdir.LOCK_NAME)
    outputdir.check_not_busy(folder)  # returns at once: the look does not wait for a writer
    done = subprocess.run([sys.executable, "-m", "dotation_docs", "generer", str(SAMPLE), "-o", str(folder)],
                          cwd=ROOT, env=_env(0), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"Erreur : impossible de verrouiller le dossier de sortie « {folder} »")


def test_a_lock_file_that_is_a_symbolic_link_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    folder.mkdir()
    target = tmp_path / "ailleurs.txt"
    target.write_text("à ne pas toucher", encoding="utf-8")
    (folder / outputdir.LOCK_NAME).symlink_to(target)
    with pytest.raises(OutputError) as err:
        generate_batch(SAMPLE, folder, jobs=1)
    assert err.value.message == (
        f"impossible de verrouiller le dossier de sortie « {folder} » : son fichier de verrou "
        f"« {outputdir.LOCK_NAME} » est un lien symbolique, que l'outil ne suit pas. Supprimez ce lien "
        "(aucune commande dotation ne le crée), puis relancez."
    )
    assert target.read_text(encoding="utf-8") == "à ne pas toucher"


# --- Real processes, really killed -------------------------------------------------------------


def _env(delay: float) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DOTATION_TEST_DELAY": str(delay), "LC_ALL": "C.UTF-8"}


def run_and_kill(args: list[str], marker: str, sig: int, delay: float = 0.05,
                 before_signal: Callable[[], object] | None = None) -> tuple[int, str]:
    """Run the slowed command line, send ``sig`` when a stderr line starts with
    ``marker`` (after calling ``before_signal``); return the exit status and stderr."""
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), "-v", *args], cwd=ROOT, env=_env(delay),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(marker):
            if before_signal is not None:
                before_signal()
            proc.send_signal(sig)
            break
    else:
        proc.wait(timeout=60)
        pytest.fail(f"« {marker} » never printed:\n{''.join(seen)}")
    _out, rest = proc.communicate(timeout=120)
    return proc.returncode, "".join(seen) + rest


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A previous batch (other advances, an old claim file since dropped, a RIB the agent
    added) and what ``demande`` on the sample makes of it."""
    base = tmp_path_factory.mktemp("interruptions")
    wb = openpyxl.load_workbook(SAMPLE)
    set_operation(wb, "Acomptes reçus", 1000)
    old_workbook = base / "ancien.xlsx"
    wb.save(old_workbook)
    old = base / "ancien"
    generate_batch(old_workbook, old)
    stale = old / "demande-subvention" / "5-ancienne-piece.docx"
    stale.write_bytes(b"ancienne piece")
    manifest = json.loads((old / MANIFEST).read_text(encoding="utf-8"))
    manifest["documents"].append({"type": "attestation", "beneficiaire": None, "fichier": "demande-subvention/5-ancienne-piece.docx",
                                  "sha256": hashlib.sha256(b"ancienne piece").hexdigest()})
    (old / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    (old / "demande-subvention" / "RIB.pdf").write_bytes(b"%PDF rib")
    new = base / "nouveau"
    shutil.copytree(old, new)
    generate_claim(SAMPLE, new)
    old_snap, new_snap = snapshot(old), snapshot(new)
    assert old_snap != new_snap and "demande-subvention/5-ancienne-piece.docx" not in new_snap
    return old, old_snap, new_snap


# demande on the old batch: 1 journal, 1 removal, 4 claim files (2 each), the manifest (2): 12 renames.
@pytest.mark.slow
@pytest.mark.parametrize(("sig", "marker"), [
    (signal.SIGKILL, "Rendu de"), (signal.SIGKILL, "STAGE 2"), (signal.SIGKILL, "RENAME 1"),
    (signal.SIGKILL, "RENAME 6"), (signal.SIGKILL, "RENAME 12"),
    (signal.SIGTERM, "Rendu de"), (signal.SIGTERM, "STAGE 2"), (signal.SIGINT, "STAGE 2"),
    (signal.SIGHUP, "STAGE 2"),  # the terminal closed
])
def test_a_killed_run_leaves_the_old_or_the_new_batch(tmp_path: Path, batches, sig: int, marker: str) -> None:
    old, old_snap, new_snap = batches
    folder = tmp_path / "sortie"
    shutil.copytree(old, folder)
    status, stderr = run_and_kill(["demande", str(SAMPLE), "-o", str(folder)], marker, sig)
    assert status != 0, stderr
    if sig != signal.SIGKILL:
        assert "Traceback" not in stderr
        assert tool_leftovers(folder) == []  # SIGTERM, SIGHUP and Ctrl-C clean up before the swap
        assert "mise en place" not in stderr  # stopped before the swap: never said written
    if sig == signal.SIGINT:
        assert stderr.rstrip().endswith("Interrompu.")
    if marker.startswith("RENAME") and marker != "RENAME 1":
        assert outputdir.inspect(folder).interrupted
    repair(folder)
    assert snapshot(folder) in (old_snap, new_snap)
    assert_matches_manifest(folder)
    assert tool_leftovers(folder) == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_inside_the_swap_waits_for_its_end(tmp_path: Path, batches, sig: int) -> None:
    old, _old_snap, new_snap = batches
    folder = tmp_path / "sortie"
    shutil.copytree(old, folder)
    status, stderr = run_and_kill(["demande", str(SAMPLE), "-o", str(folder)], "RENAME 6", sig)
    assert status == (1 if sig == signal.SIGINT else 128 + signal.SIGTERM), stderr
    assert "Traceback" not in stderr
    # the agent hears that the files are in place, not a bare « Interrompu. », and where to look next
    assert f"Interrompu juste après la mise en place des fichiers de la commande dans « {folder} » : ils sont " \
           "tous écrits, manifeste compris. Le résumé n'a pas été affiché : « dotation etat » montre ce qui " \
           "reste à faire." in stderr
    assert snapshot(folder) == new_snap  # finished, consistent, no leftovers, before any repair
    assert tool_leftovers(folder) == []


@pytest.mark.slow
def test_the_next_real_command_repairs_a_killed_swap(tmp_path: Path, batches) -> None:
    old, _old_snap, new_snap = batches
    folder = tmp_path / "sortie"
    shutil.copytree(old, folder)
    run_and_kill(["demande", str(SAMPLE), "-o", str(folder)], "RENAME 6", signal.SIGKILL)
    assert tool_leftovers(folder)  # the journal and the staging folder are still there
    result = subprocess.run(
        [sys.executable, "-m", "dotation_docs", "demande", str(SAMPLE), "-o", str(folder)],
        cwd=ROOT, env=_env(0), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Attention : un lancement précédent avait été interrompu : le lot d'avant a été remis en place." in result.stdout
    assert "Fichiers ajoutés dans les dossiers de l'outil, laissés en place : 1 (demande-subvention/RIB.pdf)." in result.stdout
    assert snapshot(folder) == new_snap
    assert tool_leftovers(folder) == []


@pytest.mark.slow
def test_two_real_runs_on_one_folder(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    first = subprocess.Popen(
        [sys.executable, str(HELPER), "-v", "generer", str(SAMPLE), "-o", str(folder)], cwd=ROOT, env=_env(0.1),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert first.stderr is not None
    for line in first.stderr:
        if line.startswith("Rendu de"):  # the first run holds the lock
            break
    second = subprocess.run(
        [sys.executable, "-m", "dotation_docs", "generer", str(SAMPLE), "-o", str(folder)],
        cwd=ROOT, env=_env(0), capture_output=True, text=True, timeout=120,
    )
    still_running = first.poll() is None
    out, _err = first.communicate(timeout=180)
    assert second.returncode == 1
    assert second.stderr == (
        f"Erreur : le dossier de sortie « {folder} » est utilisé par une autre commande dotation en cours : "
        "attendez qu'elle se termine, puis relancez. Rien n'a été écrit.\n"
    )
    assert still_running  # the second one did not wait
    assert first.returncode == 0, out
    assert_matches_manifest(folder)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert {d["fichier"] for d in manifest["documents"]} | {MANIFEST} == set(snapshot(folder))
    assert tool_leftovers(folder) == []


def test_verifier_reports_an_interrupted_run_without_repairing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dotation_docs.cli import cli
    from dotation_docs.outputdir import JOURNAL_NAME

    output = tmp_path / "sortie"
    output.mkdir()
    journal = output / JOURNAL_NAME
    journal.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(cli, ["verifier", str(SAMPLE), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Attention : un lancement interrompu a laissé le dossier « {output} » à réparer : la prochaine "
        "commande qui écrit (generer, convention ou demande) remettra en place un lot complet.\n"
    )
    assert journal.read_text(encoding="utf-8") == "{}"  # read only: nothing repaired
    clean = CliRunner().invoke(cli, ["verifier", str(SAMPLE), "-o", str(tmp_path / "absent")])
    assert clean.exit_code == 0 and "Attention" not in clean.output
    assert not (tmp_path / "absent").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_as_the_workers_start_prints_no_traceback(tmp_path: Path, sig: int) -> None:
    """Ctrl-C reaches the whole process group, new workers included, maybe before they set
    their handlers (inside Python's after-fork code): held back until they have."""
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, str(HELPER), "-v", "generer", str(SAMPLE), "-o", str(tmp_path / str(attempt)), "-j", "2"],
            cwd=ROOT, env=_env(0.05), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("Rendu par"):
                os.killpg(proc.pid, sig)
                break
        _out, rest = proc.communicate(timeout=120)
        stderr = "".join(seen) + rest
        assert proc.returncode == (1 if sig == signal.SIGINT else 128 + sig), stderr
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
        folder = tmp_path / str(attempt)
        assert not folder.exists() or tool_leftovers(folder) == []


# A signal handled while Python runs a callback whose exceptions it ignores (a weak reference's,
# a finaliser): without the hook, « Exception ignored in… » and the command went on.
_LOST_STOP = """
import os, signal, sys, time, weakref
from dotation_docs import cli
cli.install_stop_handlers()
class Thing:
    pass
thing = Thing()
def callback(_ref):
    {inside}
    for _ in range(1000):  # a signal's handler runs here, inside the callback
        pass
ref = weakref.ref(thing, callback)
del thing
time.sleep(10)  # the command's work goes on
print("continued", flush=True)
"""


def _run_lost_stop(inside: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _LOST_STOP.format(inside=inside)], cwd=ROOT, env=_env(0),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 128 + signal.SIGTERM), ("SIGHUP", 128 + signal.SIGHUP),
                                              ("SIGINT", -signal.SIGINT)])
def test_a_stop_during_a_callback_is_not_lost(name: str, status: int) -> None:
    done = _run_lost_stop(f"os.kill(os.getpid(), signal.{name})")
    assert "continued" not in done.stdout
    assert "Exception ignored" not in done.stderr
    if name == "SIGINT":  # KeyboardInterrupt, raised again outside the callback (the CLI turns it into « Interrompu. »)
        assert done.returncode == -signal.SIGINT and done.stderr.rstrip().endswith("KeyboardInterrupt")
    else:
        assert done.returncode == status, done.stderr
        assert done.stderr == ""


def test_other_ignored_exceptions_are_still_reported() -> None:
    done = _run_lost_stop("raise ValueError('x')")
    assert done.returncode == 0 and "continued" in done.stdout
    assert "Exception ignored in" in done.stderr and "ValueError: x" in done.stderr
