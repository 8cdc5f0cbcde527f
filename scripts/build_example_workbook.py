"""Build the example workbooks ``data/exemple-limoges-2023.xlsx`` and ``data/exemple-zrr.xlsx``.

The first reproduces the Limoges Métropole handover of refurbished IT equipment of
3 February 2023 (priority neighbourhoods, QPV). The second (``--variant zrr``) is a fictitious
rural communauté de communes whose beneficiaries serve communes classified ZRR or FRR: tablets
and laptops only, the State's rate on the TTC amount, a grant that caps the State's share and
an advance already received. Every sheet title, header label, number format and drop-down list is
taken from :mod:`dotation_docs.schema`, in schema order, so the example can never drift
from the format the reader expects. People, associations, identifiers and references are
fictitious but valid (SIRET, IMEI, IBAN checksums pass).

Usage (from the repository root)::

    PYTHONPATH=. python scripts/build_example_workbook.py [--variant limoges|zrr] [--output PATH]

The output is byte-for-byte deterministic: fixed document properties, fixed ZIP entry
timestamps and a seeded random generator for serial numbers and identifiers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import string
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter
from schwifty import IBAN
from stdnum import iban as stdnum_iban
from stdnum import imei as stdnum_imei
from stdnum import luhn
from stdnum.fr import siret as stdnum_siret

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as ``python scripts/build_example_workbook.py``
    sys.path.insert(0, str(REPO_ROOT))

from dotation_docs import schema  # noqa: E402
DEFAULT_OUTPUT = REPO_ROOT / "data" / "exemple-limoges-2023.xlsx"
ZRR_OUTPUT = REPO_ROOT / "data" / "exemple-zrr.xlsx"

SEED = 20230203
FIXED_TIMESTAMP = dt.datetime(2023, 1, 31, 9, 0, 0)

CENT = Decimal("0.01")
VAT_RATE = Decimal("0.20")
STATE_RATE = Decimal("0.80")
EXPECTED_TOTAL_HT = Decimal("36151.25")
EXPECTED_TOTAL_VAT = Decimal("7230.25")
EXPECTED_TOTAL_TTC = Decimal("43381.50")
EXPECTED_STATE_SHARE = Decimal("28921.00")

# Category labels, exactly as the schema spells them.
LAPTOP, DESKTOP, TABLET, SMARTPHONE = (singular for _, singular, _ in schema.CATEGORIES)
EXPECTED_COUNTS = {LAPTOP: 57, DESKTOP: 5, TABLET: 39, SMARTPHONE: 20}

ASSOCIATION, AUTHORITY_SERVICE = schema.BENEFICIARIES.field("kind").choices
MADAME, MONSIEUR = schema.BENEFICIARIES.field("representative_civility").choices

# Header cells of the form sheet.
FORM_HEADERS = schema.OPERATION.header

# Cosmetics.
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
VALIDATION_LAST_ROW = 500  # drop-downs cover room for new rows
MAX_COLUMN_WIDTH = 70
MAX_FORM_WIDTH = 100  # longer form values wrap
NUMBER_FORMATS = {
    schema.Kind.DATE: "DD/MM/YYYY",
    schema.Kind.TIME: "HH:MM",
    schema.Kind.MONEY: "#,##0.00 €",
    schema.Kind.RATE: "0 %",
    schema.Kind.INTEGER: "0",
}
TEXT_FORMAT = "@"  # keeps leading zeros of SIRET, postcodes, phone numbers, IMEI
# Width of a formatted cell whose display is not its str(): dates, money, rates.
DISPLAY_WIDTHS = {
    schema.Kind.DATE: 10,
    schema.Kind.TIME: 5,
    schema.Kind.MONEY: 12,
    schema.Kind.RATE: 5,
}

# Table columns whose drop-down lists the identifiers of another sheet.
# (The schema types them as plain text; the cross-reference lives here.)
REFERENCES: dict[tuple[str, str], tuple[schema.Sheet, str]] = {
    (schema.DEVICES.key, "invoice"): (schema.INVOICES, "reference"),
    (schema.DEVICES.key, "beneficiary"): (schema.BENEFICIARIES, "identifier"),
}


# --------------------------------------------------------------------------- operation

def operation_values() -> dict[str, Any]:
    """Return the Opération sheet values keyed by schema field key."""
    return {
        "title": "Remise de matériel informatique reconditionné aux associations "
                 "des quartiers prioritaires de Limoges Métropole",
        "programme": "Programme de l'Agence nationale de la cohésion des territoires (ANCT) "
                     "d'équipement en matériel informatique reconditionné pour la médiation "
                     "numérique",
        "authority_name": "Limoges Métropole",
        "authority_siret": siret_from_siren("248719312", "0001"),
        "authority_address": "19 rue Bernard Palissy, 87031 Limoges Cedex 1",
        "authority_representative_civility": "Monsieur",
        "authority_representative": "Guillaume Guérin",
        "authority_representative_title": "Président de Limoges Métropole",
        "delegate": "Ibrahima Dia",
        "delegate_title": "conseiller communautaire délégué à la politique de la ville "
                               "et à la lutte contre les discriminations",
        "delegation_reference": "arrêté n° 2020-0145 du 17 juillet 2020",
        "conventions_signed_by_delegate": "non",
        "signatory_function": None,  # the representative's title
        "prefecture": "Préfecture de la Haute-Vienne",
        "prefecture_address": "1 rue de la Préfecture, 87031 Limoges Cedex 1",
        # In February 2023 the Haute-Vienne was led by a préfète, Fabienne Balussou.
        "claim_addressee": "Madame la Préfète de la Haute-Vienne",
        "salutation": "Madame la Préfète",
        "state_representative": "Olivier du Cray",
        "state_representative_title": "administrateur de l'État",
        "handover_date": dt.date(2023, 2, 3),
        "handover_time": dt.time(10, 30),
        "handover_place": "Mission Locale de l'Agglomération de Limoges",
        "signature_town": "Limoges",
        "decision_reference": "Arrêté préfectoral n° 87-2022-12-08-00003",
        "decision_date": dt.date(2022, 12, 8),
        "deliberation_reference": "n° 2022-11-24-015 du conseil communautaire",
        "deliberation_date": dt.date(2022, 11, 24),
        "state_rate": STATE_RATE,
        "rate_base": "HT",
        "amount_granted": EXPECTED_STATE_SHARE,
        "forecast_eligible_expense": EXPECTED_TOTAL_HT,
        "other_funders": None,
        "other_funding": None,
        "advances": Decimal("0.00"),
        "claim_date": None,
        "iban": IBAN.generate("FR", bank_code="30001", branch_code="00506",
                              account_code="C8710000000").formatted,
        "bic": "BDFEFRPPCCT",
        "account_holder": "Trésorerie de Limoges Métropole",
        "accounting_office": "Service de gestion comptable de Limoges",
        "accountant_title": "le comptable public",
        "case_officer": "Sandrine Peyroux, direction de la cohésion sociale",
        "case_officer_phone": "05 55 45 79 34",
        "case_officer_email": "sandrine.peyroux@limoges-metropole.fr",
        "duration_months": 36,
        "convention_kind": "mise à disposition",
        "reform_decision": None,  # a loan: no gift, no reform
        "convention_prefix": "LM-2023-",
        "court": "tribunal administratif de Limoges",
        "authority_press.name": "Émilie Roussel",
        "authority_press.phone": "05 55 45 79 12",
        "authority_press.email": "emilie.roussel@limoges-metropole.fr",
        "prefecture_press.name": "Julien Mazaud",
        "prefecture_press.phone": "05 55 44 18 36",
        "prefecture_press.email": "julien.mazaud@haute-vienne.gouv.fr",
        "context": (
            "La crise sanitaire a révélé et creusé les inégalités face au numérique, qui pèsent "
            "d'abord sur les habitants des quartiers prioritaires de la politique de la ville. "
            "Début 2022, l'Agence nationale de la cohésion des territoires (ANCT) a ouvert une "
            "plateforme de matériel informatique reconditionné destinée aux acteurs de la "
            "médiation numérique des zones de revitalisation rurale et des quartiers prioritaires."
        ),
        "objectives": (
            "Limoges Métropole a rejoint ce dispositif pour équiper le conseiller numérique "
            "installé depuis peu à la Cité de l'Emploi de Beaubreuil et pour soutenir les "
            "associations qui animent des ateliers numériques, individuels et collectifs, "
            "auprès des habitants des quartiers."
        ),
    }


# ------------------------------------------------------------------------ identifiers

def siret_from_siren(siren: str, nic_prefix: str) -> str:
    """Return the SIRET made of ``siren``, the 4-digit ``nic_prefix`` and the digit that
    makes the 14 digits pass the Luhn check."""
    head = siren + nic_prefix
    result = head + luhn.calc_check_digit(head)
    assert stdnum_siret.is_valid(result), result
    return result


def random_siret(rng: random.Random) -> str:
    """Return a valid SIRET: a Luhn-valid SIREN, then a NIC completing a Luhn-valid SIRET."""
    body = str(rng.randint(3, 8)) + "".join(rng.choices(string.digits, k=7))
    siren = body + luhn.calc_check_digit(body)
    return siret_from_siren(siren, f"{rng.randint(1, 3):04d}")


def random_rna(rng: random.Random, prefix: str = "W872") -> str:
    """Return an RNA number of an association declared in the département of ``prefix``
    (``W872``: Haute-Vienne)."""
    return prefix + "".join(rng.choices(string.digits, k=10 - len(prefix)))


def unique(factory: Callable[[], str], seen: set[str]) -> str:
    """Return a value of ``factory`` not in ``seen`` and remember it."""
    while True:
        value = factory()
        if value not in seen:
            seen.add(value)
            return value


# ------------------------------------------------------------------------ beneficiaries

@dataclass(frozen=True)
class Beneficiary:
    identifier: str
    name: str
    kind: str
    has_rna: bool
    address: str
    postcode: str
    civility: str
    representative: str
    title: str
    email: str
    phone: str
    territory_name: str
    place_of_use: str
    # Devices received: laptops, desktops, tablets, smartphones.
    allocation: tuple[int, int, int, int]
    town: str = "Limoges"
    territory_kind: str = "QPV"
    territory_code: str | None = None  # None: the QPV's code in QPV_CODES
    # Day the convention (associations only) and the handover record were signed; None: not yet.
    signed_on: dt.date | None = None


# QPV codes (2015–2023 format), one per quarter.
QPV_CODES = {
    "Beaubreuil": "QP087005",
    "Val de l'Aurence Sud": "QP087007",
    "Val de l'Aurence Nord": "QP087006",
    "La Bastide": "QP087001",
    "Les Portes-Ferrées": "QP087002",
    "Le Vigenal": "QP087008",
    "Le Sablard": "QP087009",
    "Les Coutures": "QP087003",
    "Bellevue-Le Roussillon": "QP087004",
}

BENEFICIARIES = (
    Beneficiary("B01", "Beaubreuil Numérique Solidaire", ASSOCIATION, True,
                "5 rue Maryse Bastié", "87280", MADAME, "Nadia Benali", "Présidente",
                "contact@beaubreuil-numerique.fr", "05 55 38 12 47", "Beaubreuil",
                "Espace numérique de l'association, 5 rue Maryse Bastié, 87280 Limoges",
                (8, 0, 5, 3)),
    Beneficiary("B02", "Sport & Loisirs de l'Aurence", ASSOCIATION, True,
                "18 allée Fabre d'Églantine", "87100", MONSIEUR, "Karim Haddad", "Président",
                "sport.loisirs.aurence@orange.fr", "05 55 01 63 28", "Val de l'Aurence Sud",
                "Club-house de l'association, 18 allée Fabre d'Églantine, 87100 Limoges",
                (5, 0, 4, 2)),
    Beneficiary("B03", "Centre social La Bastide Ensemble", ASSOCIATION, True,
                "9 rue Eugène Varlin", "87100", MADAME, "Sophie Marchand", "Directrice",
                "accueil@bastide-ensemble.fr", "05 55 37 84 10", "La Bastide",
                "Salle multimédia du centre social, 9 rue Eugène Varlin, 87100 Limoges",
                (7, 2, 4, 2)),
    Beneficiary("B04", "Portes-Ferrées Solidarités", ASSOCIATION, True,
                "27 rue des Portes-Ferrées", "87100", MONSIEUR, "Jean-Luc Peyrat", "Président",
                "portes.ferrees.solidarites@gmail.com", "05 55 33 52 96", "Les Portes-Ferrées",
                "Local associatif, 27 rue des Portes-Ferrées, 87100 Limoges",
                (6, 0, 5, 3)),
    Beneficiary("B05", "Vigenal Numérique pour Tous", ASSOCIATION, True,
                "4 place du Vigenal", "87000", MADAME, "Fatoumata Diallo", "Présidente",
                "vigenal.numerique@laposte.net", "05 55 06 27 71", "Le Vigenal",
                "Atelier numérique, 4 place du Vigenal, 87000 Limoges",
                (6, 3, 3, 0)),
    Beneficiary("B06", "Le Sablard en Lien", ASSOCIATION, True,
                "12 rue du Sablard", "87000", MONSIEUR, "Thomas Lavergne", "Directeur",
                "direction@sablard-en-lien.fr", "05 55 79 40 58", "Le Sablard",
                "Maison de quartier du Sablard, 12 rue du Sablard, 87000 Limoges",
                (5, 0, 4, 2)),
    # An association declared before the RNA existed: no W number. Its papers are not signed
    # yet (« dotation etat » and « dotation demande » say so).
    Beneficiary("B07", "Amicale laïque des Coutures", ASSOCIATION, False,
                "31 rue des Coutures", "87000", MADAME, "Hélène Faure", "Présidente",
                "amicale.coutures@wanadoo.fr", "05 55 34 19 62", "Les Coutures",
                "Salle de l'amicale, 31 rue des Coutures, 87000 Limoges",
                (4, 0, 3, 2)),
    Beneficiary("B08", "Bellevue Roussillon Médiation", ASSOCIATION, True,
                "6 avenue du Roussillon", "87100", MONSIEUR, "Moussa Camara", "Président",
                "contact@brmediation.fr", "05 55 38 75 03", "Bellevue-Le Roussillon",
                "Point d'accès numérique, 6 avenue du Roussillon, 87100 Limoges",
                (7, 0, 5, 3)),
    Beneficiary("B09", "Les Clés du Numérique", ASSOCIATION, True,
                "45 rue Jean Giraudoux", "87100", MADAME, "Claire Dumas", "Coprésidente",
                "lescles.numerique@free.fr", "07 68 21 45 90", "Val de l'Aurence Nord",
                "Permanences au centre commercial du Val de l'Aurence, "
                "45 rue Jean Giraudoux, 87100 Limoges",
                (6, 0, 3, 3)),
    Beneficiary("B10", "Cité de l'Emploi de Beaubreuil – conseiller numérique",
                AUTHORITY_SERVICE, False,
                "2 rue Maryse Bastié", "87280", MONSIEUR, "Antoine Delage",
                "Conseiller numérique",
                "antoine.delage@limoges-metropole.fr", "05 55 45 62 81", "Beaubreuil",
                "Cité de l'Emploi de Beaubreuil, 2 rue Maryse Bastié, 87280 Limoges",
                (3, 0, 3, 0)),
)


def beneficiary_rows(rng: random.Random, variant: Variant) -> list[dict[str, Any]]:
    """Return the Bénéficiaires rows keyed by schema field key."""
    sirets: set[str] = set()
    rnas: set[str] = set()
    rows = []
    for b in variant.beneficiaries:
        is_association = b.kind == ASSOCIATION
        rows.append({
            "identifier": b.identifier,
            "name": b.name,
            "kind": b.kind,
            "siret": unique(lambda: random_siret(rng), sirets) if is_association else None,
            "rna": unique(lambda: random_rna(rng, variant.rna_prefix), rnas) if b.has_rna else None,
            "address": b.address,
            "postcode": b.postcode,
            "town": b.town,
            "representative_civility": b.civility,
            "representative_name": b.representative,
            "representative_title": b.title,
            "email": b.email,
            "phone": b.phone,
            "territory_kind": b.territory_kind,
            "territory_name": b.territory_name,
            "territory_code": b.territory_code or QPV_CODES[b.territory_name],
            "place_of_use": b.place_of_use,
            "gift_category": None,  # loans only: no gift category needed
            "convention_signed_on": b.signed_on if b.kind == ASSOCIATION else None,
            "handover_signed_on": b.signed_on,
        })
    return rows


# ------------------------------------------------------------------------------ devices

SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # no I or O, as most makers do
DELL_TAG = "BCDFGHJKLMNPQRSTVWXYZ0123456789"  # Dell service tags avoid vowels


def _rand(rng: random.Random, alphabet: str, k: int) -> str:
    return "".join(rng.choices(alphabet, k=k))


def lenovo_serial(rng: random.Random) -> str:
    return "PF" + _rand(rng, SERIAL_CHARS, 6)  # e.g. PF1K7ZQX


def dell_service_tag(rng: random.Random) -> str:
    return _rand(rng, DELL_TAG, 7)  # e.g. 8FJ2KX2


def hp_serial(prefix: str) -> Callable[[random.Random], str]:
    # Site code, year digit, week of manufacture, unit: e.g. 5CG8231XYZ.
    return lambda rng: f"{prefix}8{rng.randint(10, 52)}" + _rand(rng, SERIAL_CHARS, 4)


def apple_serial(prefix: str, model_code: str) -> Callable[[random.Random], str]:
    # Legacy 12-character format: factory, year, week, unit, model code.
    return lambda rng: (prefix + rng.choice("LMNP") + rng.choice("123456789CDFGHJKLMNPQRTVWXY")
                        + _rand(rng, SERIAL_CHARS, 3) + model_code)


def samsung_serial(prefix: str) -> Callable[[random.Random], str]:
    return lambda rng: prefix + _rand(rng, SERIAL_CHARS, 7)  # e.g. R58R41ABCDE


def random_imei(rng: random.Random, tac: str) -> str:
    body = tac + _rand(rng, string.digits, 6)
    return body + luhn.calc_check_digit(body)


@dataclass(frozen=True)
class Model:
    category: str
    brand: str
    model: str
    accessories: str
    condition: str | None
    serial: Callable[[random.Random], str]
    imei_tac: str | None = None  # smartphones only


T480 = Model(LAPTOP, "Lenovo", "ThinkPad T480", "chargeur, housse", "reconditionné, grade A",
             lenovo_serial)
LATITUDE_5490 = Model(LAPTOP, "Dell", "Latitude 5490", "chargeur", None, dell_service_tag)
ELITEBOOK_840_G5 = Model(LAPTOP, "HP", "EliteBook 840 G5", "chargeur, sacoche", None,
                         hp_serial("5CG"))
ELITEDESK_800_G4 = Model(DESKTOP, "HP", "EliteDesk 800 G4 SFF",
                         "clavier, souris, câble d'alimentation", None, hp_serial("MXL"))
IPAD_7 = Model(TABLET, "Apple", "iPad 7e génération", "câble Lightning, chargeur, coque",
               "reconditionné, grade A", apple_serial("DMP", "MDFY"))
GALAXY_TAB_A7 = Model(TABLET, "Samsung", "Galaxy Tab A7", "câble USB-C, chargeur, housse", None,
                      samsung_serial("R9WR"))
GALAXY_A52 = Model(SMARTPHONE, "Samsung", "Galaxy A52", "câble USB-C, chargeur, coque", None,
                   samsung_serial("R58R"), imei_tac="35294811")
IPHONE_11 = Model(SMARTPHONE, "Apple", "iPhone 11", "câble USB-C vers Lightning, coque",
                  "reconditionné, grade A", apple_serial("F2L", "N72J"), imei_tac="35330611")


@dataclass(frozen=True)
class Lot:
    """Identical devices bought at the same unit price on one invoice."""

    model: Model
    count: int
    unit_price_ht: Decimal


@dataclass(frozen=True)
class Supplier:
    name: str
    siret: str


@dataclass(frozen=True)
class Invoice:
    reference: str
    supplier: Supplier
    date: dt.date
    description: str
    lots: tuple[Lot, ...]
    mandate_number: str | None
    payment_date: dt.date | None

    @property
    def amount_ht(self) -> Decimal:
        return sum((lot.unit_price_ht * lot.count for lot in self.lots), Decimal("0"))

    @property
    def vat(self) -> Decimal:
        return self.amount_ht * VAT_RATE

    @property
    def amount_ttc(self) -> Decimal:
        return self.amount_ht + self.vat


def invoices(rng: random.Random) -> tuple[Invoice, ...]:
    """Return the four purchase invoices; unit prices are chosen so that the totals are
    exactly the figures of the funding claim."""
    renumerique = Supplier("ReNumérique Limousin SAS", random_siret(rng))
    seconde_vie = Supplier("Seconde Vie Informatique SARL", random_siret(rng))
    return (
        Invoice("RNL-2023-0012", renumerique, dt.date(2023, 1, 9),
                "Ordinateurs portables reconditionnés",
                (Lot(T480, 22, Decimal("409.90")),
                 Lot(LATITUDE_5490, 20, Decimal("369.90")),
                 Lot(ELITEBOOK_840_G5, 15, Decimal("394.95"))),
                "2023-000187", dt.date(2023, 1, 24)),
        Invoice("RNL-2023-0019", renumerique, dt.date(2023, 1, 12),
                "Ordinateurs fixes reconditionnés",
                (Lot(ELITEDESK_800_G4, 5, Decimal("289.00")),),
                "2023-000203", dt.date(2023, 1, 26)),
        Invoice("SVI-F2301-047", seconde_vie, dt.date(2023, 1, 16),
                "Tablettes reconditionnées",
                (Lot(IPAD_7, 21, Decimal("249.00")),
                 Lot(GALAXY_TAB_A7, 18, Decimal("199.90"))),
                "2023-000241", dt.date(2023, 1, 30)),
        Invoice("SVI-F2301-058", seconde_vie, dt.date(2023, 1, 23),
                "Smartphones reconditionnés",
                (Lot(GALAXY_A52, 12, Decimal("164.95")),
                 Lot(IPHONE_11, 8, Decimal("194.95"))),
                "2023-000268", dt.date(2023, 2, 7)),
    )


def device_rows(rng: random.Random, bills: Iterable[Invoice], variant: Variant) -> list[dict[str, Any]]:
    """Return the Matériel rows keyed by schema field key, in inventory order, each
    device allocated to a beneficiary according to the beneficiaries' allocations."""
    serials: set[str] = set()
    imeis: set[str] = set()
    rows: list[dict[str, Any]] = []
    for bill in bills:
        for lot in bill.lots:
            m = lot.model
            for _ in range(lot.count):
                rows.append({
                    "inventory_number": f"{variant.inventory_prefix}{len(rows) + 1:04d}",
                    "category": m.category,
                    "brand": m.brand,
                    "model": m.model,
                    "serial_number": unique(lambda: m.serial(rng), serials),
                    "imei": (unique(lambda: random_imei(rng, m.imei_tac), imeis)
                             if m.imei_tac else None),
                    "accessories": m.accessories,
                    "condition": m.condition,
                    "unit_price_ht": lot.unit_price_ht,
                    "vat_rate": VAT_RATE,
                    "invoice": bill.reference,
                    "beneficiary": None,
                })
    # Allocate each category's devices to shuffled beneficiary slots.
    for index, (_, category, _) in enumerate(schema.CATEGORIES):
        slots = [b.identifier for b in variant.beneficiaries for _ in range(b.allocation[index])]
        rng.shuffle(slots)
        devices = [row for row in rows if row["category"] == category]
        assert len(devices) == len(slots), (category, len(devices), len(slots))
        for row, identifier in zip(devices, slots):
            row["beneficiary"] = identifier
    return rows


def invoice_rows(bills: Iterable[Invoice]) -> list[dict[str, Any]]:
    """Return the Factures rows keyed by schema field key."""
    return [{
        "reference": bill.reference,
        "supplier": bill.supplier.name,
        "supplier_siret": bill.supplier.siret,
        "date": bill.date,
        "description": bill.description,
        "amount_ht": bill.amount_ht,
        "vat": bill.vat,
        "amount_ttc": bill.amount_ttc,
        "mandate_number": bill.mandate_number,
        "payment_date": bill.payment_date,
    } for bill in bills]


# --------------------------------------------------------------------------- invariants

def check_keys(sheet: schema.Sheet, values: dict[str, Any]) -> None:
    """The values must name exactly the sheet's fields, and fill the required ones."""
    keys = [f.key for f in sheet.fields]
    assert set(values) == set(keys), (sheet.key, set(values) ^ set(keys))
    for f in sheet.fields:
        if f.required:
            assert values[f.key] not in (None, ""), (sheet.key, f.key)
        if f.kind is schema.Kind.CHOICE and values[f.key] is not None:
            assert values[f.key] in f.choices, (sheet.key, f.key, values[f.key])


def check_invariants(variant: Variant, operation: dict[str, Any], beneficiaries: list[dict[str, Any]],
                     devices: list[dict[str, Any]], bills: tuple[Invoice, ...]) -> None:
    """Assert, in Decimal, everything the example promises before writing it."""
    check_keys(schema.OPERATION, operation)
    for row in beneficiaries:
        check_keys(schema.BENEFICIARIES, row)
    for row in devices:
        check_keys(schema.DEVICES, row)
    for row in invoice_rows(bills):
        check_keys(schema.INVOICES, row)

    assert stdnum_siret.is_valid(operation["authority_siret"])
    assert stdnum_iban.is_valid(operation["iban"])

    identifiers = [b["identifier"] for b in beneficiaries]
    assert identifiers == [f"B{n:02d}" for n in range(1, len(identifiers) + 1)]
    for b in beneficiaries:
        if b["kind"] == ASSOCIATION:
            assert stdnum_siret.is_valid(b["siret"]), b
            assert b["rna"] is None or (b["rna"].startswith(variant.rna_prefix) and len(b["rna"]) == 10
                                        and b["rna"][1:].isdigit()), b
        else:
            assert b["siret"] is None and b["rna"] is None, b
    assert any("&" in b["name"] and "'" in b["name"] for b in beneficiaries)
    # One code per territory and one territory per code.
    territories = {(b["territory_name"], b["territory_code"]) for b in beneficiaries}
    assert len({t for t, _ in territories}) == len({c for _, c in territories}) == len(territories)

    counts = Counter(d["category"] for d in devices)
    assert counts == variant.expected_counts, counts
    per_beneficiary = Counter(d["beneficiary"] for d in devices)
    assert set(per_beneficiary) == set(identifiers), per_beneficiary
    assert len({d["inventory_number"] for d in devices}) == len(devices)
    assert len({d["serial_number"] for d in devices}) == len(devices)
    for d in devices:
        price = d["unit_price_ht"]
        assert price == price.quantize(CENT) and (price * 100) % 5 == 0, d
        assert price * VAT_RATE == (price * VAT_RATE).quantize(CENT), d
        if d["category"] == SMARTPHONE:
            assert stdnum_imei.is_valid(d["imei"]), d
        else:
            assert d["imei"] is None, d
    imeis = [d["imei"] for d in devices if d["imei"]]
    assert len(set(imeis)) == len(imeis) == variant.expected_counts.get(SMARTPHONE, 0)

    references = [bill.reference for bill in bills]
    assert len(set(references)) == len(references)
    # A claim for the balance rests on paid invoices only.
    assert all(bill.mandate_number and bill.payment_date for bill in bills)
    for bill in bills:
        assert stdnum_siret.is_valid(bill.supplier.siret), bill.supplier
        assert bill.date <= operation["handover_date"], bill.reference
        on_bill = sum((d["unit_price_ht"] for d in devices if d["invoice"] == bill.reference),
                      Decimal("0"))
        assert on_bill == bill.amount_ht, (bill.reference, on_bill, bill.amount_ht)
        assert bill.vat == bill.vat.quantize(CENT), bill.reference
        assert bill.amount_ttc == bill.amount_ht + bill.vat
        assert bill.payment_date >= bill.date, bill.reference

    total_ht = sum((bill.amount_ht for bill in bills), Decimal("0"))
    total_vat = sum((bill.vat for bill in bills), Decimal("0"))
    total_ttc = sum((bill.amount_ttc for bill in bills), Decimal("0"))
    assert total_ht == variant.expected_ht, total_ht
    assert total_vat == variant.expected_vat, total_vat
    assert total_ttc == variant.expected_ttc, total_ttc
    base = total_ttc if operation["rate_base"] == "TTC" else total_ht
    computed = (base * operation["state_rate"]).quantize(CENT)
    assert min(computed, operation["amount_granted"]) == variant.expected_state_share, computed
    for key in ("context", "objectives"):
        assert len(operation[key]) <= 2000, key
    assert sum((d["unit_price_ht"] for d in devices), Decimal("0")) == variant.expected_ht
    variant.check(operation, beneficiaries, bills)


def check_limoges(operation: dict[str, Any], beneficiaries: list[dict[str, Any]],
                  bills: tuple[Invoice, ...]) -> None:
    """What the Limoges sample reproduces: nine associations (one without RNA) and one
    service, January invoices, 80 % of the HT amount exactly as granted."""
    kinds = Counter(b["kind"] for b in beneficiaries)
    assert kinds == {ASSOCIATION: 9, AUTHORITY_SERVICE: 1}, kinds
    assert sum(1 for b in beneficiaries if b["kind"] == ASSOCIATION and not b["rna"]) == 1
    assert all(b["territory_kind"] == "QPV" for b in beneficiaries)
    for bill in bills:
        assert bill.date.year == 2023 and bill.date.month == 1, bill.reference
    total_ht = sum((bill.amount_ht for bill in bills), Decimal("0"))
    assert total_ht * operation["state_rate"] == EXPECTED_STATE_SHARE
    assert operation["amount_granted"] == EXPECTED_STATE_SHARE


# ----------------------------------------------------------------------- the ZRR sample
# A fictitious communauté de communes of the Deux-Sèvres; its people, associations and
# references are invented. The communes and their INSEE codes are real; their ZRR or FRR
# classification here is illustrative.

ZRR_STATE_RATE = Decimal("0.80")
ZRR_GRANTED = Decimal("6500.00")  # 80 % of the forecast 8 125,00 € TTC
ZRR_ADVANCES = Decimal("1950.00")  # 30 % of the grant, paid at the start
ZRR_TOTAL_HT = Decimal("6838.00")
ZRR_TOTAL_VAT = Decimal("1367.60")
ZRR_TOTAL_TTC = Decimal("8205.60")
ZRR_COUNTS = {LAPTOP: 12, TABLET: 10}


def zrr_operation_values() -> dict[str, Any]:
    """Return the Opération sheet values of the rural sample, keyed by schema field key."""
    return {
        "title": "Remise de matériel informatique reconditionné aux acteurs de la médiation "
                 "numérique du Pays de Sèvre et Thouet",
        "programme": "Programme de l'Agence nationale de la cohésion des territoires (ANCT) "
                     "d'équipement en matériel informatique reconditionné pour la médiation "
                     "numérique",
        "authority_name": "Communauté de communes du Pays de Sèvre et Thouet",
        "authority_siret": siret_from_siren("200041788", "0001"),
        "authority_address": "2 place du Minage, 79600 Airvault",
        "authority_representative_civility": "Madame",
        "authority_representative": "Sylvie Garnaud",
        "authority_representative_title": "Présidente de la Communauté de communes du Pays de "
                                          "Sèvre et Thouet",
        "delegate": "Jean-Marc Pinault",
        "delegate_title": "vice-président chargé du numérique et des services au public",
        "delegation_reference": "arrêté n° 2024-017 du 3 juin 2024",
        "conventions_signed_by_delegate": "oui",
        "signatory_function": None,
        "prefecture": "Préfecture des Deux-Sèvres",
        "prefecture_address": "4 rue Du Guesclin, 79099 Niort Cedex 9",
        "claim_addressee": "Monsieur le Préfet des Deux-Sèvres",
        "salutation": "Monsieur le Préfet",
        "state_representative": "Anne-Laure Fradin",
        "state_representative_title": "secrétaire générale de la préfecture des Deux-Sèvres",
        "handover_date": dt.date(2024, 10, 15),
        "handover_time": dt.time(14, 30),
        "handover_place": "Espace France Services d'Airvault",
        "signature_town": "Airvault",
        "decision_reference": "Arrêté préfectoral n° 79-2024-06-20-00012",
        "decision_date": dt.date(2024, 6, 20),
        "deliberation_reference": "n° 2024-05-23-042 du conseil communautaire",
        "deliberation_date": dt.date(2024, 5, 23),
        "state_rate": ZRR_STATE_RATE,
        "rate_base": "TTC",
        "amount_granted": ZRR_GRANTED,
        "forecast_eligible_expense": Decimal("8125.00"),
        "other_funders": None,
        "other_funding": None,
        "advances": ZRR_ADVANCES,
        "claim_date": dt.date(2024, 11, 5),
        "iban": IBAN.generate("FR", bank_code="30001", branch_code="00810",
                              account_code="C7910000000").formatted,
        "bic": "BDFEFRPPCCT",
        "account_holder": "Trésorerie de la Communauté de communes du Pays de Sèvre et Thouet",
        "accounting_office": "Service de gestion comptable de Parthenay",
        "accountant_title": "le comptable public",
        "case_officer": "Nathalie Bouchereau, service des solidarités",
        "case_officer_phone": "05 49 63 27 14",
        "case_officer_email": "n.bouchereau@cc-sevre-thouet.fr",
        "duration_months": 36,
        "convention_kind": "mise à disposition",
        "reform_decision": None,
        "convention_prefix": "CCST-2024-",
        "court": "tribunal administratif de Poitiers",
        "authority_press.name": "Julie Fradet",
        "authority_press.phone": "05 49 63 27 10",
        "authority_press.email": "communication@cc-sevre-thouet.fr",
        "prefecture_press.name": "Bureau de la communication interministérielle",
        "prefecture_press.phone": "05 49 08 68 68",
        "prefecture_press.email": "pref-communication@deux-sevres.gouv.fr",
        "context": (
            "Dans les communes rurales de la Gâtine et du Thouet, l'éloignement des services "
            "publics rend les démarches en ligne incontournables, alors qu'une partie des "
            "habitants n'a ni équipement ni accompagnement. L'Agence nationale de la cohésion "
            "des territoires (ANCT) met à la disposition des collectivités du matériel "
            "informatique reconditionné destiné aux acteurs de la médiation numérique."
        ),
        "objectives": (
            "La Communauté de communes du Pays de Sèvre et Thouet équipe les associations qui "
            "animent des permanences numériques dans les bourgs et la conseillère numérique de "
            "son espace France Services, au plus près des habitants."
        ),
    }


ZRR_BENEFICIARIES = (
    Beneficiary("B01", "Gâtine Numérique Solidaire", ASSOCIATION, True,
                "3 rue du Château", "79340", MADAME, "Odile Berthonneau", "Présidente",
                "contact@gatine-numerique.fr", "05 49 69 12 58", "Vasles",
                "Salle des associations, 3 rue du Château, 79340 Vasles",
                (4, 0, 3, 0), town="Vasles", territory_kind="FRR", territory_code="79339",
                signed_on=dt.date(2024, 10, 15)),
    Beneficiary("B02", "Foyer rural & numérique d'Airvault", ASSOCIATION, True,
                "11 rue de la Gendarmerie", "79600", MONSIEUR, "Gérard Bonnin", "Président",
                "foyer.rural.airvault@orange.fr", "05 49 64 70 31", "Airvault",
                "Foyer rural, 11 rue de la Gendarmerie, 79600 Airvault",
                (4, 0, 4, 0), town="Airvault", territory_kind="FRR", territory_code="79005",
                signed_on=dt.date(2024, 10, 15)),
    # An association declared before the RNA existed: no W number. Its papers are not signed
    # yet (« dotation etat » and « dotation demande » say so).
    Beneficiary("B03", "Clic en Gâtine", ASSOCIATION, False,
                "6 place de l'Église", "79340", MADAME, "Aurélie Texereau", "Coprésidente",
                "clic.en.gatine@laposte.net", "06 42 18 77 09", "Ménigoute",
                "Médiathèque, 6 place de l'Église, 79340 Ménigoute",
                (2, 0, 3, 0), town="Ménigoute", territory_kind="FRR", territory_code="79176"),
    Beneficiary("B04", "Espace France Services d'Airvault – conseillère numérique",
                AUTHORITY_SERVICE, False,
                "2 place du Minage", "79600", MADAME, "Léa Moreau-Chabot", "Conseillère numérique",
                "lea.moreau-chabot@cc-sevre-thouet.fr", "05 49 63 27 22", "Airvault",
                "Espace France Services, 2 place du Minage, 79600 Airvault",
                (2, 0, 0, 0), town="Airvault", territory_kind="FRR", territory_code="79005",
                signed_on=dt.date(2024, 10, 15)),
)

THINKPAD_T490 = Model(LAPTOP, "Lenovo", "ThinkPad T490", "chargeur, housse", "reconditionné, grade A",
                      lenovo_serial)
LATITUDE_5400 = Model(LAPTOP, "Dell", "Latitude 5400", "chargeur", "reconditionné, grade B",
                      dell_service_tag)
GALAXY_TAB_A8 = Model(TABLET, "Samsung", "Galaxy Tab A8", "câble USB-C, chargeur, coque",
                      "reconditionné, grade A", samsung_serial("R9TT"))


def zrr_invoices(rng: random.Random) -> tuple[Invoice, ...]:
    """Return the rural sample's two paid invoices: laptops, then tablets."""
    neo = Supplier("Néo-Recyclage Informatique Poitou SAS", random_siret(rng))
    atelier = Supplier("Atelier du Réemploi Numérique SCIC", random_siret(rng))
    return (
        Invoice("NRI-2024-0381", neo, dt.date(2024, 9, 5), "Ordinateurs portables reconditionnés",
                (Lot(THINKPAD_T490, 8, Decimal("389.00")), Lot(LATITUDE_5400, 4, Decimal("359.00"))),
                "2024-001142", dt.date(2024, 9, 26)),
        Invoice("ARN-24-0917", atelier, dt.date(2024, 9, 12), "Tablettes reconditionnées",
                (Lot(GALAXY_TAB_A8, 10, Decimal("229.00")),),
                "2024-001187", dt.date(2024, 10, 3)),
    )


def check_zrr(operation: dict[str, Any], beneficiaries: list[dict[str, Any]],
              bills: tuple[Invoice, ...]) -> None:
    """What the rural sample promises: rural territories only, the rate on TTC, a cap that
    bites, an advance, and no word of Limoges or of priority neighbourhoods."""
    # Handed over in October 2024: France Ruralités Revitalisation has replaced the ZRR
    # classification since 1 July 2024 (loi n° 2023-1322, art. 73), so every commune is FRR.
    assert {b["territory_kind"] for b in beneficiaries} == {"FRR"}
    assert operation["handover_date"] >= dt.date(2024, 7, 1)
    assert operation["rate_base"] == "TTC" and operation["convention_kind"] == "mise à disposition"
    assert ZRR_TOTAL_TTC * ZRR_STATE_RATE > ZRR_GRANTED  # the cap bites
    assert 0 < operation["advances"] < ZRR_GRANTED
    words = " ".join(str(v) for row in [operation, *beneficiaries] for v in row.values()).casefold()
    for word in ("limoges", "haute-vienne", "quartier", "qpv"):
        assert word not in words, word


@dataclass(frozen=True)
class Variant:
    """One sample workbook: its data, its expected figures and its own invariants."""

    name: str
    output: Path
    seed: int
    timestamp: dt.datetime
    title: str  # the workbook's title property
    operation: Callable[[], dict[str, Any]]
    beneficiaries: tuple[Beneficiary, ...]
    invoices: Callable[[random.Random], tuple[Invoice, ...]]
    inventory_prefix: str
    rna_prefix: str
    expected_counts: dict[str, int]
    expected_ht: Decimal
    expected_vat: Decimal
    expected_ttc: Decimal
    expected_state_share: Decimal  # rate × base, capped by the grant
    check: Callable[[dict[str, Any], list[dict[str, Any]], tuple[Invoice, ...]], None]


LIMOGES = Variant(
    "limoges", DEFAULT_OUTPUT, SEED, FIXED_TIMESTAMP,
    "Exemple : remise de matériel reconditionné, Limoges Métropole, 2023",
    operation_values, BENEFICIARIES, invoices, "LM-NUM-", "W872", EXPECTED_COUNTS,
    EXPECTED_TOTAL_HT, EXPECTED_TOTAL_VAT, EXPECTED_TOTAL_TTC, EXPECTED_STATE_SHARE, check_limoges,
)
ZRR = Variant(
    "zrr", ZRR_OUTPUT, 20241015, dt.datetime(2024, 10, 1, 9, 0, 0),
    "Exemple : remise de matériel reconditionné, Pays de Sèvre et Thouet, 2024",
    zrr_operation_values, ZRR_BENEFICIARIES, zrr_invoices, "CCST-NUM-", "W793", ZRR_COUNTS,
    ZRR_TOTAL_HT, ZRR_TOTAL_VAT, ZRR_TOTAL_TTC, ZRR_GRANTED, check_zrr,
)
VARIANTS = {v.name: v for v in (LIMOGES, ZRR)}


# ------------------------------------------------------------------------------ writing

def cell_value(value: Any) -> Any:
    """Return ``value`` as openpyxl stores it: Decimal becomes float, only here."""
    if isinstance(value, Decimal):
        return float(value)
    return value


def number_format(kind: schema.Kind) -> str:
    return NUMBER_FORMATS.get(kind, TEXT_FORMAT)


def display_width(kind: schema.Kind, value: Any) -> int:
    if value is None:
        return 0
    return DISPLAY_WIDTHS.get(kind, len(str(value)))


def style_header(ws: Worksheet, column_count: int) -> None:
    for column in range(1, column_count + 1):
        cell = ws.cell(row=1, column=column)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    ws.freeze_panes = "A2"


def list_validation(formula: str) -> DataValidation:
    return DataValidation(
        type="list", formula1=formula, allow_blank=True,
        showErrorMessage=True, errorTitle="Valeur non valide",
        error="Choisissez une valeur de la liste déroulante.",
    )


def choices_formula(choices: Iterable[str]) -> str:
    text = ",".join(choices)
    assert '"' not in text and len(text) <= 255, text
    return f'"{text}"'


def write_form(ws: Worksheet, sheet: schema.Sheet, values: dict[str, Any]) -> None:
    ws.append(list(FORM_HEADERS))
    widths = [len(h) for h in FORM_HEADERS]
    for row, f in enumerate(sheet.fields, start=2):
        ws.cell(row=row, column=1, value=f.label)
        cell = ws.cell(row=row, column=2, value=cell_value(values[f.key]))
        cell.number_format = number_format(f.kind)
        cell.alignment = Alignment(horizontal="left", vertical="top", wrap_text=True)
        widths[0] = max(widths[0], len(f.label))
        widths[1] = max(widths[1], display_width(f.kind, values[f.key]))
        if f.kind is schema.Kind.CHOICE:
            dv = list_validation(choices_formula(f.choices))
            dv.add(cell.coordinate)
            ws.add_data_validation(dv)
    style_header(ws, len(FORM_HEADERS))
    for column, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(column)].width = min(width + 2, MAX_FORM_WIDTH)


def column_letter(sheet: schema.Sheet, key: str) -> str:
    return get_column_letter([f.key for f in sheet.fields].index(key) + 1)


def write_table(ws: Worksheet, sheet: schema.Sheet, rows: list[dict[str, Any]]) -> None:
    ws.append([f.label for f in sheet.fields])
    for row in rows:
        ws.append([cell_value(row[f.key]) for f in sheet.fields])
    for column, f in enumerate(sheet.fields, start=1):
        letter = get_column_letter(column)
        for row_index in range(2, len(rows) + 2):
            ws.cell(row=row_index, column=column).number_format = number_format(f.kind)
        width = max([len(f.label)] + [display_width(f.kind, row[f.key]) for row in rows])
        ws.column_dimensions[letter].width = min(width + 2, MAX_COLUMN_WIDTH)

        span = f"{letter}2:{letter}{VALIDATION_LAST_ROW}"
        if f.kind is schema.Kind.CHOICE:
            formula = choices_formula(f.choices)
        elif (sheet.key, f.key) in REFERENCES:
            target, target_key = REFERENCES[(sheet.key, f.key)]
            target_letter = column_letter(target, target_key)
            formula = (f"{quote_sheetname(target.title)}!"
                       f"${target_letter}$2:${target_letter}${VALIDATION_LAST_ROW}")
        else:
            continue
        dv = list_validation(formula)
        dv.add(span)
        ws.add_data_validation(dv)
    style_header(ws, len(sheet.fields))
    ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.fields))}{len(rows) + 1}"


def build_workbook(operation: dict[str, Any], rows: dict[str, list[dict[str, Any]]],
                   variant: Variant | None = None) -> Workbook:
    variant = variant or LIMOGES
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in schema.SHEETS:
        ws = wb.create_sheet(title=sheet.title)
        if sheet.layout is schema.Layout.FORM:
            assert sheet is schema.OPERATION
            write_form(ws, sheet, operation)
        else:
            write_table(ws, sheet, rows[sheet.key])
    wb.active = 0
    wb.properties.creator = "dotation-docs"
    wb.properties.lastModifiedBy = "dotation-docs"
    wb.properties.title = variant.title
    wb.properties.created = variant.timestamp
    wb.properties.modified = variant.timestamp
    return wb


def save_deterministic(wb: Workbook, path: Path, timestamp: dt.datetime = FIXED_TIMESTAMP) -> None:
    """Save ``wb`` with fixed document dates and fixed ZIP entry timestamps.

    ``openpyxl.Workbook.save`` stamps the current time into the properties and the ZIP
    entries, so the writer is driven directly and the archive repacked.
    """
    buffer = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)).save()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".xlsx.tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(buffer) as source, \
                zipfile.ZipFile(tmp_name, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                entry = zipfile.ZipInfo(info.filename, date_time=timestamp.timetuple()[:6])
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                target.writestr(entry, source.read(info.filename))
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; a sample is for everyone to read
        os.replace(tmp_name, path)
    except BaseException:
        os.unlink(tmp_name)
        raise


# ---------------------------------------------------------------------------- re-check

def read_table(wb: Workbook, sheet: schema.Sheet) -> list[dict[str, Any]]:
    ws = wb[sheet.title]
    rows = ws.iter_rows(values_only=True)
    header = next(rows)
    assert list(header) == [f.label for f in sheet.fields], (sheet.title, header)
    keys = [f.key for f in sheet.fields]
    return [dict(zip(keys, row)) for row in rows if any(v is not None for v in row)]


def verify_written(path: Path, variant: Variant | None = None) -> str:
    """Re-open the written file and check counts and totals; return a summary line."""
    variant = variant or LIMOGES
    operation = variant.operation()
    wb = load_workbook(path, data_only=True)
    assert wb.sheetnames == [s.title for s in schema.SHEETS], wb.sheetnames

    form = list(wb[schema.OPERATION.title].iter_rows(min_col=1, max_col=2, values_only=True))
    assert form[0] == FORM_HEADERS, form[0]
    assert [label for label, _ in form[1:]] == [f.label for f in schema.OPERATION.fields]
    form_values = {f.key: value for f, (_, value) in zip(schema.OPERATION.fields, form[1:])}
    assert Decimal(str(form_values["state_rate"])) == operation["state_rate"]
    assert form_values["handover_date"] == dt.datetime.combine(operation["handover_date"], dt.time())
    assert form_values["handover_time"] == operation["handover_time"]

    beneficiaries = read_table(wb, schema.BENEFICIARIES)
    devices = read_table(wb, schema.DEVICES)
    bills = read_table(wb, schema.INVOICES)

    counts = Counter(d["category"] for d in devices)
    assert counts == variant.expected_counts, counts
    devices_ht = sum((Decimal(str(d["unit_price_ht"])) for d in devices), Decimal("0"))
    bills_ht = sum((Decimal(str(b["amount_ht"])) for b in bills), Decimal("0"))
    bills_vat = sum((Decimal(str(b["vat"])) for b in bills), Decimal("0"))
    bills_ttc = sum((Decimal(str(b["amount_ttc"])) for b in bills), Decimal("0"))
    assert devices_ht == bills_ht == variant.expected_ht, (devices_ht, bills_ht)
    assert bills_vat == variant.expected_vat and bills_ttc == variant.expected_ttc
    known = {b["identifier"] for b in beneficiaries}
    assert {d["beneficiary"] for d in devices} == known
    assert {d["invoice"] for d in devices} == {b["reference"] for b in bills}

    category_text = ", ".join(f"{counts[singular]} {plural}"
                              for _, singular, plural in schema.CATEGORIES)
    return (f"{path.name}: {len(beneficiaries)} beneficiaries, {len(devices)} devices "
            f"({category_text}), {len(bills)} invoices, total HT {bills_ht} EUR, "
            f"VAT {bills_vat} EUR, TTC {bills_ttc} EUR, State share "
            f"{variant.expected_state_share} EUR")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="limoges",
                        help="which sample to build (default: limoges)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the workbook (default: {DEFAULT_OUTPUT} or {ZRR_OUTPUT})")
    args = parser.parse_args(argv)
    variant = VARIANTS[args.variant]
    output = args.output or variant.output

    rng = random.Random(variant.seed)
    operation = variant.operation()
    beneficiaries = beneficiary_rows(rng, variant)
    bills = variant.invoices(rng)
    devices = device_rows(rng, bills, variant)
    check_invariants(variant, operation, beneficiaries, devices, bills)

    wb = build_workbook(operation, {
        schema.BENEFICIARIES.key: beneficiaries,
        schema.DEVICES.key: devices,
        schema.INVOICES.key: invoice_rows(bills),
    }, variant)
    save_deterministic(wb, output, variant.timestamp)
    print(verify_written(output, variant))


if __name__ == "__main__":
    main()
