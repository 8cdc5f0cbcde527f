"""The agent runs ``dotation verifier``: French output, exit codes, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, SAMPLE, exited_cleanly, set_operation

from dotation_docs import __version__
from dotation_docs.cli import cli


def test_verify_the_sample_prints_the_summary(runner) -> None:
    result = runner.invoke(cli, ["verifier", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Classeur : {SAMPLE}\n"
        "\n"
        "Résumé\n"
        "  Bénéficiaires : 10 (9 associations, 1 service de la collectivité)\n"
        "  Matériels : 121 (57 ordinateurs portables, 5 ordinateurs fixes, 39 tablettes, 20 smartphones)\n"
        "  Factures : 4\n"
        "  Total HT : 36\u202f151,25\xa0€\n"
        "  TVA : 7\u202f230,25\xa0€\n"
        "  Total TTC : 43\u202f381,50\xa0€\n"
        "  Part de l'État (80\xa0% du HT) : 28\u202f921,00\xa0€\n"
        "  Part de la collectivité : 14\u202f460,50\xa0€\n"
        "  Montant de la subvention attribuée : 28\u202f921,00\xa0€\n"
        "  Montant à demander à l'État : 28\u202f921,00\xa0€\n"
        "\n"
        "Classeur valide (0 erreur, 0 avertissement).\n"
    )


def test_verify_a_broken_workbook_lists_errors_by_sheet_and_exits_1(runner, make_workbook) -> None:
    def mutate(wb):
        wb["Matériel"]["B7"] = "imprimante"
        wb["Factures"]["D3"] = "hier"

    path = make_workbook(mutate)
    result = runner.invoke(cli, ["verifier", str(path)])
    assert result.exit_code == 1
    assert exited_cleanly(result), result.exception
    assert (
        "Feuille « Matériel »\n"
        "  Erreur – Matériel!B7 : Catégorie : « imprimante » n'est pas valide ; attendu : une valeur "
        "de la liste : « ordinateur portable », « ordinateur fixe », « tablette », « smartphone ».\n"
        "\n"
        "Feuille « Factures »\n"
        "  Erreur – Factures!D3 : Date : « hier » n'est pas valide ; attendu : une date (ex. 03/02/2023).\n"
    ) in result.output
    assert result.output.endswith("Erreur : 2 erreurs, 0 avertissement : corrigez le classeur puis relancez.\n")
    assert "Résumé" not in result.output  # no figures from a workbook with errors


def test_strict_turns_warnings_into_errors(runner, make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Matériel"].__setitem__("M1", "Commentaire"))
    assert runner.invoke(cli, ["verifier", str(path)]).exit_code == 0
    strict = runner.invoke(cli, ["verifier", "--strict", str(path)])
    assert strict.exit_code == 1
    assert "Avertissement – Matériel!M1 : colonne « Commentaire » inconnue : elle est ignorée." in strict.output
    assert strict.output.endswith("Erreur : 0 erreur, 1 avertissement (compté comme une erreur avec --strict) : "
                                  "corrigez le classeur puis relancez.\n")


def test_missing_file_is_one_sentence_without_traceback(runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["verifier", str(tmp_path / "absent.xlsx")])
    assert result.exit_code == 1
    assert result.output == f"Erreur : Le fichier « {tmp_path / 'absent.xlsx'} » est introuvable. Vérifiez le chemin.\n"


def test_formula_values_never_computed(runner, make_workbook) -> None:
    path = make_workbook(lambda wb: set_operation(wb, "Acomptes reçus", "=0*1"))
    result = runner.invoke(cli, ["verifier", str(path)])
    assert result.exit_code == 1
    assert "la formule « =0*1 » n'a pas de valeur calculée" in result.output


def test_version_and_french_help(runner) -> None:
    assert runner.invoke(cli, ["--version"]).output == f"dotation {__version__}\n"
    help_text = runner.invoke(cli, ["--help"]).output
    assert help_text.startswith("Utilisation : dotation [OPTIONS] COMMANDE [ARGUMENTS]...")
    for command in ("verifier", "generer", "convention", "demande"):
        assert command in help_text
    assert "Affiche cette aide et quitte." in help_text


def test_usage_errors_are_in_french(runner) -> None:
    result = runner.invoke(cli, ["verifier"])
    assert result.exit_code == 2
    assert "Erreur : Argument manquant 'CLASSEUR'." in result.output
    unknown = runner.invoke(cli, ["verfier"])
    assert "Commande inconnue : 'verfier'." in unknown.output


def test_the_summary_says_when_the_cap_lowered_the_state_share(runner) -> None:
    """The rural sample: 80 % of the TTC would be 6 564,48 €, the amount granted is 6 500 €."""
    result = runner.invoke(cli, ["verifier", str(SAMPLE.parent / "exemple-zrr.xlsx")])
    assert result.exit_code == 0, result.output
    assert ("  Part de l'État (plafonnée au montant attribué ; 80\xa0% du TTC donneraient 6\u202f564,48\xa0€) : "
            "6\u202f500,00\xa0€\n") in result.output
    assert "  Acomptes reçus : 1\u202f950,00\xa0€\n  Montant à demander à l'État : 4\u202f550,00\xa0€\n" in result.output


def test_the_summary_claims_nothing_yet_while_an_invoice_is_unpaid(runner, make_workbook) -> None:
    path = make_workbook(lambda wb: wb["Factures"].cell(2, 10).__setattr__("value", None))
    result = runner.invoke(cli, ["verifier", str(path)])
    assert "  Montant à demander à l'État (une fois toutes les factures payées) : 28\u202f921,00\xa0€" in result.output


# --- The end of the command: its messages cannot always be written ------------------------------


def _dotation(args: list[str], stdout: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dotation_docs", *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=120)


def test_a_command_started_with_its_output_closed_still_succeeds(tmp_path: Path) -> None:
    code = ("import os, subprocess, sys; os.close(1); "
            f"sys.exit(subprocess.call([sys.executable, '-m', 'dotation_docs', 'generer', {str(SAMPLE)!r}, "
            f"'-o', {str(tmp_path / 'lot')!r}], stdout=None))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "lot" / "manifeste.json").is_file()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full: Linux")
def test_messages_that_cannot_be_written_give_a_french_error() -> None:
    with open("/dev/full", "w") as full:
        done = _dotation(["--version"], full)
    assert done.returncode == 1
    assert done.stderr == "Erreur : les messages de la commande ne peuvent pas être écrits : " \
                          "plus d'espace libre sur le disque.\n"


def test_only_an_error_writing_the_messages_is_said_to_be_one() -> None:
    import errno

    import click

    from dotation_docs.cli import _writing_messages

    class Full:
        def write(self, _text: str) -> None:
            raise OSError(errno.ENOSPC, "full")

        def flush(self) -> None:
            pass

    def work() -> None:
        raise OSError(errno.ENOSPC, "full")

    for make, expected in ((lambda: click.echo("x", file=Full()), True), (work, False)):
        with pytest.raises(OSError) as err:
            make()
        assert _writing_messages(err.value) is expected


def test_values_that_would_reorder_or_drive_the_terminal_are_shown_escaped(runner, make_workbook, tmp_path) -> None:
    """A name holding a bidirectional override (U+202E shows what follows backwards) or a
    workbook file name holding an escape sequence reaches the terminal as « <U+202E> »."""
    workbook = make_workbook(lambda wb: wb["Bénéficiaires"].__setitem__("B3", "Sport \u202eNord\u202c & Loisirs"))
    hostile = workbook.with_name("classeur\x1b[2J.xlsx")
    workbook.rename(hostile)
    output = tmp_path / "lot"
    checked = runner.invoke(cli, ["verifier", str(hostile)])
    assert f"Classeur : {tmp_path}/classeur<U+001B>[2J.xlsx" in checked.output
    generated = runner.invoke(cli, ["generer", str(hostile), "-o", str(output), "-j", "1"])
    assert generated.exit_code == 0, generated.output
    shown = runner.invoke(cli, ["etat", str(hostile), "-o", str(output)])
    assert shown.exit_code == 0, shown.output
    assert "Sport <U+202E>Nord<U+202C> & Loisirs" in shown.output
    wrong = runner.invoke(cli, ["convention", str(hostile), "Zzz\u202eQ", "-o", str(output)])
    assert wrong.exit_code == 1 and "« Zzz<U+202E>Q »" in wrong.output
    for result in (checked, generated, shown, wrong):
        assert not any(c in result.output for c in "\x1b\u202e\u202c"), result.output
    # the documents keep the name as it is written in the workbook
    assert "Sport \u202eNord\u202c &amp; Loisirs" in (output / "index.html").read_text(encoding="utf-8")


def test_usage_errors_show_the_arguments_escaped(runner) -> None:
    """click's own messages (an extra argument: a second workbook matched by « *.xlsx ») and
    the project's (« -j ») write what the agent typed as terminal_text does."""
    extra = runner.invoke(cli, ["generer", str(SAMPLE), "lot\x1b[2J\u202eX.xlsx"])
    assert extra.exit_code == 2
    assert "Argument en trop (lot<U+001B>[2J<U+202E>X.xlsx)" in extra.output
    jobs = runner.invoke(cli, ["generer", str(SAMPLE), "-j", "\x1b[31m2"])
    assert jobs.exit_code == 2 and "« <U+001B>[31m2 » n'est pas un nombre de processus" in jobs.output
    for result in (extra, jobs):
        assert "\x1b" not in result.output and "\u202e" not in result.output


def test_counts_of_a_national_batch_have_their_thousands_separated(tmp_path) -> None:
    from dotation_docs.summary import describe_written
    from dotation_docs.writers import OutputFile

    files = [OutputFile(f"conventions/B{i:04d}.docx", b"", "convention", f"B{i:04d}") for i in range(1910)]
    assert describe_written(tmp_path, files).startswith(f"1\u202f910 fichiers écrits dans « {tmp_path} » : ")
