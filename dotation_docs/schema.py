"""Workbook schema: the sheets, their French labels and the kind of value each cell holds.

This is the single description of the workbook format. The reader uses it to find
columns, the validation uses it to parse cells and to build the model (each field names
the model attribute it fills), the example workbook is written from it and
``docs/classeur.md`` documents it. Adding a column means adding a field here and the
attribute to the model's dataclass; nothing else.
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dotation_docs.model import (
    Beneficiary,
    BeneficiaryKind,
    Category,
    ConventionKind,
    Device,
    Invoice,
    Operation,
    RateBase,
    TerritoryKind,
)


class Kind(enum.Enum):
    """What a cell must hold; the French text is what an error says was expected."""

    TEXT = "un texte"
    IDENTIFIER = ("un identifiant court : lettres sans accents, chiffres ou « _ » (pas de « - » "
                  "ni d'espace), 20 caractères au plus (ex. B01)")
    SIRET = "un numéro SIRET de 14 chiffres valide"
    RNA = "un numéro RNA : « W » suivi de 9 chiffres (ex. W872001234)"
    QPV = "un code QPV (ex. QP087005 ou QN08705M)"
    TERRITORY_CODE = ("le code du territoire desservi : un code QPV (ex. QP087005 ou QN08705M) "
                      "pour un QPV ; le code INSEE de la commune, 5 caractères (ex. 79339, ou 2A004 "
                      "en Corse), pour une ZRR ou une FRR")
    IBAN = "un IBAN valide (ex. FR76 3000 1007 9412 3456 7890 185)"
    BIC = "un BIC valide de 8 ou 11 caractères (ex. BDFEFRPPCCT)"
    EMAIL = "une adresse électronique (ex. prenom.nom@exemple.fr)"
    PHONE = "un numéro de téléphone (ex. 05 55 45 79 00)"
    POSTCODE = "un code postal de 5 chiffres"
    DATE = "une date (ex. 03/02/2023)"
    TIME = "une heure (ex. 10:30 ou 10 h 30)"
    MONEY = ("un montant en euros (ex. 1 234,50 €, 1.234,50, 25 000 ou 1234.50 ; "
             "deux décimales au plus)")
    RATE = "un taux (ex. 80 %, 80, 0,8 ou 0.8)"
    INTEGER = "un nombre entier"
    IMEI = "un IMEI de 15 chiffres valide"
    CHOICE = "une valeur de la liste"


# Excel's limit for the text of a cell: no field may allow more.
EXCEL_CELL_MAX = 32767
# Lengths of the texts of the workbook, in characters. They keep documents readable and
# within what the generation can hold (python-docx refuses a title property over 255).
NAME_MAX = 150
TITLE_MAX = 250
ADDRESS_MAX = 300
REFERENCE_MAX = 100
TEXT_MAX = 1000
MAX_DURATION_MONTHS = 120


class Layout(enum.Enum):
    """How a sheet is laid out."""

    FORM = "form"  # one field per row: label in column A, value in column B
    TABLE = "table"  # one header row, then one record per row


@dataclass(frozen=True)
class Field:
    """One value of the workbook: a column of a table sheet or a row of a form sheet.

    ``key`` is the attribute of the sheet's model class that the value fills (a dotted
    key, ``authority_press.name``, fills an attribute of a nested dataclass). A closed
    list (:attr:`Kind.CHOICE`) is given as ``vocabulary``: each French label the user
    types, mapped to the model value it stands for (an enum member, a boolean…).
    """

    key: str
    label: str
    kind: Kind
    required: bool = True
    aliases: tuple[str, ...] = ()
    vocabulary: Mapping[str, Any] = field(default_factory=dict, compare=False)
    description: str = ""
    example: str = ""
    max_length: int = TEXT_MAX  # of the cleaned text, in characters
    max_value: int | None = None  # of a whole number
    default: Any = None  # the model value of an empty cell
    default_from: str | None = None  # or: the value of this other field of the sheet

    def __post_init__(self) -> None:
        assert 0 < self.max_length <= EXCEL_CELL_MAX, self.key
        assert (self.kind is Kind.CHOICE) == bool(self.vocabulary), self.key

    @property
    def choices(self) -> tuple[str, ...]:
        """The French labels of a closed list, in order (empty for other kinds)."""
        return tuple(self.vocabulary)

    def to_model(self, value: Any) -> Any:
        """Return the model value of a parsed cell value: the vocabulary's value for a
        label of a closed list, the value itself otherwise."""
        return self.vocabulary[value] if self.vocabulary else value

    @property
    def names(self) -> tuple[str, ...]:
        """Every accepted spelling of the label, normalised."""
        return tuple(normalize_label(n) for n in (self.label, *self.aliases))


@dataclass(frozen=True)
class Sheet:
    """One sheet of the workbook."""

    key: str
    title: str
    layout: Layout
    model: type  # the dataclass each record becomes
    fields: tuple[Field, ...]
    aliases: tuple[str, ...] = ()
    description: str = ""
    # A form sheet may start with a header row: its cells as written, and every word
    # accepted in the label column for it.
    header: tuple[str, ...] = ()
    header_aliases: tuple[str, ...] = ()
    # Model attributes the validation computes (not read from a cell).
    computed: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every accepted spelling of the sheet title, normalised."""
        return tuple(normalize_label(n) for n in (self.title, *self.aliases))

    def is_header(self, label: str) -> bool:
        """True when ``label`` (as typed) is the label column's word of the header row."""
        return normalize_label(label) in {normalize_label(h) for h in (*self.header[:1], *self.header_aliases)}

    def field(self, key: str) -> Field:
        """Return the field named ``key``; raises KeyError for an unknown key."""
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)


_SPACES = re.compile(r"[\s\u00a0\u202f\u2007]+")


def normalize_label(text: str) -> str:
    """Return ``text`` folded for tolerant matching: no accents, lower case, one space
    between words, no trailing colon, typographic apostrophes made straight."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    no_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = no_accents.replace("\u2019", "'").casefold()
    return _SPACES.sub(" ", folded).strip().rstrip(":").strip()


# The closed list of device categories (key, singular, plural), owned by the model.
CATEGORIES: tuple[tuple[str, str, str], ...] = tuple((c.value, c.singular, c.plural) for c in Category)



def _labels(*labels: str) -> dict[str, str]:
    """A closed list whose model values are its labels."""
    return {label: label for label in labels}


# Closed lists: French label → model value. The enums' lists come from the model.
BENEFICIARY_KINDS: dict[str, BeneficiaryKind] = {k.value: k for k in BeneficiaryKind}
CONVENTION_KINDS: dict[str, ConventionKind] = {k.value: k for k in ConventionKind}
RATE_BASES: dict[str, RateBase] = {b.value: b for b in RateBase}
TERRITORY_KINDS: dict[str, TerritoryKind] = {k.value: k for k in TerritoryKind}
DEVICE_CATEGORIES: dict[str, Category] = {c.singular: c for c in Category}
CIVILITIES = _labels("Madame", "Monsieur")
YES_NO = {"oui": True, "non": False}
# Bodies a gift of computer equipment may go to (CG3P art. L3212-2 3°, as amended by
# loi n° 2022-217, art. 178), in the article's order; short labels.
GIFT_CATEGORIES = _labels(
    "association de parents d'élèves",
    "association de soutien scolaire",
    "association reconnue d'utilité publique",
    "organisme de réemploi agréé ESUS",
    "association d'intérêt général (précarité)",
    "association d'étudiants",
)
DEFAULT_INVOICE_DESCRIPTION = "Matériel informatique reconditionné"

F = Field

OPERATION = Sheet(
    key="operation",
    title="Opération",
    layout=Layout.FORM,
    model=Operation,
    aliases=("Operation",),
    header=("Champ", "Valeur"),
    header_aliases=("Libellé", "Information"),
    description="Une ligne par information : le libellé en colonne A, la valeur en colonne B.",
    fields=(
        F("title", "Intitulé de l'opération", Kind.TEXT,
          description="Nom de l'opération, repris dans les documents.",
          example="Remise de matériel informatique reconditionné aux associations des quartiers prioritaires",
          max_length=TITLE_MAX),
        F("programme", "Programme", Kind.TEXT,
          description="Programme national de financement.",
          example="Programme de l'ANCT d'équipement en matériel informatique reconditionné pour la médiation numérique",
          max_length=TITLE_MAX),
        F("authority_name", "Collectivité", Kind.TEXT, example="Limoges Métropole", max_length=NAME_MAX),
        F("authority_siret", "SIRET de la collectivité", Kind.SIRET),
        F("authority_address", "Adresse de la collectivité", Kind.TEXT,
          example="19 rue Bernard Palissy, 87031 Limoges Cedex 1", max_length=ADDRESS_MAX),
        F("authority_representative_civility", "Civilité du représentant de la collectivité",
          Kind.CHOICE, required=False, vocabulary=CIVILITIES,
          description="Accorde « dûment habilité(e) » et « soussigné(e) »."),
        F("authority_representative", "Représentant de la collectivité", Kind.TEXT,
          description="Personne qui signe pour la collectivité.", example="Guillaume Guérin",
          max_length=NAME_MAX),
        F("authority_representative_title", "Qualité du représentant de la collectivité", Kind.TEXT,
          aliases=("Qualité du représentant",), example="Président de Limoges Métropole",
          max_length=TITLE_MAX),
        F("delegate", "Élu délégué", Kind.TEXT, required=False, example="Ibrahima Dia",
          max_length=NAME_MAX),
        F("delegate_title", "Qualité de l'élu délégué", Kind.TEXT, required=False,
          example="conseiller communautaire délégué à la politique de la ville", max_length=TITLE_MAX),
        F("delegation_reference", "Référence de la délégation de signature", Kind.TEXT, required=False,
          description="Acte qui délègue la signature à l'élu délégué. Rempli : les procès-verbaux "
                      "(et les conventions si la ligne suivante dit « oui ») portent « Pour le "
                      "Président et par délégation » et cet acte ; vide : l'élu signe sans mention.",
          example="arrêté n° 2020-0145 du 17 juillet 2020", max_length=NAME_MAX),
        F("conventions_signed_by_delegate", "Les conventions sont signées par l'élu délégué", Kind.CHOICE,
          required=False, vocabulary=YES_NO, default=False,
          description="« oui » : l'élu délégué signe aussi les conventions, par délégation (la "
                      "référence de la délégation est alors obligatoire) ; vide ou « non » : le "
                      "représentant les signe."),
        F("signatory_function", "Fonction du signataire", Kind.TEXT, required=False,
          description="Fonction qui précède la signature du représentant, sans article ; l'article "
                      "(« Le », « La », « L’ ») vient de sa civilité. Vide : sa qualité.",
          example="Président de Limoges Métropole"),
        F("prefecture", "Préfecture", Kind.TEXT, example="Préfecture de la Haute-Vienne",
          max_length=NAME_MAX),
        F("prefecture_address", "Adresse de la préfecture", Kind.TEXT, required=False,
          example="1 rue de la Préfecture, 87031 Limoges Cedex 1", max_length=ADDRESS_MAX),
        F("claim_addressee", "Destinataire de la demande de versement", Kind.TEXT,
          description="Formule d'adresse de la lettre de demande.",
          example="Monsieur le Préfet de la Haute-Vienne", max_length=NAME_MAX),
        F("salutation", "Formule d'appel de la lettre", Kind.TEXT, required=False,
          default_from="claim_addressee",
          description="Début et fin de la lettre de demande ; vide : le destinataire.",
          example="Monsieur le Préfet", max_length=NAME_MAX),
        F("state_representative", "Représentant de l'État", Kind.TEXT,
          description="Représentant de l'État présent à la remise.", example="Olivier du Cray",
          max_length=NAME_MAX),
        F("state_representative_title", "Qualité du représentant de l'État", Kind.TEXT,
          example="administrateur de l'État", max_length=TITLE_MAX),
        F("handover_date", "Date de la remise", Kind.DATE),
        F("handover_time", "Heure de la remise", Kind.TIME),
        F("handover_place", "Lieu de la remise", Kind.TEXT,
          example="Mission Locale de l'Agglomération de Limoges", max_length=ADDRESS_MAX),
        F("signature_town", "Lieu de signature", Kind.TEXT,
          description="Commune où les documents sont signés (« Fait à … »).", example="Limoges",
          max_length=NAME_MAX),
        F("decision_reference", "Référence de la décision de financement", Kind.TEXT,
          description="Arrêté ou convention attributive de l'État.", max_length=TITLE_MAX),
        F("decision_date", "Date de la décision de financement", Kind.DATE),
        F("deliberation_reference", "Référence de la délibération", Kind.TEXT, max_length=TITLE_MAX),
        F("deliberation_date", "Date de la délibération", Kind.DATE),
        F("state_rate", "Taux de l'État", Kind.RATE, example="80 %"),
        F("rate_base", "Assiette du taux", Kind.CHOICE, vocabulary=RATE_BASES,
          description="Montant auquel s'applique le taux : HT ou TTC.", example="HT"),
        F("amount_granted", "Montant de la subvention attribuée", Kind.MONEY,
          aliases=("Plafond de la subvention",),
          description="Montant de la subvention inscrit dans la décision de l'État ; la subvention "
                      "versée ne peut pas le dépasser (taux × dépense réelle, dans cette limite).",
          example="28 921,00 €"),
        F("forecast_eligible_expense", "Dépense subventionnable prévisionnelle", Kind.MONEY,
          required=False,
          description="Dépense retenue par la décision de l'État (même assiette que le taux) ; "
                      "vide : le plan de financement ne montre que le réalisé.",
          example="36 151,25 €"),
        F("other_funders", "Autres financeurs", Kind.TEXT, required=False,
          description="Financeurs autres que l'État et la collectivité ; laissez vide s'il n'y en "
                      "a pas (les documents indiquent alors « néant »).",
          example="Région Nouvelle-Aquitaine"),
        F("other_funding", "Montant des autres financements", Kind.MONEY, required=False,
          description="Total des financements des autres financeurs ; vide s'il n'y en a pas. "
                      "À remplir avec la ligne précédente."),
        F("advances", "Acomptes reçus", Kind.MONEY, required=False, default=Decimal("0.00"),
          description="Avances déjà versées par l'État ; vide ou 0 s'il n'y en a pas."),
        F("claim_date", "Date de la demande de versement", Kind.DATE, required=False,
          description="Date de la lettre de demande ; vide : la date est laissée à compléter."),
        F("iban", "IBAN", Kind.IBAN, description="Compte de la collectivité qui reçoit la subvention."),
        F("bic", "BIC", Kind.BIC),
        F("account_holder", "Titulaire du compte", Kind.TEXT, required=False,
          example="Trésorerie de Limoges Métropole", max_length=NAME_MAX),
        F("accounting_office", "Poste comptable", Kind.TEXT, required=False,
          description="Comptable public qui vise l'état récapitulatif des dépenses ; vide : lignes "
                      "en pointillé à compléter à la main.",
          example="Service de gestion comptable de Limoges"),
        F("accountant_title", "Qualité du comptable public", Kind.TEXT, required=False,
          description="Titre sous lequel le comptable vise l'état ; vide : pointillés.",
          example="le comptable public"),
        F("case_officer", "Affaire suivie par", Kind.TEXT, required=False,
          description="Agent à contacter, cité dans la lettre de demande de versement.",
          example="Sandrine Peyroux"),
        F("case_officer_phone", "Téléphone de l'agent qui suit l'affaire", Kind.PHONE, required=False),
        F("case_officer_email", "Courriel de l'agent qui suit l'affaire", Kind.EMAIL, required=False),
        F("duration_months", "Durée de la convention (mois)", Kind.INTEGER,
          aliases=("Durée de la convention",), example="36", max_value=MAX_DURATION_MONTHS),
        F("convention_kind", "Type de convention", Kind.CHOICE, required=False,
          vocabulary=CONVENTION_KINDS, default=ConventionKind.LOAN,
          description="« mise à disposition » (par défaut) ou « don » (valeur unitaire ≤ 300 €)."),
        F("reform_decision", "Décision de réforme du matériel", Kind.TEXT, required=False,
          description="Pour un « don » : la décision par laquelle la collectivité a réformé le "
                      "matériel dont ses services n'ont plus l'emploi (CG3P, art. L3212-2 3°), citée "
                      "par la convention de don ; vide : la convention laisse la référence à compléter.",
          example="décision n° 2023-012 du 2 février 2023", max_length=TITLE_MAX),
        F("convention_prefix", "Préfixe des numéros de convention", Kind.TEXT, required=False, default="",
          description="Début du numéro de chaque convention, suivi de l'identifiant du bénéficiaire.",
          example="LM-2023-", max_length=30),
        F("court", "Tribunal administratif compétent", Kind.TEXT,
          example="tribunal administratif de Limoges", max_length=NAME_MAX),
        F("authority_press.name", "Contact presse de la collectivité", Kind.TEXT, max_length=NAME_MAX),
        F("authority_press.phone", "Téléphone du contact presse de la collectivité", Kind.PHONE),
        F("authority_press.email", "Courriel du contact presse de la collectivité", Kind.EMAIL),
        F("prefecture_press.name", "Contact presse de la préfecture", Kind.TEXT),
        F("prefecture_press.phone", "Téléphone du contact presse de la préfecture", Kind.PHONE),
        F("prefecture_press.email", "Courriel du contact presse de la préfecture", Kind.EMAIL),
        F("context", "Contexte", Kind.TEXT, required=False,
          description="Paragraphe libre sur le contexte de l'opération, repris dans le communiqué "
                      "de presse (2 000 caractères au plus).", max_length=2000),
        F("objectives", "Objectifs de la collectivité", Kind.TEXT, required=False,
          description="Paragraphe libre sur les objectifs de la collectivité, repris dans le "
                      "communiqué de presse (2 000 caractères au plus).", max_length=2000),
    ),
)

BENEFICIARIES = Sheet(
    key="beneficiaries",
    title="Bénéficiaires",
    layout=Layout.TABLE,
    model=Beneficiary,
    aliases=("Beneficiaire", "Bénéficiaire"),
    description="Une ligne par bénéficiaire : association ou service de la collectivité.",
    fields=(
        F("identifier", "Identifiant", Kind.IDENTIFIER, aliases=("Id", "Code"), example="B01",
          description="Code court choisi par l'agent ; sert aux noms de fichiers."),
        F("name", "Nom", Kind.TEXT, example="Association Les Amis du Numérique", max_length=NAME_MAX),
        F("kind", "Type", Kind.CHOICE, vocabulary=BENEFICIARY_KINDS,
          description="« association » ou « service de la collectivité » (procès-verbal sans convention)."),
        F("siret", "SIRET", Kind.SIRET, required=False,
          description="Obligatoire pour une association."),
        F("rna", "RNA", Kind.RNA, required=False,
          description="Numéro au répertoire national des associations (absent en Alsace-Moselle)."),
        F("address", "Adresse", Kind.TEXT, max_length=ADDRESS_MAX),
        F("postcode", "Code postal", Kind.POSTCODE),
        F("town", "Ville", Kind.TEXT, aliases=("Commune",), max_length=NAME_MAX),
        F("representative_civility", "Civilité du représentant", Kind.CHOICE, vocabulary=CIVILITIES,
          aliases=("Civilité",)),
        F("representative_name", "Nom du représentant", Kind.TEXT, aliases=("Représentant",),
          max_length=NAME_MAX),
        F("representative_title", "Qualité du représentant", Kind.TEXT, aliases=("Qualité",),
          example="Présidente", max_length=TITLE_MAX),
        F("email", "Courriel", Kind.EMAIL, required=False, aliases=("E-mail", "Email", "Adresse électronique")),
        F("phone", "Téléphone", Kind.PHONE, required=False),
        F("territory_name", "Territoire desservi", Kind.TEXT,
          aliases=("QPV desservi", "Nom du QPV", "Quartier", "Commune desservie"),
          description="Nom du quartier prioritaire, ou de la commune classée ZRR ou FRR.",
          example="Beaubreuil", max_length=NAME_MAX),
        F("territory_code", "Code du territoire", Kind.TERRITORY_CODE,
          aliases=("Code QPV", "Code INSEE", "Code INSEE de la commune"),
          description="Code QPV pour un QPV ; code INSEE de la commune (pas son code postal) "
                      "pour une ZRR ou une FRR.",
          example="QP087005"),
        F("place_of_use", "Lieu d'utilisation", Kind.TEXT,
          description="Lieu où le matériel sera utilisé pour la médiation numérique.",
          max_length=ADDRESS_MAX),
        F("gift_category", "Catégorie du bénéficiaire du don", Kind.CHOICE, required=False,
          vocabulary=GIFT_CATEGORIES, aliases=("Catégorie de bénéficiaire",),
          description="Organisme auquel un don est permis (CG3P, art. L3212-2 3°) ; obligatoire "
                      "pour une association quand le type de convention est « don »."),
        # Added with ZRR/FRR (issue #11), last: the columns of older workbooks keep their place.
        F("territory_kind", "Type de territoire", Kind.CHOICE, required=False,
          vocabulary=TERRITORY_KINDS, default=TerritoryKind.QPV,
          aliases=("Type de territoire desservi",),
          description="« QPV » : quartier prioritaire de la politique de la ville ; « ZRR » : "
                      "commune classée en zone de revitalisation rurale ; « FRR » : commune classée "
                      "en zone France Ruralités Revitalisation. Vide (ou colonne absente) : QPV."),
        F("convention_signed_on", "Date de signature de la convention", Kind.DATE, required=False,
          description="Jour où la convention a été signée par les deux parties ; vide tant qu'elle ne "
                      "l'est pas (« dotation etat » affiche ce qui reste à signer)."),
        F("handover_signed_on", "Date de signature du procès-verbal", Kind.DATE, required=False,
          description="Jour où le procès-verbal de remise a été signé ; vide tant qu'il ne l'est pas "
                      "(« dotation demande » signale les procès-verbaux non signés)."),
    ),
)

DEVICES = Sheet(
    key="devices",
    title="Matériel",
    layout=Layout.TABLE,
    model=Device,
    aliases=("Matériels", "Equipements", "Équipements"),
    computed=("unit_price_ttc",),
    description="Une ligne par équipement.",
    fields=(
        F("inventory_number", "N° d'inventaire", Kind.TEXT,
          aliases=("Numéro d'inventaire", "Inventaire", "No d'inventaire"), example="LM-NUM-0001",
          max_length=REFERENCE_MAX),
        F("category", "Catégorie", Kind.CHOICE, vocabulary=DEVICE_CATEGORIES),
        F("brand", "Marque", Kind.TEXT, max_length=NAME_MAX),
        F("model", "Modèle", Kind.TEXT, max_length=NAME_MAX),
        F("serial_number", "N° de série", Kind.TEXT, aliases=("Numéro de série", "No de série", "Série"),
          max_length=REFERENCE_MAX),
        F("imei", "IMEI", Kind.IMEI, required=False, description="Pour les smartphones."),
        F("accessories", "Accessoires", Kind.TEXT, required=False, example="chargeur, housse",
          max_length=ADDRESS_MAX),
        F("condition", "État", Kind.TEXT, required=False,
          description="État à la remise, tel que constaté ; vide : « — » dans les documents "
                      "(aucun état n'est supposé).", max_length=ADDRESS_MAX),
        F("unit_price_ht", "Prix unitaire HT", Kind.MONEY, aliases=("Prix HT",)),
        F("vat_rate", "Taux de TVA", Kind.RATE, aliases=("TVA",), example="20 %"),
        F("invoice", "Facture", Kind.TEXT, aliases=("Référence de la facture", "N° de facture"),
          description="Référence d'une facture de la feuille Factures.", max_length=REFERENCE_MAX),
        F("beneficiary", "Bénéficiaire", Kind.TEXT, aliases=("Identifiant du bénéficiaire",),
          description="Identifiant d'un bénéficiaire de la feuille Bénéficiaires.", max_length=REFERENCE_MAX),
    ),
)

INVOICES = Sheet(
    key="invoices",
    title="Factures",
    layout=Layout.TABLE,
    model=Invoice,
    aliases=("Facture",),
    description="Une ligne par facture d'achat.",
    fields=(
        F("reference", "Référence", Kind.TEXT, aliases=("N° de facture", "Numéro de facture"),
          max_length=REFERENCE_MAX),
        F("supplier", "Fournisseur", Kind.TEXT, max_length=NAME_MAX),
        F("supplier_siret", "SIRET du fournisseur", Kind.SIRET),
        F("date", "Date", Kind.DATE, aliases=("Date de la facture",)),
        F("description", "Objet", Kind.TEXT, required=False, aliases=("Désignation", "Description"),
          default=DEFAULT_INVOICE_DESCRIPTION, description=f"Vide : « {DEFAULT_INVOICE_DESCRIPTION} ».",
          max_length=ADDRESS_MAX),
        F("amount_ht", "Montant HT", Kind.MONEY),
        F("vat", "TVA", Kind.MONEY, aliases=("Montant TVA", "Montant de la TVA")),
        F("amount_ttc", "Montant TTC", Kind.MONEY),
        F("mandate_number", "N° de mandat", Kind.TEXT, required=False, aliases=("Numéro de mandat",),
          max_length=REFERENCE_MAX),
        F("payment_date", "Date de paiement", Kind.DATE, required=False),
    ),
)

SHEETS: tuple[Sheet, ...] = (OPERATION, BENEFICIARIES, DEVICES, INVOICES)
