"""Served territories (issue #11): QPV, ZRR and FRR, and the rural sample workbook.

The rural sample ``data/exemple-zrr.xlsx`` is generated once; its documents must name
neither Limoges nor the Haute-Vienne nor priority neighbourhoods, and its figures are
computed here by hand and found in the claim documents and the press release.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import jinja2
import openpyxl
import pytest
from cells import put
from conftest import ROOT, SAMPLE, TEMPLATES, docx_text, errors_of, set_operation
from test_golden import GOLDEN, golden_name, readable

from dotation_docs.context import (
    DEPRECATED_VARIABLES,
    authority_names,
    beneficiary_context,
    common_context,
    convention_title,
    territories_context,
    territory_context,
)
from dotation_docs.formatting import of_place
from dotation_docs.model import TerritoryKind
from dotation_docs.pipeline import check_workbook, generate_batch

ZRR_SAMPLE = ROOT / "data" / "exemple-zrr.xlsx"
FORBIDDEN = ("limoges", "haute-vienne", "quartier prioritaire", "quartiers prioritaires", "qpv")
SPACES = str.maketrans({"\u202f": " ", "\xa0": " "})


def plain(text: str) -> str:
    """``text`` with the no-break spaces of amounts made ordinary spaces."""
    return text.translate(SPACES)


# --- the rural sample's batch ------------------------------------------------------------


@pytest.fixture(scope="module")
def zrr_batch(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("zrr") / "sortie"
    generate_batch(ZRR_SAMPLE, output, TEMPLATES)
    return output


def every_text(path: Path) -> str:
    """All the text a reader or a search engine can see in a generated file: for a .docx or
    an .xlsx, every XML part (body, headers, footers, shared strings, cells, document
    properties), tags removed; for HTML and JSON, the file itself, entities decoded."""
    if path.suffix in (".docx", ".xlsx"):
        with zipfile.ZipFile(path) as z:
            parts = [z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels"))]
        # Tags removed without a space: a word split across two runs is found whole.
        return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(parts)))
    return html.unescape(path.read_text(encoding="utf-8"))


def test_the_rural_batch_names_neither_limoges_nor_priority_neighbourhoods(zrr_batch: Path) -> None:
    files = sorted(p for p in zrr_batch.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".docx", ".html", ".xlsx", ".json"}
    assert len(files) == 17  # index.html, the overview page, included
    found = {}
    for path in files:
        text = every_text(path).casefold()
        # The extraction reads each file: the authority (or its footer title) is in every one.
        assert "sèvre et thouet" in text or path.name == "manifeste.json", path
        found.update({f"{path.relative_to(zrr_batch)}: {w}": True for w in FORBIDDEN if w in text})
    assert found == {}


def test_the_scan_sees_headers_footers_and_properties(zrr_batch: Path) -> None:
    """The words of the footer and of the file's properties are part of the scanned text
    (a test that read the body only would miss a « Limoges » there)."""
    import docx

    path = zrr_batch / "conventions" / "B01-convention-gatine-numerique-solidaire.docx"
    document = docx.Document(str(path))
    footer = " ".join(p.text for s in document.sections for p in s.footer.paragraphs)
    assert "CCST-2024-B01" in footer
    assert document.core_properties.title in every_text(path)
    assert "CCST-2024-B01" in every_text(path)


def test_the_rural_documents_speak_of_communes(zrr_batch: Path) -> None:
    convention = plain(docx_text(zrr_batch / "conventions" / "B01-convention-gatine-numerique-solidaire.docx"))
    # handed over in October 2024: every commune is FRR (the ZRR wording is tested on its own below)
    assert ("au bénéfice des habitants de la commune de Vasles (code INSEE 79339), classée en zone "
            "France Ruralités Revitalisation.") in convention
    assert ("au profit des habitants de la commune de Vasles (code INSEE 79339), classée en zone "
            "France Ruralités Revitalisation, et, plus largement, des communes classées en zone "
            "France Ruralités Revitalisation :") in convention
    assert ("qui interviennent dans les communes classées en zone France Ruralités Revitalisation "
            "(FRR).") in convention
    assert "revitalisation rurale" not in convention
    assert "tribunal administratif de Poitiers" in convention
    frr = plain(docx_text(zrr_batch / "conventions" / "B02-convention-foyer-rural-numerique-d-airvault.docx"))
    assert "des habitants de la commune d’Airvault (code INSEE 79005), classée en zone France Ruralités" in frr
    handover = plain(docx_text(zrr_batch / "proces-verbaux" / "B03-proces-verbal-clic-en-gatine.docx"))
    assert "Commune (FRR)\nMénigoute (code INSEE 79176)" in handover
    press = plain((zrr_batch / "communique" / "communique-de-presse.html").read_text(encoding="utf-8"))
    assert "remis aux acteurs de la médiation numérique des communes rurales (FRR)" in press
    assert "(commune de Vasles) : 7 équipements" in press
    assert "(commune d’Airvault) : 8 équipements" in press


def test_the_rural_figures_computed_by_hand(zrr_batch: Path) -> None:
    # The invoices, by hand: 8 laptops at 389,00 € and 4 at 359,00 € HT; 10 tablets at
    # 229,00 € HT; VAT 20 %.
    ht = 8 * Decimal("389.00") + 4 * Decimal("359.00") + 10 * Decimal("229.00")
    vat = ht * Decimal("0.20")
    ttc = ht + vat
    assert (ht, vat, ttc) == (Decimal("6838.00"), Decimal("1367.600"), Decimal("8205.600"))
    computed = (ttc * Decimal("0.80")).quantize(Decimal("0.01"))  # the rate applies to TTC
    granted = Decimal("6500.00")
    assert computed == Decimal("6564.48") and computed > granted  # the cap bites
    state = min(computed, granted)
    due = state - Decimal("1950.00")  # the advance already received
    authority = ttc - state
    assert (due, authority) == (Decimal("4550.00"), Decimal("1705.60"))

    claim = zrr_batch / "demande-subvention"
    letter = plain(docx_text(claim / "1-lettre-de-demande.docx"))
    for line in (
        "Dépense éligible réalisée (factures payées)\n8 205,60 € TTC",
        "Subvention calculée : 80 % du montant TTC de la dépense éligible réalisée\n6 564,48 €",
        "Subvention retenue, dans la limite de la subvention attribuée (plafond appliqué)\n6 500,00 €",
        "Acomptes déjà perçus\n− 1 950,00 €",
        "Montant dû : subvention retenue, moins les acomptes\n4 550,00 €",
        "la somme de 4 550,00 € (quatre mille cinq cent cinquante euros)",
        "Demande de versement du solde de la subvention",
    ):
        assert line in letter, line
    plan = plain(docx_text(claim / "3-plan-de-financement.docx"))
    assert ("Subvention de l’État : 80 % × 8 205,60 € TTC = 6 564,48 €, ramenée au montant attribué "
            "de 6 500,00 € ; acomptes déjà perçus : 1 950,00 € ; montant dû : 4 550,00 €.") in plan
    assert "(autofinancement)\n—\n1 705,60 €\n20,79 %" in plan
    ws = openpyxl.load_workbook(claim / "2-etat-recapitulatif-des-depenses.xlsx").active
    rows = [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]
    header = next(r for r in rows if r[0] == "N°")
    assert header[9] == "Montant éligible (TTC)"
    total = next(r for r in rows if r[0] == "TOTAL")
    assert [Decimal(str(v)) for v in total[6:10]] == [ht, vat, ttc, ttc]
    labelled = {r[0]: Decimal(str(r[6])) for r in rows if isinstance(r[0], str) and r[0].endswith(":")}
    assert labelled["Subvention de l’État (taux × dépense réalisée, dans la limite du montant attribué) :"] == state
    assert labelled["Acomptes déjà perçus :"] == Decimal("1950.00")
    assert labelled["Montant dû (montant demandé) :"] == due
    press = plain(docx_text(zrr_batch / "communique" / "communique-de-presse.docx"))
    # Whole euros, truncated: 8 205 = 6 500 + 1 705.
    assert ("L’État finance cette acquisition à hauteur de 80 % du montant TTC (8 205 € TTC), dans la "
            "limite de la subvention attribuée (6 500 €), soit 6 500 €") in press
    assert "prend en charge le reste, soit la part du montant TTC que l’État ne finance pas, 1 705 €." in press
    assert "Le coût total de l’opération s’élève à 8 205 € TTC." in press


def test_the_authority_takes_its_article_in_sentences(zrr_batch: Path) -> None:
    texts = {p.name: plain(every_text(p)) for p in zrr_batch.rglob("*") if p.suffix in (".docx", ".html")}
    everything = "\n".join(texts.values())
    for wrong in (" de Communauté de communes", " à Communauté de communes", "et Communauté de communes",
                  ", Communauté de communes"):
        assert wrong not in everything, wrong
    assert "l’État a attribué à la Communauté de communes du Pays de Sèvre et Thouet une subvention" in (
        texts["1-lettre-de-demande.docx"])
    assert "au nom de l’État et de la Communauté de communes du Pays de Sèvre et Thouet, 22 équipements" in (
        texts["communique-de-presse.docx"])
    assert "est à la charge de la Communauté de communes du Pays de Sèvre et Thouet." in (
        texts["B01-convention-gatine-numerique-solidaire.docx"])


@pytest.mark.parametrize(("name", "le", "du", "au"), [
    ("Limoges Métropole", "Limoges Métropole", "de Limoges Métropole", "à Limoges Métropole"),
    ("Communauté de communes du Val", "la Communauté de communes du Val", "de la Communauté de communes du Val",
     "à la Communauté de communes du Val"),
    ("Syndicat mixte du Pays", "le Syndicat mixte du Pays", "du Syndicat mixte du Pays", "au Syndicat mixte du Pays"),
    ("Agglomération du Choletais", "l’Agglomération du Choletais", "de l’Agglomération du Choletais",
     "à l’Agglomération du Choletais"),
    ("le Grand Poitiers", "le Grand Poitiers", "du Grand Poitiers", "au Grand Poitiers"),
    ("Le Mans Métropole", "Le Mans Métropole", "du Mans Métropole", "au Mans Métropole"),
    ("Angoulême Agglo", "Angoulême Agglo", "d’Angoulême Agglo", "à Angoulême Agglo"),
])
def test_authority_names(name: str, le: str, du: str, au: str) -> None:
    names = authority_names(name)
    assert (names["le_nom"], names["du_nom"], names["au_nom"]) == (le, du, au)
    assert names["nom"] == ("Grand Poitiers" if name == "le Grand Poitiers" else name)


def test_no_money_sentence_of_the_rural_batch_speaks_of_the_ht_base(zrr_batch: Path) -> None:
    texts = [plain(every_text(p)) for p in zrr_batch.rglob("*") if p.suffix in (".docx", ".html")]
    assert all("du montant HT" not in t and "80 % du HT" not in t for t in texts)
    assert sum("80 % du montant TTC" in t for t in texts) >= 4  # conventions, press (2), letter…


# --- old workbooks keep working ------------------------------------------------------------


def test_a_workbook_with_the_old_qpv_columns_gives_the_same_documents(tmp_path: Path) -> None:
    """« QPV desservi » and « Code QPV », no « Type de territoire » column: QPV, as before."""
    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb["Bénéficiaires"]
    headers = [c.value for c in ws[1]]
    ws.cell(1, headers.index("Territoire desservi") + 1).value = "QPV desservi"
    ws.cell(1, headers.index("Code du territoire") + 1).value = "Code QPV"
    ws.delete_cols(headers.index("Type de territoire") + 1)
    old = tmp_path / "exemple-limoges-2023.xlsx"
    wb.save(old)
    output = tmp_path / "sortie"
    generate_batch(old, output, TEMPLATES)
    produced = {golden_name(p.relative_to(output)): readable(p) for p in output.rglob("*")
                if p.is_file() and p.name != "manifeste.json"}
    assert len(produced) == 28  # with index.html
    for name, text in produced.items():
        assert text == (GOLDEN / name).read_text(encoding="utf-8"), name


def test_old_template_variables_still_render() -> None:
    checked = check_workbook(SAMPLE)
    dotation, first = checked.dotation, checked.dotation.associations[0]
    context = beneficiary_context(dotation, checked.funding, first, convention_title(dotation, first))
    assert DEPRECATED_VARIABLES["beneficiaire.qpv_nom"] == "beneficiaire.territoire.nom"
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        "{{ beneficiaire.qpv_nom }} {{ beneficiaire.qpv_code }} "
        "{% for b in beneficiaires %}{{ b.qpv_nom }};{% endfor %}")
    rendered = template.render(context)
    assert rendered.startswith("Beaubreuil QP087005 Beaubreuil;")
    assert rendered.count(";") == len(dotation.beneficiaries)


# --- validation of the code against the kind --------------------------------------------


def _territory(wb, kind, code) -> None:
    put(wb, "Bénéficiaires", "Type de territoire", 2, kind)
    put(wb, "Bénéficiaires", "Code du territoire", 2, code)


@pytest.mark.parametrize(("kind", "code", "stored"), [
    ("ZRR", "79339", "79339"),
    ("FRR", "2a004", "2A004"),
    ("frr", 1053, "01053"),  # a number cell lost the leading zero
    ("ZRR", "97 411", "97411"),
    (None, "QN08705M", "QN08705M"),
    ("QPV", "qp 087 005", "QP087005"),
])
def test_a_code_that_fits_its_kind_is_accepted(make_workbook, kind, code, stored) -> None:
    checked = check_workbook(make_workbook(lambda wb: _territory(wb, kind, code)))
    assert checked.report.errors == []
    first = checked.dotation.beneficiaries[0]
    assert first.territory_code == stored
    assert first.territory_kind is (TerritoryKind(kind.upper()) if kind else TerritoryKind.QPV)


KIND = "colonne « Type de territoire »"
INSEE = ("le code INSEE de la commune, 5 caractères : le département sur 2 chiffres (2A ou 2B en "
         "Corse) puis 3 chiffres (ex. 79339 ou 2A004) ; ce n'est pas le code postal")


@pytest.mark.parametrize(("kind", "code", "message"), [
    ("ZRR", "QP087005",
     f"« QP087005 » n'est pas un code INSEE de commune ; attendu pour une commune classée ZRR : {INSEE} ; "
     f"« QP087005 » est un code QPV : pour un quartier prioritaire, écrivez « QPV » en {KIND}."),
    ("FRR", "7933",
     f"« 7933 » n'est pas un code INSEE de commune ; attendu pour une commune classée FRR : {INSEE}."),
    ("FRR", "20004",
     f"« 20004 » n'est pas un code INSEE de commune ; attendu pour une commune classée FRR : {INSEE} ; "
     "en Corse, le code INSEE commence par 2A ou 2B."),
    (None, "79339",
     f"« 79339 » n'est pas un code QPV ; attendu pour un QPV ({KIND} vide ou « QPV ») : un code QPV "
     f"(ex. QP087005 ou QN08705M) ; « 79339 » a la forme d'un code INSEE de commune : pour une commune "
     f"classée ZRR ou FRR, écrivez « ZRR » ou « FRR » en {KIND}."),
])
def test_a_code_that_does_not_fit_its_kind_names_cell_found_and_expected(make_workbook, kind, code, message) -> None:
    assert errors_of(make_workbook(lambda wb: _territory(wb, kind, code))) == [
        f"Bénéficiaires!O2 : Code du territoire : {message}"]


def test_an_unknown_kind_is_reported_once(make_workbook) -> None:
    errors = errors_of(make_workbook(lambda wb: _territory(wb, "ZUS", "79339")))
    assert errors == ["Bénéficiaires!R2 : Type de territoire : « ZUS » n'est pas valide ; attendu : une "
                      "valeur de la liste : « QPV », « ZRR », « FRR »."]


# --- wording per kind and for a mix ------------------------------------------------------


def test_wording_for_each_kind_and_for_a_mix() -> None:
    qpv, zrr, frr = TerritoryKind
    assert territories_context([qpv, qpv])["des_court"] == "des quartiers prioritaires"
    assert territories_context([zrr])["formule"] == "les communes classées en zone de revitalisation rurale"
    mix = territories_context([zrr, qpv])
    assert mix["est_mixte"] and mix["types"] == ["QPV", "ZRR"]
    assert mix["formule_courte"] == "les quartiers prioritaires et les communes rurales (ZRR)"
    assert mix["des"] == ("des quartiers prioritaires de la politique de la ville et des communes "
                          "classées en zone de revitalisation rurale")
    both = territories_context([frr, zrr])
    assert not both["est_mixte"]
    assert both["formule_sigle"] == ("les communes classées en zone de revitalisation rurale (ZRR) ou en "
                                     "zone France Ruralités Revitalisation (FRR)")
    assert territory_context(qpv, "Beaubreuil", "QP087005")["habitants"] == (
        "des habitants du quartier prioritaire Beaubreuil (QP087005)")
    assert territory_context(frr, "Le Tallud", "79322")["court"] == "commune du Tallud"
    assert TerritoryKind.FRR.label == "France Ruralités Revitalisation (FRR)"


@pytest.mark.parametrize(("name", "words"), [
    ("Vasles", "de Vasles"), ("Airvault", "d’Airvault"), ("Échiré", "d’Échiré"),
    ("Le Tallud", "du Tallud"), ("Les Aubiers", "des Aubiers"), ("La Chapelle-Thireuil", "de La Chapelle-Thireuil"),
    ("Hérisson", "de Hérisson"),
])
def test_of_place(name: str, words: str) -> None:
    assert of_place(name) == words


def test_a_mixed_operation_names_both_kinds(make_workbook) -> None:
    checked = check_workbook(make_workbook(lambda wb: _territory(wb, "ZRR", "79339")))
    context = common_context(checked.dotation, checked.funding)
    assert context["territoires"]["des_court"] == "des quartiers prioritaires et des communes rurales (ZRR)"
    assert context["beneficiaires"][0]["territoire"]["intitule"] == "Commune (ZRR)"
    assert context["beneficiaires"][1]["territoire"]["intitule"] == "Quartier prioritaire"


# --- the samples are the script's output ---------------------------------------------------


@pytest.mark.parametrize(("variant", "committed"), [("zrr", ZRR_SAMPLE), ("limoges", SAMPLE)])
def test_sample_workbooks_are_rebuilt_identically(tmp_path: Path, variant: str, committed: Path) -> None:
    target = tmp_path / committed.name
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_example_workbook.py"),
                    "--variant", variant, "--output", str(target)],
                   cwd=ROOT, check=True, capture_output=True)
    assert target.read_bytes() == committed.read_bytes(), (
        f"regenerate: python scripts/build_example_workbook.py --variant {variant}")


@pytest.mark.parametrize(("kind", "handover", "warned"), [
    ("ZRR", dt.date(2024, 7, 1), True), ("ZRR", dt.date(2024, 6, 30), False),
    ("FRR", dt.date(2024, 6, 30), True), ("FRR", dt.date(2024, 7, 1), False),
])
def test_a_territory_kind_that_did_not_exist_on_the_handover_day_is_warned(
        make_workbook, kind: str, handover: dt.date, warned: bool) -> None:
    """FRR replaced the ZRR classification on 1 July 2024 (loi n° 2023-1322, art. 73)."""
    def change(wb) -> None:
        _territory(wb, kind, "79339")
        set_operation(wb, "Date de la remise", handover)
    checked = check_workbook(make_workbook(change))
    found = [w.message for w in checked.report.warnings if "1er juillet 2024" in w.message]
    assert bool(found) is warned, found
    if warned and kind == "ZRR":
        assert found[0].startswith("Type de territoire : « ZRR » pour une remise du 01/07/2024 ; depuis le "
                                   "1er juillet 2024, le classement en zone de revitalisation rurale est remplacé")
