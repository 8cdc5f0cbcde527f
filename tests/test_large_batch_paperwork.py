"""The batch-wide paperwork stays short in a large batch (page reader, 1,000 beneficiaries):
the claim letter names the authority's services only when they are three at most, and
counts them beyond; the press release lists its beneficiaries only up to twelve, and counts
them beyond (associations, services, quartiers and communes served), as the invitation
does. Smaller batches read as before.

The workbooks are the samples replicated in code (unique identifiers, serial and inventory
numbers, IMEIs and invoice references): 30 beneficiaries (27 associations, 3 services),
40 (36 and 4), 200 (for the page count), and the rural sample ×4 (16 beneficiaries
serving 3 communes).
"""

from __future__ import annotations

import copy
import html
import re
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE, TEMPLATES, docx_text
from test_paperwork_layout import pdf_text

from dotation_docs.context import territories_context
from dotation_docs.documents import plan_batch
from dotation_docs.model import TerritoryKind
from dotation_docs.pipeline import check_workbook, generate_batch
from dotation_docs.rendering import build_environment, render
from dotation_docs.replication import replicate_workbook

ZRR_SAMPLE = ROOT / "data" / "exemple-zrr.xlsx"
NBSP = "\xa0"
SERVICE = "Cité de l’Emploi de Beaubreuil – conseiller numérique"  # the Limoges sample's service


def replicated(sample: Path, copies: int, target: Path) -> Path:
    """Write at ``target`` the workbook ``sample`` repeated ``copies`` times."""
    replicate_workbook(sample, copies).save(target)
    return target


def texts(workbook: Path) -> dict[str, str]:
    """Render the batch-wide documents of ``workbook``: template name → text (HTML
    unescaped, tags removed, whitespace collapsed)."""
    checked = check_workbook(workbook)
    assert checked.report.errors == [], checked.report.format()
    env = build_environment()
    wanted = {"demande-lettre.docx", "communique-de-presse.docx", "communique-de-presse.html",
              "invitation-presse.docx", "invitation-presse.html"}
    out = {}
    for doc in plan_batch(checked.dotation, checked.funding):
        if doc.template in wanted:
            data = render(TEMPLATES / doc.template, doc.context, title=doc.title,
                          timestamp=datetime(2023, 2, 3), env=env)
            if doc.template.endswith(".html"):
                body = data.decode("utf-8").split("<body>", 1)[1]
                # ordinary whitespace only: the no-break spaces are part of what is checked
                out[doc.template] = re.sub(r"[ \t\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))
            else:
                out[doc.template] = docx_text(data)
    return out


@pytest.fixture(scope="module")
def forty(tmp_path_factory) -> dict[str, str]:
    return texts(replicated(SAMPLE, 4, tmp_path_factory.mktemp("quarante") / "classeur.xlsx"))


@pytest.fixture(scope="module")
def thirty(tmp_path_factory) -> dict[str, str]:
    return texts(replicated(SAMPLE, 3, tmp_path_factory.mktemp("trente") / "classeur.xlsx"))


@pytest.fixture(scope="module")
def rural(tmp_path_factory) -> dict[str, str]:
    return texts(replicated(ZRR_SAMPLE, 4, tmp_path_factory.mktemp("zrr") / "classeur.xlsx"))


# --- the claim letter -----------------------------------------------------------------------


def test_letter_counts_the_services_beyond_three(forty) -> None:
    text = forty["demande-lettre.docx"]
    assert (f"a été remis le 3{NBSP}février 2023 à 36{NBSP}associations et à 4{NBSP}services "
            f"de Limoges Métropole{NBSP}; les procès-verbaux de remise joints ne sont pas encore signés.") in text
    assert SERVICE not in text, text


def test_letter_names_three_services(thirty) -> None:
    text = thirty["demande-lettre.docx"]
    assert (f"à 27{NBSP}associations et aux services «{NBSP}{SERVICE}{NBSP}», «{NBSP}{SERVICE} 1{NBSP}» "
            f"et «{NBSP}{SERVICE} 2{NBSP}» de Limoges Métropole{NBSP}; les procès-verbaux") in text


@pytest.mark.libreoffice
@pytest.mark.slow
def test_letter_and_release_stay_on_one_page_with_200_beneficiaries(tmp_path: Path) -> None:
    """As a reader sees them (LibreOffice): 180 associations and 20 services."""
    workbook = replicated(SAMPLE, 20, tmp_path / "classeur.xlsx")
    checked = check_workbook(workbook)
    assert checked.report.errors == [], checked.report.format()
    env = build_environment()
    for doc in plan_batch(checked.dotation, checked.funding):
        if doc.template in ("demande-lettre.docx", "communique-de-presse.docx"):
            source = tmp_path / doc.template
            source.write_bytes(render(TEMPLATES / doc.template, doc.context, title=doc.title,
                                      timestamp=datetime(2023, 2, 3), env=env))
            text, pages = pdf_text(source, tmp_path)
            assert pages == 1, (doc.template, text)
            assert "Contacts presse" in text or "Pièces jointes" in text


# --- the press release ----------------------------------------------------------------------


@pytest.mark.parametrize("template", ["communique-de-presse.docx", "communique-de-presse.html"])
def test_release_counts_the_beneficiaries_beyond_twelve(forty, template) -> None:
    text = forty[template]
    assert (f"Ces équipements ont été remis à 36{NBSP}associations et à 4{NBSP}services de Limoges "
            f"Métropole, qui interviennent dans 9{NBSP}quartiers prioritaires.") in text
    assert "l’association «" not in text and SERVICE not in text, text
    assert "(quartier Beaubreuil)" not in text
    # the rest of the release follows
    assert "Le financement" in text and "Contacts presse" in text


@pytest.mark.parametrize("template", ["communique-de-presse.docx", "communique-de-presse.html"])
def test_release_counts_the_communes_served(rural, template) -> None:
    text = rural[template]
    assert (f"Ces équipements ont été remis à 12{NBSP}associations et à 4{NBSP}services de la "
            f"Communauté de communes du Pays de Sèvre et Thouet, qui interviennent dans "
            f"3{NBSP}communes rurales.") in text
    assert "(commune de" not in text, text


@pytest.mark.parametrize("count, listed", [(10, True), (12, True), (13, False)])
def test_release_lists_up_to_twelve_beneficiaries(count: int, listed: bool) -> None:
    """The sample's ten, and the list stretched to 12 and 13 lines (its first beneficiaries
    repeated): a list up to 12, counts beyond."""
    checked = check_workbook(SAMPLE)
    [doc] = [d for d in plan_batch(checked.dotation, checked.funding)
             if d.template == "communique-de-presse.docx"]
    context = copy.deepcopy(doc.context)
    context["beneficiaires"] = (context["beneficiaires"] * 2)[:count]
    text = docx_text(render(TEMPLATES / doc.template, context, title=doc.title,
                            timestamp=datetime(2023, 2, 3), env=build_environment()))
    line = (f"l’association «{NBSP}Beaubreuil Numérique Solidaire{NBSP}» (quartier Beaubreuil){NBSP}: "
            f"16{NBSP}équipements{NBSP};")
    assert (line in text) is listed, text
    assert text.count("(quartier ") == (count if listed else 0)
    assert ("Ces équipements ont été remis" in text) is not listed


def test_release_counts_quartiers_and_communes_of_a_mixed_batch() -> None:
    qpv, zrr, frr = TerritoryKind.QPV, TerritoryKind.ZRR, TerritoryKind.FRR
    places = [(qpv, "QP087005"), (qpv, "QP087005"), (qpv, "QP087006"),
              (zrr, "79340"), (frr, "79340"), (frr, "79007")]  # a commune in both lists counts once
    served = territories_context([k for k, _ in places], places)
    assert (served["nombre_quartiers"], served["nombre_communes"]) == (2, 2)
    checked = check_workbook(SAMPLE)
    [doc] = [d for d in plan_batch(checked.dotation, checked.funding)
             if d.template == "communique-de-presse.docx"]
    context = copy.deepcopy(doc.context)
    context["beneficiaires"] = context["beneficiaires"] * 2
    context["territoires"].update(served)
    text = docx_text(render(TEMPLATES / doc.template, context, title=doc.title,
                            timestamp=datetime(2023, 2, 3), env=build_environment()))
    assert f"qui interviennent dans 2{NBSP}quartiers prioritaires et 2{NBSP}communes rurales." in text


def test_invitation_stays_counted(forty) -> None:
    text = forty["invitation-presse.docx"]
    assert f"il est remis à 36{NBSP}associations et à 4{NBSP}services de Limoges Métropole" in text


# --- cosmetics: the financing plan's total row; « HT » and « TTC » kept with their amount ------


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, Path]:
    folders = {}
    for name, workbook in (("limoges", SAMPLE), ("zrr", ZRR_SAMPLE)):
        folders[name] = tmp_path_factory.mktemp(name) / "sortie"
        generate_batch(workbook, folders[name], TEMPLATES)
    return folders


@pytest.mark.parametrize("name, label", [
    ("limoges", f"Coût total de l’opération{NBSP}: montant TTC"),
    ("zrr", f"Coût total de l’opération{NBSP}: montant TTC (dépense éligible)"),
])
def test_plan_total_row_reads_as_one_label(samples, name, label) -> None:
    text = docx_text(samples[name] / "demande-subvention" / "3-plan-de-financement.docx")
    assert label in text.splitlines(), text
    assert ") (" not in text, text


def test_ht_and_ttc_never_start_a_line(samples) -> None:
    """After an amount, « HT » and « TTC » follow a no-break space in the letter, the plan,
    the press release (Word and HTML) and the conventions (the certificate is not checked
    here: its text has its own owner)."""
    checked = 0
    for folder in samples.values():
        paths = [folder / "demande-subvention" / "1-lettre-de-demande.docx",
                 folder / "demande-subvention" / "3-plan-de-financement.docx",
                 folder / "communique" / "communique-de-presse.docx",
                 *sorted((folder / "conventions").glob("*.docx"))]
        for path in paths:
            text = docx_text(path)
            assert not re.search(r"€[ \t\n](HT|TTC)\b", text), (path.name, text)
            checked += len(re.findall(rf"€{NBSP}(HT|TTC)\b", text))
        page = (folder / "communique" / "communique-de-presse.html").read_text(encoding="utf-8")
        assert not re.search(r"€\s(HT|TTC)\b", page.replace(NBSP, "~")), page
    assert checked > 40  # each sample's letter, plan, release and conventions say it
