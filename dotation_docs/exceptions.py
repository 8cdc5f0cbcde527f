"""Exceptions: the errors a user can fix, each printed in French without a traceback.

Every user-facing error subclasses :class:`DotationError`, itself a
:class:`click.ClickException`, so the command line prints ``Erreur : …`` and exits
with status 1. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import IO, Any

import click


class DotationError(click.ClickException):
    """Base class of every error the user can fix."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        # click's own prefix is "Error:" (English); the agent reads French.
        click.echo(f"Erreur : {self.format_message()}", file=file, err=True)


class WorkbookOpenError(DotationError):
    """Raised when the workbook cannot be opened at all: missing file, not an .xlsx,
    an old .xls, a password-protected or corrupt file."""


class InvalidWorkbookError(DotationError):
    """Raised when the workbook opens but its data has errors; the message lists every
    problem found in one pass, grouped by sheet, with its cell."""


class BeneficiaryNotFoundError(DotationError):
    """Raised by ``dotation convention`` when no beneficiary matches the identifier or
    name given; the message suggests the closest names."""


class TemplateError(DotationError):
    """Raised when a template is missing, is not a valid .docx, or uses a variable or
    filter that does not exist; the message names the template."""


class OutputError(DotationError):
    """Raised when the output folder cannot be written; the previous batch is left as
    it was."""
