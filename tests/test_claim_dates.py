"""The claim certifies things on its date (« Date de la demande de versement »): every
invoice paid, the operation complete, the handover records signed. Never certify what the
data does not show: on copies of the rural sample (claim of 5 November 2024, handover of
15 October 2024), an invoice paid after the claim's date or a claim dated before the
handover leaves the claim file out (``generer``) or refuses it (``demande``); a record
signed after the claim's date, or not signed at all, is marked so on the certificate."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from collections.abc import Callable
from pathlib import Path

import docx
import openpyxl
import pytest

from cells import at, put
from conftest import ROOT, docx_text, exited_cleanly, operation_row, set_operation, warnings_of
from dotation_docs.cli import cli
from dotation_docs.funding import ClaimHold, claim_hold, unpaid_invoices
from dotation_docs.pipeline import check_workbook, generate_claim

ZRR = ROOT / "data" / "exemple-zrr.xlsx"
CLAIM = "demande-subvention"
CERTIFICATE = f"{CLAIM}/4-attestation-achevement.docx"
LETTER = f"{CLAIM}/1-lettre-de-demande.docx"
CLAIM_FILES = [f"{CLAIM}/{name}" for name in ("1-lettre-de-demande.docx", "2-etat-recapitulatif-des-depenses.xlsx",
                                              "3-plan-de-financement.docx", "4-attestation-achevement.docx")]
CLAIM_DATE = "Date de la demande de versement"
NBSP, NNBSP = "\u00a0", "\u202f"
ARN_ROW = 3  # « Factures »: ARN-24-0917, paid 03/10/2024 in the sample
B03_ROW = 4  # « Bénéficiaires »: B03 « Clic en Gâtine », neither its convention nor its record signed
UNSIGNED = f"(non{NBSP}signé{NBSP}à{NBSP}ce{NBSP}jour)"


def flat(text: str) -> str:
    return text.replace(NBSP, " ").replace(NNBSP, " ").replace("\u2019", "'")


@pytest.fixture
def zrr(tmp_path: Path) -> Callable[..., Path]:
    """Return a function that saves a changed copy of the rural sample."""
    counter = iter(range(1000))

    def make(*changes: Callable[[openpyxl.Workbook], None]) -> Path:
        wb = openpyxl.load_workbook(ZRR)
        for change in changes:
            change(wb)
        path = tmp_path / f"zrr-{next(counter)}.xlsx"
        wb.save(path)
        return path

    return make


def paid_on(day: dt.date | None) -> Callable[[openpyxl.Workbook], None]:
    return lambda wb: put(wb, "Factures", "Date de paiement", ARN_ROW, day)


def claim_on(day: dt.date | None) -> Callable[[openpyxl.Workbook], None]:
    return lambda wb: set_operation(wb, CLAIM_DATE, day)


def b03_signed(convention: dt.date | None, handover: dt.date | None) -> Callable[[openpyxl.Workbook], None]:
    def change(wb: openpyxl.Workbook) -> None:
        put(wb, "Bénéficiaires", "Date de signature de la convention", B03_ROW, convention)
        put(wb, "Bénéficiaires", "Date de signature du procès-verbal", B03_ROW, handover)
    return change


def cell_of(sheet: str, header: str, row: int) -> str:
    return f"{sheet}!{at(openpyxl.load_workbook(ZRR)[sheet], header, row)}"


def claim_date_cell() -> str:
    return f"Opération!B{operation_row(openpyxl.load_workbook(ZRR), CLAIM_DATE)}"


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def certificate_conventions(path: Path) -> dict[str, str]:
    """The certificate's records: beneficiary identifier → the cell « Convention »."""
    table = docx.Document(str(path)).tables[0]
    return {row.cells[0].text[:3]: row.cells[1].text for row in table.rows if re.match(r"B\d\d – ", row.cells[0].text)}


def certificate_rows(path: Path) -> dict[str, str]:
    """The certificate's records: beneficiary identifier → the cell « Procès-verbal de remise du »."""
    table = docx.Document(str(path)).tables[0]
    return {row.cells[0].text[:3]: row.cells[3].text for row in table.rows if re.match(r"B\d\d – ", row.cells[0].text)}


# --- A: an invoice paid after the claim's date ---------------------------------------------


def test_an_invoice_paid_after_the_claim_date_is_unpaid_for_the_claim(zrr, runner, tmp_path: Path) -> None:
    path = zrr(paid_on(dt.date(2024, 11, 20)))

    # verifier: a warning at the payment date's cell
    assert (f"{cell_of('Factures', 'Date de paiement', ARN_ROW)} : Date de paiement : 20/11/2024, après la date de "
            "la demande de versement (05/11/2024, « Date de la demande de versement », feuille « Opération ») : à "
            "cette date, la facture « ARN-24-0917 » n'était pas payée. La demande ne peut porter que sur des "
            "dépenses payées ; elle ne sera pas produite tant que sa date précède ce paiement. Datez-la du jour du "
            "paiement ou d'après (ou videz la cellule pour la dater à la main), ou corrigez la date de paiement si "
            "elle est fausse.") in warnings_of(path)
    checked = check_workbook(path)
    assert [i.reference for i in unpaid_invoices(checked.dotation)] == ["ARN-24-0917"]

    # demande: refused like an unpaid invoice, nothing written
    out = tmp_path / "demande"
    result = runner.invoke(cli, ["demande", str(path), "-o", str(out)])
    assert result.exit_code == 1 and exited_cleanly(result), result.output
    assert ("Erreur : la demande de versement ne peut porter que sur des dépenses payées et 1 facture n'est pas "
            "payée au 05/11/2024, date de la demande de versement (feuille « Factures ») : « ARN-24-0917 » (payée "
            "le 20/11/2024, après cette date). Aucun document n'a été écrit. Datez la demande (« Date de la demande "
            "de versement », feuille « Opération ») du 20/11/2024 ou d'après, ou videz la cellule pour la dater à "
            "la main le jour de l'envoi, puis relancez.") in result.output
    assert files_under(out) == set()

    # generer: everything but the claim file, and a note that says why
    out = tmp_path / "lot"
    result = runner.invoke(cli, ["generer", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert ("Attention : le dossier de demande de subvention n'a pas été produit : 1 facture n'est pas payée au "
            "05/11/2024, date de la demande de versement (feuille « Factures ») : « ARN-24-0917 » (payée le "
            "20/11/2024, après cette date). La demande de versement ne peut porter que sur des dépenses payées : "
            "datez la demande (« Date de la demande de versement », feuille « Opération ») du 20/11/2024 ou "
            "d'après, ou videz la cellule pour la dater à la main le jour de l'envoi, puis relancez « dotation "
            "generer » ou « dotation demande ».") in result.output.splitlines()
    assert not any(f.startswith(f"{CLAIM}/") for f in files_under(out))
    assert "Montant à demander à l'État (une fois toutes les factures payées) : 4 550,00 €" in \
        result.output.replace(NBSP, " ").replace(NNBSP, " ")

    # etat and the overview page say why
    etat = " ".join(runner.invoke(cli, ["etat", str(path), "-o", str(out)]).output.split())
    assert ("Dossier de demande de subvention : non produit : 1 facture non payée au 05/11/2024, date de la "
            "demande (« ARN-24-0917 » payée le 20/11/2024).") in etat
    page = (out / "index.html").read_text(encoding="utf-8")
    assert ("et 1 facture n’est pas payée au 5\u00a0novembre 2024, date de la demande :" in page
            or "et 1 facture n’est pas payée au 5 novembre 2024, date de la demande :" in page), page
    assert "ARN-24-0917 (Atelier du Réemploi Numérique SCIC, " in page
    assert "payée le 20" in page and "après la date de la demande" in page


def test_paid_on_the_claim_date_is_paid(zrr, tmp_path: Path) -> None:
    path = zrr(paid_on(dt.date(2024, 11, 5)))
    assert not claim_hold(check_workbook(path).dotation)
    assert not any("après la date de la demande" in w for w in warnings_of(path))
    generate_claim(path, tmp_path)
    assert all((tmp_path / f).is_file() for f in CLAIM_FILES)


# --- B: a claim dated before the handover ------------------------------------------------


def test_a_claim_dated_before_the_handover_is_not_produced(zrr, runner, tmp_path: Path) -> None:
    # 10 October: after both payments (26 September, 3 October), before the handover (15 October)
    path = zrr(claim_on(dt.date(2024, 10, 10)))
    warnings = warnings_of(path)
    assert (f"{claim_date_cell()} : Date de la demande de versement : 10/10/2024, avant la remise du 15/10/2024 "
            "(« Date de la remise ») : la demande de versement atteste une opération achevée ; elle ne sera pas "
            "produite tant que sa date précède la remise. Datez-la du jour de la remise ou d'après, ou videz la "
            "cellule pour la dater à la main le jour de l'envoi.") in warnings
    # the records signed on the handover day are after the claim too: the claim's date is the one to fix
    assert not any(w.startswith("Bénéficiaires!") for w in warnings), warnings
    hold = claim_hold(check_workbook(path).dotation)
    assert hold.early and hold.unpaid == ()

    out = tmp_path / "demande"
    result = runner.invoke(cli, ["demande", str(path), "-o", str(out)])
    assert result.exit_code == 1 and exited_cleanly(result), result.output
    assert result.output.strip() == (
        "Erreur : la demande de versement est datée du 10/10/2024 (« Date de la demande de versement », feuille "
        "« Opération »), avant la remise du matériel le 15/10/2024 : à cette date, l'opération n'était pas "
        "achevée. Aucun document n'a été écrit. Datez la demande (« Date de la demande de versement », feuille "
        "« Opération ») du 15/10/2024 ou d'après, ou videz la cellule pour la dater à la main le jour de "
        "l'envoi, puis relancez.")
    assert files_under(out) == set()

    out = tmp_path / "lot"
    result = runner.invoke(cli, ["generer", str(path), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert ("Attention : le dossier de demande de subvention n'a pas été produit : la demande de versement est "
            "datée du 10/10/2024 (« Date de la demande de versement », feuille « Opération »), avant la remise du "
            "matériel le 15/10/2024 : à cette date, l'opération n'était pas achevée. Datez la demande (« Date de "
            "la demande de versement », feuille « Opération ») du 15/10/2024 ou d'après, ou videz la cellule pour "
            "la dater à la main le jour de l'envoi, puis relancez « dotation generer » ou « dotation demande ».") \
        in result.stderr.splitlines()
    assert not any(f.startswith(f"{CLAIM}/") for f in files_under(out))

    etat = " ".join(runner.invoke(cli, ["etat", str(path), "-o", str(out)]).output.split())
    assert ("Dossier de demande de subvention : non produit : demande datée du 10/10/2024, avant la remise du "
            "15/10/2024.") in etat
    page = flat((out / "index.html").read_text(encoding="utf-8"))
    assert ("Non produit : la demande de versement est datée du 10 octobre 2024, avant la remise du matériel le "
            "15 octobre 2024 : à cette date, l'opération n'était pas achevée. Datez-la du 15 octobre 2024 ou "
            "d'après") in page


def test_a_claim_before_the_handover_and_an_invoice_paid_after_it_give_the_later_date(zrr, runner,
                                                                                     tmp_path: Path) -> None:
    # 1 October: before the handover and before ARN-24-0917's payment (3 October); paid on 20 November
    path = zrr(claim_on(dt.date(2024, 10, 1)), paid_on(dt.date(2024, 11, 20)))
    result = runner.invoke(cli, ["demande", str(path), "-o", str(tmp_path / "d")])
    assert result.exit_code == 1
    text = result.output
    assert "1 facture n'est pas payée au 01/10/2024, date de la demande de versement" in text
    assert "La demande de versement est datée du 01/10/2024" in text
    assert "du 20/11/2024 ou d'après" in text  # the first date that makes both true


# --- C and D: the handover records on the certificate ----------------------------------------


def test_the_certificate_never_presents_an_unsigned_record_as_signed(runner, tmp_path: Path) -> None:
    """The rural sample as shipped: B03 has neither its convention nor its record signed."""
    result = runner.invoke(cli, ["demande", str(ZRR), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = certificate_rows(tmp_path / CERTIFICATE)
    assert rows == {"B01": f"15{NBSP}octobre 2024", "B02": f"15{NBSP}octobre 2024",
                    "B03": f"15{NBSP}octobre 2024 {UNSIGNED}", "B04": f"15{NBSP}octobre 2024"}
    text = flat(docx_text(tmp_path / CERTIFICATE))
    assert ("a été remis aux bénéficiaires suivants, comme le constatent les procès-verbaux de remise signés, "
            "joints ; le tableau indique ce qui n'est pas encore signé :") in text
    # ... and B03's convention, cited by its number, is not presented as signed either
    conventions = certificate_conventions(tmp_path / CERTIFICATE)
    assert conventions["B03"] == f"n°{NBSP}CCST-2024-B03 (non{NBSP}signée{NBSP}à{NBSP}ce{NBSP}jour)"
    assert conventions["B01"] == f"n°{NBSP}CCST-2024-B01" and conventions["B04"] == "—"
    # the letter says the same: only the signed records attest the handover
    assert ("comme l'attestent les procès-verbaux de remise signés, joints à la présente demande (l'autre "
            "n'est pas encore signé).") in flat(docx_text(tmp_path / LETTER))
    # the claim cites each convention by its number: an unsigned one is named beside the records
    lines = result.output.splitlines()
    assert ("Attention : 1 procès-verbal de remise n'est pas signé (pas de « Date de signature du procès-verbal » "
            "dans la feuille « Bénéficiaires ») : B03 « Clic en Gâtine ». La demande de versement le joint comme "
            "preuve de la remise : faites-le signer avant de l'envoyer.") in lines
    assert ("Attention : 1 convention n'est pas signée (pas de « Date de signature de la convention » dans la "
            "feuille « Bénéficiaires ») : B03 « Clic en Gâtine ». Le certificat d'achèvement de la demande de "
            "versement la cite et la dit non signée : faites-la signer avant d'envoyer la demande.") in lines


def test_a_record_signed_after_the_claim_date_is_unsigned_on_it(zrr, runner, tmp_path: Path) -> None:
    path = zrr(b03_signed(dt.date(2024, 10, 15), dt.date(2024, 11, 12)))
    assert (f"{cell_of('Bénéficiaires', 'Date de signature du procès-verbal', B03_ROW)} : Date de signature du "
            "procès-verbal : 12/11/2024, après la date de la demande de versement (05/11/2024, « Date de la "
            "demande de versement », feuille « Opération ») : à cette date, le procès-verbal de remise de « B03 » "
            "n'était pas signé, et le certificat d'achèvement l'indiquera « non signé à ce jour ». Datez la "
            "demande du jour de son envoi, une fois tout signé, ou corrigez la date de signature si elle est "
            "fausse.") in warnings_of(path)

    result = runner.invoke(cli, ["demande", str(path), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert ("Attention : 1 procès-verbal de remise est signé après la date de la demande de versement (05/11/2024, "
            "« Date de la demande de versement », feuille « Opération ») : B03 « Clic en Gâtine » (signé le "
            "12/11/2024). À cette date, il n'était pas signé : le certificat d'achèvement le dit non signé. Datez "
            "la demande du jour de son envoi, une fois les procès-verbaux signés (ou corrigez « Date de signature "
            "du procès-verbal » si elle est fausse), puis relancez.") in result.output.splitlines()
    assert "convention n'est pas signée" not in result.output  # signed on the handover day
    assert certificate_rows(tmp_path / CERTIFICATE)["B03"] == f"15{NBSP}octobre 2024 {UNSIGNED}"
    assert certificate_conventions(tmp_path / CERTIFICATE)["B03"] == f"n°{NBSP}CCST-2024-B03"
    assert "non signée" not in flat(docx_text(tmp_path / CERTIFICATE))

    # dated on the day it is sent, once everything is signed: the plain certificate
    later = zrr(b03_signed(dt.date(2024, 10, 15), dt.date(2024, 11, 12)), claim_on(dt.date(2024, 11, 12)))
    assert not any("après la date de la demande" in w for w in warnings_of(later))
    result = runner.invoke(cli, ["demande", str(later), "-o", str(tmp_path / "ensuite")])
    assert result.exit_code == 0 and "Attention : 1 procès-verbal" not in result.output
    assert "non signé" not in flat(docx_text(tmp_path / "ensuite" / CERTIFICATE))
    assert ("a été remis aux bénéficiaires suivants, comme le constatent les procès-verbaux de remise joints :"
            in flat(docx_text(tmp_path / "ensuite" / CERTIFICATE)))
    letter = flat(docx_text(tmp_path / "ensuite" / LETTER))
    assert "comme l'attestent les procès-verbaux de remise joints." in letter and "pas encore signés" not in letter


def test_a_convention_signed_after_the_claim_date_is_named(zrr, runner, tmp_path: Path) -> None:
    path = zrr(b03_signed(dt.date(2024, 11, 12), dt.date(2024, 11, 12)))
    assert any(w.startswith(f"{cell_of('Bénéficiaires', 'Date de signature de la convention', B03_ROW)} : Date de "
                            "signature de la convention : 12/11/2024, après la date de la demande de versement")
               for w in warnings_of(path))
    result = runner.invoke(cli, ["demande", str(path), "-o", str(tmp_path)])
    assert ("Attention : 1 convention est signée après la date de la demande de versement (05/11/2024, « Date de "
            "la demande de versement », feuille « Opération ») : B03 « Clic en Gâtine » (signée le 12/11/2024). Le "
            "certificat d'achèvement la dit non signée : datez la demande du jour de son envoi, une fois les conventions "
            "signées (ou corrigez « Date de signature de la convention » si elle est fausse), puis relancez.") \
        in result.output.splitlines()


def test_no_record_signed_the_lead_sentence_says_so(tmp_path: Path) -> None:
    """The Limoges sample: no signature date at all."""
    generate_claim(ROOT / "data" / "exemple-limoges-2023.xlsx", tmp_path)
    text = flat(docx_text(tmp_path / CERTIFICATE))
    assert ("a été remis aux bénéficiaires suivants ; ni les procès-verbaux de remise joints ni les conventions "
            "citées ci-dessous ne sont encore signés :") in text
    assert "non signée" not in text  # said once, not on every row
    assert "comme le constatent" not in text
    letter = flat(docx_text(tmp_path / LETTER))
    assert "de Limoges Métropole ; les procès-verbaux de remise joints ne sont pas encore signés." in letter
    assert "comme l'attestent" not in letter
    # the lead sentence says it for every row: the rows stay one line high (one page)
    assert set(certificate_rows(tmp_path / CERTIFICATE).values()) == {f"3{NBSP}février 2023"}


# --- an empty claim date: dated by hand when sent --------------------------------------------


def test_an_empty_claim_date_compares_nothing(zrr, tmp_path: Path) -> None:
    path = zrr(claim_on(None), paid_on(dt.date(2024, 11, 20)), b03_signed(dt.date(2024, 10, 15),
                                                                            dt.date(2024, 11, 12)))
    assert not any("date de la demande" in w for w in warnings_of(path))
    generate_claim(path, tmp_path)  # produced: only what is missing counts
    assert all((tmp_path / f).is_file() for f in CLAIM_FILES)
    assert "non signé" not in flat(docx_text(tmp_path / CERTIFICATE))
    assert "Fait à Airvault, le ………………………" in flat(docx_text(tmp_path / CERTIFICATE))


# --- a national workbook: hundreds of invoices held back ---------------------------------------


def test_hundreds_of_held_invoices_are_named_ten_at_most() -> None:
    """A message naming 400 invoices is one unreadable line of 37 000 characters, the fix
    at its very end: the first ten are named, the others counted (verifier names each)."""
    from dotation_docs.model import Invoice
    from dotation_docs.summary import _hold_in_short, describe_claim_left_out, describe_claim_refused

    def invoice(n: int, paid: bool) -> Invoice:
        return Invoice(f"FAC-2024-{n:04}", "Fournisseur", "12345678200010", dt.date(2024, 9, 1), "Matériel",
                       Decimal("100.00"), Decimal("20.00"), Decimal("120.00"),
                       "M-1" if paid else None, dt.date(2024, 11, 20) if paid else None)

    hold = ClaimHold(tuple(invoice(n, paid=n % 2 == 0) for n in range(1, 401)), dt.date(2024, 11, 5),
                     dt.date(2024, 10, 15))
    for message in (describe_claim_refused(hold), describe_claim_left_out(hold), _hold_in_short(hold)):
        assert "FAC-2024-0010" in message and "FAC-2024-0011" not in message
        assert "et 390 autres (chacune signalée à sa cellule par « dotation verifier »)" in message
        assert len(message) < 2000, message
    assert "400 factures" in describe_claim_refused(hold)
    # in « dotation etat », wrapped at 100 columns: a guillemet never ends a line
    assert f"«{NBSP}FAC-2024-0001{NBSP}»" in _hold_in_short(hold)


def test_a_claim_dated_after_today_is_warned_about(zrr, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dated ahead, the claim would certify payments and signatures the workbook cannot show yet."""
    from dotation_docs import validation

    path = zrr()
    assert not any("après aujourd'hui" in w for w in warnings_of(path))
    monkeypatch.setattr(validation, "today", lambda: dt.date(2024, 11, 1))  # the claim: 05/11/2024
    assert (f"{claim_date_cell()} : Date de la demande de versement : 05/11/2024, après aujourd'hui (01/11/2024) : "
            "la demande de versement certifie, à cette date, des paiements et des signatures que le classeur ne "
            "montre pas encore. Datez-la du jour de son envoi, ou videz la cellule pour la dater à la main.") \
        in warnings_of(path)


# Rows 2 to 5 of « Bénéficiaires » in the rural sample: B01, B02, B03 (associations), B04 (a service).
SIGNATURES = {
    "tout-signe": (
        {2, 3, 4, 5}, {2, 3, 4},
        "comme le constatent les procès-verbaux de remise joints :",
        "comme l'attestent les procès-verbaux de remise joints."),
    "un-seul-proces-verbal": (
        {2}, {2, 4},
        "comme le constate le procès-verbal de remise signé, joint ; le tableau indique ce qui n'est pas encore "
        "signé :",
        "comme l'atteste le procès-verbal de remise signé, joint à la présente demande (les 3 autres ne sont pas "
        "encore signés)."),
    "une-convention": (
        {2, 3, 4, 5}, {2, 3},
        "comme le constatent les procès-verbaux de remise joints ; le tableau indique ce qui n'est pas encore "
        "signé :",
        "comme l'attestent les procès-verbaux de remise joints."),
    "aucun-proces-verbal-une-convention": (
        set(), {2, 3},
        "suivants ; les procès-verbaux de remise joints ne sont pas encore signés ; le tableau indique ce qui "
        "n'est pas encore signé :",
        "Thouet ; les procès-verbaux de remise joints ne sont pas encore signés."),
    "aucune-convention": (
        {2, 3, 4, 5}, set(),
        "comme le constatent les procès-verbaux de remise joints ; les conventions citées ci-dessous ne sont pas "
        "encore signées :",
        "comme l'attestent les procès-verbaux de remise joints."),
}


@pytest.mark.parametrize("case", SIGNATURES, ids=list(SIGNATURES))
def test_the_lead_sentences_say_exactly_what_is_signed(case: str, zrr, tmp_path: Path) -> None:
    """Each mix of signed records and conventions reads as correct French, in the singular
    where one is meant, and never says a document is signed that the workbook does not show."""
    records, conventions, certificate, letter = SIGNATURES[case]
    day = dt.date(2024, 10, 15)

    def sign(wb: openpyxl.Workbook) -> None:
        for row in range(2, 6):
            put(wb, "Bénéficiaires", "Date de signature du procès-verbal", row, day if row in records else None)
            put(wb, "Bénéficiaires", "Date de signature de la convention", row, day if row in conventions else None)

    generate_claim(zrr(sign), tmp_path)
    assert certificate in flat(docx_text(tmp_path / CERTIFICATE))
    assert letter in flat(docx_text(tmp_path / LETTER))


def test_a_mistyped_year_is_one_error_not_a_cascade(zrr) -> None:
    """1900 for 2024: the year is wrong (an error), and nothing is compared with it."""
    checked = check_workbook(zrr(claim_on(dt.date(1900, 11, 5))))
    assert [str(e) for e in checked.report.errors if "Date de la demande" in str(e)]
    assert not [w for w in map(str, checked.report.warnings) if "date de la demande" in w.lower()]
