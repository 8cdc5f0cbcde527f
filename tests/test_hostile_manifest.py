"""A hostile manifeste.json or journal never hangs, fills the memory or crashes a command:
it is an unreadable manifest (its neighbours are not the tool's) or a damaged journal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE

from dotation_docs.manifest import read_manifest
from dotation_docs.pipeline import generate_batch


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lot") / "lot"
    generate_batch(SAMPLE, folder)
    return folder


def _copy(generated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "lot"))


def _dotation(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "dotation_docs", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _deep(path: Path) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")


HOSTILE = {"tube-nomme": _fifo, "lien-vers-dev-zero": _dev_zero, "json-trop-profond": _deep}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_manifest_is_unreadable_not_a_hang(make, generated: Path, tmp_path: Path) -> None:
    out = _copy(generated, tmp_path)
    make(out / "manifeste.json")
    assert read_manifest(out) is None
    status = _dotation("etat", str(SAMPLE), "-o", str(out))  # a hang would hit the timeout
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr
    # generer: a French answer, never a hang or a traceback (files byte-identical to what it
    # would write are not conflicts; a manifest that is not a regular file is one)
    generated_again = _dotation("generer", str(SAMPLE), "-o", str(out), "-j", "1")
    assert "Traceback" not in generated_again.stderr
    assert generated_again.returncode == 0 or generated_again.stderr.startswith("Erreur : ")


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_journal_is_a_damaged_journal(make, generated: Path, tmp_path: Path) -> None:
    out = _copy(generated, tmp_path)
    journal = out / ".dotation-journal.json"
    journal.write_text("{}", encoding="utf-8")
    make(journal)
    result = _dotation("generer", str(SAMPLE), "-o", str(out), "-j", "1")
    assert result.returncode == 1
    assert "journal" in result.stderr and "Traceback" not in result.stderr


def test_a_command_writing_now_is_not_an_interrupted_run(generated: Path, tmp_path: Path) -> None:
    """verifier -o and etat, while another command holds the lock, say it is running."""
    from dotation_docs import outputdir

    out = _copy(generated, tmp_path)
    with outputdir.locked(out):
        (out / ".dotation-staging-essai").mkdir()  # what the running command has made so far
        seen = outputdir.inspect(out)
        assert seen.running
        assert seen.describe().startswith(f"une commande dotation est en train d'écrire dans « {out} »")
    after = outputdir.inspect(out)
    assert not after.running
    assert after.describe().startswith("un lancement interrompu a laissé des fichiers temporaires")
