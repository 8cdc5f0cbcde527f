"""How long each step of a run took, for ``benchmarks/batch.py``: wall and CPU time,
written as JSON to the file named by the environment variable ``DOTATION_MESURES``
(nothing is measured nor written otherwise). Light on purpose: the command imports it
before anything else (see :mod:`dotation_docs.reading`)."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

TIMING_VARIABLE = "DOTATION_MESURES"


class Timings:
    """Wall and CPU time of each step of a run. CPU time includes the worker processes."""

    def __init__(self) -> None:
        self.target = os.environ.get(TIMING_VARIABLE)
        self.steps: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        if not self.target:
            yield
            return
        wall, cpu = time.perf_counter(), _cpu()
        try:
            yield
        finally:
            self.steps[name] = {"wall": time.perf_counter() - wall, "cpu": _cpu() - cpu}

    def save(self) -> None:
        if self.target:
            Path(self.target).write_text(json.dumps(self.steps, indent=1), encoding="utf-8")


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


TIMINGS = Timings()
