"""The wording of the conventions (issue #7, items 8–14, 20–22): contrat d'engagement
républicain, insurance, aid in kind, signature by delegation, end of term, gift category,
preamble figures, « 1er » in superscript, no-break spaces, the annex's IMEI column."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import docx
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text, gift_categories, set_operation, warnings_of
from docx.oxml.ns import qn

from dotation_docs.pipeline import generate_batch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import build_templates  # noqa: E402

NBSP = "\u00a0"
NNBSP = "\u202f"


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace(NNBSP, " ")


def article(text: str, title: str) -> str:
    """The text of the article whose heading contains ``title``, up to the next article."""
    match = re.search(rf"^Article\s\d+ – {title}.*?(?=^Article\s\d+ – |\Z)", text, re.M | re.S)
    assert match, f"no article « {title} »"
    return match.group(0)


def cheap_devices(wb) -> None:
    """Every device at 200 € HT (240 € TTC) and the invoices adjusted to match."""
    devices, invoices = wb["Matériel"], wb["Factures"]
    per_invoice: Counter = Counter()
    for row in devices.iter_rows(min_row=2):
        if row[0].value:
            row[8].value = 200
            per_invoice[row[10].value] += 1
    for row in invoices.iter_rows(min_row=2):
        if row[0].value:
            n = per_invoice[row[0].value]
            row[5].value, row[6].value, row[7].value = 200 * n, 40 * n, 240 * n


def gift(wb) -> None:
    cheap_devices(wb)
    set_operation(wb, "Type de convention", "don")
    gift_categories(wb, "association reconnue d'utilité publique")


def by_delegation(wb) -> None:
    set_operation(wb, "Les conventions sont signées par l'élu délégué", "oui")


@pytest.fixture(scope="module")
def sample_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("sample") / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    return output


def convention(batch: Path, identifier: str) -> Path:
    [path] = (batch / "conventions").glob(f"{identifier}-*.docx")
    return path


@pytest.fixture
def generate(tmp_path: Path, make_workbook):
    def run(*mutations) -> Path:
        def mutate(wb):
            for m in mutations:
                m(wb)

        output = tmp_path / "output"
        generate_batch(make_workbook(mutate), output, TEMPLATES)
        return output

    return run


# --- item 8: contrat d'engagement républicain ------------------------------------------------


def test_loan_convention_cites_and_binds_the_republican_contract(sample_batch: Path) -> None:
    text = plain(docx_text(convention(sample_batch, "B01")))
    assert "Vu la loi n° 2000-321 du 12 avril 2000 relative aux droits des citoyens" in text
    assert "notamment ses articles 9-1 et 10-1 ;" in text
    assert "Vu le décret n° 2021-1947 du 31 décembre 2021" in text
    cer = article(text, "Contrat d’engagement républicain")
    assert "déclare avoir souscrit le contrat d’engagement républicain" in cer
    assert "s’engage à le respecter pendant toute la durée de la présente convention" in cer
    assert "retirer la subvention en nature" in cer
    assert "restitue le matériel" in cer
    # the end-of-term article lists the withdrawal among the cases of return
    assert "en cas de retrait de l’aide prévu à l’article" in article(text, "Fin de la convention")


def test_gift_convention_claims_back_the_goods_or_their_value(generate) -> None:
    text = plain(docx_text(convention(generate(gift), "B02")))
    assert "Vu la loi n° 2000-321 du 12 avril 2000" in text
    cer = article(text, "Contrat d’engagement républicain")
    assert "pendant toute la durée de ses engagements" in cer
    assert "restitue alors le matériel qu’il détient encore ou, à défaut, sa valeur monétaire" in cer


# --- item 9: insurance ------------------------------------------------------------------------


def test_insurance_covers_theft_and_damage_at_refurbished_value_not_loss(sample_batch: Path) -> None:
    text = plain(docx_text(convention(sample_batch, "B01")))
    insurance = article(text, "Assurance")
    assert "responsabilité civile" in insurance
    assert "contre le vol et les dommages" in insurance
    assert "équipement reconditionné équivalent" in insurance
    assert "valeur nette comptable" in insurance
    assert "perte" not in insurance
    assert "valeur d’acquisition" not in insurance and "valeur indiquée" not in insurance
    # a police report for theft only; a written declaration for loss; both within 48 hours
    obligations = article(text, "Obligations du bénéficiaire")
    assert ("dans un délai de 48 heures, tout vol, en joignant une copie du dépôt de plainte, "
            "et toute perte, par une déclaration écrite") in obligations
    assert "toute perte ou tout vol" not in text


# --- item 10: aid in kind -----------------------------------------------------------------------


def test_aid_in_kind_states_its_value_and_who_records_it(sample_batch: Path) -> None:
    text = docx_text(convention(sample_batch, "B01"))
    aid = article(text, "Gratuité et aide en nature")
    assert f"subvention en nature au sens de l’article{NBSP}9-1 de la loi n°{NBSP}2000-321" in aid
    assert f"d’une valeur de 5{NNBSP}679,18{NBSP}€{NBSP}TTC (4{NNBSP}732,65{NBSP}€{NBSP}HT)" in aid
    assert "contributions volontaires en nature" in aid
    assert ("liste des concours attribués à des tiers en nature ou en subventions, annexée à son "
            "budget et à son compte administratif ou à son compte financier unique") in aid


# --- item 11: signature by delegation --------------------------------------------------------------


def _signature_cell(path: Path) -> str:
    document = docx.Document(str(path))
    for table in document.tables:
        first = table.rows[0].cells[0].text
        if first.startswith("Pour la Collectivité"):
            return "\n".join(row.cells[0].text for row in table.rows)
    raise AssertionError("no signature table")


def test_convention_signed_by_delegation_reads_pour_le_president(generate) -> None:
    path = convention(generate(by_delegation), "B01")
    text = plain(docx_text(path))
    assert ("Vu la délégation consentie à Ibrahima Dia, conseiller communautaire "
            "délégué à la politique de la ville et à la lutte contre les discriminations, "
            "par arrêté n° 2020-0145 du 17 juillet 2020 ;") in text
    cell = plain(_signature_cell(path))
    assert cell.startswith("Pour la Collectivité,\nPour le Président et par délégation,\n")
    assert "(arrêté n° 2020-0145 du 17 juillet 2020)" in cell
    assert cell.endswith("Ibrahima Dia")
    assert "Guillaume Guérin" not in cell


def test_convention_without_delegation_is_signed_by_the_president(sample_batch: Path) -> None:
    path = convention(sample_batch, "B01")
    text = docx_text(path)
    assert "par délégation" not in text
    assert "délégation de signature" not in text
    assert "arrêté n°" not in plain(text)
    cell = _signature_cell(path)
    assert cell == "Pour la Collectivité,\nLe Président de Limoges Métropole\nGuillaume Guérin"


# --- item 12: end of term, warranty, licences, SIM cards ---------------------------------------


def test_end_of_term_warranty_licences_and_sim_cards(sample_batch: Path) -> None:
    text = plain(docx_text(convention(sample_batch, "B01")))
    end = article(text, "Fin de la convention et restitution du matériel")
    assert "peut être renouvelée par avenant" in end
    assert "procès-verbal de restitution" in end
    assert "décider de le céder gratuitement" in end and "n’est pas un droit pour le Bénéficiaire" in end
    warranty = article(text, "Garantie, logiciels et abonnements")
    assert "fait jouer cette garantie" in warranty
    assert "par un tiers sans l’accord écrit de la Collectivité" in warranty
    assert "dans le respect de leurs licences" in warranty
    assert "Les cartes SIM et les abonnements" in warranty  # B01 has smartphones


def test_sim_cards_are_mentioned_only_when_a_device_has_an_imei(sample_batch: Path) -> None:
    text = docx_text(convention(sample_batch, "B05"))  # laptops, desktops and tablets, no IMEI
    assert "Garantie, logiciels et abonnements" in text
    assert "cartes SIM" not in text


# --- item 13: gift category -----------------------------------------------------------------------


def test_gift_convention_cites_the_category_and_the_300_euro_threshold(generate) -> None:
    text = plain(docx_text(convention(generate(gift), "B02")))
    category = "association reconnue d’utilité publique"
    assert ("Catégorie d’organisme (article L. 3212-2, 3°, du code général de la "
            f"propriété des personnes publiques) : {category}\n") in text
    assert ("déclare relever, parmi les organismes auxquels le 3° de l’article L. 3212-2 du code "
            "général de la propriété des personnes publiques permet de céder gratuitement du "
            f"matériel informatique, de la catégorie suivante : {category} ;") in text
    assert "n’excède pas le seuil de 300 € fixé par l’article D. 3212-3" in text


def categories(*values: str):
    def mutate(wb) -> None:
        ws = wb["Bénéficiaires"]
        header = [c.value for c in ws[1]]
        column = header.index("Catégorie du bénéficiaire du don") + 1
        for row, value in enumerate(values, start=2):
            ws.cell(row, column).value = value
    return mutate


def test_gift_category_in_the_statute_words_and_resale_only_for_rup_and_general_interest(generate) -> None:
    output = generate(gift, categories(
        "association de soutien scolaire", "association d'intérêt général (précarité)",
        "organisme de réemploi agréé ESUS", "association reconnue d'utilité publique"))
    school, general, esus, rup = (plain(docx_text(convention(output, b))) for b in ("B01", "B02", "B03", "B04"))
    assert ("de la catégorie suivante : association reconnue d’intérêt général dont l’objet "
            "statutaire est d’équiper, de former et d’accompagner des personnes en situation de "
            "précarité ;") in general
    assert ("organisme de réutilisation et de réemploi agréé « entreprise solidaire d’utilité "
            "sociale » en application du II de l’article L. 3332-17-1 du code du travail") in esus
    assert "(précarité)" not in general and "ESUS" not in esus
    resale = "à un prix solidaire n’excédant pas les seuils fixés par décret"
    ban = "ne pas prêter, louer, revendre ni céder le matériel, même à titre gratuit"
    for text in (general, rup):
        assert resale in text and ban not in text
    for text in (school, esus):
        assert ban in text and resale not in text


def test_gift_convention_states_the_reform_or_leaves_it_blank(generate, make_workbook) -> None:
    text = plain(docx_text(convention(generate(gift), "B02")))
    assert "n’a pas l’emploi" not in text
    assert "Vu la décision de réforme du matériel cédé (réf. : ………" in text
    assert ("La Collectivité déclare que ses services n’ont plus l’emploi du matériel cédé par la "
            "présente convention et qu’elle l’a réformé par la décision visée ci-dessus.") in text
    assert "pendant la durée des engagements prévue à l’article 4" in article(text, "Contrôle")
    warnings = warnings_of(make_workbook(gift))
    assert any("Décision de réforme du matériel : cellule vide alors que le type de convention est "
               "« don »" in w and "n'ont plus l'emploi" in w for w in warnings), warnings

    def reformed(wb):
        set_operation(wb, "Décision de réforme du matériel", "arrêté n° 2023-0021 du 30 janvier 2023")

    text = plain(docx_text(convention(generate(gift, reformed), "B02")))
    assert "Vu la décision de réforme du matériel cédé (réf. : arrêté n° 2023-0021 du 30 janvier 2023) ;" in text
    assert not any("réforme" in w for w in warnings_of(make_workbook(lambda wb: (gift(wb), reformed(wb)))))


def test_loan_conventions_cite_no_reform_and_warn_nothing(sample_batch: Path) -> None:
    text = plain(docx_text(convention(sample_batch, "B01")))
    assert "réforme du matériel cédé" not in text
    # the end-of-term gift cites L. 3212-3, which applies L. 3212-2 to the authority
    assert ("au 3° de l’article L. 3212-2 du code général de la propriété des personnes publiques, "
            "applicable à la Collectivité en vertu de l’article L. 3212-3 du même code") in text
    assert not any("réforme" in w for w in warnings_of(SAMPLE))


def test_association_signatory_is_empowered(sample_batch: Path) -> None:
    text = plain(docx_text(convention(sample_batch, "B03")))
    assert ("Représentant : Madame Sophie Marchand, Directrice, dûment habilitée à signer la "
            "présente convention\n") in text
    text = plain(docx_text(convention(sample_batch, "B02")))
    assert re.search(r"Représentant : Monsieur [^\n]*, dûment habilité à signer la présente convention\n", text)


def test_loan_convention_has_no_gift_category(sample_batch: Path) -> None:
    text = docx_text(convention(sample_batch, "B01"))
    assert "Catégorie d’organisme" not in text
    assert "déclare appartenir à la catégorie" not in text


# --- item 14: preamble figures --------------------------------------------------------------------


def test_preamble_figures_follow_rate_base_and_rest(sample_batch: Path) -> None:
    text = docx_text(convention(sample_batch, "B01"))
    assert (f"financée par l’État à hauteur de 80{NBSP}% du montant HT (36{NNBSP}151,25{NBSP}€{NBSP}HT), "
            f"soit 28{NNBSP}921,00{NBSP}€{NBSP}; le reste, soit 20{NBSP}% du montant HT et la TVA, "
            f"14{NNBSP}460,50{NBSP}€, est à la charge de Limoges Métropole.") in text
    assert "le solde" not in text


def test_preamble_states_the_cap_when_it_bites(generate) -> None:
    def capped(wb):
        set_operation(wb, "Montant de la subvention attribuée", 25000)

    text = plain(docx_text(convention(generate(capped), "B01")))
    assert ("80 % du montant HT (36 151,25 € HT), dans la limite de la subvention attribuée "
            "(25 000,00 €), soit 25 000,00 € ; le reste, soit la part du montant HT que l’État ne "
            "finance pas et la TVA, 18 381,50 €") in text


def other_funder(wb) -> None:
    set_operation(wb, "Montant de la subvention attribuée", 25000)
    set_operation(wb, "Acomptes reçus", 7500)
    set_operation(wb, "Autres financeurs", "Région Nouvelle-Aquitaine")
    set_operation(wb, "Montant des autres financements", 3000)


def test_preamble_and_publicity_clause_name_the_other_funders(generate) -> None:
    # 43 381,50 − 25 000,00 (State, capped) − 3 000,00 (Region) = 15 381,50 for the authority.
    loan = plain(docx_text(convention(generate(other_funder), "B02")))
    assert ("dans la limite de la subvention attribuée (25 000,00 €), soit 25 000,00 € ; par "
            "l’autre financeur de l’opération (Région Nouvelle-Aquitaine) à hauteur de 3 000,00 € ; "
            "le reste, soit 15 381,50 €, est à la charge de Limoges Métropole.") in loan
    assert "18 381,50" not in loan
    # gift: 121 devices at 240 € TTC = 29 040 − 80 % × 24 200 = 19 360 − 3 000 = 6 680
    donation = plain(docx_text(convention(generate(other_funder, gift), "B02")))
    assert ("à hauteur de 3 000,00 € ; le reste, soit 6 680,00 €, est à la charge de Limoges "
            "Métropole.") in donation
    for text in (loan, donation):
        assert ("« avec le soutien de l’État et de Limoges Métropole », en citant aussi le soutien "
                "apporté par l’autre financeur de l’opération (Région Nouvelle-Aquitaine)") in text


def test_several_other_funders_are_plural(generate) -> None:
    def several(wb):
        set_operation(wb, "Autres financeurs", "Région Nouvelle-Aquitaine et Département de la Haute-Vienne")
        set_operation(wb, "Montant des autres financements", 3000)

    text = plain(docx_text(convention(generate(several), "B01")))
    assert ("par les autres financeurs de l’opération (Région Nouvelle-Aquitaine et Département de "
            "la Haute-Vienne) à hauteur de 3 000,00 € ; le reste, soit 11 460,50 €, est à la charge") in text


# --- item 20: « 1er » in superscript --------------------------------------------------------------


def test_first_of_july_1901_has_er_in_superscript(sample_batch: Path) -> None:
    document = docx.Document(str(convention(sample_batch, "B01")))
    [paragraph] = [p for p in document.paragraphs if "régie par la loi du" in p.text]
    runs = paragraph.runs
    [index] = [i for i, r in enumerate(runs) if r.text == "er"]
    assert runs[index].font.superscript is True
    assert runs[index]._r.find(qn("w:rPr")).find(qn("w:vertAlign")).get(qn("w:val")) == "superscript"
    assert runs[index - 1].text.endswith(" 1") and not runs[index - 1].font.superscript
    assert runs[index + 1].text.startswith(f"{NBSP}juillet 1901")


def test_superscript_marker_in_the_build_script() -> None:
    chunks = build_templates.rich_chunks(build_templates.typography("le 1^er^ mai", nbsp_numbers=True))
    assert chunks == [("le 1", False, False, False), ("er", False, False, True),
                      (f"{NBSP}mai", False, False, False)]
    assert build_templates.rich_html("le 1^er^ mai") == "le 1<sup>er</sup> mai"


# --- item 21: no-break spaces -----------------------------------------------------------------------


def test_no_break_spaces_in_the_convention_literal_text(sample_batch: Path) -> None:
    text = docx_text(convention(sample_batch, "B01"))
    assert f"n°{NBSP}LM-2023-B01" in text
    assert f"n°{NBSP}2000-321 du 12{NBSP}avril 2000" in text
    assert f"6{NBSP}janvier 1978" in text
    assert f"48{NBSP}heures" in text
    assert f"36{NBSP}mois" in text  # a value followed by its unit
    # the footer prints the document title with a no-break space after « n° » (the file's
    # title property keeps the plain title)
    footer = f"Convention de mise à disposition n°{NBSP}LM-2023-B01 – Beaubreuil Numérique Solidaire"
    assert footer in text
    assert docx.Document(str(convention(sample_batch, "B01"))).core_properties.title == footer.replace(NBSP, " ")
    # none left in the template's words: only in workbook values
    for value in ("n° 2022-11-24-015", "n° 87-2022"):
        text = text.replace(value, "")
    assert "n° " not in text
    # « article » stays with its number, a count with its noun
    assert not re.search(r"articles? (\d|[LDR]\.)", text)
    assert f"l’article{NBSP}L.{NBSP}3212-2" in docx_text(convention(sample_batch, "B01"))
    assert re.search(f"comprend \\d+{NBSP}ordinateurs? portables?", text)


def test_other_templates_keep_their_spaces() -> None:
    assert build_templates.typography("n° {{ x }} 48 heures") == "n° {{ x }} 48 heures"


# --- item 22: the annex table ----------------------------------------------------------------------


def _inventory_tables(path: Path) -> list:
    document = docx.Document(str(path))
    return [t for t in document.tables if t.rows[0].cells[0].text == "N°"]


def test_annex_has_an_imei_column_only_when_a_device_has_an_imei(sample_batch: Path) -> None:
    [with_imei] = _inventory_tables(convention(sample_batch, "B01"))
    headers = [c.text for c in with_imei.rows[0].cells]
    assert "IMEI" in headers
    [without] = _inventory_tables(convention(sample_batch, "B05"))
    headers = [c.text for c in without.rows[0].cells]
    assert "IMEI" not in headers and "N°\u00a0de série" in headers
    assert "IMEI" not in docx_text(convention(sample_batch, "B05")).split("ANNEXE 1")[1]


@pytest.mark.parametrize("name", ["convention-mise-a-disposition.docx", "convention-don.docx"])
def test_serial_number_column_holds_twenty_characters(name: str) -> None:
    document = docx.Document(str(TEMPLATES / name))
    tables = [t for t in document.tables if t.rows[0].cells[0].text == "N°"]
    assert len(tables) == 2  # with and without the IMEI column
    for table in tables:
        headers = [c.text for c in table.rows[0].cells]
        grid = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        serial = grid[headers.index("N°\u00a0de série")]
        # 20 characters of 0,78 em at 8 pt, plus the cells' 0,1 cm margins: 4,5 cm
        assert serial >= int(4.5 * 567), serial
        sizes = {r.font.size.pt for r in table.rows[2].cells[0].paragraphs[0].runs if r.font.size}
        style_size = table.rows[2].cells[0].paragraphs[0].style.font.size
        assert (sizes or {style_size.pt}) == {8.0}
