"""Test helper: run the ``dotation`` command line with the output folder's file writes and
renames slowed down and announced on stderr (``STAGE n`` before the n-th staged file,
``RENAME n`` before the n-th rename), so that a test can kill it at a chosen instant.

Usage: python tests/helpers/slow_swap.py generer CLASSEUR -o SORTIE ...
The delay (seconds) comes from DOTATION_TEST_DELAY (default 0.05).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import types

from dotation_docs import outputdir
from dotation_docs.cli import main

DELAY = float(os.environ.get("DOTATION_TEST_DELAY", "0.05"))
_counts = {"STAGE": 0, "RENAME": 0}


def _announce(kind: str) -> None:
    _counts[kind] += 1
    sys.stderr.write(f"{kind} {_counts[kind]}\n")
    sys.stderr.flush()
    time.sleep(DELAY)


def _slow_replace(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
    _announce("RENAME")
    return os.replace(src, dst, *args, **kwargs)


_real_write_file = outputdir._write_file
_real_write_new = outputdir._write_new


def _slow_write_file(path, data):  # type: ignore[no-untyped-def]
    _announce("STAGE")
    return _real_write_file(path, data)


def _slow_write_new(path, data):  # type: ignore[no-untyped-def]
    _announce("STAGE")
    return _real_write_new(path, data)


# Only the output-folder module sees the slow functions.
_os = types.ModuleType("os")
_os.__dict__.update(os.__dict__)
_os.replace = _slow_replace  # type: ignore[attr-defined]
outputdir.os = _os  # type: ignore[attr-defined]
outputdir._write_file = _slow_write_file  # type: ignore[assignment]
outputdir._write_new = _slow_write_new  # type: ignore[assignment]

# A background job starts with SIGINT ignored; the test sends it on purpose.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv[0] = "dotation"
main()
