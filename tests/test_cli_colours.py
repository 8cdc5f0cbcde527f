"""Coloured labels: on a terminal only, never in a pipe, and off with NO_COLOR."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RED_ERROR = "\x1b[31m\x1b[1mErreur :\x1b[0m"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(PYTHONPATH=str(ROOT), LC_ALL="C.UTF-8", **extra)
    return env


def _run_on_terminal(args: list[str], env: dict[str, str], status: int = 1) -> str:
    """Run ``dotation args`` with stdout and stderr on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dotation_docs", *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=env, cwd=ROOT)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == status
    return b"".join(chunks).decode()


# (arguments, exit status): an error of the tool exits 1, a usage error 2 (click's rule)
CASES = [(["generer", "/nexiste/pas.xlsx"], 1), (["generer", "--inconnue"], 2)]
IDS = ["erreur-de-l-outil", "erreur-d-utilisation"]


@pytest.mark.parametrize(("args", "status"), CASES, ids=IDS)
def test_error_label_is_red_on_a_terminal(args: list[str], status: int) -> None:
    printed = _run_on_terminal(args, _env(), status)
    assert RED_ERROR in printed


@pytest.mark.parametrize(("args", "status"), CASES, ids=IDS)
def test_no_colour_in_a_pipe(args: list[str], status: int) -> None:
    done = subprocess.run([sys.executable, "-m", "dotation_docs", *args], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=60)
    assert done.returncode == status
    assert "Erreur :" in done.stderr
    assert "\x1b" not in done.stderr + done.stdout


def test_no_colour_on_a_terminal_with_no_color() -> None:
    printed = _run_on_terminal(["generer", "/nexiste/pas.xlsx"], _env(NO_COLOR="1"))
    assert "Erreur :" in printed
    assert "\x1b" not in printed


def test_no_colour_on_a_dumb_terminal() -> None:
    printed = _run_on_terminal(["generer", "/nexiste/pas.xlsx"], _env(TERM="dumb"))
    assert "Erreur :" in printed
    assert "\x1b" not in printed
