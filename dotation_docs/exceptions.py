"""Exceptions: the errors a user can fix, each printed in French without a traceback.

Every user-facing error subclasses :class:`DotationError`, itself a
:class:`click.ClickException`, so the command line prints ``Erreur : …`` and exits
with status 1. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
from typing import IO, Any

import click


def label(text: str, colour: str) -> str:
    """``text`` (« Erreur : », « Attention : »…) styled in ``colour`` for a terminal.

    ``click.echo`` drops the styling when the stream it writes to is not a terminal
    (a pipe, a file), so scripts and logs never see escape codes; ``NO_COLOR`` (any
    value, https://no-color.org) and ``TERM=dumb`` turn it off on a terminal too."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return text
    return click.style(text, fg=colour, bold=True)


#: Characters that nobody sees, yet change how a text shows: the bidirectional controls,
#: which reorder the text after them (U+202E shows a name backwards), the zero-width space,
#: the word joiner and the byte order mark (not the zero-width joiners of emoji and of some
#: scripts). The terminal shows their codes; in a workbook's text, they are warned about.
INVISIBLE = (0x061C, 0x200B, 0x200E, 0x200F, *range(0x202A, 0x202F), 0x2060, *range(0x2066, 0x206A), 0xFEFF)

# Characters a terminal does not show as themselves: control characters (but tab and line
# feed), among them the escape that starts colours and cursor moves, and the invisible ones.
_UNPRINTABLE = {code: f"<U+{code:04X}>" for code in (
    *range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *INVISIBLE,
)}


def terminal_text(text: str) -> str:
    """``text`` as the command line prints it: each character a terminal would not show
    as itself (a control character, a bidirectional control, an invisible space) written as
    its code, « <U+202E> »; the workbook's values and file names reach the terminal through this."""
    return text.translate(_UNPRINTABLE)


class DotationError(click.ClickException):
    """Base class of every error the user can fix."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        # click's own prefix is "Error:" (English); the agent reads French.
        click.echo(f"{label('Erreur :', 'red')} {terminal_text(self.format_message())}", file=file, err=True)


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
    """Raised when a template is missing, is not a valid .docx, or uses a variable,
    filter or tag that does not exist or is not allowed; the message names the template.
    The check made before any workbook is read raises one listing every problem."""


class OutputError(DotationError):
    """Raised when the output folder cannot be used or written; the message says what
    state the folder is in (the previous batch is kept, or put back)."""


class OutputBusyError(OutputError):
    """Raised at once when another dotation command holds the lock of the output
    folder; nothing is written."""


class OutputConflictError(OutputError):
    """Raised before anything is written when a run would overwrite or delete a file
    the agent changed after its generation, or a file the tool did not write; the
    option ``--ecraser`` confirms."""


# errno → French sentence, for every OS error a user can meet while reading the workbook,
# the templates or writing the output folder (Python's own strerror is English).
_OS_ERRORS = {
    "EACCES": "accès refusé (droits insuffisants)",
    "EPERM": "opération non permise (droits insuffisants)",
    "ENOENT": "fichier ou dossier introuvable",
    "EEXIST": "un fichier ou dossier de ce nom existe déjà",
    "ENOTDIR": "un élément du chemin est un fichier, pas un dossier",
    "EISDIR": "c'est un dossier, pas un fichier",
    "ENOSPC": "plus d'espace libre sur le disque",
    "EDQUOT": "quota de disque dépassé",
    "EROFS": "le disque est en lecture seule",
    "ENOTEMPTY": "le dossier n'est pas vide",
    "ENAMETOOLONG": "nom de fichier trop long",
    "EMFILE": "trop de fichiers ouverts",
    "ENFILE": "trop de fichiers ouverts sur le système",
    "EBUSY": "fichier ou dossier occupé par un autre programme",
    "ETXTBSY": "fichier occupé par un autre programme",
    "EIO": "erreur d'entrée-sortie du disque",
    "EXDEV": "déplacement impossible d'un disque à un autre",
    "ELOOP": "trop de liens symboliques dans le chemin",
    "EFBIG": "fichier trop volumineux",
    "EINVAL": "nom ou opération invalide",
}


def describe_os_error(err: OSError) -> str:
    """Return a French sentence (no final period) for ``err``: its errno's meaning, never
    Python's English ``strerror``. Raises nothing."""
    name = errno.errorcode.get(err.errno or -1, "")
    return _OS_ERRORS.get(name, f"erreur du système ({name or 'inconnue'})")


class OutputExistsError(OutputError):
    """Raised by ``dotation nouveau`` when the file to create already exists and
    ``--force`` was not given; the existing file is left as it was."""
