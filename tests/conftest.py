"""Shared fixtures: the sample workbook, and broken copies of it built in code."""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import io

import docx
import openpyxl
import pytest
from click.testing import CliRunner
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from dotation_docs.pipeline import check_workbook
from dotation_docs.report import Report

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
TEMPLATES = ROOT / "templates"

Mutation = Callable[[openpyxl.Workbook], None]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A private copy of the sample workbook."""
    target = tmp_path / "classeur.xlsx"
    shutil.copy(SAMPLE, target)
    return target


@pytest.fixture
def make_workbook(tmp_path: Path) -> Callable[[Mutation], Path]:
    """Return a function that saves a changed copy of the sample workbook."""
    counter = iter(range(1000))

    def make(mutate: Mutation) -> Path:
        wb = openpyxl.load_workbook(SAMPLE)
        mutate(wb)
        path = tmp_path / f"classeur-{next(counter)}.xlsx"
        wb.save(path)
        return path

    return make


def operation_row(wb: openpyxl.Workbook, label: str) -> int:
    """Return the row of ``label`` in the Opération sheet."""
    for row in wb["Opération"].iter_rows(min_col=1, max_col=1):
        if row[0].value == label:
            return row[0].row
    raise KeyError(label)


def set_operation(wb: openpyxl.Workbook, label: str, value: object) -> None:
    """Set the value of ``label`` in the Opération sheet."""
    wb["Opération"].cell(operation_row(wb, label), 2).value = value


def gift_categories(wb: openpyxl.Workbook, value: str | None) -> None:
    """Set the gift category of every association of the Bénéficiaires sheet."""
    ws = wb["Bénéficiaires"]
    header = [c.value for c in ws[1]]
    column, kind = header.index("Catégorie du bénéficiaire du don") + 1, header.index("Type") + 1
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, kind).value == "association":
            ws.cell(row, column).value = value


def messages(report: Report) -> list[str]:
    """Return every issue as printed (``Sheet!Cell : message``)."""
    return [str(i) for i in report.issues]


def errors_of(path: Path) -> list[str]:
    """Return the errors of the workbook at ``path``, as printed."""
    return [str(i) for i in check_workbook(path).report.errors]


def warnings_of(path: Path) -> list[str]:
    """Return the warnings of the workbook at ``path``, as printed."""
    return [str(i) for i in check_workbook(path).report.warnings]


def docx_text(source: Path | bytes) -> str:
    """All the text of a .docx (file or bytes): body, tables, headers and footers, one
    paragraph a line."""
    document = docx.Document(io.BytesIO(source) if isinstance(source, bytes) else str(source))
    parts = [document.element.body]
    for section in document.sections:
        parts += [section.header._element, section.footer._element]
    return "\n".join(Paragraph(p, document).text for part in parts for p in part.iter(qn("w:p")))


FAKE_SOFFICE = ROOT / "tests" / "helpers" / "fake_soffice.py"


def fake_soffice_program(folder: Path) -> Path:
    """The fake soffice as an executable program in ``folder`` (the repository's file is
    not executable, and must run with this Python)."""
    program = folder / "faux-soffice"
    program.write_text(f"#!{sys.executable}\n" + FAKE_SOFFICE.read_text(encoding="utf-8"), encoding="utf-8")
    program.chmod(0o755)
    return program


@pytest.fixture
def fake_soffice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DOTATION_SOFFICE to the fake soffice; return the file that logs its calls."""
    log = tmp_path / "appels-soffice.log"
    monkeypatch.setenv("DOTATION_SOFFICE", str(fake_soffice_program(tmp_path)))
    monkeypatch.setenv("FAKE_SOFFICE_LOG", str(log))
    monkeypatch.delenv("FAKE_SOFFICE_FAIL", raising=False)
    return log


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as an interactive shell gives it, even when pytest was started with SIGINT
    ignored (a background job of a shell without job control, nohup): the tests that stop
    the tool with SIGINT, in this process or in the commands it starts (which inherit an
    ignored SIGINT and rightly keep ignoring it), test what the agent's Ctrl-C does."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true",
        help="rewrite tests/golden/ from the documents generated for the sample workbook",
    )


@pytest.fixture
def runner() -> CliRunner:
    """A click runner."""
    return CliRunner()


def exited_cleanly(result) -> bool:
    """True when a CliRunner result ended by ``sys.exit`` (a user error prints « Erreur : … »
    and exits 1) rather than by an exception, which would be a traceback for the agent.
    CliRunner never prints a traceback: look at ``result.exception`` instead."""
    return result.exception is None or isinstance(result.exception, SystemExit)
