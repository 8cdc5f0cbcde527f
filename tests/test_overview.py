"""The overview page ``index.html`` (issue #11): rewritten by every job that writes, listed in
the manifest (type « apercu »), self-contained, escaped, and true to the workbook and to the
folder.

The tests marked ``browser`` open the page in a real headless Chromium (``--dump-dom``,
``--screenshot``): they are skipped when Chromium is absent, unless
``DOTATION_EXIGER_LIBREOFFICE=1`` (CI sets it, and installs Chromium), which turns the skip
into a failure, as for the LibreOffice tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest
from conftest import SAMPLE, TEMPLATES

from dotation_docs.cli import cli
from dotation_docs.exceptions import OutputConflictError
from dotation_docs.formatting import format_amount
from dotation_docs.pipeline import check_workbook, generate_batch, generate_beneficiary, generate_claim

REQUIRE = "DOTATION_EXIGER_LIBREOFFICE"
INDEX = "index.html"
HOSTILE = "<script>alert(1)</script> & \"Cie\" {{ 7*7 }} {% if %}"


# --- Chromium ---------------------------------------------------------------------------------


def chromium() -> str:
    """The Chromium executable; skips the test when absent, or fails it in CI."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"Chromium absent, alors que {REQUIRE}=1 exige les tests de la page d'aperçu")
    pytest.skip("Chromium absent : tests de la page d'aperçu dans un navigateur ignorés")


def run_chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run headless Chromium on ``page`` with a fresh profile (``--no-sandbox``: CI runs as root)."""
    profile = tmp_path / f"profil-{len(list(tmp_path.glob('profil-*')))}"
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, timeout=120, check=True)


def dump_dom(page: Path, tmp_path: Path) -> lxml.html.HtmlElement:
    """The DOM of ``page`` as Chromium built it."""
    out = run_chromium(page, tmp_path, "--dump-dom").stdout.decode("utf-8")
    assert "</html>" in out, out[-500:]
    return lxml.html.fromstring(out)


# --- Helpers ----------------------------------------------------------------------------------


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifeste.json").read_text(encoding="utf-8"))


def listed(folder: Path) -> set[str]:
    """The files the manifest lists, the overview page excepted."""
    return {d["fichier"] for d in manifest_of(folder)["documents"]} - {INDEX}


def links(dom: lxml.html.HtmlElement) -> list[str]:
    return [a.get("href") for a in dom.iter("a")]


def spaced(text: str) -> str:
    """``text`` with narrow and no-break spaces read as plain ones, runs of spaces as one."""
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def text_of(dom: lxml.html.HtmlElement) -> str:
    """The page's text, each node apart (a table's cells do not run together)."""
    return spaced(" ".join(dom.itertext()))


def assert_links_resolve(folder: Path, dom: lxml.html.HtmlElement) -> None:
    """Every link is relative, resolves to a file of the folder that the manifest lists, and
    every listed file has a link."""
    targets = set()
    for href in links(dom):
        parts = urlsplit(href)
        assert not parts.scheme and not parts.netloc and not href.startswith("/"), href
        path = unquote(parts.path)
        assert (folder / path).is_file(), href
        targets.add(path)
    assert targets == listed(folder)


def chart(dom: lxml.html.HtmlElement, title: str) -> list[tuple[str, str]]:
    """The (label, figure) pairs printed in the SVG chart titled ``title``."""
    [svg] = [s for s in dom.iter("svg") if s.find("title") is not None and s.find("title").text == title]
    texts = [t.text for t in svg.iter("text")]
    return list(zip(texts[::2], texts[1::2], strict=True))


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("apercu") / "lot"
    generate_batch(SAMPLE, output, TEMPLATES)
    return output


@pytest.fixture
def copy(batch: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(batch, tmp_path / "lot"))


# --- In the browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_every_link_of_the_page_opens_a_file_of_the_batch(batch: Path, tmp_path: Path) -> None:
    dom = dump_dom(batch / INDEX, tmp_path)
    assert dom.get("lang") == "fr"
    assert_links_resolve(batch, dom)
    assert len(listed(batch)) == 9 + 10 + 4 + 4  # conventions, records, press (Word and HTML), claim


@pytest.mark.browser
def test_the_figures_of_the_page_are_the_workbook_s(batch: Path, tmp_path: Path) -> None:
    dom = dump_dom(batch / INDEX, tmp_path)
    text = text_of(dom)
    checked = check_workbook(SAMPLE)
    funding = checked.funding
    for label, amount in [("Total HT", funding.ht), ("TVA", funding.vat), ("Total TTC", funding.ttc),
                          ("Part de l’État (80 % du HT)", funding.state_share),
                          ("Part de la collectivité", funding.authority_share),
                          ("Montant à demander à l’État", funding.claimed)]:
        assert spaced(f"{label} {format_amount(amount)}") in text, label
    assert "36 151,25 €" in text and "28 921,00 €" in text and "43 381,50 €" in text  # FACTS.md
    # devices per category, counted here from the model's devices
    counted = Counter(d.category for d in checked.dotation.devices)
    expected = [(c.plural if n > 1 else c.singular, str(n)) for c, n in counted.items()]
    assert sorted(chart(dom, "Matériels par catégorie")) == sorted(expected)
    assert ("ordinateurs portables", "57") in expected
    per_territory = chart(dom, "Matériels par territoire desservi")
    assert sum(int(n) for _label, n in per_territory) == len(checked.dotation.devices) == 121
    assert ("Beaubreuil (QP087005)", "22") in per_territory  # B01 and B10 serve it: 16 + 6
    assert "10 bénéficiaires, 121 matériels" in text
    assert "Conventions signées : 0 sur 9 ; procès-verbaux de remise signés : 0 sur 10." in text


@pytest.mark.browser
def test_the_page_after_convention_b03_still_lists_every_beneficiary(copy: Path, tmp_path: Path) -> None:
    before = (copy / INDEX).read_bytes()
    generate_beneficiary(SAMPLE, "B03", copy, TEMPLATES)
    entry = next(d for d in manifest_of(copy)["documents"] if d["fichier"] == INDEX)
    assert entry["type"] == "apercu" and entry["beneficiaire"] is None
    assert entry["sha256"] == hashlib.sha256((copy / INDEX).read_bytes()).hexdigest()
    assert (copy / INDEX).read_bytes() == before  # same folder, same page: no clock in it
    dom = dump_dom(copy / INDEX, tmp_path)
    assert_links_resolve(copy, dom)
    rows = {row.find("th").text_content().split(" – ")[0]: [a.get("href") for a in row.iter("a")]
            for row in dom.iter("tr") if row.find("th") is not None and row.find("th").get("scope") == "row"
            and row.find("th").text_content().startswith("B")}
    assert sorted(rows) == [f"B{i:02d}" for i in range(1, 11)]
    assert all(len(hrefs) == 2 for ident, hrefs in rows.items() if ident != "B10"), rows
    assert rows["B10"] == ["proces-verbaux/B10-proces-verbal-cite-de-l-emploi-de-beaubreuil-conseiller.docx"]


@pytest.mark.browser
def test_workbook_values_are_escaped_in_the_browser(make_workbook, tmp_path: Path) -> None:
    def hostile(wb) -> None:
        wb["Bénéficiaires"]["B2"] = HOSTILE

    output = tmp_path / "lot"
    generate_batch(make_workbook(hostile), output, TEMPLATES)
    raw = (output / INDEX).read_text(encoding="utf-8")
    assert "<script" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Cie&#34;" in raw
    dom = dump_dom(output / INDEX, tmp_path)
    assert list(dom.iter("script")) == []
    assert HOSTILE in text_of(dom)  # printed as typed, « {{ 7*7 }} » not evaluated
    assert_links_resolve(output, dom)


@pytest.mark.browser
def test_the_page_renders_as_a_picture(batch: Path, tmp_path: Path) -> None:
    shot = tmp_path / "apercu.png"
    run_chromium(batch / INDEX, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000",
                 "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280 and int.from_bytes(data[20:24], "big") == 2000


# --- In the bytes -----------------------------------------------------------------------------


def test_the_page_is_self_contained(batch: Path) -> None:
    raw = (batch / INDEX).read_text(encoding="utf-8")
    assert raw.startswith("<!DOCTYPE html>") and '<html lang="fr">' in raw and '<meta charset="utf-8">' in raw
    assert "http" not in raw and "<script" not in raw and "<link" not in raw
    assert "url(" not in raw and "@import" not in raw
    dom = lxml.html.fromstring(raw)
    assert [e for e in dom.iter() if e.get("src") is not None] == []
    svgs = list(dom.iter("svg"))
    assert len(svgs) == 2 and all(s.get("role") == "img" and s.find("title") is not None for s in svgs)


def test_every_job_rewrites_the_page_and_lists_it(copy: Path) -> None:
    generate_claim(SAMPLE, copy, TEMPLATES)
    documents = manifest_of(copy)["documents"]
    assert [d["type"] for d in documents if d["fichier"] == INDEX] == ["apercu"]
    page = (copy / INDEX).read_text(encoding="utf-8")
    hrefs = set(re.findall(r'href="([^"]+)"', page))
    assert {unquote(h) for h in hrefs} == listed(copy)


def test_the_same_workbook_gives_the_same_page(batch: Path, tmp_path: Path) -> None:
    other = tmp_path / "autre"
    generate_batch(SAMPLE, other, TEMPLATES)
    assert (other / INDEX).read_bytes() == (batch / INDEX).read_bytes()


def test_an_index_html_of_the_agent_is_a_conflict(runner, tmp_path: Path) -> None:
    output = tmp_path / "lot"
    output.mkdir()
    mine = output / INDEX
    mine.write_text("<p>ma page</p>", encoding="utf-8")
    with pytest.raises(OutputConflictError, match="index.html"):
        generate_batch(SAMPLE, output, TEMPLATES)
    assert sorted(p.name for p in output.iterdir()) == [INDEX] and mine.read_text() == "<p>ma page</p>"
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(output), "--ecraser"])
    assert result.exit_code == 0, result.output
    assert "1 page d'aperçu (index.html)" in result.output
    assert "ma page" not in mine.read_text(encoding="utf-8") and INDEX in {
        d["fichier"] for d in manifest_of(output)["documents"]}


def test_an_edited_page_is_not_overwritten_silently(copy: Path) -> None:
    (copy / INDEX).write_text("annotée", encoding="utf-8")
    with pytest.raises(OutputConflictError, match="Modifiés depuis leur génération : index.html"):
        generate_beneficiary(SAMPLE, "B03", copy, TEMPLATES)
    generate_beneficiary(SAMPLE, "B03", copy, TEMPLATES, overwrite=True)
    assert "Aperçu du lot" in (copy / INDEX).read_text(encoding="utf-8")


def test_a_missing_claim_file_is_explained(make_workbook, tmp_path: Path) -> None:
    def unpaid(wb) -> None:
        ws = wb["Factures"]
        headers = [c.value for c in ws[1]]
        ws.cell(2, headers.index("N° de mandat") + 1).value = None

    output = tmp_path / "lot"
    generate_batch(make_workbook(unpaid), output, TEMPLATES)
    page = (output / INDEX).read_text(encoding="utf-8")
    assert "demande-subvention/" not in page
    assert "Non produit : la demande de versement ne peut porter que sur des dépenses payées" in page
    assert re.search(r"<li>[^<]+ : sans numéro de mandat</li>", page)


def test_a_kept_file_the_agent_deleted_is_shown_absent(copy: Path) -> None:
    gone = "communique/invitation-presse.html"
    (copy / gone).unlink()
    generate_beneficiary(SAMPLE, "B03", copy, TEMPLATES)
    page = (copy / INDEX).read_text(encoding="utf-8")
    assert f'href="{gone}"' not in page and "HTML (fichier absent)" in page and gone in page


def test_the_page_is_written_with_the_batch_in_one_swap(tmp_path: Path, monkeypatch) -> None:
    from dotation_docs import outputdir, writers

    calls = []
    real = outputdir.replace_files

    def spy(output, files, removals, staging=None):  # type: ignore[no-untyped-def]
        calls.append([path for path, _data in files])
        return real(output, files, removals, staging)

    monkeypatch.setattr(writers, "replace_files", spy)
    generate_batch(SAMPLE, tmp_path / "lot", TEMPLATES)
    [paths] = calls
    assert INDEX in paths and paths[-1] == "manifeste.json"  # the manifest last: the commit point


def test_pdfs_the_dossier_and_the_warnings_are_shown(tmp_path: Path) -> None:
    from dotation_docs.manifest import Scope
    from dotation_docs.overview import overview_file
    from dotation_docs.report import Report
    from dotation_docs.writers import OutputFile

    checked = check_workbook(SAMPLE)
    stem = "conventions/B01-convention-beaubreuil-numerique-solidaire"
    files = [OutputFile(f"{stem}.docx", b"", "convention", "B01"), OutputFile(f"{stem}.pdf", b"", "convention_pdf", "B01"),
             OutputFile("demande-subvention/dossier-demande-subvention.pdf", b"", "dossier_demande")]
    report = Report()
    report.warning("la valeur « <b>1,5</b> » a plus de deux décimales", "Matériel", "F12")
    page = overview_file(tmp_path, files, Scope.batch(), checked.dotation, checked.funding, report).data.decode()
    assert (f'<a href="{stem}.docx" title="{stem}.docx">Word</a> · '
            f'<a href="{stem}.pdf" title="{stem}.pdf">PDF</a>') in page
    assert ('Dossier de demande</span> : <a href="demande-subvention/dossier-demande-subvention.pdf"' in page)
    assert ('<span class="lieu">Matériel!F12</span> : la valeur « &lt;b&gt;1,5&lt;/b&gt; » a plus de deux '
            "décimales") in page
    assert "Aucun avertissement" not in page
    # the other conventions (B02…B09) and every handover record are in neither this run nor a
    # previous manifest: said, not linked
    assert page.count("pas encore produite") == 8 and page.count("pas encore produit<") == 10
    assert "Pas encore produits : lancez « dotation generer »." in page


def test_signatures_are_said_in_words(tmp_path: Path, monkeypatch) -> None:
    from datetime import date

    from dotation_docs import overview
    from dotation_docs.manifest import Scope
    from dotation_docs.report import Report

    def signed(b):  # type: ignore[no-untyped-def]
        # the model's signature dates (helper « etat »): B01 signed both, B10 its record
        return {"B01": (date(2023, 2, 3), date(2023, 2, 3)), "B10": (None, date(2023, 2, 6))}.get(b.identifier,
                                                                                                 (None, None))

    monkeypatch.setattr(overview, "signature_dates", signed)
    checked = check_workbook(SAMPLE)
    page = spaced(overview.overview_file(tmp_path, [], Scope.batch(), checked.dotation, checked.funding,
                                         Report()).data.decode())
    assert "Conventions signées : 1 sur 9 ; procès-verbaux de remise signés : 2 sur 10." in page
    assert page.count('<span class="done">signée le 3 février 2023</span>') == 1
    assert '<span class="done">signé le 6 février 2023</span>' in page
    assert page.count('<span class="todo">non signée</span>') == 8  # words, not a colour
    assert '<span class="none">sans convention</span>' in page  # B10, a service of the authority
