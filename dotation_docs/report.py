"""Validation report: the problems found in a workbook, each with its place, in French."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

_CELL = re.compile(r"([A-Z]+)([0-9]+)")


class Severity(enum.Enum):
    """An error stops generation; a warning does not (unless ``--strict``)."""

    ERROR = "erreur"
    WARNING = "avertissement"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where it is (sheet and cell, either may be empty for a problem of
    the whole file) and a French sentence saying what was found and what is expected."""

    severity: Severity
    message: str
    sheet: str | None = None
    cell: str | None = None

    @property
    def location(self) -> str:
        """``Matériel!F12``, ``Matériel`` or ``""``."""
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""

    def __str__(self) -> str:
        return f"{self.location} : {self.message}" if self.location else self.message


@dataclass(slots=True)
class Report:
    """Every issue found in one pass over a workbook."""

    issues: list[Issue] = field(default_factory=list)

    def error(self, message: str, sheet: str | None = None, cell: str | None = None) -> None:
        """Record an error."""
        self.issues.append(Issue(Severity.ERROR, message, sheet, cell))

    def warning(self, message: str, sheet: str | None = None, cell: str | None = None) -> None:
        """Record a warning."""
        self.issues.append(Issue(Severity.WARNING, message, sheet, cell))

    def sort(self, sheet_order: list[str]) -> None:
        """Order the issues as the agent reads the workbook: file-level first, then sheet
        by sheet in ``sheet_order``, and within a sheet by row, then column."""

        def key(issue: Issue) -> tuple[int, int, int, str]:
            if not issue.sheet:
                rank = 0
            elif issue.sheet in sheet_order:
                rank = sheet_order.index(issue.sheet) + 1
            else:
                rank = len(sheet_order) + 1
            match = _CELL.fullmatch(issue.cell or "")
            if not match:
                return rank, 0, 0, ""
            return rank, int(match.group(2)), len(match.group(1)), match.group(1)

        self.issues.sort(key=key)

    @property
    def errors(self) -> list[Issue]:
        """The errors, in the order found."""
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        """The warnings, in the order found."""
        return [i for i in self.issues if i.severity is Severity.WARNING]

    def has_errors(self, strict: bool = False) -> bool:
        """True when there is an error, or any issue at all when ``strict``."""
        return bool(self.errors or (strict and self.warnings))

    def format(self) -> str:
        """Return every issue grouped by sheet, errors first within each sheet, as the
        command line prints them; empty when there is none."""
        groups: dict[str, list[Issue]] = {}
        for issue in self.issues:
            groups.setdefault(issue.sheet or "", []).append(issue)
        blocks = []
        for sheet, issues in groups.items():
            title = f"Feuille « {sheet} »" if sheet else "Classeur"
            lines = [title]
            for issue in sorted(issues, key=lambda i: i.severity is not Severity.ERROR):
                label = "Erreur" if issue.severity is Severity.ERROR else "Avertissement"
                lines.append(f"  {label} – {issue}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def counts(self) -> str:
        """Return « 2 erreurs, 1 avertissement »."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        err = f"{n_err} erreur{'s' if n_err > 1 else ''}"
        warn = f"{n_warn} avertissement{'s' if n_warn > 1 else ''}"
        return f"{err}, {warn}"
