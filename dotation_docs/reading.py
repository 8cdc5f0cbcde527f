"""Reading and validating the workbook (:func:`check_workbook`), and doing it in another
process while the command goes on (:func:`read_ahead`).

The command line starts that process as soon as its options are parsed, before it imports
the rest of the tool (python-docx, Jinja, Babel: about half a second): the workbook is
then read and validated while this process imports, checks and compiles the templates.
This module is light on purpose; what reading needs is imported on first use.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dotation_docs.timings import TIMINGS
from dotation_docs.workers import Background, can_fork

if TYPE_CHECKING:
    from dotation_docs.funding import Funding
    from dotation_docs.model import Dotation
    from dotation_docs.report import Report
    from dotation_docs.templateset import TemplateCheck

log = logging.getLogger(__name__)


@dataclass
class Checked:
    """Result of reading and validating a workbook (and, when asked, the templates):
    ``ok`` is the verdict of ``dotation verifier``."""

    path: Path
    report: Report
    dotation: Dotation | None
    funding: Funding | None
    strict: bool = False
    templates: TemplateCheck | None = None

    @property
    def ok(self) -> bool:
        """True when the workbook has no error (no warning either, when ``strict``) and
        the templates checked have no problem."""
        templates_ok = self.templates is None or self.templates.ok
        return self.dotation is not None and not self.report.has_errors(self.strict) and templates_ok

    def verdict(self) -> str:
        """Return the French last line of ``dotation verifier``."""
        from dotation_docs.formatting import pluralize

        if self.ok:
            return f"Classeur valide ({self.report.counts()})."
        parts = []
        if self.dotation is None or self.report.has_errors(self.strict):
            # with --strict, warnings alone refuse the workbook: say so
            strict = ""
            if self.strict and not self.report.errors:
                strict = pluralize(len(self.report.warnings), " (compté comme une erreur avec --strict)",
                                   " (comptés comme des erreurs avec --strict)")
            parts.append(f"{self.report.counts()}{strict} : corrigez le classeur")
        if self.templates is not None and not self.templates.ok:
            n = len(self.templates.problems)
            parts.append(f"{n} {pluralize(n, 'problème', 'problèmes')} dans les modèles : corrigez-les")
        return " ; ".join(parts) + " puis relancez."


def read_workbook(path: Path) -> Any:
    """:func:`dotation_docs.workbook.read_workbook` (openpyxl is imported on first use)."""
    from dotation_docs.workbook import read_workbook as read

    return read(path)


def validate(raw: Any) -> Any:
    """:func:`dotation_docs.validation.validate` (the identifier validators are imported
    on first use)."""
    from dotation_docs.validation import validate as check

    return check(raw)


def check_workbook(path: Path, strict: bool = False) -> Checked:
    """Return the validation report of the workbook at ``path`` and, when it has no
    error, its model and financing. Raises WorkbookOpenError for an unreadable file."""
    from dotation_docs.funding import batch_funding

    with TIMINGS.step("lecture"):
        raw = read_workbook(path)
    with TIMINGS.step("validation"):
        dotation, report = validate(raw)
    return Checked(path, report, dotation, batch_funding(dotation) if dotation else None, strict)


def _read_ahead(workbook: Path) -> tuple[Checked, dict[str, dict[str, float]]]:
    """In the read-ahead process: the workbook's check, and how long its steps took. The
    process ends once it has sent them: the garbage collector would only walk the model
    being built (a tenth of the reading time for a national workbook)."""
    gc.disable()
    return check_workbook(workbook), TIMINGS.steps


@contextlib.contextmanager
def read_ahead(workbook: Path, jobs: int) -> Iterator[Background | None]:
    """Start reading and validating ``workbook`` in a forked process when more than one
    process is allowed (``jobs``) and this system can fork; yield it (None otherwise) for
    :func:`read_behind`. The process is killed when the block ends, however it ends."""
    if jobs <= 1 or not can_fork():
        yield None
        return
    with Background(_read_ahead, workbook) as ahead:
        yield ahead


def read_behind(ahead: Background | None, workbook: Path) -> Checked:
    """The workbook's check from the read-ahead process ``ahead``, or read here when there
    is none or it failed otherwise than on the workbook (it is then read again, and a bug
    shows here). Raises WorkbookOpenError like :func:`check_workbook`."""
    if ahead is not None:
        with _collector_off():  # the model comes back as one pickle of many small objects
            done, result = ahead.result()
        if done:
            checked, steps = result
            TIMINGS.steps.update(steps)
            return checked
        log.info("Lecture du classeur reprise dans ce processus : %s", result)
    return check_workbook(workbook)


@contextlib.contextmanager
def _collector_off() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
