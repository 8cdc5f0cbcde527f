"""Reference documentation: writes ``docs/classeur.md`` and ``docs/modeles.md`` from the code.

``docs/classeur.md`` is generated from :data:`dotation_docs.schema.SHEETS`;
``docs/modeles.md`` from the real template contexts of the sample workbook, the filters
of :mod:`dotation_docs.formatting` and the document plan of
:mod:`dotation_docs.documents`. Every context variable must have a description in
:data:`VARIABLES` and every description must name an existing variable, otherwise
:func:`render_templates_doc` raises :class:`DocumentationDriftError`: the reference can
never silently drift from ``context.py``.

Usage (from the repository root)::

    python scripts/build_docs.py

The output is deterministic (schema or context order, no dates); ``tests/test_docs.py``
checks that the committed files equal what this script produces.
"""

from __future__ import annotations

import functools
import html
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python scripts/build_docs.py`` without installing
    sys.path.insert(0, str(ROOT))

from num2words import num2words  # noqa: E402

from dotation_docs.context import (  # noqa: E402
    DEPRECATED_VARIABLES,
    beneficiary_context,
    claim_context,
    convention_title,
    press_context,
)
from dotation_docs.documents import (  # noqa: E402
    CLAIM_FILES,
    TEMPLATES,
    DocumentType,
    handed_over,
    handover_path,
    plan_batch,
)
from dotation_docs.exceptions import TemplateError  # noqa: E402
from dotation_docs.formatting import FILTER_DOCS, make_filters  # noqa: E402
from dotation_docs.model import ConventionKind  # noqa: E402
from dotation_docs.parsing import expected  # noqa: E402
from dotation_docs.pipeline import check_workbook  # noqa: E402
from dotation_docs.rendering import build_environment, render  # noqa: E402
from dotation_docs.schema import (  # noqa: E402
    BENEFICIARIES,
    DEFAULT_INVOICE_DESCRIPTION,
    DEVICES,
    INVOICES,
    OPERATION,
    SHEETS,
    Layout,
    Sheet,
)
from dotation_docs.validation import GIFT_MAX_UNIT_VALUE  # noqa: E402
from dotation_docs.workbook import HEADER_SEARCH_ROWS  # noqa: E402

SAMPLE = ROOT / "data" / "exemple-limoges-2023.xlsx"
SAMPLE_NAME = "data/exemple-limoges-2023.xlsx"
WORKBOOK_DOC = ROOT / "docs" / "classeur.md"
TEMPLATES_DOC = ROOT / "docs" / "modeles.md"
HEADER = "<!-- Généré par scripts/build_docs.py à partir de {source} : ne pas modifier à la main. -->"
EXAMPLE_WIDTH = 60  # longer sample texts are shortened in the tables


class DocumentationDriftError(Exception):
    """Raised when the descriptions of this script no longer match the code they document
    (a context variable without description, a description of a variable that no longer
    exists, a value of an unexpected type, a document type without label)."""


# --- Small Markdown helpers ---------------------------------------------------------


def _cell(text: str) -> str:
    """Return ``text`` usable in a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split("\n")).replace("|", "\\|")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _quoted(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"« {n} »" for n in names)


def _shorten(text: str) -> str:
    """Return ``text`` on one line, cut at a word boundary when longer than EXAMPLE_WIDTH."""
    text = " ".join(text.split())
    if len(text) <= EXAMPLE_WIDTH:
        return text
    return text[:EXAMPLE_WIDTH].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _join(lines: list[str]) -> str:
    return "\n".join(lines).rstrip("\n") + "\n"


# --- docs/classeur.md ------------------------------------------------------------------

_LAYOUTS = {
    Layout.FORM: (
        "formulaire (le libellé en colonne A, la valeur en colonne B) ; une information par "
        "ligne, les lignes dans n'importe quel ordre. Une première ligne d'en-tête (« Champ », "
        "« Libellé » ou « Information » en colonne A) est permise. Un libellé inconnu est ignoré "
        "avec un avertissement ; un libellé présent deux fois est une erreur."
    ),
    Layout.TABLE: (
        "tableau (une ligne d'en-têtes, puis une ligne par enregistrement) ; la ligne "
        f"d'en-têtes est cherchée dans les {HEADER_SEARCH_ROWS} premières lignes, des lignes de "
        "titre peuvent donc la précéder. Les colonnes sont dans n'importe quel ordre ; une "
        "colonne facultative peut manquer ; les lignes vides sont ignorées."
    ),
}


def _field_text(description: str, example: str) -> str:
    parts = [description] if description else []
    if example:
        parts.append(f"Exemple : « {example} ».")
    return " ".join(parts) or "—"


def _sheet_section(sheet: Sheet) -> list[str]:
    aliases = _quoted(sheet.aliases) if sheet.aliases else "aucun"
    lines = [
        f"## Feuille « {sheet.title} »",
        "",
        f"Autres noms acceptés : {aliases}.",
        "",
        f"**Disposition** : {_LAYOUTS[sheet.layout]}",
        "",
    ]
    # A form sheet's description only restates its layout, explained just above.
    if sheet.description and sheet.layout is Layout.TABLE:
        lines += [sheet.description, ""]
    rows = [
        (
            f.label,
            "oui" if f.required else "non",
            expected(f),
            _quoted(f.aliases) if f.aliases else "—",
            _field_text(f.description, f.example),
        )
        for f in sheet.fields
    ]
    header = ("Colonne / libellé", "Obligatoire", "Attendu", "Autres intitulés acceptés", "Description / exemple")
    return lines + _table(header, rows) + [""]


def _checks_section() -> list[str]:
    b, d, i, o = BENEFICIARIES, DEVICES, INVOICES, OPERATION
    gift_limit = f"{GIFT_MAX_UNIT_VALUE:.0f} €"
    return [
        "## Contrôles effectués",
        "",
        "`dotation verifier CLASSEUR` fait tous ces contrôles en une seule passe et liste chaque "
        "problème avec sa cellule (`Matériel!F12`). Les générations (`dotation generer`, "
        "`convention`, `demande`) font les mêmes contrôles d'abord. Une **erreur** bloque la "
        "génération : aucun document n'est écrit. Un **avertissement** est affiché sans bloquer "
        "(`dotation verifier --strict` le traite comme une erreur).",
        "",
        "### Erreurs de structure",
        "",
        "- Feuille introuvable (le message liste les feuilles trouvées).",
        f"- Feuille-tableau sans ligne d'en-têtes dans ses {HEADER_SEARCH_ROWS} premières lignes.",
        "- Colonne (ou ligne de la feuille « Opération ») obligatoire manquante.",
        "- Colonne, ou libellé de la feuille « Opération », présent deux fois.",
        "",
        "### Erreurs de valeur",
        "",
        "- Cellule obligatoire vide (une cellule qui ne contient que des espaces est vide).",
        "- Valeur qui ne correspond pas à la colonne « Attendu » : clé de contrôle fausse "
        "(SIRET, IMEI, IBAN), date qui n'existe pas, taux hors de 0 à 100 %, valeur hors "
        "de la liste…",
        "- Formule sans valeur calculée, ou cellule affichant une erreur de calcul (`#DIV/0!`, "
        "`#REF!`…).",
        "",
        "### Erreurs de cohérence",
        "",
        "Les doublons et les références sont comparés sans tenir compte des majuscules ni des espaces.",
        "",
        f"- Doublons : « {b.field('identifier').label} » des bénéficiaires ; "
        f"« {d.field('inventory_number').label} », « {d.field('serial_number').label} » et "
        f"« {d.field('imei').label} » des matériels ; « {i.field('reference').label} » des factures.",
        f"- Matériel dont la colonne « {d.field('beneficiary').label} » ne correspond à aucun "
        f"« {b.field('identifier').label} » de la feuille « {b.title} », ou dont la colonne "
        f"« {d.field('invoice').label} » ne correspond à aucune « {i.field('reference').label} » "
        f"de la feuille « {i.title} » (le message liste les valeurs possibles).",
        f"- Association sans « {b.field('siret').label} ».",
        f"- « {d.field('unit_price_ht').label} » nul ou négatif ; « {d.field('vat_rate').label} » "
        "de 100 % ou plus.",
        f"- Facture dont le « {i.field('amount_ht').label} » ou le « {i.field('amount_ttc').label} » "
        f"est nul ou négatif, ou dont la « {i.field('vat').label} » est négative.",
        f"- Facture dont « {i.field('amount_ht').label} » + « {i.field('vat').label} » ne donne pas "
        f"exactement le « {i.field('amount_ttc').label} ».",
        f"- Facture dont le « {i.field('amount_ht').label} » diffère, au centime près, de la "
        f"somme des « {d.field('unit_price_ht').label} » de ses matériels (contrôlé quand tous "
        "ses matériels ont un prix et un taux de TVA).",
        f"- Convention de type « {ConventionKind.GIFT.value} » avec un matériel dont la valeur "
        f"unitaire TTC (prix HT × (1 + taux de TVA), arrondi au centime) dépasse {gift_limit} : "
        f"le don n'est possible que jusqu'à {gift_limit} par bien (décret n° 2022-791). "
        f"Choisissez « {ConventionKind.LOAN.value} » ou retirez ce matériel.",
        f"- Dans la feuille « {o.title} », contrôlés une fois toutes les autres erreurs corrigées : "
        f"« {o.field('state_rate').label} » de 0 % ; « {o.field('duration_months').label} » de 0 ; "
        f"« {o.field('amount_granted').label} » nul ou "
        f"négatif ; « {o.field('advances').label} » négatifs ou supérieurs à la part de l'État ; "
        "financements de l'État et des autres financeurs supérieurs au coût TTC.",
        f"- « {o.field('other_funders').label} » sans « {o.field('other_funding').label} », "
        "ou l'inverse (videz les deux lignes s'il n'y a pas d'autre financeur) ; montant nul ou négatif.",
        f"- « {o.field('delegation_reference').label} » sans « {o.field('delegate').label} » ; "
        f"« {o.field('conventions_signed_by_delegate').label} » à « oui » sans référence de délégation.",
        f"- Convention de type « {ConventionKind.GIFT.value} » et association sans "
        f"« {b.field('gift_category').label} » : un don n'est permis qu'aux organismes que cite "
        "l'article L3212-2 3° du CG3P.",
        "",
        "### Avertissements",
        "",
        "- Colonne, ou libellé de la feuille « Opération », inconnu : il est ignoré.",
        "- Bénéficiaire sans aucun matériel : il n'aura ni convention ni procès-verbal.",
        "- Facture sans aucun matériel : elle compte quand même dans la dépense et la subvention demandée.",
        f"- Smartphone dont la cellule « {d.field('imei').label} » est vide (quand la colonne existe).",
        f"- Facture dont le « {i.field('amount_ttc').label} » diffère de la somme des valeurs "
        "TTC unitaires de ses matériels alors que les HT concordent (arrondis de TVA ligne par "
        "ligne) : la demande de subvention utilise la facture, les conventions les valeurs unitaires.",
        f"- Facture sans « {i.field('mandate_number').label} » ou sans « {i.field('payment_date').label} » : "
        "elle n'est pas payée ; la demande de versement du solde ne peut porter que sur des dépenses "
        "payées et n'est pas produite tant qu'une facture ne l'est pas.",
        f"- « {o.field('claim_date').label} » (quand elle est remplie) avant la « "
        f"{o.field('handover_date').label} », ou avant la « {i.field('payment_date').label} » d'une facture : "
        "à cette date, l'opération n'était pas achevée ou la facture pas payée ; le dossier de demande "
        "n'est pas produit tant que sa date les précède.",
        f"- « {b.field('handover_signed_on').label} » ou « {b.field('convention_signed_on').label} » après "
        f"la « {o.field('claim_date').label} » : à cette date, le document n'était pas signé (le certificat "
        "d'achèvement marque un tel procès-verbal « non signé à ce jour », une telle convention « non signée "
        "à ce jour »).",
        f"- « {o.field('claim_date').label} » après aujourd'hui : la demande certifierait, à cette date, des "
        "paiements et des signatures que le classeur ne montre pas encore.",
        "- Part de la collectivité (coût TTC − État − autres financeurs) inférieure à 20 % du coût "
        "total TTC (CGCT, art. L1111-10 III).",
    ]


def render_workbook_doc() -> str:
    """Return the Markdown of ``docs/classeur.md``, generated from ``schema.SHEETS``."""
    titles = [s.title for s in SHEETS]
    count = num2words(len(SHEETS), lang="fr")
    lines = [
        HEADER.format(source="dotation_docs/schema.py"),
        "",
        "# Le classeur de l'opération",
        "",
        f"Toutes les données d'une opération tiennent dans **un seul classeur Excel (.xlsx)** de "
        f"{count} feuilles : {', '.join(f'« {t} »' for t in titles[:-1])} et « {titles[-1]} ». "
        "Les autres feuilles du classeur sont ignorées. `dotation verifier CLASSEUR` contrôle le "
        "classeur et liste toutes ses erreurs en une fois, chacune avec sa cellule.",
        "",
        "## Règles générales",
        "",
        "- **Format** : classeur .xlsx. Les fichiers .xls (Excel 97-2003), .ods (OpenDocument) "
        "et les classeurs protégés par mot de passe sont refusés : enregistrez-en une copie au "
        "format « Classeur Excel (.xlsx) ».",
        "- **Noms des feuilles et intitulés** reconnus sans tenir compte des majuscules, des "
        "accents, des espaces en trop ou insécables, des apostrophes typographiques ni d'un "
        "deux-points final (« N° de série : » vaut « n° de serie »). Les autres intitulés listés "
        "ci-dessous sont aussi acceptés.",
        "- **Colonnes** dans n'importe quel ordre ; une colonne inconnue est ignorée, avec un "
        "avertissement. **Lignes vides** ignorées.",
        "- **Montants** : nombre, ou texte comme « 1 234,50 € » ou « 1.234,50 » ; arrondis au "
        "centime.",
        "- **Dates** : cellule au format date, ou texte « 03/02/2023 » (ou « 2023-02-03 »), suivi ou non "
        "d'une heure, ignorée. "
        "**Heures** : cellule au format heure, ou texte « 10:30 » ou « 10 h 30 ».",
        "- **Taux** : « 80 % », « 80 », « 0,8 » ou cellule au format pourcentage : tous valent 80 %.",
        "- **Listes fermées** : majuscules et accents ignorés (« Mise a disposition » convient). "
        "**SIRET, IMEI, IBAN** : espaces acceptés. **Code postal et téléphone** saisis comme "
        "nombres : le zéro initial perdu est remis.",
        "- **Formules** : le programme lit la valeur calculée enregistrée dans le fichier. Un "
        "classeur écrit par un programme sans jamais être ouvert dans un tableur n'en a pas : "
        "ouvrez-le dans Excel ou LibreOffice, enregistrez-le, puis relancez.",
        "",
    ]
    for sheet in SHEETS:
        lines += _sheet_section(sheet)
    lines += _checks_section()
    return _join(lines)


# --- docs/modeles.md: descriptions of the context variables ---------------------------


@dataclass(frozen=True)
class VarType:
    """A kind of template value: French name, Python types it may hold, suggested filter."""

    name: str
    python: tuple[type, ...]
    filter: str | None = None


TEXT = VarType("texte", (str,))
AMOUNT = VarType("montant (Decimal)", (Decimal,), "montant")
WHOLE_EUROS = VarType("montant en euros entiers (Decimal)", (Decimal,), "euros")
RATE = VarType("taux (Decimal, fraction)", (Decimal,), "pourcentage")
DATE = VarType("date", (date,), "date")
TIME = VarType("heure", (time,), "heure")
INTEGER = VarType("nombre entier", (int,))
BOOLEAN = VarType("booléen", (bool,))
LIST = VarType("liste", (list,))


@dataclass(frozen=True)
class Var:
    """The documentation of one variable path; ``filter`` overrides the type's."""

    type: VarType
    description: str
    filter: str | None = None

    @property
    def suggested_filter(self) -> str | None:
        return self.filter or self.type.filter


def _prefixed(prefix: str, fields: dict[str, Var]) -> dict[str, Var]:
    return {f"{prefix}{key}": var for key, var in fields.items()}


_CONTACT = {
    "nom": Var(TEXT, "Nom du contact presse."),
    "telephone": Var(TEXT, "Téléphone du contact presse, tel que saisi."),
    "courriel": Var(TEXT, "Adresse électronique du contact presse."),
}

_BENEFICIARY = {
    "identifiant": Var(TEXT, "Identifiant court du bénéficiaire (sert aux noms de fichiers)."),
    "nom": Var(TEXT, "Nom du bénéficiaire."),
    "type": Var(TEXT, "« association » ou « service de la collectivité »."),
    "est_association": Var(BOOLEAN, "Vrai pour une association (qui signe une convention), faux pour un "
                                    "service de la collectivité."),
    "siret": Var(TEXT, "SIRET, 14 chiffres ; vide possible pour un service de la collectivité.", "siret"),
    "rna": Var(TEXT, "Numéro RNA ; vide s'il n'est pas renseigné."),
    "adresse": Var(TEXT, "Adresse (sans code postal ni ville)."),
    "code_postal": Var(TEXT, "Code postal, 5 chiffres."),
    "ville": Var(TEXT, "Commune."),
    "civilite": Var(TEXT, "Civilité du représentant : « Madame » ou « Monsieur »."),
    "representant": Var(TEXT, "Prénom et nom du représentant."),
    "qualite": Var(TEXT, "Qualité du représentant (ex. Présidente)."),
    "courriel": Var(TEXT, "Adresse électronique ; vide possible."),
    "telephone": Var(TEXT, "Téléphone ; vide possible."),
    "territoire.type": Var(TEXT, "Type du territoire desservi (colonne « Type de territoire ») : "
                                 "« QPV », « ZRR » ou « FRR »."),
    "territoire.libelle": Var(TEXT, "Le type en toutes lettres, avec son sigle : « quartier prioritaire "
                                    "de la politique de la ville (QPV) », « zone de revitalisation "
                                    "rurale (ZRR) », « France Ruralités Revitalisation (FRR) »."),
    "territoire.nom": Var(TEXT, "Nom du quartier prioritaire, ou de la commune classée ZRR ou FRR."),
    "territoire.code": Var(TEXT, "Code QPV, ou code INSEE de la commune."),
    "territoire.est_qpv": Var(BOOLEAN, "Vrai pour un quartier prioritaire."),
    "territoire.est_rural": Var(BOOLEAN, "Vrai pour une commune classée ZRR ou FRR."),
    "territoire.intitule": Var(TEXT, "Intitulé de la ligne du procès-verbal : « Quartier prioritaire », "
                                     "« Commune (ZRR) » ou « Commune (FRR) »."),
    "territoire.designation": Var(TEXT, "Nom et code : « Beaubreuil (QP087005) », « Vasles (code INSEE "
                                        "79339) »."),
    "territoire.court": Var(TEXT, "Forme brève : « quartier Beaubreuil », « commune de Vasles » "
                                  "(« d’ », « du », « des » selon le nom)."),
    "territoire.habitants": Var(TEXT, "« des habitants du quartier prioritaire Beaubreuil (QP087005) », "
                                      "« des habitants de la commune de Vasles (code INSEE 79339), "
                                      "classée en zone de revitalisation rurale »."),
    "territoire.ensemble": Var(TEXT, "Tous les territoires de ce type, avec « des » : « des quartiers "
                                     "prioritaires de la politique de la ville », « des communes "
                                     "classées en zone de revitalisation rurale »…"),
    "qpv_nom": Var(TEXT, "Ancien nom de `territoire.nom`, encore accepté ; `dotation modeles` le "
                         "signale : écrivez `territoire.nom`."),
    "qpv_code": Var(TEXT, "Ancien nom de `territoire.code`, encore accepté ; `dotation modeles` le "
                          "signale : écrivez `territoire.code`."),
    "lieu_utilisation": Var(TEXT, "Lieu où le matériel sera utilisé."),
    "numero_convention": Var(TEXT, "Numéro de la convention : préfixe de la feuille « Opération » suivi de "
                                   "l'identifiant ; vide pour un service de la collectivité (pas de convention)."),
    "nombre_materiels": Var(INTEGER, "Nombre de matériels remis à ce bénéficiaire."),
    "categorie_don": Var(TEXT, "Catégorie d'organisme auquel un don est permis (CG3P, art. L3212-2 3°), "
                               "ex. « association d'étudiants » ; vide possible (obligatoire pour une "
                               "association quand la convention est un don)."),
    "categorie_don_texte": Var(TEXT, "Cette catégorie dans les mots de l'article L3212-2 3° du CG3P, pour "
                                     "la convention de don (« association reconnue d’intérêt général dont "
                                     "l’objet statutaire est d’équiper… ») ; vide possible."),
    "revente_solidaire": Var(BOOLEAN, "Vrai si la catégorie permet de revendre le matériel à prix "
                                      "solidaire (association reconnue d'utilité publique ou d'intérêt "
                                      "général) ; sinon, ni vente ni cession."),
}

_SIGNATURE = {
    "entete": Var(TEXT, "Ligne qui précède le nom : la fonction avec son article (« Le Président de "
                        "Limoges Métropole ») pour le représentant, « Pour le Président et par "
                        "délégation » pour l'élu délégué ; vide pour l'élu délégué sans référence "
                        "de délégation (il signe sous son nom et sa qualité)."),
    "nom": Var(TEXT, "Prénom et nom du signataire."),
    "qualite": Var(TEXT, "Qualité du signataire."),
    "par_delegation": Var(BOOLEAN, "Vrai quand l'élu délégué signe par délégation (référence de "
                                   "la délégation remplie)."),
    "acte": Var(TEXT, "Acte de délégation (« arrêté n° … ») quand la signature est par délégation ; "
                      "vide sinon."),
    "formule": Var(TEXT, "Bloc de signature en une ligne : « Pour le Président et par délégation, "
                         "[nom], [qualité] », « Le Président de …, [nom] » ou « [nom], [qualité] »."),
}


def _quantities(scope: str) -> dict[str, Var]:
    return {
        "nombre": Var(INTEGER, f"Nombre de matériels {scope}."),
        "categories": Var(LIST, f"Une entrée par catégorie présente {scope}, dans l'ordre : ordinateurs "
                                "portables, ordinateurs fixes, tablettes, smartphones (les catégories "
                                "sans matériel sont omises)."),
        "categories[].libelle_singulier": Var(TEXT, "Nom de la catégorie au singulier."),
        "categories[].libelle_pluriel": Var(TEXT, "Nom de la catégorie au pluriel."),
        "categories[].nombre": Var(INTEGER, "Nombre de matériels de la catégorie."),
        "categories[].texte": Var(TEXT, "Nombre suivi du nom accordé."),
        "quantites": Var(TEXT, "Énumération des quantités par catégorie, à la française."),
    }


_STATE_SHARE = "Part de l'État : la part calculée, limitée au plafond s'il y en a un."
_CAPPED = "Vrai si le plafond a réduit la part de l'État."
_CAP = "Plafond de la subvention ; vide s'il n'y en a pas."
_ADVANCES = "Acomptes déjà reçus de l'État (0.00 s'il n'y en a pas)."
_ELIGIBLE = "Dépense éligible : total HT ou TTC des factures, selon l'assiette."
_COMPUTED_SHARE = "Taux de l'État × dépense éligible, arrondi au centime, avant plafond."
_BASE = "Assiette du taux : « HT » ou « TTC »."

VARIABLES: dict[str, Var] = {
    "document.titre": Var(TEXT, "Titre du document, repris dans la propriété « Titre » du fichier Word."),
    **_prefixed("territoires.", {
        "types": Var(LIST, "Les types de territoire des bénéficiaires servis, dans l'ordre QPV, ZRR, FRR."),
        "types[]": Var(TEXT, "Un type : « QPV », « ZRR » ou « FRR »."),
        "est_mixte": Var(BOOLEAN, "Vrai quand l'opération sert à la fois des quartiers prioritaires et "
                                  "des communes rurales (ZRR ou FRR)."),
        "a_qpv": Var(BOOLEAN, "Vrai si un bénéficiaire sert un quartier prioritaire."),
        "a_rural": Var(BOOLEAN, "Vrai si un bénéficiaire sert une commune classée ZRR ou FRR."),
        "formule": Var(TEXT, "Les territoires servis, avec « les » : « les quartiers prioritaires de la "
                             "politique de la ville », « les communes classées en zone de "
                             "revitalisation rurale », ou les deux joints par « et »."),
        "formule_sigle": Var(TEXT, "La même, avec les sigles : « … de la ville (QPV) »."),
        "formule_courte": Var(TEXT, "Forme brève : « les quartiers prioritaires », « les communes "
                                    "rurales (ZRR) », « les quartiers prioritaires et les communes "
                                    "rurales (ZRR) »."),
        "des": Var(TEXT, "La formule avec « des » : « des quartiers prioritaires de la politique de "
                         "la ville »…"),
        "des_court": Var(TEXT, "La forme brève avec « des » (titres) : « des quartiers prioritaires », "
                               "« des communes rurales (ZRR et FRR) »…"),
        "nombre_quartiers": Var(INTEGER, "Nombre de quartiers prioritaires différents que servent les "
                                         "bénéficiaires (0 s'il n'y en a pas)."),
        "nombre_communes": Var(INTEGER, "Nombre de communes rurales (ZRR ou FRR) différentes que servent "
                                        "les bénéficiaires (0 s'il n'y en a pas)."),
    }),
    **_prefixed("operation.", {
        "titre": Var(TEXT, "Intitulé de l'opération."),
        "programme": Var(TEXT, "Programme national de financement."),
        "date_remise": Var(DATE, "Date de la remise du matériel.", "date_longue"),
        "heure_remise": Var(TIME, "Heure de la remise."),
        "lieu_remise": Var(TEXT, "Lieu de la remise."),
        "lieu_signature": Var(TEXT, "Commune de signature (« Fait à … »)."),
        "decision_reference": Var(TEXT, "Référence de la décision de financement de l'État."),
        "decision_date": Var(DATE, "Date de la décision de financement."),
        "deliberation_reference": Var(TEXT, "Référence de la délibération de la collectivité."),
        "deliberation_date": Var(DATE, "Date de la délibération."),
        "duree_mois": Var(INTEGER, "Durée de la convention, en mois."),
        "type_convention": Var(TEXT, "Type de convention : « mise à disposition » ou « don »."),
        "est_don": Var(BOOLEAN, "Vrai si le type de convention est « don »."),
        "decision_reforme": Var(TEXT, "Décision de réforme du matériel (don) ; vide : la convention de "
                                      "don laisse sa référence à compléter."),
        "tribunal": Var(TEXT, "Tribunal administratif compétent."),
        "iban": Var(TEXT, "IBAN du compte qui reçoit la subvention, sans espaces.", "iban"),
        "bic": Var(TEXT, "BIC de ce compte."),
        "titulaire_compte": Var(TEXT, "Titulaire du compte ; vide possible."),
        "contexte": Var(TEXT, "Paragraphe « Contexte » de la feuille « Opération » (communiqué) ; "
                              "vide possible."),
        "objectifs": Var(TEXT, "Paragraphe « Objectifs de la collectivité » (communiqué) ; vide possible."),
    }),
    **_prefixed("collectivite.", {
        "article": Var(TEXT, "Article qui précède le nom dans une phrase : « la », « le », « l’ » ou "
                             "rien (« Limoges Métropole »), selon le premier mot du nom (« Communauté », "
                             "« Syndicat »…) ou un article écrit en minuscules devant le nom dans le "
                             "classeur (« le Grand Poitiers »)."),
        "le_nom": Var(TEXT, "Le nom avec son article, dans une phrase : « la Communauté de communes "
                            "du … », « Limoges Métropole »."),
        "du_nom": Var(TEXT, "Le nom précédé de « de », contracté : « de la Communauté … », « du "
                            "Syndicat … », « de Limoges Métropole »."),
        "au_nom": Var(TEXT, "Le nom précédé de « à », contracté : « à la Communauté … », « au "
                            "Syndicat … », « à Limoges Métropole »."),
        "nom": Var(TEXT, "Nom de la collectivité."),
        "siret": Var(TEXT, "SIRET de la collectivité, 14 chiffres.", "siret"),
        "adresse": Var(TEXT, "Adresse complète de la collectivité."),
        "representant": Var(TEXT, "Personne qui signe pour la collectivité."),
        "representant_qualite": Var(TEXT, "Qualité de ce représentant."),
        "elu_delegue": Var(TEXT, "Élu délégué ; vide possible."),
        "elu_delegue_qualite": Var(TEXT, "Qualité de l'élu délégué ; vide possible."),
        "representant_civilite": Var(TEXT, "« Madame » ou « Monsieur » ; vide possible. Sert à "
                                           "accorder « dûment habilité(e) », « soussigné(e) »."),
        "signataire_remise": Var(TEXT, "Qui remet le matériel et signe le procès-verbal : l'élu "
                                       "délégué s'il y en a un, sinon le représentant."),
        "signataire_remise_qualite": Var(TEXT, "Qualité de ce signataire."),
        "signataire_fonction": Var(TEXT, "Fonction du représentant avec son article, prête à "
                                         "imprimer en tête de sa signature : « Le Président de "
                                         "Limoges Métropole », « La Présidente … », « L’… » devant "
                                         "une voyelle (« Fonction du signataire », sinon sa qualité)."),
        "delegation_reference": Var(TEXT, "Référence de l'acte de délégation de signature de l'élu "
                                          "délégué ; vide possible."),
        "conventions_par_delegue": Var(BOOLEAN, "Vrai si l'élu délégué signe aussi les conventions."),
        "comptable_poste": Var(TEXT, "Poste comptable (comptable public) ; vide : à compléter à la main."),
        "comptable_qualite": Var(TEXT, "Qualité du comptable public ; vide possible."),
        "affaire_suivie_par.nom": Var(TEXT, "Agent qui suit l'affaire (lettre de demande) ; vide possible."),
        "affaire_suivie_par.telephone": Var(TEXT, "Son téléphone ; vide possible."),
        "affaire_suivie_par.courriel": Var(TEXT, "Son adresse électronique ; vide possible."),
        **_prefixed("contact_presse.", _CONTACT),
    }),
    **_prefixed("etat.", {
        "prefecture": Var(TEXT, "Nom de la préfecture."),
        "adresse": Var(TEXT, "Adresse de la préfecture ; vide possible."),
        "destinataire": Var(TEXT, "Formule d'adresse de la lettre de demande de versement."),
        "formule_appel": Var(TEXT, "Formule d'appel de la lettre (« Monsieur le Préfet ») ; à "
                                   "défaut, le destinataire."),
        "representant": Var(TEXT, "Représentant de l'État présent à la remise."),
        "representant_qualite": Var(TEXT, "Qualité du représentant de l'État."),
        **_prefixed("contact_presse.", _CONTACT),
    }),
    **_prefixed("totaux.", {
        **_quantities("du lot"),
        "ht": Var(AMOUNT, "Total HT des factures (les montants du lot viennent des factures)."),
        "tva": Var(AMOUNT, "Total de la TVA des factures."),
        "ttc": Var(AMOUNT, "Total TTC des factures."),
        "eligible": Var(AMOUNT, _ELIGIBLE),
        "taux_etat": Var(RATE, "Taux de l'État."),
        "taux_collectivite": Var(RATE, "1 − taux de l'État : part de la collectivité dans la dépense "
                                       "éligible, pas dans le TTC quand l'assiette est HT."),
        "part_etat_sur_ttc": Var(RATE, "Part de l'État rapportée au coût TTC, au centième de "
                                       "pour cent (plan de financement)."),
        "part_collectivite_sur_ttc": Var(RATE, "Part de la collectivité rapportée au coût TTC : "
                                               "complément à 100 % de la précédente."),
        "assiette": Var(TEXT, _BASE),
        "part_etat_calculee": Var(AMOUNT, _COMPUTED_SHARE),
        "part_etat": Var(AMOUNT, _STATE_SHARE),
        "part_collectivite": Var(AMOUNT, "Part de la collectivité : TTC − part de l'État (TVA comprise)."),
        "plafond": Var(AMOUNT, _CAP),
        "est_plafonne": Var(BOOLEAN, _CAPPED),
        "acomptes": Var(AMOUNT, _ADVANCES),
        "montant_demande": Var(AMOUNT, "Montant demandé : part de l'État − acomptes."),
        "part_etat_euros": Var(WHOLE_EUROS, "Part de l'État en euros entiers (centimes tronqués), pour le "
                                            "communiqué."),
        "part_collectivite_euros": Var(WHOLE_EUROS, "TTC en euros entiers − part de l'État en euros entiers : "
                                                    "les trois montants en euros entiers s'additionnent exactement."),
        "ttc_euros": Var(WHOLE_EUROS, "Total TTC en euros entiers (centimes tronqués)."),
    }),
    "beneficiaires": Var(LIST, "Bénéficiaires qui reçoivent au moins un matériel, dans l'ordre du classeur."),
    **_prefixed("beneficiaires[].", _BENEFICIARY),
    "associations": Var(LIST, "Les associations de la liste `beneficiaires` (sans les services de la "
                              "collectivité)."),
    **_prefixed("associations[].", _BENEFICIARY),
    "services": Var(LIST, "Les services de la collectivité de la liste `beneficiaires` (ex. « au "
                          "service {{ s.nom }} de {{ collectivite.nom }} »)."),
    **_prefixed("services[].", _BENEFICIARY),
    **_prefixed("financement.", {
        "cout_total": Var(AMOUNT, "Coût final de l'opération : total TTC des factures."),
        "cout_total_ht": Var(AMOUNT, "Coût final HT."),
        "tva": Var(AMOUNT, "TVA des factures."),
        "depense_eligible": Var(AMOUNT, "Dépense éligible réalisée (assiette du taux : HT ou TTC)."),
        "depense_previsionnelle": Var(AMOUNT, "Dépense subventionnable prévisionnelle de la décision ; "
                                              "vide : pas de colonne « prévisionnel »."),
        "a_previsionnel": Var(BOOLEAN, "Vrai si la dépense prévisionnelle est renseignée."),
        "montant_attribue": Var(AMOUNT, "Montant de la subvention attribuée par la décision (prévisionnel "
                                        "de l'État)."),
        "taux_etat": Var(RATE, "Taux de l'État."),
        "assiette": Var(TEXT, _BASE),
        "part_etat_calculee": Var(AMOUNT, _COMPUTED_SHARE),
        "part_etat": Var(AMOUNT, "Subvention de l'État : min(taux × dépense éligible réalisée, montant attribué)."),
        "est_plafonne": Var(BOOLEAN, "Vrai si le montant attribué a limité la part de l'État."),
        "part_etat_pourcentage": Var(RATE, "Part de l'État rapportée au coût total TTC."),
        "autres_financeurs": Var(TEXT, "Autres financeurs ; vide : « néant »."),
        "autres_financements": Var(AMOUNT, "Montant des autres financements ; vide s'il n'y en a pas."),
        "autres_financements_euros": Var(WHOLE_EUROS, "Le même en euros entiers (tronqués), pour le "
                                                      "communiqué ; vide s'il n'y en a pas."),
        "autres_designation": Var(TEXT, "Les autres financeurs nommés sans article : « l’autre financeur de "
                                        "l’opération (Région Nouvelle-Aquitaine) », « les autres financeurs "
                                        "de l’opération (…) » ; vide s'il n'y en a pas."),
        "autres_neant": Var(BOOLEAN, "Vrai s'il n'y a pas d'autre financeur (imprimer « néant »)."),
        "autres_pourcentage": Var(RATE, "Part des autres financeurs dans le coût total TTC ; vide s'il n'y "
                                        "en a pas."),
        "part_collectivite": Var(AMOUNT, "Part de la collectivité : coût TTC − État − autres financeurs."),
        "part_collectivite_pourcentage": Var(RATE, "Part de la collectivité rapportée au coût total TTC "
                                                   "(complément à 100 % des autres parts)."),
        "part_collectivite_suffisante": Var(BOOLEAN, "Vrai si la part de la collectivité atteint 20 % "
                                                     "(CGCT, art. L1111-10 III)."),
        "acomptes": Var(AMOUNT, _ADVANCES),
        "acomptes_neant": Var(BOOLEAN, "Vrai s'il n'y a pas d'acompte (imprimer « néant »)."),
        "montant_du": Var(AMOUNT, "Montant dû : part de l'État − acomptes."),
        "reste": Var(AMOUNT, "Ce que paie la collectivité : coût TTC − part de l'État − autres financeurs."),
        "reste_euros": Var(WHOLE_EUROS, "Le même en euros entiers, pour le communiqué : TTC tronqué − part "
                                        "de l'État tronquée − autres financements tronqués (les parts "
                                        "imprimées font le total imprimé)."),
        "reste_description": Var(TEXT, "Ce reste en mots, d'après le taux, l'assiette et le plafond : "
                                       "« 20 % du montant HT et la TVA », « 20 % du montant TTC », « la "
                                       "part du montant HT que l’État ne finance pas et la TVA »… ; vide "
                                       "quand d'autres financeurs participent."),
        "texte_taux_assiette": Var(TEXT, "Taux et assiette de l'État en mots : « 80 % du montant HT "
                                         "(36 151,25 € HT) », suivi de « , dans la limite de la subvention "
                                         "attribuée (…) » quand le montant attribué s'applique."),
        "texte_taux_assiette_euros": Var(TEXT, "Le même en euros entiers, pour le communiqué."),
        "texte_reste": Var(TEXT, "« le reste, soit 20 % du montant HT et la TVA, 14 460,50 € »."),
        "texte_reste_euros": Var(TEXT, "Le même en euros entiers : « le reste, soit …, 14 460 € »."),
    }),
    **_prefixed("signatures.convention.", _SIGNATURE),
    **_prefixed("signatures.proces_verbal.", _SIGNATURE),
    **_prefixed("signatures.demande.", _SIGNATURE),
    "officiels": Var(LIST, "Officiels présents à la remise, pour l'invitation presse (les mêmes que le "
                           "communiqué) : le représentant de l'État, puis l'élu délégué, ou à défaut le "
                           "représentant de la collectivité."),
    **_prefixed("officiels[].", {
        "nom": Var(TEXT, "Prénom et nom."),
        "qualite": Var(TEXT, "Qualité."),
        "institution": Var(TEXT, "Préfecture ou collectivité représentée."),
        "est_etat": Var(BOOLEAN, "Vrai pour le représentant de l'État."),
    }),
    **_prefixed("beneficiaire.", _BENEFICIARY),
    "materiels": Var(LIST, "Matériels remis au bénéficiaire, dans l'ordre du classeur."),
    **_prefixed("materiels[].", {
        "numero": Var(INTEGER, "Numéro d'ordre dans la liste, à partir de 1."),
        "categorie": Var(TEXT, "Catégorie, au singulier."),
        "marque": Var(TEXT, "Marque."),
        "modele": Var(TEXT, "Modèle."),
        "designation": Var(TEXT, "Marque et modèle."),
        "numero_serie": Var(TEXT, "Numéro de série."),
        "imei": Var(TEXT, "IMEI (smartphones) ; vide sinon."),
        "numero_inventaire": Var(TEXT, "Numéro d'inventaire de la collectivité."),
        "accessoires": Var(TEXT, "Accessoires remis ; vide possible."),
        "etat": Var(TEXT, "État à la remise, tel que saisi ; vide si la cellule est vide : le modèle "
                          "imprime alors « — » (`{{ m.etat or \"—\" }}`), jamais un état supposé."),
        "prix_ht": Var(AMOUNT, "Prix unitaire HT."),
        "taux_tva": Var(RATE, "Taux de TVA."),
        "prix_ttc": Var(AMOUNT, "Valeur unitaire TTC : prix HT × (1 + taux de TVA), arrondi au centime."),
        "facture": Var(TEXT, "Référence de la facture d'achat."),
    }),
    **_prefixed("materiel_beneficiaire.", {
        **_quantities("du bénéficiaire"),
        "valeur_ht": Var(AMOUNT, "Valeur HT du matériel du bénéficiaire : somme des prix unitaires HT "
                                 "de ses matériels (à ne pas confondre avec `totaux.ht`, le total des "
                                 "factures de l'opération)."),
        "valeur_tva": Var(AMOUNT, "TVA du matériel du bénéficiaire : valeur TTC − valeur HT."),
        "valeur_ttc": Var(AMOUNT, "Valeur TTC du matériel du bénéficiaire : somme des valeurs "
                                  "unitaires TTC de ses matériels (à ne pas confondre avec "
                                  "`totaux.ttc`, le total des factures de l'opération)."),
        "avec_imei": Var(BOOLEAN, "Vrai si au moins un matériel du bénéficiaire a un IMEI : l'annexe "
                                  "de la convention a alors une colonne IMEI et la convention parle "
                                  "des cartes SIM et abonnements."),
    }),
    **_prefixed("demande.", {
        "date": Var(DATE, "Date de la lettre de demande ; vide : la date est à compléter à la main."),
        "montant": Var(AMOUNT, "Montant demandé : part de l'État − acomptes."),
        "montant_lettres": Var(TEXT, "Montant demandé en toutes lettres."),
        "eligible": Var(AMOUNT, _ELIGIBLE),
        "taux": Var(RATE, "Taux de l'État."),
        "assiette": Var(TEXT, _BASE),
        "part_calculee": Var(AMOUNT, _COMPUTED_SHARE),
        "part_etat": Var(AMOUNT, _STATE_SHARE),
        "plafond": Var(AMOUNT, _CAP),
        "est_plafonne": Var(BOOLEAN, _CAPPED),
        "acomptes": Var(AMOUNT, _ADVANCES),
        "acomptes_neant": Var(BOOLEAN, "Vrai s'il n'y a pas d'acompte (imprimer « néant »)."),
        "montant_attribue": Var(AMOUNT, "Montant de la subvention attribuée par la décision."),
        "depense_previsionnelle": Var(AMOUNT, "Dépense subventionnable prévisionnelle ; vide possible."),
        "montant_du": Var(AMOUNT, "Montant dû : min(taux × dépense réalisée, montant attribué) − acomptes."),
        "cout_final": Var(AMOUNT, "Coût final TTC (certificat d'achèvement)."),
        "cout_final_ht": Var(AMOUNT, "Coût final HT."),
        "date_premier_achat": Var(DATE, "Date de la première facture (début de l'opération)."),
        "date_achevement": Var(DATE, "Date d'achèvement : la date de la remise."),
        "factures_payees": Var(BOOLEAN, "Vrai si toutes les factures ont un numéro de mandat et une date "
                                        "de paiement, au plus tard la date de la demande quand elle est "
                                        "remplie."),
        "proces_verbaux_non_signes": Var(INTEGER, "Nombre de procès-verbaux de remise non signés à la date "
                                                  "de la demande (voir `proces_verbaux[].signe`)."),
        "proces_verbaux_signes": Var(INTEGER, "Nombre de procès-verbaux de remise signés à la date de la "
                                              "demande."),
        "nombre_conventions": Var(INTEGER, "Nombre de conventions que cite le certificat d'achèvement (une "
                                           "par association équipée)."),
        "conventions_non_signees": Var(INTEGER, "Nombre de ces conventions non signées à la date de la "
                                                "demande (voir `proces_verbaux[].convention_signee`)."),
    }),
    "factures": Var(LIST, "Factures d'achat, dans l'ordre du classeur."),
    **_prefixed("factures[].", {
        "numero": Var(INTEGER, "Numéro d'ordre dans la liste, à partir de 1."),
        "reference": Var(TEXT, "Référence de la facture."),
        "fournisseur": Var(TEXT, "Fournisseur."),
        "siret_fournisseur": Var(TEXT, "SIRET du fournisseur.", "siret"),
        "date": Var(DATE, "Date de la facture.", "date_courte"),
        "objet": Var(TEXT, f"Objet ; « {DEFAULT_INVOICE_DESCRIPTION} » si la cellule est vide."),
        "ht": Var(AMOUNT, "Montant HT."),
        "tva": Var(AMOUNT, "Montant de la TVA."),
        "ttc": Var(AMOUNT, "Montant TTC."),
        "eligible": Var(AMOUNT, "Montant éligible de la facture : son HT ou son TTC, selon l'assiette."),
        "mandat": Var(TEXT, "Numéro de mandat ; vide possible."),
        "date_paiement": Var(DATE, "Date de paiement ; vide possible.", "date_courte"),
        "payee": Var(BOOLEAN, "Vrai si la facture a un numéro de mandat et une date de paiement."),
    }),
    "proces_verbaux": Var(LIST, "Bénéficiaires qui ont un procès-verbal de remise, dans l'ordre du classeur."),
    **_prefixed("proces_verbaux[].", {
        **_BENEFICIARY,
        "date": Var(DATE, "Date du procès-verbal : la date de la remise."),
        "signe": Var(BOOLEAN, "Vrai si le procès-verbal est signé à la date de la demande : « Date de "
                              "signature du procès-verbal » remplie et, si la date de la demande l'est, "
                              "pas postérieure à celle-ci. Faux : le certificat d'achèvement l'indique "
                              "non signé."),
        "convention_signee": Var(BOOLEAN, "Vrai si la convention du bénéficiaire est signée à la date de la "
                                          "demande (comme `signe`) ; vide pour un service de la collectivité, "
                                          "qui n'en signe pas. Faux : le certificat d'achèvement l'indique "
                                          "non signée."),
        "fichier": Var(TEXT, "Nom du fichier de son procès-verbal de remise (compatibilité : le "
                             "certificat cite les procès-verbaux par bénéficiaire et date)."),
    }),
}



def _deprecated(variables: dict[str, Var]) -> dict[str, Var]:
    """Return the descriptions of the old names of DEPRECATED_VARIABLES, each with the
    type of its new name (a renamed group's members included: the most precise
    renaming wins)."""
    old_names = {}
    for path, var in variables.items():
        renames = [(old, new) for old, new in DEPRECATED_VARIABLES.items()
                   if path == new or path.startswith((new + ".", new + "[]"))]
        if not renames:
            continue
        old, new = max(renames, key=lambda pair: len(pair[1]))
        old_names[old + path[len(new):]] = Var(
            var.type, f"Ancien nom de `{path}`, encore accepté ; `dotation modeles` le signale : "
                      f"écrivez `{path}`.", var.filter)
    return old_names


VARIABLES.update(_deprecated(VARIABLES))

# Top-level variables, in the order of the reference, with what each group holds.
GROUPS: dict[str, str] = {
    "document": "Le document en cours.",
    "operation": "L'opération (feuille « Opération »).",
    "collectivite": "La collectivité, ses représentants et son contact presse (feuille « Opération »).",
    "etat": "La préfecture, le représentant de l'État et le contact presse de la préfecture.",
    "totaux": "Les totaux du lot : quantités (feuille « Matériel ») et financement, calculé à partir "
              "des factures, qui font foi pour les montants.",
    "territoires": "Les types de territoire que sert l'opération (quartiers prioritaires, communes "
                   "classées ZRR ou FRR) et les formules qui les nomment, pour un type ou un mélange.",
    "beneficiaires": "Tous les bénéficiaires servis.",
    "associations": "Les associations servies.",
    "beneficiaire": "Le bénéficiaire du document.",
    "materiels": "Les matériels remis au bénéficiaire du document.",
    "materiel_beneficiaire": "Le matériel remis au bénéficiaire du document : quantités et valeur, "
                             "calculées à partir des valeurs unitaires.",
    "services": "Les services de la collectivité servis.",
    "financement": "Le plan de financement final (prévisionnel et réalisé), le montant dû et des "
                   "phrases prêtes à l'emploi construites à partir du taux, de l'assiette et du "
                   "montant attribué.",
    "signatures": "Qui signe chaque document pour la collectivité (`convention`, `proces_verbal`, "
                  "`demande`) et avec quelle formule.",
    "officiels": "Les officiels nommés par le classeur.",
    "demande": "La demande de versement de la subvention.",
    "factures": "Les factures d'achat (feuille « Factures »).",
    "proces_verbaux": "Les procès-verbaux de remise joints à la demande.",
    "totaux_beneficiaire": "Ancien nom de `materiel_beneficiaire` (ses montants s'appelaient `ht`, "
                           "`tva` et `ttc`, comme ceux de `totaux`, qui sont ceux des factures de "
                           "l'opération) ; il fonctionne encore, mais `dotation modeles` le signale.",
}

# Loop variable used in the examples for each list.
LOOP_NAMES = {
    "beneficiaires": "b",
    "associations": "a",
    "materiels": "m",
    "categories": "c",
    "factures": "f",
    "proces_verbaux": "pv",
    "services": "s",
    "officiels": "o",
}

DOCUMENT_LABELS: dict[DocumentType, str] = {
    DocumentType.CONVENTION: "conventions",
    DocumentType.HANDOVER: "procès-verbaux de remise",
    DocumentType.PRESS: "communiqué de presse (Word)",
    DocumentType.PRESS_HTML: "communiqué de presse (HTML)",
    DocumentType.INVITATION: "invitation presse (Word)",
    DocumentType.INVITATION_HTML: "invitation presse (HTML)",
    DocumentType.CLAIM_LETTER: "lettre de demande de versement",
    DocumentType.EXPENSE_STATEMENT: "état récapitulatif des dépenses",
    DocumentType.FINANCING_PLAN: "plan de financement",
    DocumentType.CERTIFICATE: "certificat d'achèvement et de conformité",
}


# --- docs/modeles.md: real contexts -----------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The sample workbook's contexts: the three the reference walks (first association,
    press release, subsidy claim) and every planned document's."""

    contexts: tuple[dict[str, Any], ...]
    planned: tuple[tuple[DocumentType, str, str | None, dict[str, Any]], ...]


@functools.cache
def load_sample() -> Sample:
    """Return the contexts of the sample workbook. Raises DocumentationDriftError when the
    sample does not validate."""
    checked = check_workbook(SAMPLE)
    dotation, funding = checked.dotation, checked.funding
    if dotation is None or funding is None or not dotation.associations:
        raise DocumentationDriftError(f"{SAMPLE_NAME} ne se valide pas :\n{checked.report.format()}")
    first = dotation.associations[0]
    handovers = {b.identifier: handover_path(b).rsplit("/", 1)[1] for b in handed_over(dotation)}
    letter_title = CLAIM_FILES[DocumentType.CLAIM_LETTER][1]
    contexts = (
        beneficiary_context(dotation, funding, first, convention_title(dotation, first)),
        press_context(dotation, funding),
        claim_context(dotation, funding, letter_title, handovers),
    )
    planned = tuple((d.type, d.path, d.template, d.context) for d in plan_batch(dotation, funding))
    return Sample(contexts, planned)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (path, value) for every list and leaf under ``value``; dicts are only walked
    through, list items add ``[]`` to the path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        yield path, value
        for item in value:
            yield from _walk(item, f"{path}[]")
    else:
        yield path, value


def collect_paths(contexts: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Return every variable path of ``contexts`` (first-seen order) with all its values."""
    paths: dict[str, list[Any]] = {}
    for context in contexts:
        for path, value in _walk(context):
            paths.setdefault(path, []).append(value)
    return paths


def _check_descriptions(paths: dict[str, list[Any]]) -> None:
    """Raise DocumentationDriftError listing every mismatch between the contexts and
    VARIABLES / GROUPS / DOCUMENT_LABELS."""
    problems = [f"variable sans description dans VARIABLES : {p}" for p in paths if p not in VARIABLES]
    problems += [f"description d'une variable qui n'existe plus : {p}" for p in VARIABLES if p not in paths]
    for path, values in paths.items():
        var = VARIABLES.get(path)
        if var is None:
            continue
        wrong = {type(v).__name__ for v in values if v is not None and type(v) not in var.type.python}
        if wrong:
            found = ", ".join(sorted(wrong))
            problems.append(f"{path} : valeur de type {found}, documentée comme « {var.type.name} »")
    top = {p.split(".")[0].split("[")[0] for p in paths}
    problems += [f"groupe sans description dans GROUPS : {g}" for g in sorted(top - GROUPS.keys())]
    problems += [f"groupe qui n'existe plus dans GROUPS : {g}" for g in GROUPS if g not in top]
    problems += [f"type de document sans libellé : {t.name}" for t in DocumentType if t not in DOCUMENT_LABELS]
    filters = make_filters()
    problems += [
        f"{p} : filtre inconnu « {v.suggested_filter} »"
        for p, v in VARIABLES.items()
        if v.suggested_filter and v.suggested_filter not in filters
    ]
    if problems:
        raise DocumentationDriftError(
            "docs/modeles.md ne correspond plus à dotation_docs/context.py ; mettez à jour "
            "scripts/build_docs.py :\n- " + "\n- ".join(problems)
        )


# --- docs/modeles.md: rendering ---------------------------------------------------------


def _raw(value: Any) -> str:
    """Return what ``{{ value }}`` prints without a filter (``2023-02-03``, ``28921.00``)."""
    return str(value)


def _expression(path: str) -> str:
    """Return the Jinja expression of ``path``: ``materiels[].prix_ht`` → ``m.prix_ht``."""
    if "[]" not in path:
        return path
    head, _, rest = path.rpartition("[].")
    return f"{LOOP_NAMES.get(head.split('.')[-1].split('[')[0], 'x')}.{rest}"


def _loop(path: str) -> str:
    """Return the opening of a loop over the list at ``path``."""
    name = path.split(".")[-1].split("[")[0]
    return f"{{% for {LOOP_NAMES.get(name, 'x')} in {_expression(path)} %}}"


def _example(path: str, var: Var, values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "vide dans l'exemple"
    value = present[0]
    if isinstance(value, list):
        return f"{len(value)} éléments ; `{_loop(path)}`"
    if isinstance(value, bool):
        return f"`{value}` ; `{{% if {_expression(path)} %}}`"
    if var.suggested_filter:
        shown = make_filters()[var.suggested_filter](value)
        return f"`{_raw(value)}` ; `{{{{ {_expression(path)} | {var.suggested_filter} }}}}` → {shown}"
    if isinstance(value, str):
        return _shorten(value)
    return f"`{_raw(value)}`"


def _template_documents(sample: Sample) -> dict[DocumentType, list[dict[str, Any]]]:
    """Return the contexts of the sample batch by document type, for documents that have
    a template."""
    docs: dict[DocumentType, list[dict[str, Any]]] = {}
    for doc_type, _path, template, context in sample.planned:
        if template is not None:
            docs.setdefault(doc_type, []).append(context)
    return docs


def _availability(group: str, docs: dict[DocumentType, list[dict[str, Any]]]) -> str:
    using = [t for t, contexts in docs.items() if all(group in c for c in contexts)]
    if len(using) == len(docs):
        return "tous les modèles"
    return ", ".join(DOCUMENT_LABELS[t] for t in using)


def _template_rows(sample: Sample) -> list[tuple[str, ...]]:
    example_paths: dict[DocumentType, str] = {}
    for doc_type, path, _template, _context in sample.planned:
        example_paths.setdefault(doc_type, path)
    rows = []
    for key, template in TEMPLATES.items():
        doc_type, kind = key if isinstance(key, tuple) else (key, None)
        label = DOCUMENT_LABELS[doc_type]
        if kind is not None:
            label = f"{label} (type de convention « {kind.value} »)"
        rows.append((f"`{template}`", label, f"`{example_paths.get(doc_type, '—')}`"))
    return rows


def _no_template_line(sample: Sample) -> list[str]:
    untemplated = sorted({(t, p) for t, p, template, _ in sample.planned if template is None}, key=lambda x: x[1])
    return [
        f"Le document « {DOCUMENT_LABELS[t]} » (`{p}`) est produit par le programme, sans modèle."
        for t, p in untemplated
    ]


def _unknown_variable_message(context: dict[str, Any]) -> str:
    """Return the real error printed for a template using a variable that does not exist."""
    name = TEMPLATES[DocumentType.PRESS_HTML]
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / name
        template.write_text("{{ operation.nom_complet }}", encoding="utf-8")
        # the press release is a document of the whole operation: no beneficiary in its context
        whole_operation = {k: v for k, v in context.items() if k != "beneficiaire"}
        try:
            render(template, whole_operation, title="", timestamp=datetime(2023, 1, 1))
        except TemplateError as err:
            return f"Erreur : {err.format_message()}"
    raise DocumentationDriftError("un modèle utilisant une variable inconnue n'a pas levé TemplateError")


def _rendered(source: str, context: dict[str, Any]) -> str:
    return html.unescape(build_environment().from_string(source).render(context))


def _syntax_section(context: dict[str, Any]) -> list[str]:
    def example(source: str) -> str:
        return f"`{source}` → {_rendered(source, context)}"

    return [
        "## Syntaxe des balises",
        "",
        "Les modèles Word sont remplis par docxtpl, qui utilise la syntaxe Jinja ; le modèle "
        "HTML utilise la même syntaxe. Les exemples sont calculés sur la première association "
        f"du classeur d'exemple `{SAMPLE_NAME}`.",
        "",
        "- **Valeur** : `{{ variable }}`. " + example("{{ beneficiaire.nom }}") + ".",
        "- **Valeur mise en forme par un filtre** : "
        + example("{{ totaux.part_etat | montant }}") + " ; "
        + example("{{ operation.date_remise | date_longue }}") + ".",
        "- **Condition dans une phrase** : `{% if %}…{% else %}…{% endif %}`. "
        + example("La collectivité {% if operation.est_don %}donne{% else %}met à disposition"
                  "{% endif %} le matériel") + ".",
        "- **Paragraphe entier conditionnel** : `{%p if … %}` et `{%p endif %}`, chacun seul dans "
        "son propre paragraphe ; ces deux paragraphes disparaissent du document, et ceux "
        "qu'ils encadrent ne sont gardés que si la condition est vraie :",
        "",
        "  ```",
        "  {%p if collectivite.elu_delegue %}",
        "  En présence de {{ collectivite.elu_delegue }}, {{ collectivite.elu_delegue_qualite }}.",
        "  {%p endif %}",
        "  ```",
        "",
        "- **Une ligne de tableau par élément** : `{%tr for … %}` dans une ligne du tableau, la "
        "ligne à répéter, puis `{%tr endfor %}` dans une autre ligne ; les deux lignes de "
        "balises disparaissent :",
        "",
        "  | N° | Désignation | N° de série |",
        "  |---|---|---|",
        "  | `{%tr for m in materiels %}` | | |",
        "  | `{{ m.numero }}` | `{{ m.designation }}` | `{{ m.numero_serie }}` |",
        "  | `{%tr endfor %}` | | |",
        "",
        "- **Boucle dans un texte** : "
        + example("{% for c in materiel_beneficiaire.categories %}{{ c.texte }}{% if not loop.last %} ; "
                  "{% endif %}{% endfor %}") + ".",
        "",
        "Règles à connaître :",
        "",
        "- Les valeurs sont toujours insérées comme du texte : un nom contenant `&`, `<` ou "
        "`{{ … }}` apparaît tel quel, sans jamais changer la mise en page.",
        "- Une valeur vide (`None`) s'imprime comme un texte vide, avec ou sans filtre ; "
        "`{% if variable %}` permet d'omettre la phrase qui l'entoure.",
        "- Une variable ou un filtre qui n'existe pas est une erreur qui nomme le modèle, et "
        "aucun document n'est écrit. Par exemple, `{{ operation.nom_complet }}` dans "
        f"`{TEMPLATES[DocumentType.PRESS_HTML]}` donne :",
        "",
        "  ```",
        f"  {_unknown_variable_message(context)}",
        "  ```",
        "",
        "- `{%p … %}` et `{%tr … %}` n'existent que dans les modèles Word ; le modèle HTML "
        "utilise `{% … %}` partout.",
        "- Sans filtre, un montant s'imprime brut (`28921.00`), une date au format `2023-02-03`, "
        "un taux en fraction (`0.8`) : utilisez le filtre conseillé dans la liste des variables.",
        "- Dans Word, tapez chaque balise d'un seul tenant et avec une seule mise en forme. Les "
        "arguments des filtres s'écrivent entre guillemets droits (`\"` ou `'`) : les guillemets "
        "« » insérés par la correction automatique ne sont pas compris.",
        "",
    ]


def _filters_section() -> list[str]:
    lines = ["## Filtres", "", "S'écrivent après une barre verticale : `{{ variable | filtre }}`. "
             "Tous renvoient un texte vide pour une valeur vide.", ""]
    lines += [f"- `{name}` : {doc}" for name, doc in FILTER_DOCS.items()]
    return lines + [""]


def _variables_section(sample: Sample, paths: dict[str, list[Any]]) -> list[str]:
    docs = _template_documents(sample)
    lines = [
        "## Variables",
        "",
        "Notation : `operation.date_remise` s'écrit `{{ operation.date_remise }}` ; "
        "`materiels[].numero_serie` est le champ `numero_serie` de chaque élément de la liste "
        "`materiels` : dans `{% for m in materiels %}`, écrivez `{{ m.numero_serie }}`.",
        "",
        f"Les exemples viennent du classeur d'exemple `{SAMPLE_NAME}` (pour `beneficiaire`, "
        "`materiels` et `materiel_beneficiaire` : sa première association) ; pour une liste, "
        "ceux de son premier élément renseigné. Types : texte ; montant (Decimal, en euros, "
        "au centime) ; montant en euros entiers ; taux (Decimal, fraction : `0.8` pour 80 %) ; "
        "date ; heure ; nombre entier ; booléen (vrai ou faux, pour `{% if %}`) ; liste (pour "
        "`{% for %}`).",
        "",
    ]
    for group, intro in GROUPS.items():
        rows = [
            (f"`{p}`", VARIABLES[p].type.name, _example(p, VARIABLES[p], values), VARIABLES[p].description)
            for p, values in paths.items()
            if p.split(".")[0].split("[")[0] == group
        ]
        lines += [
            f"### `{group}`",
            "",
            f"{intro} Disponible dans : {_availability(group, docs)}.",
            "",
            *_table(("Variable", "Type", "Exemple", "Description"), rows),
            "",
        ]
    return lines


def render_templates_doc() -> str:
    """Return the Markdown of ``docs/modeles.md``. Raises DocumentationDriftError when
    VARIABLES, GROUPS or DOCUMENT_LABELS no longer match the code."""
    sample = load_sample()
    paths = collect_paths(sample.contexts + tuple(c for *_, c in sample.planned))
    _check_descriptions(paths)
    lines = [
        HEADER.format(source="dotation_docs/context.py, dotation_docs/formatting.py et dotation_docs/documents.py"),
        "",
        "# Les modèles de documents",
        "",
        "Les documents sont produits à partir de modèles Word (.docx) et d'un modèle HTML, "
        "rangés dans le dossier `templates/`. Pour utiliser vos propres modèles sans toucher à "
        "ceux fournis, copiez ce dossier, modifiez les copies (dans Word ou LibreOffice, "
        "enregistrées au format .docx) et passez le dossier avec l'option `-m` : "
        "`dotation generer classeur.xlsx -m mes-modeles/`. Gardez les noms de fichiers.",
        "",
        *_table(("Modèle", "Document produit", "Exemple de fichier produit"), _template_rows(sample)),
        "",
        *_no_template_line(sample),
        "",
        *_syntax_section(sample.contexts[0]),
        *_filters_section(),
        *_variables_section(sample, paths),
    ]
    return _join(lines)


def main() -> None:
    """Write ``docs/classeur.md`` and ``docs/modeles.md``."""
    for path, text in ((WORKBOOK_DOC, render_workbook_doc()), (TEMPLATES_DOC, render_templates_doc())):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"{path.relative_to(ROOT)} écrit.")


if __name__ == "__main__":
    main()
