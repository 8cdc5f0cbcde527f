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


def test_a_linked_tool_folder_is_named_once(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    generate_batch(SAMPLE, folder, jobs=1)
    shutil.move(folder / "proces-verbaux", tmp_path / "ailleurs")
    (folder / "proces-verbaux").symlink_to(tmp_path / "ailleurs", target_is_directory=True)
    message = refusal(folder)
    assert f"« proces-verbaux » est un lien symbolique (vers « {tmp_path / 'ailleurs'} »), pas un vrai dossier : " \
           "10 documents du lot y vont (« proces-verbaux/B01-proces-verbal-beaubreuil-numerique-solidaire.docx », " \
           in message
    assert "» et 7 autres)" in message
    assert message.count("lien symbolique") == 2  # the folder, and the sentence that says why
    assert "remplacez ce dossier de l'outil par un vrai dossier du même nom (vous pouvez y copier les fichiers " \
           "vers lesquels mène le lien), puis relancez" in message


def test_a_linked_document_is_not_told_to_become_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "sortie"
    generate_batch(SAMPLE, folder, jobs=1)
    document = next((folder / "proces-verbaux").glob("B02-*.docx"))
    shutil.move(document, tmp_path / "copie.docx")
    document.symlink_to(tmp_path / "copie.docx")
    message = refusal(folder)
    assert "est un lien symbolique" in message
    assert "remplacez par un vrai dossier" not in message and "doit être un vrai dossier" not in message
    assert "déplacez ou renommez ce qui occupe ce chemin (l'outil refera les documents), puis relancez" in message


def test_a_refusal_names_ten_paths_and_counts_the_others() -> None:
    from dotation_docs.writers import describe_problems

    found = [(f"proces-verbaux/B{i:02d}.docx", "link", f"proces-verbaux/B{i:02d}.docx") for i in range(1, 13)]
    found += [("conventions/B01.docx", "link", "conventions"), ("conventions/B02.docx", "link", "conventions")]
    items = describe_problems(found)
    assert items[0] == ("« conventions » est un lien symbolique, pas un vrai dossier : 2 documents du lot y vont "
                        "(« conventions/B01.docx », « conventions/B02.docx »)")
    shown = ", ".join(f"« proces-verbaux/B{i:02d}.docx »" for i in range(1, 11))
    assert items[1:] == [f"12 documents sont des liens symboliques : {shown} et 2 autres"]
    # a folder that is a file, and documents that are folders or special files: ten named
    found = [("conventions/B01.docx", "blocked", "conventions"), ("conventions/B02.docx", "blocked", "conventions")]
    found += [(f"proces-verbaux/B{i:02d}.docx", "other", "un dossier") for i in range(1, 13)]
    items = describe_problems(found)
    assert items[0].startswith("« conventions » n'est pas un dossier : 2 documents du lot y vont (")
    assert items[1] == "« proces-verbaux/B01.docx » est un dossier, pas un document"
    assert len(items) == 12 and items[-1] == "et 2 autres chemins"
