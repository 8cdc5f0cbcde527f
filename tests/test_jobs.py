"""Worker processes (``--jobs``), streaming to the staging folder, progress bar and ``-q``.

Same bytes whatever the number of workers; a worker's error reaches the user as the
same French message as in one process; workers die with the parent, whatever kills it.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from cells import put
from conftest import SAMPLE, set_operation
from test_interruptions import (  # noqa: F401  (batches is a fixture)
    ROOT,
    assert_matches_manifest,
    batches,
    repair,
    run_and_kill,
    snapshot,
    tool_leftovers,
)

from dotation_docs import cli as cli_module
from dotation_docs import outputdir, pipeline, reading
from dotation_docs.cli import cli
from dotation_docs.exceptions import OutputError, TemplateError
from dotation_docs.pipeline import generate_batch, generate_beneficiary


def _processes_with(text: str) -> list[int]:
    """The live (not zombie) processes whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes().decode("utf-8", "replace")
            state = Path("/proc", entry, "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry))
    return found


# --- Same bytes whatever N ---------------------------------------------------------------------


def test_one_and_two_workers_write_the_same_bytes(tmp_path: Path) -> None:
    one, two = tmp_path / "un", tmp_path / "deux"
    written_one = generate_batch(SAMPLE, one, jobs=1)
    written_two = generate_batch(SAMPLE, two, jobs=2)
    assert snapshot(one) == snapshot(two)  # every document and the manifest
    assert len(snapshot(one)) == len(written_one.files) == 29  # with index.html
    assert [f.path for f in written_one.files] == [f.path for f in written_two.files]
    assert [f.sha256 for f in written_one.files] == [f.sha256 for f in written_two.files]
    assert_matches_manifest(two)
    assert tool_leftovers(two) == []


def test_the_command_line_takes_jobs_and_writes_the_same_bytes(tmp_path: Path) -> None:
    runner = CliRunner()
    for n in ("1", "2", "3"):
        result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / n), "-j", n])
        assert result.exit_code == 0, result.output
    assert snapshot(tmp_path / "1") == snapshot(tmp_path / "2") == snapshot(tmp_path / "3")
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "0"), "--jobs", "0"])
    assert result.exit_code == 2 and "0" in result.output
    assert not (tmp_path / "0").exists()


def test_the_default_is_the_number_of_cores(monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(pipeline, "generate_batch", lambda *a, **k: seen.setdefault("jobs", a[5]) and None)
    monkeypatch.setattr(cli_module, "_report", lambda *a, **k: None)
    CliRunner().invoke(cli, ["generer", str(SAMPLE)])
    assert seen["jobs"] == (os.cpu_count() or 1)


def test_documents_are_streamed_to_the_staging_folder(tmp_path: Path, monkeypatch) -> None:
    """The run keeps no document in memory: each is in the staging folder when the
    next one is rendered."""
    folder = tmp_path / "sortie"
    seen: list[int] = []
    real = outputdir.write_staged

    def spy(output, staging, index, data, sha256=None):  # type: ignore[no-untyped-def]
        seen.append(len(list((staging / "new").iterdir())))
        return real(output, staging, index, data, sha256)

    monkeypatch.setattr(outputdir, "write_staged", spy)
    written = generate_batch(SAMPLE, folder, jobs=1)
    assert seen == list(range(len(seen))) and len(seen) == 29  # every document, index.html, the manifest
    # only the manifest was in memory: the overview page is made with the documents
    assert [f.path for f in written.files if f.data is not None] == ["manifeste.json"]
    assert_matches_manifest(folder)


# --- Errors in workers --------------------------------------------------------------------------


def _failing_press_release(tmp_path: Path) -> Path:
    """A template folder whose press release divides by zero on the sample's 121 devices
    only (the synthetic operation of the up-front check has another count)."""
    folder = tmp_path / "modeles"
    folder.mkdir()
    text = (ROOT / "templates" / "communique-de-presse.html").read_text(encoding="utf-8")
    (folder / "communique-de-presse.html").write_text(
        text.replace("</body>", "{{ 1 // (totaux.nombre - 121) }}</body>"), encoding="utf-8")
    return folder


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_template_error_in_a_worker_is_the_same_french_message(tmp_path: Path, jobs: int) -> None:
    templates = _failing_press_release(tmp_path)
    folder = tmp_path / "sortie"
    with pytest.raises(TemplateError) as err:
        generate_batch(SAMPLE, folder, templates, jobs=jobs)
    assert "communique-de-presse.html" in err.value.message
    assert "division par zéro" in err.value.message or "zéro" in err.value.message
    expected = None
    with pytest.raises(TemplateError) as again:
        generate_batch(SAMPLE, tmp_path / "autre", templates, jobs=1)
    expected = again.value.message
    assert err.value.message == expected
    assert not folder.exists()  # nothing written, the lock's folder removed
    result = CliRunner().invoke(cli, ["generer", str(SAMPLE), "-o", str(folder), "-m", str(templates),
                                      "-j", str(jobs)])
    assert result.exit_code == 1 and result.output == f"Erreur : {expected}\n"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_disk_full_in_a_worker_is_the_same_french_message(tmp_path: Path, monkeypatch, jobs: int,
                                                            make_workbook) -> None:
    folder = tmp_path / "sortie"
    # The previous batch is of another handover place: every document is written again.
    generate_batch(make_workbook(lambda wb: set_operation(wb, "Lieu de la remise", "Salle du conseil")), folder,
                   jobs=1)
    before = snapshot(folder)
    real = outputdir._write_new

    def full(path: Path, data: bytes) -> None:
        if int(path.name) >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(outputdir, "_write_new", full)  # inherited by the forked workers
    with pytest.raises(OutputError) as err:
        generate_batch(SAMPLE, folder, jobs=jobs, overwrite=True)
    assert err.value.message == (
        f"écriture impossible dans « {folder} » : plus d'espace libre sur le disque. "
        "Rien n'a été modifié : le lot précédent est conservé."
    )
    assert snapshot(folder) == before
    assert tool_leftovers(folder) == []


def test_the_first_failing_document_in_plan_order_is_reported(tmp_path: Path, monkeypatch) -> None:
    real = pipeline._DocumentRenderer.render

    def failing(self, index: int) -> bytes:  # type: ignore[no-untyped-def]
        if index in (3, 17):
            time.sleep(0.2 if index == 3 else 0)  # the later one fails first in time
            raise TemplateError(f"échec du document {index}")
        return real(self, index)

    monkeypatch.setattr(pipeline._DocumentRenderer, "render", failing)
    for jobs in (1, 2):
        with pytest.raises(TemplateError, match="^échec du document 3$"):
            generate_batch(SAMPLE, tmp_path / f"sortie{jobs}", jobs=jobs)


# --- Workers die with the parent -------------------------------------------------------------


def _run_and_signal(args: list[str], marker: str, sig: int, tag: str) -> tuple[int, str, int]:
    """Run the slowed command line with two workers; when ``marker`` is printed, count the
    processes of the run, send ``sig`` to the parent; return its status, stderr and the
    number of processes seen."""
    counted = []
    status, stderr = run_and_kill([*args, "-j", "2"], marker, sig, delay=0.3,
                                  before_signal=lambda: counted.append(len(_processes_with(tag))))
    return status, stderr, counted[0] if counted else 0


def _none_left(tag: str) -> list[int]:
    deadline = time.monotonic() + 5
    while (left := _processes_with(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_workers_die_with_the_parent_and_the_folder_stays_whole(tmp_path: Path, batches, sig: int) -> None:
    old, old_snap, new_snap = batches
    folder = tmp_path / f"sortie-{sig}"
    shutil.copytree(old, folder)
    status, stderr, counted = _run_and_signal(["demande", str(SAMPLE), "-o", str(folder)], "STAGE 2", sig,
                                              str(folder))
    assert counted >= 2, stderr  # the command and its worker were running
    assert status != 0, stderr
    assert _none_left(str(folder)) == [], stderr
    if sig != signal.SIGKILL:
        assert "Traceback" not in stderr
        assert tool_leftovers(folder) == []
    repair(folder)
    assert snapshot(folder) in (old_snap, new_snap)
    assert_matches_manifest(folder)
    assert tool_leftovers(folder) == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_killed_batch_mid_render_leaves_no_worker(tmp_path: Path, sig: int, make_workbook) -> None:
    folder = tmp_path / f"lot-{sig}"
    # The previous batch, of a workbook before a correction that changes every document (the
    # files of the run would otherwise be there already, and none be written).
    generate_batch(make_workbook(lambda wb: set_operation(wb, "Lieu de la remise", "Salle du conseil")), folder,
                   jobs=1)
    before = snapshot(folder)
    status, stderr, counted = _run_and_signal(["generer", str(SAMPLE), "-o", str(folder), "--ecraser"],
                                              "STAGE 5", sig, str(folder))
    assert counted >= 2, stderr
    assert status != 0
    assert _none_left(str(folder)) == [], stderr
    repair(folder)
    assert snapshot(folder) == before  # killed before the swap: the previous batch, whole
    assert tool_leftovers(folder) == []


def test_workers_ignore_ctrl_c_and_set_the_death_signal(tmp_path: Path) -> None:
    """Ctrl-C on a terminal reaches the whole process group: the workers ignore it and the
    parent stops them; each worker asks for SIGKILL at its parent's death."""
    probe = tmp_path / "probe.txt"
    code = f"""
import ctypes, os, signal
from dotation_docs import workers
from dotation_docs.outputdir import Staged
parent = os.getpid()
def produce(i):
    if os.getpid() == parent:  # the command renders too, slowly here: the workers get their share
        import time
        time.sleep(0.05)
        return Staged(str(i), "0")
    libc = ctypes.CDLL(None)
    sig = ctypes.c_int()
    libc.prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
    handler = signal.getsignal(signal.SIGINT)
    with open({str(probe)!r}, "a") as f:
        f.write(f"{{sig.value}} {{handler == signal.SIG_IGN}}\\n")
    return Staged(str(i), "0")
workers.run_parallel(produce, 64, 3)
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    lines = probe.read_text().splitlines()
    assert lines and set(lines) == {f"{int(signal.SIGKILL)} True"}


# --- Progress bar and -q -------------------------------------------------------------------------


def test_no_progress_bar_in_a_pipe(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dotation_docs", "generer", str(SAMPLE), "-o",
                             str(tmp_path / "s")], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Rendu des documents" not in result.stdout
    assert result.stdout.startswith("29 fichiers écrits")


def _generate_on_terminal(folder: Path, columns: int = 80, **env: str) -> str:
    """Run ``dotation generer`` on the sample with stderr on a pseudo-terminal of
    ``columns`` columns; return what it drew there."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERM")}
    proc = subprocess.Popen([sys.executable, "-m", "dotation_docs", "generer", str(SAMPLE), "-o",
                             str(folder)], cwd=ROOT,
                            env={**environment, "PYTHONPATH": str(ROOT), "TERM": "xterm", **env},
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    shown = _generate_on_terminal(tmp_path / "s")
    assert "Rendu des documents" in shown and "100%" in shown


def test_the_progress_bar_fits_a_narrow_terminal(tmp_path: Path) -> None:
    """A line wider than the terminal wraps, and every redraw then starts a new line: on 40
    columns, each drawing of the bar stays within 39."""
    shown = _generate_on_terminal(tmp_path / "s", columns=40)
    drawings = [part.replace("\x1b[?25l", "").replace("\x1b[?25h", "").rstrip("\n")
                for part in shown.split("\r") if "Rendu des documents" in part]
    assert drawings and any("100%" in d and "#" in d for d in drawings)
    assert max(len(d) for d in drawings) <= 39, drawings[-1]


def test_no_progress_bar_on_a_dumb_terminal(tmp_path: Path) -> None:
    """TERM=dumb cannot hide the cursor nor redraw a line: no bar, no escape sequence (as
    the error label has no colour there)."""
    shown = _generate_on_terminal(tmp_path / "s", TERM="dumb")
    assert "Rendu des documents" not in shown and "\x1b" not in shown


def test_the_bar_shrinks_with_the_terminal_and_vanishes_when_it_cannot_fit() -> None:
    assert cli_module._progress_width(200) == cli_module.PROGRESS_MAX_WIDTH
    line = len("Rendu des documents  [") + cli_module._progress_width(40) + len("]  100%")
    assert line == 39
    assert cli_module._progress_width(30) == 0 and cli_module._progress_width(0) == 0


def test_no_progress_bar_for_a_few_documents(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cli_module, "_stderr_is_terminal", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    bar = cli_module._progress(quiet=False)
    assert bar is not None and cli_module._progress(quiet=True) is None
    result = CliRunner().invoke(cli, ["convention", str(SAMPLE), "B01", "-o", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "Rendu des documents" not in result.stderr  # 2 documents: nothing to wait for
    result = CliRunner().invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert "Rendu des documents" in result.stderr  # click draws the bar itself on a real terminal only
    assert "Rendu des documents" not in result.stdout


def _signed_sample(folder: Path) -> Path:
    """The sample with every convention and handover record signed on the handover day."""
    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb["Bénéficiaires"]
    headers = [c.value for c in ws[1]]
    for label in ("Date de signature de la convention", "Date de signature du procès-verbal"):
        for row in range(2, ws.max_row + 1):
            if label.endswith("convention") and ws.cell(row, 1).value == "B10":
                continue  # a service of the authority signs no convention
            ws.cell(row, headers.index(label) + 1).value = datetime(2023, 2, 3)
    folder.mkdir(parents=True, exist_ok=True)
    wb.save(folder / "signe.xlsx")
    return folder / "signe.xlsx"


@pytest.mark.parametrize("command", [["generer"], ["demande"], ["convention", "B01"]])
def test_quiet_prints_nothing_when_all_goes_well(tmp_path: Path, monkeypatch, command: list[str]) -> None:
    monkeypatch.setattr(cli_module, "_stderr_is_terminal", lambda: True)  # -q wins over the terminal
    workbook = _signed_sample(tmp_path / "classeur")
    generate_batch(workbook, tmp_path / "s")  # the batch the command updates
    args = [command[0], str(workbook), *command[1:], "-o", str(tmp_path / "s"), "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    assert_matches_manifest(tmp_path / "s")


def test_quiet_still_says_what_the_agent_must_act_on(tmp_path: Path) -> None:
    """Unsigned handover records hold the claim back: -q drops the summary, not that."""
    result = CliRunner().invoke(cli, ["demande", str(SAMPLE), "-o", str(tmp_path / "s"), "-q"])
    assert result.exit_code == 0 and result.stdout == ""
    assert "Attention : 10 procès-verbaux de remise ne sont pas signés" in result.stderr


@pytest.mark.parametrize("command", ["generer", "convention", "demande"])
def test_quiet_help_says_what_it_still_prints(command: str) -> None:
    """-q's help must not promise « errors only » while the notes to act on still show."""
    text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.replace("\u00a0", " ").split())
    assert "sur la sortie d'erreur, les erreurs et les lignes « Attention » (points à traiter : " in text
    assert "Les avertissements du classeur ne sont pas affichés" in text
    assert "N'affiche que les erreurs (pas de résumé)" not in text
    # the notes each command may print are its own: convention never makes the claim file
    assert ("dossier de demande non produit" in text) is (command != "convention")


def test_quiet_still_prints_errors(tmp_path: Path) -> None:
    templates = _failing_press_release(tmp_path)
    result = CliRunner().invoke(
        cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "s"), "-m", str(templates), "-q"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Erreur : ") and "communique-de-presse.html" in result.stderr


def test_verifier_quiet(make_workbook) -> None:  # type: ignore[no-untyped-def]
    ok = CliRunner().invoke(cli, ["verifier", str(SAMPLE), "-q"])
    assert ok.exit_code == 0 and ok.stdout == "" and ok.stderr == ""
    broken = make_workbook(lambda wb: put(wb, "Bénéficiaires", "SIRET", 3, "58143266300029"))
    bad = CliRunner().invoke(cli, ["verifier", str(broken), "-q"])
    assert bad.exit_code == 1 and bad.stdout == ""
    assert "Erreur : 1 erreur" in bad.stderr and "corrigez le classeur" in bad.stderr
    assert "Bénéficiaires!D3 : SIRET" in bad.stderr  # the error itself, with its cell
    assert "Résumé" not in bad.stderr


# --- convention: one beneficiary only -----------------------------------------------------------


def test_convention_renders_only_that_beneficiary(tmp_path: Path, monkeypatch) -> None:
    rendered: list[str] = []
    real = pipeline._DocumentRenderer.render

    def spy(self, index: int) -> bytes:  # type: ignore[no-untyped-def]
        rendered.append(self.docs[index].path)
        return real(self, index)

    monkeypatch.setattr(pipeline._DocumentRenderer, "render", spy)
    generate_beneficiary(SAMPLE, "B01", tmp_path / "s", jobs=1)
    assert len(rendered) == 2 and all("/B01-" in path for path in rendered)


def test_convention_writes_the_same_bytes_as_the_batch(tmp_path: Path) -> None:
    generate_batch(SAMPLE, tmp_path / "lot", jobs=1)
    one = generate_beneficiary(SAMPLE, "B01", tmp_path / "un", jobs=2)
    batch = snapshot(tmp_path / "lot")
    documents = [f for f in one.files if f.type not in ("manifeste", "apercu")]  # index.html lists its folder
    assert [f.path for f in documents] == ["conventions/B01-convention-beaubreuil-numerique-solidaire.docx",
                                           "proces-verbaux/B01-proces-verbal-beaubreuil-numerique-solidaire.docx"]
    assert all((tmp_path / "un" / f.path).read_bytes() == batch[f.path] for f in documents)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "２"])
def test_a_wrong_number_of_processes_is_refused_in_french(value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "s"), "-j", value])
    assert result.exit_code == 2
    assert f"« {value} » n'est pas un nombre de processus : un nombre entier d'au moins 1 est attendu" in result.output
    assert not (tmp_path / "s").exists()


def test_a_thousand_processes_asked_are_four_per_core_at_most() -> None:
    from dotation_docs.workers import usable_jobs
    cores = os.cpu_count() or 1
    assert usable_jobs(1000) == 4 * cores
    assert usable_jobs(1) == 1


# --- Reading ahead: the workbook read by another process while the templates are checked -------


def test_the_command_line_starts_reading_before_the_heavy_imports() -> None:
    # The read-ahead process is forked as soon as the options are parsed: importing the
    # command line must not import the renderers (half a second), only what forking needs.
    code = ("import sys, dotation_docs.cli; print(sorted(m for m in ('docx', 'docxtpl', 'jinja2', 'babel', "
            "'openpyxl', 'lxml', 'dotation_docs.pipeline', 'dotation_docs.workbook') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_command_line_reads_ahead_for_every_writing_job(tmp_path: Path, monkeypatch) -> None:
    started = []
    real = reading.Background

    def counted(*args):  # type: ignore[no-untyped-def]
        started.append(args[1])
        return real(*args)

    monkeypatch.setattr(reading, "Background", counted)
    runner = CliRunner()
    for args in (["generer"], ["convention", "_", "B01"], ["demande"]):
        command = [args[0], str(SAMPLE), *args[2:], "-o", str(tmp_path / args[0]), "-j", "2", "-q"]
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output
    assert started == [SAMPLE] * 3
    started.clear()
    assert runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "seul"), "-j", "1", "-q"]).exit_code == 0
    assert started == []
    assert snapshot(tmp_path / "seul") == snapshot(tmp_path / "generer")


def _broken_workbook(tmp_path: Path) -> Path:
    wb = openpyxl.load_workbook(SAMPLE)
    put(wb, "Matériel", "Prix unitaire HT", 2, "douze euros")
    path = tmp_path / "casse.xlsx"
    wb.save(path)
    return path


def test_a_workbook_error_read_ahead_is_the_same_french_message(tmp_path: Path) -> None:
    path = _broken_workbook(tmp_path)
    messages = []
    for jobs in (1, 2):
        result = CliRunner().invoke(cli, ["generer", str(path), "-o", str(tmp_path / f"s{jobs}"), "-j", str(jobs)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        messages.append(result.output)
    assert messages[0] == messages[1]
    assert "douze euros" in messages[1] and "Prix unitaire HT" in messages[1]
    assert not (tmp_path / "s2").exists()


def test_templates_errors_still_come_before_the_workbook_s(tmp_path: Path) -> None:
    templates = tmp_path / "modeles"
    templates.mkdir()
    (templates / "communique-de-presse.html").write_text("{{ inconnue_totale }}", encoding="utf-8")
    for jobs in (1, 2):
        with pytest.raises(TemplateError) as err:
            generate_batch(_broken_workbook(tmp_path), tmp_path / f"s{jobs}", templates, jobs=jobs)
        assert "inconnue_totale" in err.value.message


def test_a_read_ahead_process_that_fails_is_replaced_by_reading_here(tmp_path: Path, monkeypatch, caplog) -> None:
    parent = os.getpid()
    real = reading._read_ahead

    def crashing(workbook: Path):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            raise RuntimeError("bug in the read-ahead process")
        return real(workbook)

    monkeypatch.setattr(reading, "_read_ahead", crashing)
    caplog.set_level("INFO", logger="dotation_docs.reading")
    generate_batch(SAMPLE, tmp_path / "lot", jobs=2)
    assert "bug in the read-ahead process" in caplog.text  # read again here, after the failure
    generate_batch(SAMPLE, tmp_path / "seul", jobs=1)
    assert snapshot(tmp_path / "lot") == snapshot(tmp_path / "seul")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_command_killed_while_reading_ahead_leaves_no_process(tmp_path: Path, sig: int) -> None:
    folder = tmp_path / f"lecture-{sig}"
    code = f"""
import signal, sys, time
from dotation_docs import reading
from dotation_docs.cli import main
real = reading.check_workbook
def slow(*args, **kwargs):
    sys.stderr.write("LECTURE\\n"); sys.stderr.flush()
    time.sleep(60)
    return real(*args, **kwargs)
reading.check_workbook = slow
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv = ["dotation", "generer", {str(SAMPLE)!r}, "-o", {str(folder)!r}, "-j", "2"]
main()
"""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line == "LECTURE\n", line
    assert len(_processes_with(str(folder))) == 2  # the command and its read-ahead process
    proc.send_signal(sig)
    _out, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert _none_left(str(folder)) == [], stderr
    if sig != signal.SIGKILL:
        assert "Traceback" not in stderr
    assert not folder.exists() or tool_leftovers(folder) == []
