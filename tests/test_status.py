"""Batch status: the signature dates of « Bénéficiaires », the fingerprints of each
document in the manifest, ``dotation etat`` (read only) and the warning of
``dotation demande`` about handover records not signed yet.

Every workbook here is the sample with the two signature columns added in code (the
sample itself has none); ``etat``, ``generer`` and ``demande`` run as the agent runs them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import openpyxl
import pytest
from cells import column
from click.testing import CliRunner
from conftest import SAMPLE, TEMPLATES

from dotation_docs.blank_workbook import write_blank_workbook
from dotation_docs.cli import cli
from dotation_docs.manifest import entries, read_manifest
from dotation_docs.outputdir import JOURNAL_NAME
from dotation_docs.pipeline import check_workbook
from dotation_docs.schema import BENEFICIARIES, Kind
from dotation_docs.status import DATA_KEY, SPREADSHEET_VERSION, TEMPLATE_KEY, canonical, digest

ROOT = Path(__file__).resolve().parent.parent
SIGNED_CONVENTION = "Date de signature de la convention"
SIGNED_HANDOVER = "Date de signature du procès-verbal"
B01_CONVENTION = "conventions/B01-convention-beaubreuil-numerique-solidaire.docx"
B02_CONVENTION = "conventions/B02-convention-sport-loisirs-de-l-aurence.docx"
B03_CONVENTION = "conventions/B03-convention-centre-social-la-bastide-ensemble.docx"
B04_HANDOVER = "proces-verbaux/B04-proces-verbal-portes-ferrees-solidarites.docx"
CERTIFICATE = "demande-subvention/4-attestation-achevement.docx"
LETTER = "demande-subvention/1-lettre-de-demande.docx"
SIGNED = dt.datetime(2023, 2, 3)
Dates = dict[str, tuple[dt.datetime | None, dt.datetime | None]]


def with_signatures(wb: openpyxl.Workbook, dates: Dates) -> None:
    """Fill the two signature columns of « Bénéficiaires » (the sample has them, empty;
    added after the last column when absent): identifier → (convention signed on,
    handover record signed on)."""
    ws = wb["Bénéficiaires"]
    headers = [c.value for c in ws[1]]
    if SIGNED_CONVENTION not in headers:
        ws.cell(1, ws.max_column + 1, SIGNED_CONVENTION)
        ws.cell(1, ws.max_column + 1, SIGNED_HANDOVER)
        headers = [c.value for c in ws[1]]
    convention_column, handover_column = headers.index(SIGNED_CONVENTION) + 1, headers.index(SIGNED_HANDOVER) + 1
    for row in range(2, ws.max_row + 1):
        convention, handover = dates.get(ws.cell(row, 1).value, (None, None))
        ws.cell(row, convention_column, convention)
        ws.cell(row, handover_column, handover)


@pytest.fixture
def workbook(tmp_path: Path) -> Callable[..., Path]:
    """Return a function saving the sample, changed by ``change``, then with the signature
    columns and ``dates``."""
    counter = iter(range(1000))

    def make(dates: Dates | None = None, change: Callable[[openpyxl.Workbook], None] | None = None) -> Path:
        wb = openpyxl.load_workbook(SAMPLE)
        if change is not None:
            change(wb)
        with_signatures(wb, dates or {})
        path = tmp_path / f"classeur-{next(counter)}.xlsx"
        wb.save(path)
        return path

    return make


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """The sample's batch, generated once by ``dotation generer`` (signature dates change
    no document: it is every test's batch)."""
    folder = tmp_path_factory.mktemp("etat")
    wb = openpyxl.load_workbook(SAMPLE)
    with_signatures(wb, {})
    wb.save(folder / "classeur.xlsx")
    result = CliRunner().invoke(cli, ["generer", str(folder / "classeur.xlsx"), "-o", str(folder / "lot")])
    assert result.exit_code == 0, result.output
    return folder / "lot"


@pytest.fixture
def batch(generated: Path, tmp_path: Path) -> Path:
    """A private copy of the sample's batch."""
    return Path(shutil.copytree(generated, tmp_path / "lot"))


def all_signed(except_: tuple[str, ...] = ()) -> Dates:
    """Every beneficiary signed on the handover day (B10, a service, signs no convention)."""
    return {f"B{i:02d}": (None if i == 10 else SIGNED, SIGNED)
            for i in range(1, 11) if f"B{i:02d}" not in except_}


def run(runner, *args: str):
    result = runner.invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def generate(runner, workbook: Path, output: Path, *more: str) -> None:
    result = run(runner, "generer", str(workbook), "-o", str(output), *more)
    assert result.exit_code == 0, result.output


def etat(runner, workbook: Path, output: Path, *more: str) -> list[str]:
    result = run(runner, "etat", str(workbook), "-o", str(output), *more)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # 100 columns, but for the lines naming the (long) paths of the test
    too_long = [line for line in lines if len(line) > 100 and str(output) not in line and str(workbook) not in line]
    assert not too_long, too_long
    return lines


def block(lines: list[str], identifier: str) -> list[str]:
    """The lines of one beneficiary in the report of ``etat``, its heading included,
    spaces collapsed."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {identifier} – "))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("      "))
    return [" ".join(line.split()) for line in lines[start:end]]


def operation_lines(lines: list[str]) -> list[str]:
    start = lines.index("Documents de l'opération")
    end = lines.index("", start)
    return [" ".join(line.split()) for line in lines[start + 1:end]]


def summary(lines: list[str]) -> str:
    """The summary line of ``etat``, as one line (it wraps at 100 columns)."""
    start = max(i for i, line in enumerate(lines) if line.startswith("En bref, "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return " ".join(" ".join(lines[start:end]).split())


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifeste.json").read_text(encoding="utf-8"))


def documents_of(folder: Path) -> list[dict]:
    """The manifest's documents, the overview page left out: it shows the signatures, so it
    changes when they do, and it has no fingerprint (``etat`` does not report it)."""
    return [d for d in manifest_of(folder)["documents"] if d["type"] != "apercu"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- The signature columns ----------------------------------------------------------------------


def test_signature_columns_are_optional_dates_at_the_end_of_beneficiaires(sample: Path, tmp_path: Path) -> None:
    last = BENEFICIARIES.fields[-2:]
    assert [(f.key, f.label, f.kind, f.required) for f in last] == [
        ("convention_signed_on", SIGNED_CONVENTION, Kind.DATE, False),
        ("handover_signed_on", SIGNED_HANDOVER, Kind.DATE, False),
    ]
    checked = check_workbook(sample)  # the sample has neither column: still valid, nothing signed
    assert checked.ok and checked.report.issues == []
    assert {(b.convention_signed_on, b.handover_signed_on) for b in checked.dotation.beneficiaries} == {(None, None)}
    blank = write_blank_workbook(tmp_path / "vierge.xlsx")
    headers = [c.value for c in openpyxl.load_workbook(blank)["Bénéficiaires"][1]]
    assert headers[-2:] == [SIGNED_CONVENTION, SIGNED_HANDOVER]


def test_signature_dates_are_read_into_the_model(workbook) -> None:
    path = workbook({"B01": (dt.datetime(2023, 1, 30), SIGNED), "B10": (None, "04/02/2023")})
    checked = check_workbook(path)
    assert checked.ok, checked.report.format()
    people = {b.identifier: b for b in checked.dotation.beneficiaries}
    assert (people["B01"].convention_signed_on, people["B01"].handover_signed_on) == (
        dt.date(2023, 1, 30), dt.date(2023, 2, 3))
    assert (people["B10"].convention_signed_on, people["B10"].handover_signed_on) == (None, dt.date(2023, 2, 4))
    assert (people["B02"].convention_signed_on, people["B02"].handover_signed_on) == (None, None)


def test_signature_date_warnings(workbook) -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)

    def add_beneficiary_without_devices(wb: openpyxl.Workbook) -> None:
        ws = wb["Bénéficiaires"]
        ws.append([c.value for c in ws[2]])
        ws.cell(ws.max_row, 1, "B11")

    path = workbook(
        {"B01": (dt.datetime(2023, 2, 5), SIGNED),  # handover record signed before the convention
         "B02": (dt.datetime.combine(tomorrow, dt.time()), None),  # in the future
         "B10": (SIGNED, SIGNED),  # a service signs no convention
         "B11": (SIGNED, None)},  # no device
        add_beneficiary_without_devices,
    )
    ws = openpyxl.load_workbook(path)["Bénéficiaires"]
    conv, pv = column(ws, SIGNED_CONVENTION), column(ws, SIGNED_HANDOVER)
    warnings = [str(w) for w in check_workbook(path).report.warnings]
    today = dt.date.today().strftime("%d/%m/%Y")
    assert f"Bénéficiaires!{pv}2 : {SIGNED_HANDOVER} : 03/02/2023, avant la signature de la convention le 05/02/2023 " \
           ": le procès-verbal constate une remise faite en application de la convention, qui en fait courir la " \
           "durée. Vérifiez les deux dates." in warnings
    assert f"Bénéficiaires!{conv}3 : {SIGNED_CONVENTION} : {tomorrow.strftime('%d/%m/%Y')}, après aujourd'hui " \
           f"({today}) : une date de signature est celle d'un document déjà signé. Vérifiez la date, ou videz-la " \
           "tant qu'il ne l'est pas." in warnings
    assert f"Bénéficiaires!{conv}11 : {SIGNED_CONVENTION} : renseignée pour un service de la collectivité, qui ne " \
           "signe pas de convention (il reçoit seulement un procès-verbal). Videz la cellule." in warnings
    assert f"Bénéficiaires!{conv}12 : {SIGNED_CONVENTION} : renseignée pour le bénéficiaire « B11 », qui n'a aucun " \
           "matériel dans la feuille « Matériel » : il n'a ni convention ni procès-verbal à signer. Vérifiez la " \
           "ligne, ou videz la cellule." in warnings
    signature_warnings = [w for w in warnings if "signature" in w or "signe" in w]
    # B02's convention, signed tomorrow, is not said to be signed after the handover too;
    # B01's, signed after its record, is warned about once (above)
    assert len(signature_warnings) == 4, signature_warnings
    # the same dates in the right order: no warning
    assert [str(w) for w in check_workbook(workbook(all_signed())).report.warnings] == []


def test_signatures_against_the_handover_day(workbook) -> None:
    """The sample's handover is on 03/02/2023: a record signed the day before records a
    handover not made yet; a convention signed the day after came after the devices."""
    before, after = dt.datetime(2023, 2, 2), dt.datetime(2023, 2, 4)
    future = dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time())

    def b09_without_devices(wb: openpyxl.Workbook) -> None:
        ws = wb["Matériel"]
        where = [c.value for c in ws[1]].index("Bénéficiaire")
        for row in ws.iter_rows(min_row=2):
            if row[where].value == "B09":
                row[where].value = "B08"

    path = workbook({"B01": (dt.datetime(2023, 1, 30), before),  # record signed before the handover
                     "B02": (after, after),  # convention signed after the handover
                     "B03": (before, SIGNED),  # convention before, record on the day: right
                     "B04": (SIGNED, after),  # both on or after the day, in order: right
                     "B05": (SIGNED, before),  # record before its convention: warned about once, as such
                     "B06": (future, future),  # after today: warned about once, as such
                     "B09": (before, before),  # no device: warned about once, as such
                     "B10": (None, before)},  # a service: its record too
                    b09_without_devices)
    ws = openpyxl.load_workbook(path)["Bénéficiaires"]
    conv, pv = column(ws, SIGNED_CONVENTION), column(ws, SIGNED_HANDOVER)
    warnings = [str(w) for w in check_workbook(path).report.warnings]
    day = "le jour de la remise (03/02/2023, « Date de la remise », feuille « Opération »)"
    record_before = (f"{SIGNED_HANDOVER} : 02/02/2023, avant {day}. Un procès-verbal constate une remise déjà faite : "
                     "il se signe le jour de la remise ou après. Corrigez l'une des deux dates.")
    assert f"Bénéficiaires!{pv}2 : {record_before}" in warnings
    assert f"Bénéficiaires!{conv}3 : {SIGNED_CONVENTION} : 04/02/2023, après {day}. Le matériel est remis en " \
           "application de la convention : elle se signe au plus tard le jour de la remise. Corrigez l'une des " \
           "deux dates." in warnings
    assert f"Bénéficiaires!{pv}11 : {record_before}" in warnings
    assert f"Bénéficiaires!{pv}6 : {SIGNED_HANDOVER} : 02/02/2023, avant la signature de la convention le " \
           "03/02/2023 : le procès-verbal constate une remise faite en application de la convention, qui en fait " \
           "courir la durée. Vérifiez les deux dates." in warnings
    # one warning per cell: the others say what is wrong with B05, B06 and B09
    cells = [w.split(" : ")[0] for w in warnings]
    assert len(cells) == len(set(cells)), warnings
    assert sorted(cells) == sorted(["Bénéficiaires!A10", f"Bénéficiaires!{pv}2", f"Bénéficiaires!{conv}3", f"Bénéficiaires!{pv}6",
                                    f"Bénéficiaires!{conv}7", f"Bénéficiaires!{pv}7", f"Bénéficiaires!{conv}10",
                                    f"Bénéficiaires!{pv}10", f"Bénéficiaires!{pv}11"]), warnings


# --- Fingerprints in the manifest ----------------------------------------------------------------


def test_canonical_serialisation() -> None:
    from decimal import Decimal

    value = {"b": Decimal("1.50"), "a": [dt.date(2023, 2, 3), dt.time(10, 30)]}
    assert canonical(value) == {"b": "1.50", "a": ["2023-02-03", "10:30:00"]}
    assert digest(value) == digest({"a": ["2023-02-03", "10:30:00"], "b": "1.50"})  # key order does not matter
    with pytest.raises(TypeError):
        canonical({"x": 1.5})


def test_every_document_has_its_fingerprints_and_signing_changes_only_the_claims_letter_and_certificate(workbook, batch: Path, runner) -> None:
    out = batch
    before = documents_of(out)
    by_path = {d["fichier"]: d for d in before}
    assert len(before) == 27
    for d in before:
        assert len(d[DATA_KEY]) == 64 and len(d[TEMPLATE_KEY]) == 64, d
    template = (TEMPLATES / "convention-mise-a-disposition.docx").read_bytes()
    assert by_path[B01_CONVENTION][TEMPLATE_KEY] == by_path[B02_CONVENTION][TEMPLATE_KEY] == sha256(template)
    assert by_path[B01_CONVENTION][DATA_KEY] != by_path[B02_CONVENTION][DATA_KEY]
    statement = by_path["demande-subvention/2-etat-recapitulatif-des-depenses.xlsx"]
    assert statement[TEMPLATE_KEY] == sha256(SPREADSHEET_VERSION.encode())
    # signing every document changes none of them but the certificate of completion, which
    # marked every handover record « non signé à ce jour » (it printed no signature date),
    # and the claim's letter, which cites the signed records only as proof of the handover
    generate(runner, workbook(all_signed()), out)
    after = {d["fichier"]: d for d in documents_of(out)}
    changed = [path for path in by_path if after[path] != by_path[path]]
    assert changed == [LETTER, CERTIFICATE]
    assert after[CERTIFICATE][TEMPLATE_KEY] == by_path[CERTIFICATE][TEMPLATE_KEY]


def test_a_manifest_without_fingerprints_still_loads(workbook, batch: Path, runner) -> None:
    out, path = batch, workbook()
    manifest = manifest_of(out)
    for d in manifest["documents"]:
        d.pop(DATA_KEY, None), d.pop(TEMPLATE_KEY, None)
    (out / "manifeste.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    assert len([e for e in entries(read_manifest(out)) if e.type != "apercu"]) == 27
    lines = etat(runner, path, out)
    assert block(lines, "B01")[1] == "Convention sans empreinte (lot ancien) à signer"
    assert summary(lines) == (
        "En bref, 10 bénéficiaires : 0 convention signée, 9 à signer ; 0 procès-verbal signé, 10 à signer ; "
        "0 document à jour, 27 sans empreinte."
    )
    generate(runner, path, out)  # the next run writes them
    assert all(DATA_KEY in d for d in documents_of(out))


def test_etat_on_a_fresh_batch_with_signatures(workbook, batch: Path, runner) -> None:
    out = batch
    path = workbook({**all_signed(except_=("B03", "B10")), "B03": (SIGNED, None)})  # signed after generation
    lines = etat(runner, path, out)
    assert lines[:2] == [f"Lot : {out}", f"Classeur : {path}"]
    assert block(lines, "B01") == [
        "B01 – Beaubreuil Numérique Solidaire",
        "Convention à jour signée le 03/02/2023",
        "Procès-verbal à jour signé le 03/02/2023",
    ]
    assert block(lines, "B03")[2] == "Procès-verbal à jour à signer"
    assert block(lines, "B10") == [
        "B10 – Cité de l'Emploi de Beaubreuil – conseiller numérique (service de la collectivité)",
        "Procès-verbal à jour à signer",
    ]
    assert operation_lines(lines) == [
        "Communiqué de presse (.docx) à jour",
        "Communiqué de presse (.html) à jour",
        "Invitation presse (.docx) à jour",
        "Invitation presse (.html) à jour",
        # the letter cites the signed records only, the certificate marks the others
        # « non signé »: both said no record was signed
        "Lettre de demande de versement périmée (données)",
        "État récapitulatif des dépenses à jour",
        "Plan de financement à jour",
        "Certificat d'achèvement et de conformité périmé (données)",
        "Dossier de demande (PDF) non produit (option --pdf)",
    ]
    assert summary(lines) == (
        "En bref, 10 bénéficiaires : 9 conventions signées, 0 à signer ; 8 procès-verbaux signés, 2 à signer ; "
        "25 documents à jour, 2 périmés."
    )
    # the columns line up across beneficiaries
    rows = [line for line in lines if line.startswith("      Procès-verbal")]
    assert len({line.index("à jour") for line in rows}) == 1


def test_etat_says_which_documents_are_stale_missing_or_edited(workbook, batch: Path, tmp_path: Path, runner) -> None:
    out = batch
    (out / B03_CONVENTION).unlink()
    (out / B04_HANDOVER).write_bytes(b"retouche")

    def rename_b02_representative(wb: openpyxl.Workbook) -> None:
        ws = wb["Bénéficiaires"]
        ws[f"{column(ws, 'Nom du représentant')}3"] = "Nadia Autrenom"

    path = workbook(change=rename_b02_representative)
    lines = etat(runner, path, out)
    assert block(lines, "B01")[1:] == ["Convention à jour à signer", "Procès-verbal à jour à signer"]
    assert block(lines, "B02")[1:] == ["Convention périmée (données) à signer", "Procès-verbal périmé (données) à signer"]
    assert block(lines, "B03")[1] == "Convention manquante à signer"
    assert block(lines, "B04")[2] == "Procès-verbal modifié à la main à signer"
    # out of date = exactly the documents a new run would write differently
    fresh = tmp_path / "nouveau-lot"
    generate(runner, path, fresh)
    changed = sorted(d["fichier"] for d in documents_of(fresh)
                     if d["sha256"] != {e["fichier"]: e["sha256"] for e in documents_of(out)}.get(d["fichier"])
                     and d["fichier"] not in (B03_CONVENTION, B04_HANDOVER))
    assert changed == ["conventions/B02-convention-sport-loisirs-de-l-aurence.docx",
                       "proces-verbaux/B02-proces-verbal-sport-loisirs-de-l-aurence.docx"]
    assert all(line.endswith("à jour") for line in operation_lines(lines)[:8]), operation_lines(lines)
    assert summary(lines) == (
        "En bref, 10 bénéficiaires : 0 convention signée, 9 à signer ; 0 procès-verbal signé, 10 à signer ; "
        "23 documents à jour, 2 périmés, 1 manquant, 1 modifié à la main."
    )
    assert lines[-2:] == [
        "Les documents périmés ou manquants se refont avec « dotation generer » (ou « dotation convention »",
        "pour un bénéficiaire) ; un document modifié à la main n'est remplacé qu'avec --ecraser.",
    ]


def test_a_change_no_document_prints_makes_nothing_out_of_date(workbook, batch: Path, runner) -> None:
    def change_b02_phone(wb: openpyxl.Workbook) -> None:
        ws = wb["Bénéficiaires"]
        ws[f"{column(ws, 'Téléphone')}3"] = "05 55 00 00 00"

    lines = etat(runner, workbook(change=change_b02_phone), batch)
    assert summary(lines).endswith("; 27 documents à jour.")


def test_a_template_that_changes_the_documents_is_named_alone(workbook, batch: Path, tmp_path: Path,
                                                              runner) -> None:
    # A new template changes every document's bytes: the data are not said to have changed.
    mine = tmp_path / "modeles"
    mine.mkdir()
    source = docx.Document(str(TEMPLATES / "proces-verbal-remise.docx"))
    source.add_paragraph("Ajout du modèle.")
    source.save(str(mine / "proces-verbal-remise.docx"))
    lines = etat(runner, workbook(), batch, "-m", str(mine))
    assert block(lines, "B01")[1:] == ["Convention à jour à signer", "Procès-verbal périmé (modèle) à signer"]
    assert not any("données" in line for line in lines if line.startswith("Procès-verbal"))


def test_etat_says_when_a_template_changed(workbook, batch: Path, tmp_path: Path, runner) -> None:
    out, path = batch, workbook()
    mine = tmp_path / "modeles"
    mine.mkdir()
    # the same handover record template, its bytes changed (a comment in the zip)
    with zipfile.ZipFile(TEMPLATES / "proces-verbal-remise.docx") as src, \
            zipfile.ZipFile(mine / "proces-verbal-remise.docx", "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.comment = b"retouche"
    lines = etat(runner, path, out, "-m", str(mine))
    assert block(lines, "B01")[1:] == ["Convention à jour à signer", "Procès-verbal périmé (modèle) à signer"]
    assert summary(lines).endswith("; 17 documents à jour, 10 périmés.")


@pytest.mark.usefixtures("fake_soffice")
def test_etat_with_pdfs(workbook, tmp_path: Path, runner) -> None:
    out = tmp_path / "lot"
    path = workbook()
    generate(runner, path, out, "--pdf")
    documents = {d["fichier"]: d for d in manifest_of(out)["documents"]}
    pdf = documents[B01_CONVENTION.replace(".docx", ".pdf")]
    assert (pdf[DATA_KEY], pdf[TEMPLATE_KEY]) == (documents[B01_CONVENTION][DATA_KEY],
                                                  documents[B01_CONVENTION][TEMPLATE_KEY])
    dossier = documents["demande-subvention/dossier-demande-subvention.pdf"]
    assert len(dossier[DATA_KEY]) == 64 and len(dossier[TEMPLATE_KEY]) == 64
    (out / B01_CONVENTION.replace(".docx", ".pdf")).unlink()
    lines = etat(runner, path, out)
    assert block(lines, "B01")[1:] == ["Convention à jour PDF manquant à signer",
                                       "Procès-verbal à jour PDF à jour à signer"]
    assert operation_lines(lines)[-2:] == ["Certificat d'achèvement et de conformité à jour PDF à jour",
                                           "Dossier de demande (PDF) à jour"]
    # an attachment added since: the dossier no longer holds what it would
    (out / "demande-subvention" / "pieces-jointes").mkdir()
    (out / "demande-subvention" / "pieces-jointes" / "rib.pdf").write_bytes(b"%PDF-1.4 rib")
    assert operation_lines(etat(runner, path, out))[-1] == "Dossier de demande (PDF) périmé (données)"


def test_etat_with_unpaid_invoices_and_documents_the_workbook_no_longer_gives(workbook, batch: Path, runner) -> None:
    out = batch

    def unpaid(wb: openpyxl.Workbook) -> None:
        ws = wb["Factures"]
        ws[f"{column(ws, 'Date de paiement')}2"] = None

    lines = etat(runner, workbook(change=unpaid), out)
    assert operation_lines(lines)[-1] == (
        "Dossier de demande de subvention : non produit : 1 facture non payée (« RNL-2023-0012 »)."
    )
    assert "Documents du lot que le classeur ne donne plus (le prochain « dotation generer » les supprime) : " \
           "demande-subvention/1-lettre-de-demande.docx," in " ".join(" ".join(lines).split())
    assert summary(lines).endswith("; 23 documents à jour, 4 en trop.")


def test_etat_without_a_batch_and_with_an_invalid_workbook(workbook, tmp_path: Path, runner) -> None:
    path = workbook(all_signed(except_=("B05",)))
    absent = tmp_path / "nulle-part"
    lines = etat(runner, path, absent)
    assert lines[2:5] == [
        "Aucun lot n'a été généré dans ce dossier (pas de manifeste.json). Pour le produire :",
        f"  dotation generer {path} -o {absent}",
        "",
    ]
    assert lines[5:] == [
        "En bref, 10 bénéficiaires : 8 conventions signées, 1 à signer\u00a0; 9 procès-verbaux signés, 1 à signer.",
    ]
    assert not absent.exists()

    def no_name(wb: openpyxl.Workbook) -> None:
        wb["Bénéficiaires"]["B2"] = None

    broken = workbook(change=no_name)
    result = run(runner, "etat", str(broken), "-o", str(absent))
    assert result.exit_code == 1
    assert result.output.startswith(f"Erreur : le classeur « {broken} » contient des erreurs")


def listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``folder`` (hidden ones and folders included): kind, size, mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), folder)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    st = os.lstat(folder)
    found["."] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


@pytest.mark.parametrize("interrupted", [False, True])
def test_etat_reads_only_even_after_an_interrupted_run(workbook, batch: Path, interrupted: bool) -> None:
    out, path = batch, workbook()
    if interrupted:
        (out / JOURNAL_NAME).write_text("{}", encoding="utf-8")
    before = listing(out)
    result = subprocess.run([sys.executable, "-m", "dotation_docs", "etat", str(path), "-o", str(out)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert listing(out) == before
    first = result.stdout.splitlines()[0]
    if interrupted:
        assert first == (f"Attention : un lancement interrompu a laissé le dossier « {out} » à réparer : la prochaine "
                         "commande qui écrit (generer, convention ou demande) remettra en place un lot complet.")
    else:
        assert first == f"Lot : {out}"
    assert summary(result.stdout.splitlines()).endswith("; 27 documents à jour.")


# --- dotation demande names the handover records not signed ---------------------------------------


def test_demande_warns_about_unsigned_handover_records(workbook, tmp_path: Path, runner) -> None:
    out = tmp_path / "lot"
    result = run(runner, "demande", str(workbook(all_signed(except_=("B03", "B07")))), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert (
        "Attention : 2 procès-verbaux de remise ne sont pas signés (pas de « Date de signature du procès-verbal » "
        "dans la feuille « Bénéficiaires ») : B03 « Centre social La Bastide Ensemble » ; B07 « Amicale laïque "
        "des Coutures ». La demande de versement les joint comme preuve de la remise : faites-les signer avant "
        "de l'envoyer."
    ) in result.output.splitlines()
    signed = run(runner, "demande", str(workbook(all_signed())), "-o", str(tmp_path / "autre"))
    assert signed.exit_code == 0 and "pas signé" not in signed.output
    one = run(runner, "demande", str(workbook(all_signed(except_=("B10",)))), "-o", str(tmp_path / "un"))
    assert "Attention : 1 procès-verbal de remise n'est pas signé (pas de « Date de signature du procès-verbal » " \
           "dans la feuille « Bénéficiaires ») : B10 « Cité de l'Emploi de Beaubreuil – conseiller numérique ». " \
           "La demande de versement le joint comme preuve de la remise : faites-le signer avant de l'envoyer." \
           in one.output.splitlines()


def test_signature_dates_before_the_decision_or_without_the_convention_are_warned(workbook) -> None:
    from dotation_docs.pipeline import check_workbook

    path = workbook({"B01": (dt.datetime(1899, 12, 25), SIGNED), "B02": (None, SIGNED)})
    messages = [w.message for w in check_workbook(path).report.warnings]
    assert any(m.startswith("Date de signature de la convention : 25/12/1899, avant la décision de financement du ")
               for m in messages), messages
    assert ("Date de signature du procès-verbal : renseignée, mais pas la « Date de signature de la convention » : "
            "le procès-verbal applique la convention. Renseignez la date de signature de la convention.") in messages


def test_the_unsigned_note_names_ten_at_most(workbook) -> None:
    from dotation_docs.pipeline import check_workbook
    from dotation_docs.summary import describe_unsigned_handovers

    def eleven(wb: openpyxl.Workbook) -> None:  # an eleventh beneficiary, with B01's devices split
        ws = wb["Bénéficiaires"]
        ws.append([c.value if c.column != 1 else "B11" for c in ws[2]])
        devices = wb["Matériel"]
        column_of = [c.value for c in devices[1]].index("Bénéficiaire") + 1
        devices.cell(2, column_of).value = "B11"

    checked = check_workbook(workbook(change=eleven))
    assert checked.dotation is not None, checked.report.format()
    [note] = describe_unsigned_handovers(checked.dotation)
    assert note.startswith("11 procès-verbaux de remise ne sont pas signés")
    assert "B10 « Cité de l'Emploi" in note and "B11" not in note
    assert "; et 1 autre (la liste complète : « dotation etat »)" in note
