"""Audit of issue #10 (national scale): what the output contract says when the tool's own
folders are in the way.

A tool folder (``proces-verbaux``) replaced by a symbolic link: the refusal lists every
document of that folder, each with « passe par « proces-verbaux », qui est un lien
symbolique » — 200 times (28 KB on one line) for a 200-beneficiary workbook, some 1,000
times for the national batch; other long lists (unsigned records) stop at ten names and
say how many more. And the advice of that message, « remplacez par un vrai dossier ce qui
occupe ces chemins », is also given for a document replaced by a link, where a folder is
precisely what must not be put.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLE

from dotation_docs.cli import cli
from dotation_docs.pipeline import generate_batch


def refusal(folder: Path) -> str:
    result = CliRunner().invoke(cli, ["generer", str(SAMPLE), "-o", str(folder), "-j", "1"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr


@pytest.mark.xfail(strict=True, reason="a symbolic link in place of a tool folder is named once per document "
                                       "of that folder (200 times for 200 beneficiaries), not once")
def test_a_linked_tool_folder_is_named_once(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    generate_batch(SAMPLE, folder, jobs=1)
    shutil.move(folder / "proces-verbaux", tmp_path / "ailleurs")
    (folder / "proces-verbaux").symlink_to(tmp_path / "ailleurs", target_is_directory=True)
    message = refusal(folder)
    assert "« proces-verbaux », qui est un lien symbolique" in message
    assert message.count("qui est un lien symbolique") == 1


@pytest.mark.xfail(strict=True, reason="the advice for a document replaced by a symbolic link says to put a "
                                       "real folder in its place")
def test_a_linked_document_is_not_told_to_become_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    generate_batch(SAMPLE, folder, jobs=1)
    document = next((folder / "proces-verbaux").glob("B02-*.docx"))
    shutil.move(document, tmp_path / "copie.docx")
    document.symlink_to(tmp_path / "copie.docx")
    message = refusal(folder)
    assert "est un lien symbolique" in message
    assert "remplacez par un vrai dossier" not in message
