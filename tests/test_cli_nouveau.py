"""The `nouveau` command: a blank workbook from the command line, never over an existing file."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from dotation_docs.cli import cli


def test_nouveau_writes_a_blank_workbook_and_says_what_to_do_next(runner, tmp_path: Path) -> None:
    target = tmp_path / "operation-2025.xlsx"
    result = runner.invoke(cli, ["nouveau", str(target)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Classeur vierge créé : {target}\n"
        f"Remplissez-le, puis vérifiez-le : dotation verifier {target}\n"
    )
    sheets = openpyxl.load_workbook(target).sheetnames
    assert sheets[:4] == ["Opération", "Bénéficiaires", "Matériel", "Factures"] and "Aide" in sheets


def test_nouveau_never_replaces_a_file_without_force(runner, tmp_path: Path) -> None:
    target = tmp_path / "classeur.xlsx"
    target.write_bytes(b"precious")
    result = runner.invoke(cli, ["nouveau", str(target)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Erreur : « {target} » existe déjà")
    assert "Usage" not in result.output and "Utilisation" not in result.output
    assert target.read_bytes() == b"precious"
    forced = runner.invoke(cli, ["nouveau", str(target), "--force"])
    assert forced.exit_code == 0 and target.read_bytes()[:2] == b"PK"
