"""Plausibility of the data (hostile findings F6, F7, F8): characters no document can
hold, dates in the wrong order, VAT rates that are not French rates."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from cells import at, put
from conftest import ROOT, SAMPLE, docx_text, set_operation, warnings_of

from dotation_docs import validation
from dotation_docs.parsing import clean_text
from dotation_docs.pipeline import check_workbook
from dotation_docs.workbook import decode_excel_escapes, remove_invalid_characters

# --- F6: characters XML cannot hold --------------------------------------------------------


def test_surrogate_pair_escapes_decode_to_one_character() -> None:
    assert decode_excel_escapes("ok _xD83D__xDE00_ !") == "ok \U0001F600 !"
    assert decode_excel_escapes("_xD800_") == "\ud800"  # lone: removed by the reader


@pytest.mark.parametrize("char", ["\ud800", "\udfff", "\x00", "\x01", "\x0c", "\x1f", "\ufffe", "\uffff"])
def test_characters_xml_cannot_hold_are_removed(char: str) -> None:
    assert remove_invalid_characters(f"5 rue {char}sur") == ("5 rue sur", [f"U+{ord(char):04X}"])
    assert clean_text(f"5 rue {char}sur") == "5 rue sur"


def test_line_breaks_and_tabs_are_kept_for_the_cleaner() -> None:
    assert remove_invalid_characters("a\tb\nc\rd\x0be \U0001F600") == ("a\tb\nc\rd\x0be \U0001F600", [])


def _convention(workbook: Path, out: Path) -> docx.Document:
    result = subprocess.run(
        [sys.executable, "-m", "dotation_docs", "convention", str(workbook), "B01", "-o", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [path] = (out / "conventions").glob("B01-*.docx")
    return path


def test_lone_surrogate_is_removed_with_a_warning_and_the_convention_is_complete(
    make_workbook, tmp_path: Path
) -> None:
    def mutate(wb) -> None:
        put(wb, "Bénéficiaires", "Nom", 2, "B <w:p> & C")
        put(wb, "Bénéficiaires", "Adresse", 2, "5 rue _xD800_sur")
        put(wb, "Bénéficiaires", "Adresse", 3, "1 place _xD83D__xDE00_ du Marché")

    path = make_workbook(mutate)
    address = at(openpyxl.load_workbook(SAMPLE)["Bénéficiaires"], "Adresse", 2)
    checked = check_workbook(path)
    assert [str(i) for i in checked.report.warnings] == [
        f"Bénéficiaires!{address} : caractère invalide supprimé (U+D800) : les documents produits ne "
        "peuvent pas le contenir ; texte retenu : « 5 rue sur ». Vérifiez la cellule."
    ]
    assert checked.dotation.beneficiaries[0].address == "5 rue sur"
    assert checked.dotation.beneficiaries[1].address == "1 place \U0001F600 du Marché"

    reference = docx.Document(str(_convention(SAMPLE, tmp_path / "reference")))
    changed_path = _convention(path, tmp_path / "sortie")
    changed = docx.Document(str(changed_path))
    assert len(changed.paragraphs) == len(reference.paragraphs)
    assert len(changed.tables) == len(reference.tables) > 0
    text = docx_text(changed_path)
    assert "B <w:p> & C" in text
    assert "5 rue sur" in text
    assert "Article" in text.split("5 rue sur", 1)[1]  # the articles follow the address


def test_control_character_escape_is_a_warning(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Bénéficiaires", "Nom", 2, "Beaubreuil_x0001_ Numérique"))
    [warning] = warnings_of(path)
    assert "caractère invalide supprimé (U+0001)" in warning
    assert check_workbook(path).dotation.beneficiaries[0].name == "Beaubreuil Numérique"


# --- F7: chronology ------------------------------------------------------------------------


def test_payment_before_invoice_is_a_warning(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Factures", "Date de paiement", 2, datetime(2022, 1, 1)))
    assert warnings_of(path) == [
        "Factures!J2 : Date de paiement : 01/01/2022, avant la date de la facture « RNL-2023-0012 » "
        "(09/01/2023) : une facture n'est pas payée avant d'être émise. Vérifiez les deux dates."
    ]


def test_payment_after_today_is_a_warning(make_workbook, monkeypatch) -> None:
    monkeypatch.setattr(validation, "today", lambda: date(2023, 3, 1))
    path = make_workbook(lambda wb: put(wb, "Factures", "Date de paiement", 3, datetime(2023, 3, 2)))
    assert warnings_of(path) == [
        "Factures!J3 : Date de paiement : 02/03/2023, après aujourd'hui (01/03/2023) : la demande de "
        "versement certifie que la facture « RNL-2023-0019 » est payée. Vérifiez la date, ou "
        "videz-la tant que la facture n'est pas payée."
    ]


def test_invoice_after_handover_is_a_warning(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Factures", "Date", 2, "1/9/2023"))
    assert warnings_of(path) == [
        "Factures!D2 : Date : 01/09/2023, après la remise du 03/02/2023 : la facture "
        "« RNL-2023-0012 » est datée d'après la remise du matériel qu'elle porte. Vérifiez la "
        "date (jour et mois inversés ?).",
        "Factures!J2 : Date de paiement : 24/01/2023, avant la date de la facture « RNL-2023-0012 » "
        "(01/09/2023) : une facture n'est pas payée avant d'être émise. Vérifiez les deux dates.",
    ]


def test_deliberation_and_decision_after_handover_are_warnings(make_workbook) -> None:
    def mutate(wb) -> None:
        set_operation(wb, "Date de la délibération", datetime(2024, 1, 1))
        set_operation(wb, "Date de la décision de financement", datetime(2023, 3, 1))

    warnings = warnings_of(make_workbook(mutate))
    assert len(warnings) == 2
    assert ("Date de la délibération : 01/01/2024, après la décision de financement du 01/03/2023"
            in warnings[0] + warnings[1])
    assert ("Date de la décision de financement : 01/03/2023, après la remise du 03/02/2023"
            in warnings[0] + warnings[1])
    assert all(w.startswith("Opération!B") for w in warnings)


def test_sample_dates_give_no_warning() -> None:
    assert warnings_of(SAMPLE) == []


# --- F8: VAT rates -------------------------------------------------------------------------


def test_vat_rate_typo_is_a_warning_and_the_gap_is_not_called_rounding(make_workbook) -> None:
    path = make_workbook(lambda wb: put(wb, "Matériel", "Taux de TVA", 2, 2))
    warnings = [w.replace("\xa0", " ").replace("\u202f", " ") for w in warnings_of(path)]
    assert warnings == [
        "Matériel!J2 : Taux de TVA : 2 % n'est pas un taux de TVA français (20 %, 10 %, 5,5 %, "
        "2,1 % ou 0 %) ; le prix TTC du matériel en dépend. Vérifiez le taux (ex. 20 %).",
        "Factures!H2 : Montant TTC : la facture « RNL-2023-0012 » indique 26 808,06 € TTC, mais "
        "ses matériels (feuille « Matériel ») totalisent 26 734,28 € TTC, soit un écart de "
        "73,78 € pour 57 lignes : plus que les arrondis de TVA (un centime par ligne au plus). "
        "Vérifiez les taux de TVA des matériels et la TVA de la facture ; les documents de la "
        "demande utilisent la facture, les conventions les valeurs unitaires.",
    ]
    assert not any("arrondis de TVA ligne par ligne" in w for w in warnings)


@pytest.mark.parametrize("rate", [0, 0.021, 0.055, 0.1, "5,5 %", "2,1 %", 0.009, 0.0105, 0.085, 0.13])
def test_french_and_local_vat_rates_are_accepted(make_workbook, rate) -> None:
    path = make_workbook(lambda wb: put(wb, "Matériel", "Taux de TVA", 2, rate))
    assert not any("Taux de TVA" in w for w in warnings_of(path))


def test_a_one_cent_gap_is_still_called_rounding(make_workbook) -> None:
    def mutate(wb) -> None:
        put(wb, "Factures", "TVA", 2, 4468.02)
        put(wb, "Factures", "Montant TTC", 2, 26808.07)

    [warning] = warnings_of(make_workbook(mutate))
    assert "(arrondis de TVA ligne par ligne)" in warning
