"""Validation: parses every cell, cross-checks the sheets and builds the frozen model.

All problems are collected in one pass into a :class:`Report`; the model is built only
when there is no error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import operator
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, get_type_hints

from dotation_docs.formatting import format_amount, format_percent
from dotation_docs.funding import AUTHORITY_MIN_SHARE, batch_funding, financing_plan, price_ttc
from dotation_docs.model import BeneficiaryKind, Category, ConventionKind, Dotation, TerritoryKind, from_columns
from dotation_docs.parsing import PARSERS, WARNINGS, InvalidValueError, describe, expected
from dotation_docs.report import Report
from dotation_docs.schema import (
    BENEFICIARIES,
    DEVICES,
    INVOICES,
    OPERATION,
    Field,
    Sheet,
)
from dotation_docs.workbook import RawCell, RawSheet, RawWorkbook, no_garbage_collection

GIFT_MAX_UNIT_VALUE = Decimal("300.00")  # décret n° 2022-791, unit value TTC
# Gap between an invoice's TTC and its devices' TTC that rounding the VAT of each line
# can explain: one cent per device line.
ROUNDING_PER_LINE = Decimal("0.01")
# Plausible dates: a handover from 2000 to ten years ahead, the other dates of the
# operation within five years of the handover (an invoice of 1850 is a typing slip).
EARLIEST_HANDOVER = dt.date(2000, 1, 1)
HANDOVER_YEARS_AHEAD = 10
YEARS_AROUND_HANDOVER = 5


def today() -> dt.date:
    """Return the day the command runs (the one place that reads the clock)."""
    return dt.date.today()


@dataclass(slots=True)
class Record:
    """One parsed record: model values keyed by field (None when empty or invalid),
    their cells, and the values computed from them once (``computed``, keyed by the
    model attribute they fill: a device's ``unit_price_ttc``)."""

    sheet: Sheet
    title: str
    row: int
    values: dict[str, Any]
    cells: dict[str, RawCell]
    computed: dict[str, Any] = field(default_factory=dict)

    def cell(self, key: str) -> str | None:
        """Return the coordinate of field ``key`` in this record, if the column exists."""
        cell = self.cells.get(key)
        return cell.coordinate if cell else None


def validate(raw: RawWorkbook) -> tuple[Dotation | None, Report]:
    """Return the model (None when there is an error) and the report of every issue."""
    # Its objects (records, values, the model), none in a cycle, would set the cycle
    # collector off again and again, each time walking the cells read (see workbook).
    with no_garbage_collection():
        return _validate(raw)


def _validate(raw: RawWorkbook) -> tuple[Dotation | None, Report]:
    report = Report(list(raw.report.issues))
    records = {key: _parse_sheet(sheet, report) for key, sheet in raw.sheets.items()}
    operation = records.get(OPERATION.key, [])
    beneficiaries = records.get(BENEFICIARIES.key, [])
    devices = records.get(DEVICES.key, [])
    invoices = records.get(INVOICES.key, [])

    op = operation[0] if operation else None
    _compute_prices(devices)
    _check_beneficiaries(beneficiaries, report)
    check_territories(beneficiaries, report)  # issue #11: QPV, ZRR and FRR
    _check_unique(beneficiaries, "identifier", report)
    for key in ("inventory_number", "serial_number", "imei"):
        _check_unique(devices, key, report)
    _check_unique(invoices, "reference", report)
    _check_references(devices, beneficiaries, invoices, raw, report)
    _check_devices(devices, op, report)
    _check_vat_rates(devices, report)
    _check_not_empty(raw, devices, report)
    _check_dates(op, invoices, report)
    _check_chronology(op, invoices, report)
    _check_invoices(invoices, devices, report)
    _check_unused(beneficiaries, devices, invoices, report)
    _check_unpaid_invoices(invoices, report)
    _check_other_funding(op, report)
    _check_signature_delegation(op, report)
    _check_gift_categories(beneficiaries, op, report)
    _check_reform_decision(op, report)
    # the beneficiaries that have devices (the others sign nothing)
    equipped = {_fold(r.values["beneficiary"]) for r in devices if r.values.get("beneficiary") is not None}
    _check_signature_dates(beneficiaries, equipped, report)
    _check_signature_sequence(op, beneficiaries, report)
    _check_signatures_against_handover(op, beneficiaries, equipped, report)
    _check_claim_date(op, invoices, beneficiaries, equipped, report)
    _check_territory_kind_dates(op, beneficiaries, report)

    dotation = None
    if op is not None and not report.errors:
        dotation = _build(op, beneficiaries, devices, invoices)
        _check_funding(dotation, op, report)
        _check_authority_share(dotation, op, report)
    report.sort([s.title for s in raw.sheets.values()])
    return (None if report.errors else dotation), report


def _parse_sheet(sheet: RawSheet, report: Report) -> list[Record]:
    records = []
    spec, title = sheet.spec, sheet.title
    # Each field's parser and warning looked up once per sheet, not once per cell, and the
    # outcome of a value kept for the next cell of the column that holds it (parsers and
    # warnings are pure; a category, a brand, a price, a beneficiary repeat on every row).
    plan = [(f, f.key, _Column(f)) for f in spec.fields]
    append = records.append
    new_record = Record
    for raw in sheet.records:
        cells = raw.cells
        get = cells.get
        values: dict[str, Any] = {}
        append(new_record(spec, title, raw.row, values, dict(cells)))
        for f, key, column in plan:
            cell = get(key)
            if cell is None:
                values[key] = None
                continue
            value, _, _, uncomputed, error = cell
            if not uncomputed and not error:
                # One memo per type: 1, 1.0 and True are equal keys. Not for 0.0 (-0.0 is
                # equal to it), NaN (never equal), dates and the rest (rare).
                cls = value.__class__
                if cls is str:
                    memo = column.texts
                elif cls is int:
                    memo = column.integers
                elif cls is float and value and value == value:
                    memo = column.floats
                else:
                    memo = None
                if memo is None:
                    parsed = column.parse(value)
                else:
                    parsed = memo.get(value, _MISSING)
                    if parsed is _MISSING:
                        parsed = column.parse(value)
                        if len(memo) < _MEMO_SIZE:
                            memo[value] = parsed
                if parsed is not _REPORT:
                    values[key] = parsed
                    continue
            values[key] = _parse_cell(f, cell, title, report, column.parser, column.warn)
    return records


_MISSING: Any = object()
_REPORT: Any = object()  # a value _parse_cell must look at again: to report it
_MEMO_SIZE = 50_000  # values remembered per column (identifiers never repeat)


class _Column:
    """How a field's cells are parsed: its parser, warning and checks, looked up once,
    and the outcome of each value seen, by type (``texts``, ``integers``, ``floats``)."""

    __slots__ = ("field", "parser", "warn", "max_length", "max_value", "vocabulary", "texts", "integers",
                 "floats")

    def __init__(self, f: Field) -> None:
        self.field = f
        self.parser = PARSERS[f.kind]
        self.warn = WARNINGS.get(f.kind)
        self.max_length, self.max_value = f.max_length, f.max_value
        # A closed list's vocabulary stands for Field.to_model (see there), a call per cell.
        self.vocabulary = f.vocabulary or None
        self.texts: dict[str, Any] = {}
        self.integers: dict[int, Any] = {}
        self.floats: dict[float, Any] = {}

    def parse(self, value: Any) -> Any:
        """Return the model value of a cell holding ``value`` (neither formula nor error)
        when it parses and passes every check, else :data:`_REPORT`: then _parse_cell
        parses it again and says what is wrong."""
        if value is None or (value.__class__ is str and not value.strip()):
            return _REPORT
        try:
            parsed = self.parser(value, self.field)
        except InvalidValueError:
            return _REPORT
        if (parsed.__class__ is str and len(parsed) > self.max_length) \
                or (self.max_value is not None and isinstance(parsed, int) and parsed > self.max_value) \
                or (self.warn is not None and self.warn(value, parsed)):
            return _REPORT
        return parsed if self.vocabulary is None else self.vocabulary[parsed]


_LOOK_UP: Any = object()  # _parse_cell's parser and warning: those of the field's kind


def _parse_cell(f: Field, cell: RawCell, title: str, report: Report,
                parser: Any = None, warn: Any = _LOOK_UP) -> Any:
    """Return the typed value of ``cell``, or None after recording why there is none.
    ``parser`` and ``warn`` default to those of ``f``'s kind."""
    if cell.uncomputed_formula:
        report.error(
            f"{f.label} : la formule « {cell.uncomputed_formula} » n'a pas de valeur calculée "
            "(le classeur a été écrit par un programme sans jamais être ouvert dans un "
            "tableur). Ouvrez-le dans Excel ou LibreOffice, enregistrez-le, puis relancez.",
            title, cell.coordinate,
        )
        return None
    if cell.excel_error:
        report.error(
            f"{f.label} : la cellule affiche l'erreur de calcul « {cell.excel_error} » ; "
            f"attendu : {expected(f)}. Corrigez la formule ou saisissez la valeur.",
            title, cell.coordinate,
        )
        return None
    raw = cell.value
    if raw is None or (isinstance(raw, str) and not raw.strip()):  # cell.is_empty
        if f.required:
            report.error(f"{f.label} : cellule vide ; attendu : {expected(f)}.", title, cell.coordinate)
        return None
    try:
        value = (parser or PARSERS[f.kind])(raw, f)
    except InvalidValueError as err:
        detail = f" ({err.detail})" if err.detail else ""
        report.error(
            f"{f.label} : {describe(raw)} n'est pas valide{detail} ; attendu : {expected(f)}.",
            title, cell.coordinate,
        )
        return None
    if isinstance(value, str):
        if len(value) > f.max_length:
            report.error(
                f"{f.label} : texte de {len(value)} caractères ({describe(value)}) ; attendu : "
                f"{f.max_length} caractères au plus. Raccourcissez-le.",
                title, cell.coordinate,
            )
            return None
    elif isinstance(value, int) and f.max_value is not None and value > f.max_value:
        report.error(f"{f.label} : {value} ; attendu : {f.max_value} au plus.", title, cell.coordinate)
        return None
    if warn is _LOOK_UP:
        warn = WARNINGS.get(f.kind)
    message = warn(raw, value) if warn else None
    if message:
        report.warning(f"{f.label} : {message}", title, cell.coordinate)
    return f.to_model(value)


def _compute_prices(devices: list[Record]) -> None:
    """Compute each device's TTC value once, when its price and rate are valid: the
    checks and the model read it from ``computed``."""
    for r in devices:
        price, rate = r.values.get("unit_price_ht"), r.values.get("vat_rate")
        if price is not None and rate is not None:
            r.computed["unit_price_ttc"] = price_ttc(price, rate)


def _fold(value: Any) -> str:
    """Return ``value`` as compared for uniqueness and references: spaces and case ignored."""
    if value.__class__ is str:
        return _fold_text(value)  # identifiers repeat (a beneficiary's on each of its devices)
    return "".join(str(value).split()).casefold()


@functools.lru_cache(maxsize=1 << 16)
def _fold_text(text: str) -> str:
    return "".join(text.split()).casefold()


def _check_unique(records: list[Record], key: str, report: Report) -> None:
    """Report every value of ``key`` seen before (spaces and case ignored)."""
    seen: dict[str, Record] = {}
    for r in records:
        value = r.values.get(key)
        if value is None:
            continue
        k = _fold_text(value) if value.__class__ is str else _fold(value)
        if k in seen:
            first = seen[k]
            label = r.sheet.field(key).label
            report.error(
                f"{label} {describe(value)} en double (déjà en {first.title}!{first.cell(key)}) ; "
                "chaque valeur doit être unique.",
                r.title, r.cell(key),
            )
        else:
            seen[k] = r


def _check_beneficiaries(records: list[Record], report: Report) -> None:
    siret = BENEFICIARIES.field("siret")
    for r in records:
        is_association = r.values.get("kind") is BeneficiaryKind.ASSOCIATION
        cell = r.cells.get("siret")
        if is_association and r.values.get("siret") is None and (cell is None or cell.is_empty):
            report.error(
                f"{siret.label} : cellule vide ; attendu : {expected(siret)} "
                "(obligatoire pour une association).",
                r.title, r.cell("siret") or r.cell("name"),
            )


def _keys(records: list[Record], key: str) -> set[str]:
    """Return the folded values of ``key``, the invalid ones included (as typed), so that
    an identifier already reported as malformed is not reported again where it is used."""
    keys = set()
    for r in records:
        cell = r.cells.get(key)
        if r.values.get(key) is not None:
            keys.add(_fold(r.values[key]))
        elif cell is not None and not cell.is_empty:
            keys.add(_fold(cell.value))
    return keys


def _check_references(
    devices: list[Record], beneficiaries: list[Record], invoices: list[Record],
    raw: RawWorkbook, report: Report,
) -> None:
    sheets = raw.sheets
    known = {
        "beneficiary": (_keys(beneficiaries, "identifier"), BENEFICIARIES, "identifier"),
        "invoice": (_keys(invoices, "reference"), INVOICES, "reference"),
    }
    listed = {
        "beneficiary": [r.values["identifier"] for r in beneficiaries if r.values.get("identifier")],
        "invoice": [r.values["reference"] for r in invoices if r.values.get("reference")],
    }
    for r in devices:
        for key, (values, target, target_key) in known.items():
            value = r.values.get(key)
            if value is None or target.key not in sheets:
                continue
            if (_fold_text(value) if value.__class__ is str else _fold(value)) not in values:
                choices = ", ".join(listed[key][:12]) or "aucun"
                unknown = "inconnue" if key == "invoice" else "inconnu"  # « Facture », « Bénéficiaire »
                report.error(
                    f"{r.sheet.field(key).label} {describe(value)} {unknown} : aucune ligne de la "
                    f"feuille « {sheets[target.key].title} » n'a cette valeur en colonne "
                    f"« {target.field(target_key).label} » (valeurs possibles : {choices}).",
                    r.title, r.cell(key),
                )


def _label(sheet: Sheet, key: str) -> str:
    return sheet.field(key).label


def _check_devices(devices: list[Record], op: Record | None, report: Report) -> None:
    gift = op is not None and op.values.get("convention_kind") is ConventionKind.GIFT
    for r in devices:
        price, rate = r.values.get("unit_price_ht"), r.values.get("vat_rate")
        if price is not None and price <= 0:
            report.error(
                f"{_label(DEVICES, 'unit_price_ht')} : {format_amount(price)} ; attendu : un montant "
                "strictement positif.",
                r.title, r.cell("unit_price_ht"),
            )
        if rate is not None and rate >= 1:
            report.error(
                f"{_label(DEVICES, 'vat_rate')} : {describe(r.cells['vat_rate'].value)} ; attendu : un "
                "taux inférieur à 100 % (ex. 20 %).",
                r.title, r.cell("vat_rate"),
            )
        ttc = r.computed.get("unit_price_ttc")
        if gift and ttc is not None and price > 0:
            if ttc > GIFT_MAX_UNIT_VALUE:
                report.error(
                    f"{_label(DEVICES, 'unit_price_ht')} : valeur unitaire de {format_amount(ttc)} TTC, supérieure à "
                    "300 € : un don n'est possible que pour un bien d'une valeur unitaire de "
                    "300 € au plus (décret n° 2022-791). Choisissez « mise à disposition » comme "
                    "type de convention, ou retirez ce matériel.",
                    r.title, r.cell("unit_price_ht"),
                )
        imei = r.cells.get("imei")
        if r.values.get("category") is Category.SMARTPHONE and imei is not None and imei.is_empty:
            report.warning(
                f"{_label(DEVICES, 'imei')} : cellule vide pour un smartphone ; l'IMEI identifie le "
                "téléphone en cas de perte ou de vol.",
                r.title, imei.coordinate,
            )


def _check_not_empty(raw: RawWorkbook, devices: list[Record], report: Report) -> None:
    """An operation without a device is not a batch: nothing to hand over, nothing to claim."""
    sheet = raw.sheets.get(DEVICES.key)
    if sheet is None or sheet.header_row is None or devices:
        return
    report.error(
        f"aucun matériel : la feuille ne contient aucune ligne sous ses en-têtes (ligne "
        f"{sheet.header_row}). Ajoutez une ligne par équipement remis ; sans matériel, il "
        "n'y a ni convention, ni procès-verbal, ni demande de versement à produire.",
        sheet.title,
    )


def _add_years(day: dt.date, years: int) -> dt.date:
    """Return ``day`` moved by ``years`` (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _show(day: dt.date) -> str:
    """Return ``day`` as 03/02/2023 (the year on four digits, even year 1)."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _check_dates(op: Record | None, invoices: list[Record], report: Report) -> None:
    """Report implausible dates: a handover outside 2000 … ten years ahead, the other
    dates more than five years away from the handover."""
    if op is None or op.values.get("handover_date") is None:
        return
    handover = op.values["handover_date"]
    latest = _add_years(today(), HANDOVER_YEARS_AHEAD)
    if not EARLIEST_HANDOVER <= handover <= latest:
        report.error(
            f"{_label(OPERATION, 'handover_date')} : {_show(handover)} ; attendu : une date entre "
            f"le {_show(EARLIEST_HANDOVER)} et le {_show(latest)} (dix ans après "
            "aujourd'hui). Vérifiez l'année.",
            op.title, op.cell("handover_date"),
        )
        return
    low = _add_years(handover, -YEARS_AROUND_HANDOVER)
    high = _add_years(handover, YEARS_AROUND_HANDOVER)
    checks = [(op, OPERATION, k) for k in ("decision_date", "deliberation_date", "claim_date")]
    checks += [(r, INVOICES, k) for r in invoices for k in ("date", "payment_date")]
    for record, sheet, key in checks:
        day = record.values.get(key)
        if day is not None and not low <= day <= high:
            report.error(
                f"{_label(sheet, key)} : {_show(day)} ; attendu : une date à moins de cinq ans "
                f"de la remise du {_show(handover)}, soit entre le {_show(low)} et le "
                f"{_show(high)}. Vérifiez l'année.",
                record.title, record.cell(key),
            )


def _check_invoices(invoices: list[Record], devices: list[Record], report: Report) -> None:
    ht_by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    ttc_by_invoice: dict[str, Decimal] = defaultdict(Decimal)
    lines_by_invoice: dict[str, int] = defaultdict(int)
    incomplete: set[str] = set()  # invoices with a device whose price or rate is invalid
    for d in devices:
        ref = d.values.get("invoice")
        if ref is None:
            continue
        folded = _fold(ref)
        lines_by_invoice[folded] += 1
        price, ttc = d.values.get("unit_price_ht"), d.computed.get("unit_price_ttc")
        if price is None or ttc is None:
            incomplete.add(folded)
            continue
        ht_by_invoice[folded] += price
        ttc_by_invoice[folded] += ttc
    for r in invoices:
        ref, ht, vat, ttc = (r.values.get(k) for k in ("reference", "amount_ht", "vat", "amount_ttc"))
        for key in ("amount_ht", "amount_ttc"):
            amount = r.values.get(key)
            if amount is not None and amount <= 0:
                report.error(
                    f"{_label(INVOICES, key)} : {format_amount(amount)} ; attendu : un montant "
                    "strictement positif.",
                    r.title, r.cell(key),
                )
        if vat is not None and vat < 0:
            report.error(f"{_label(INVOICES, 'vat')} : {format_amount(vat)} ; attendu : un montant "
                         "positif ou nul.", r.title, r.cell("vat"))
        balanced = None not in (ht, vat, ttc) and ht + vat == ttc
        if None not in (ht, vat, ttc) and not balanced:
            report.error(
                f"{_label(INVOICES, 'amount_ttc')} : {format_amount(ttc)}, mais HT + TVA = "
                f"{format_amount(ht)} + {format_amount(vat)} = {format_amount(ht + vat)} ; corrigez "
                "l'un des trois montants.",
                r.title, r.cell("amount_ttc"),
            )
        key = _fold(ref) if ref is not None else None
        if key is None or ht is None or key in incomplete or key not in ht_by_invoice:
            continue
        devices_ht, devices_ttc = ht_by_invoice[key], ttc_by_invoice[key]
        rounding = ROUNDING_PER_LINE * lines_by_invoice[key]
        if devices_ht != ht:
            report.error(
                f"{_label(INVOICES, 'amount_ht')} : la facture « {ref} » indique {format_amount(ht)} HT, "
                f"mais ses matériels (feuille « {DEVICES.title} ») totalisent {format_amount(devices_ht)} "
                f"HT (écart de {format_amount(abs(ht - devices_ht))}). Corrigez les prix unitaires "
                "ou le montant de la facture.",
                r.title, r.cell("amount_ht"),
            )
        elif balanced and devices_ttc != ttc and abs(ttc - devices_ttc) <= rounding:
            report.warning(
                f"{_label(INVOICES, 'amount_ttc')} : la facture « {ref} » indique {format_amount(ttc)} "
                f"TTC et ses matériels {format_amount(devices_ttc)} TTC (arrondis de TVA ligne "
                "par ligne) ; les documents de la demande utilisent la facture, les conventions "
                "les valeurs unitaires.",
                r.title, r.cell("amount_ttc"),
            )
        elif balanced and devices_ttc != ttc:
            lines = lines_by_invoice[key]
            report.warning(
                f"{_label(INVOICES, 'amount_ttc')} : la facture « {ref} » indique {format_amount(ttc)} "
                f"TTC, mais ses matériels (feuille « {DEVICES.title} ») totalisent "
                f"{format_amount(devices_ttc)} TTC, soit un écart de "
                f"{format_amount(abs(ttc - devices_ttc))} pour {lines} ligne{'s' if lines > 1 else ''} : "
                "plus que les arrondis de TVA (un centime par ligne au plus). Vérifiez les taux de "
                "TVA des matériels et la TVA de la facture ; les documents de la demande utilisent "
                "la facture, les conventions les valeurs unitaires.",
                r.title, r.cell("amount_ttc"),
            )


def _check_unused(
    beneficiaries: list[Record], devices: list[Record], invoices: list[Record], report: Report
) -> None:
    used_b = {_fold(d.values["beneficiary"]) for d in devices if d.values.get("beneficiary")}
    used_i = {_fold(d.values["invoice"]) for d in devices if d.values.get("invoice")}
    for r in beneficiaries:
        ident = r.values.get("identifier")
        if ident is not None and _fold(ident) not in used_b:
            report.warning(
                f"le bénéficiaire « {ident} » ({r.values.get('name') or 'sans nom'}) n'a aucun "
                "matériel : il n'aura ni convention ni procès-verbal.",
                r.title, r.cell("identifier"),
            )
    for r in invoices:
        ref = r.values.get("reference")
        if ref is not None and _fold(ref) not in used_i:
            report.warning(
                f"la facture « {ref} » ne porte sur aucun matériel de la feuille « {DEVICES.title} » ; "
                "elle compte quand même dans la dépense et la subvention demandée.",
                r.title, r.cell("reference"),
            )


def _check_funding(dotation: Dotation, op: Record, report: Report) -> None:
    funding = batch_funding(dotation)
    o = dotation.operation
    if o.state_rate == 0:
        report.error(f"{_label(OPERATION, 'state_rate')} : 0 % ; attendu : un taux supérieur à 0 "
                     "(ex. 80 %).", op.title, op.cell("state_rate"))
    if o.duration_months < 1:
        report.error(f"{_label(OPERATION, 'duration_months')} : {o.duration_months} ; attendu : un nombre "
                     "de mois d'au moins 1 (ex. 36).", op.title, op.cell("duration_months"))
    if o.amount_granted <= 0:
        report.error(f"{_label(OPERATION, 'amount_granted')} : {format_amount(o.amount_granted)} ; "
                     "attendu : le montant strictement positif inscrit dans la décision de l'État.",
                     op.title, op.cell("amount_granted"))
    advances = _label(OPERATION, "advances")
    if o.advances < 0:
        report.error(f"{advances} : {format_amount(o.advances)} ; attendu : un montant positif ou nul.",
                     op.title, op.cell("advances"))
    elif funding.claimed < 0:
        report.error(
            f"{advances} : {format_amount(o.advances)}, plus que la part de l'État "
            f"({format_amount(funding.state_share)}) ; vérifiez le montant des acomptes.",
            op.title, op.cell("advances"),
        )


def _build(op: Record, beneficiaries: list[Record], devices: list[Record], invoices: list[Record]) -> Dotation:
    """Return the model, each record built generically from its sheet's fields; a
    device's beneficiary and invoice are spelled as their sheets spell them."""
    ids = {_fold(r.values["identifier"]): r.values["identifier"] for r in beneficiaries}
    refs = {_fold(r.values["reference"]): r.values["reference"] for r in invoices}
    for d in devices:
        values, computed = d.values, d.computed
        beneficiary, invoice = values["beneficiary"], values["invoice"]
        computed["beneficiary"] = ids[_fold_text(beneficiary) if beneficiary.__class__ is str else _fold(beneficiary)]
        computed["invoice"] = refs[_fold_text(invoice) if invoice.__class__ is str else _fold(invoice)]
    return Dotation(
        operation=build_record(op),
        beneficiaries=build_records(beneficiaries),
        devices=build_records(devices),
        invoices=build_records(invoices),
    )


_RECORD_PLANS: dict[int, tuple[Sheet, list[tuple[str, Any, Any, str]], list[tuple[str, Any, Any, str, str]],
                               dict[str, Any]]] = {}


def _record_plan(sheet: Sheet) -> tuple[list[tuple[str, Any, Any, str]], list[tuple[str, Any, Any, str, str]],
                                        dict[str, Any]]:
    """Return, for the fields of ``sheet`` that fill an attribute: their key, default_from,
    default and attribute; for those that fill a nested dataclass: the same and the
    nested attribute; the model's type hints when there are such fields. Worked out
    once per sheet."""
    cached = _RECORD_PLANS.get(id(sheet))
    if cached is None or cached[0] is not sheet:
        flat, nested = [], []
        for f in sheet.fields:
            head, _, tail = f.key.partition(".")
            if tail:
                nested.append((f.key, f.default_from, f.default, head, tail))
            else:
                flat.append((f.key, f.default_from, f.default, head))
        cached = _RECORD_PLANS[id(sheet)] = (sheet, flat, nested, get_type_hints(sheet.model) if nested else {})
    return cached[1:]


def build_record(record: Record) -> Any:
    """Return the model object of ``record`` (an instance of its sheet's ``model``):
    each field fills the attribute its key names (a dotted key fills a nested
    dataclass), an empty cell gives the field's default, then the computed values."""
    sheet = record.sheet
    get = record.values.get
    flat, nested_plan, types = _record_plan(sheet)
    attributes: dict[str, Any] = {}
    for key, default_from, default, head in flat:
        value = get(key)
        if value is None:
            value = get(default_from) if default_from else default
        attributes[head] = value
    if nested_plan:
        nested: dict[str, dict[str, Any]] = {}
        for key, default_from, default, head, tail in nested_plan:
            value = get(key)
            if value is None:
                value = get(default_from) if default_from else default
            nested.setdefault(head, {})[tail] = value
        attributes.update({name: types[name](**values) for name, values in nested.items()})
    attributes.update(record.computed)
    return sheet.model(**attributes)


def build_records(records: list[Record]) -> tuple[Any, ...]:
    """Return ``tuple(build_record(r) for r in records)``, the records of one sheet built
    attribute by attribute (a national workbook has 12,000 devices): each attribute's
    values gathered in one column, then set on the new objects in C, slot by slot, as
    the dataclass's own ``__init__`` sets them. Records of another sheet or whose
    computed values differ in kind, and a model whose fields this does not give (a
    nested dataclass, an attribute left to its default) or whose ``__init__`` does more
    than set them, are built one by one."""
    if not records:
        return ()
    sheet = records[0].sheet
    flat, nested_plan, _ = _record_plan(sheet)
    fields = _slot_fields(sheet.model)
    computed_maps = [r.computed for r in records]
    computed = tuple(computed_maps[0])
    own = [entry for entry in flat if entry[3] not in computed]  # the rest replaced by computed values
    if nested_plan or fields is None or not own or any(r.sheet is not sheet for r in records) \
            or set(map(len, computed_maps)) != {len(computed)} \
            or {head for *_, head in own}.union(computed) != set(fields):
        return tuple(build_record(r) for r in records)
    try:
        # Every record's values hold every field (see _parse_sheet); as many computed
        # values each, and the first one's: the same keys.
        own_columns = zip(*map(_row_getter([key for key, *_ in own]), (r.values for r in records)))
        computed_columns = zip(*map(_row_getter(computed), computed_maps)) if computed else ()
        columns = dict(zip(computed, computed_columns))
        for (key, default_from, default, head), column in zip(own, own_columns):
            # Not « None in column »: Decimal's == asks numbers.Rational, slowly.
            if not all(map(operator.is_not, column, itertools.repeat(None))):
                if default_from:
                    column = [r.values.get(default_from) if value is None else value
                              for value, r in zip(column, records)]
                elif default is not None:
                    column = [default if value is None else value for value in column]
            columns[head] = column
    except KeyError:
        return tuple(build_record(r) for r in records)
    return from_columns(sheet.model, [columns[name] for name in fields])


def _row_getter(keys: Any) -> Any:
    """``operator.itemgetter`` of ``keys``, giving a tuple even for one key."""
    keys = tuple(keys)
    if len(keys) == 1:
        key = keys[0]
        return lambda mapping: (mapping[key],)
    return operator.itemgetter(*keys)


_SLOT_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _slot_fields(model: type) -> tuple[str, ...] | None:
    """Return the fields of ``model``, in the order of its slots, when it can be built by
    :func:`model.from_columns`: a dataclass with slots whose ``__init__`` is the one the
    dataclass decorator wrote (it only sets each field, in slot order) and no
    ``__post_init__``; else None."""
    if model not in _SLOT_FIELDS:
        found = None
        init = getattr(model.__dict__.get("__init__"), "__code__", None)
        if (dataclasses.is_dataclass(model) and "__slots__" in model.__dict__
                and not hasattr(model, "__post_init__")
                and init is not None and init.co_filename == "<string>"):  # written by @dataclass
            fields = dataclasses.fields(model)
            if all(f.init for f in fields) and tuple(f.name for f in fields) == tuple(model.__slots__):
                found = tuple(f.name for f in fields)
        _SLOT_FIELDS[model] = found
    return _SLOT_FIELDS[model]


# --- checks of issue #7: claim on paid invoices, financing plan, signatures, gifts ------


def _check_unpaid_invoices(invoices: list[Record], report: Report) -> None:
    """Warn about each invoice without mandate number or payment date: a claim for the
    balance rests on paid expenses only."""
    mandate, paid = _label(INVOICES, "mandate_number"), _label(INVOICES, "payment_date")
    for r in invoices:
        missing = [key for key in ("mandate_number", "payment_date") if r.values.get(key) is None]
        if not missing or r.values.get("reference") is None:
            continue
        # An invalid cell is already an error; only empty ones are "not paid yet".
        if any(r.cells.get(k) is not None and not r.cells[k].is_empty for k in missing):
            continue
        what = {
            ("mandate_number",): f"n'a pas de « {mandate} »",
            ("payment_date",): f"n'a pas de « {paid} »",
        }.get(tuple(missing), f"n'a ni « {mandate} » ni « {paid} »")
        report.warning(
            f"la facture « {r.values['reference']} » {what} : elle n'est pas payée. La demande "
            "de versement ne peut porter que sur des dépenses payées ; elle ne sera pas produite "
            "tant que cette facture n'aura pas son numéro de mandat et sa date de paiement.",
            r.title, r.cell(missing[0]) or r.cell("reference"),
        )


def _check_other_funding(op: Record | None, report: Report) -> None:
    """The other funders and their amount go together; the amount is positive."""
    if op is None:
        return
    funders, amount = op.values.get("other_funders"), op.values.get("other_funding")
    names, money = _label(OPERATION, "other_funders"), _label(OPERATION, "other_funding")
    if _is_blank(op, "other_funders") != _is_blank(op, "other_funding"):
        if funders is not None:
            report.error(f"{money} : cellule vide alors que « {names} » est rempli ; attendu : "
                         "le montant total de ces financements (ou videz les deux lignes s'il n'y "
                         "en a pas).", op.title, op.cell("other_funding") or op.cell("other_funders"))
        elif amount is not None:
            report.error(f"{names} : cellule vide alors que « {money} » est rempli ; attendu : le "
                         "nom des autres financeurs (ou videz les deux lignes s'il n'y en a pas).",
                         op.title, op.cell("other_funders") or op.cell("other_funding"))
    if amount is not None and amount <= 0:
        report.error(f"{money} : {format_amount(amount)} ; attendu : un montant strictement positif, "
                     "ou deux cellules vides s'il n'y a pas d'autre financeur.",
                     op.title, op.cell("other_funding"))


def _is_blank(record: Record, key: str) -> bool:
    cell = record.cells.get(key)
    return cell is None or cell.is_empty


def _check_signature_delegation(op: Record | None, report: Report) -> None:
    """A delegation needs a delegate; conventions signed by the delegate need the act."""
    if op is None:
        return
    v = op.values
    reference, delegate = _label(OPERATION, "delegation_reference"), _label(OPERATION, "delegate")
    if v.get("delegation_reference") is not None and _is_blank(op, "delegate"):
        report.error(f"{reference} : remplie, mais « {delegate} » est vide ; attendu : le nom de l'élu "
                     "qui signe par délégation (ou videz la référence).",
                     op.title, op.cell("delegation_reference"))
    if v.get("conventions_signed_by_delegate") is True and _is_blank(op, "delegation_reference"):
        report.error(f"{_label(OPERATION, 'conventions_signed_by_delegate')} : « oui », mais « {reference} » "
                     "est vide ; attendu : l'acte qui délègue la signature (ex. arrêté n° … du …), "
                     "ou « non ».", op.title, op.cell("conventions_signed_by_delegate"))


def _check_gift_categories(beneficiaries: list[Record], op: Record | None, report: Report) -> None:
    """A gift is allowed only to the bodies CG3P art. L3212-2 3° lists."""
    if op is None or op.values.get("convention_kind") is not ConventionKind.GIFT:
        return
    f = BENEFICIARIES.field("gift_category")
    for r in beneficiaries:
        if r.values.get("kind") is not BeneficiaryKind.ASSOCIATION or not _is_blank(r, "gift_category"):
            continue
        report.error(
            f"{f.label} : cellule vide pour une association alors que le type de convention est "
            f"« {ConventionKind.GIFT.value} » ; un don n'est permis qu'aux organismes que cite "
            f"l'article L3212-2 3° du CG3P ; attendu : {expected(f)}.",
            r.title, r.cell("gift_category") or r.cell("name"),
        )


def _check_reform_decision(op: Record | None, report: Report) -> None:
    """A gift under CG3P art. L3212-2 3° (L3212-3) is of equipment the services no longer
    use: the convention cites the decision that reformed it (warning: it prints a blank
    to complete when the decision is missing)."""
    if op is None or op.values.get("convention_kind") is not ConventionKind.GIFT:
        return
    if not _is_blank(op, "reform_decision"):
        return
    label = _label(OPERATION, "reform_decision")
    report.warning(
        f"{label} : cellule vide alors que le type de convention est « {ConventionKind.GIFT.value} » ; "
        "un don au titre de l'article L3212-2 3° du CG3P (appliqué par l'article L3212-3) ne porte "
        "que sur du matériel dont les services de la collectivité n'ont plus l'emploi et qu'elle a "
        "réformé : du matériel acheté pour l'opération n'en est pas. Indiquez la décision de "
        "réforme (ex. arrêté n° … du …) ; à défaut, les conventions de don laissent sa référence à "
        "compléter à la main.",
        op.title, op.cell("reform_decision") or op.cell("convention_kind"),
    )


def _check_authority_share(dotation: Dotation, op: Record, report: Report) -> None:
    """The authority funds at least 20 % of the project itself (CGCT L1111-10 III)."""
    plan = financing_plan(dotation)
    where = op.cell("other_funding") or op.cell("amount_granted")
    if plan.authority_share < 0:
        report.error(
            f"les financements ({format_amount(plan.state_share)} de l'État"
            f"{f' et {format_amount(plan.other_funding)} des autres financeurs' if plan.other_funding else ''}) "
            f"dépassent le coût total de {format_amount(plan.total_cost)} TTC ; vérifiez "
            f"« {_label(OPERATION, 'other_funding')} ».",
            op.title, where,
        )
    elif plan.authority_share_of_cost < AUTHORITY_MIN_SHARE:
        report.warning(
            f"la part de la collectivité, {format_amount(plan.authority_share)}, ne représente que "
            f"{format_percent(plan.authority_share_of_cost)} du coût total de "
            f"{format_amount(plan.total_cost)} TTC (État : {format_amount(plan.state_share)}"
            f"{f' ; autres financeurs : {format_amount(plan.other_funding)}' if plan.other_funding else ''}) ; "
            "le maître d'ouvrage doit financer au moins 20 % du projet (CGCT, art. L1111-10 III).",
            op.title, where,
        )


# --- plausibility of dates and VAT rates -------------------------------------------------

# French VAT rates (CGI art. 278 to 281 nonies), then those of Corsica (art. 297) and of
# the overseas departments (art. 296), as fractions.
FRENCH_VAT_RATES = frozenset(Decimal(r) for r in ("0", "0.021", "0.055", "0.1", "0.2"))
LOCAL_VAT_RATES = frozenset(Decimal(r) for r in ("0.009", "0.0105", "0.085", "0.13"))


def _check_chronology(op: Record | None, invoices: list[Record], report: Report) -> None:
    """Warn about dates in the wrong order: a payment before its invoice or after today
    (the claim certifies the payment), an invoice after the handover, a délibération
    after the funding decision, a decision after the handover."""
    values = op.values if op is not None else {}
    handover, decision = values.get("handover_date"), values.get("decision_date")
    deliberation = values.get("deliberation_date")
    now = today()
    paid, dated = _label(INVOICES, "payment_date"), _label(INVOICES, "date")
    for r in invoices:
        ref, day, payment = (r.values.get(k) for k in ("reference", "date", "payment_date"))
        name = f"la facture « {ref} »" if ref is not None else "la facture"
        if payment is not None and day is not None and payment < day:
            report.warning(
                f"{paid} : {_show(payment)}, avant la date de {name} ({_show(day)}) : une facture "
                "n'est pas payée avant d'être émise. Vérifiez les deux dates.",
                r.title, r.cell("payment_date"),
            )
        if payment is not None and payment > now:
            report.warning(
                f"{paid} : {_show(payment)}, après aujourd'hui ({_show(now)}) : la demande de "
                f"versement certifie que {name} est payée. Vérifiez la date, ou videz-la tant que "
                "la facture n'est pas payée.",
                r.title, r.cell("payment_date"),
            )
        if day is not None and handover is not None and day > handover:
            report.warning(
                f"{dated} : {_show(day)}, après la remise du {_show(handover)} : {name} est datée "
                "d'après la remise du matériel qu'elle porte. Vérifiez la date (jour et mois "
                "inversés ?).",
                r.title, r.cell("date"),
            )
    if op is None:
        return
    if deliberation is not None and decision is not None and deliberation > decision:
        report.warning(
            f"{_label(OPERATION, 'deliberation_date')} : {_show(deliberation)}, après la décision de "
            f"financement du {_show(decision)} : la délibération précède la demande de subvention "
            "et les conventions la citent. Vérifiez les deux dates.",
            op.title, op.cell("deliberation_date"),
        )
    if decision is not None and handover is not None and decision > handover:
        report.warning(
            f"{_label(OPERATION, 'decision_date')} : {_show(decision)}, après la remise du "
            f"{_show(handover)} : le matériel subventionné est remis une fois la subvention "
            "accordée. Vérifiez les deux dates.",
            op.title, op.cell("decision_date"),
        )


def _check_vat_rates(devices: list[Record], report: Report) -> None:
    """Warn about a VAT rate that is not a French one (« 2 » typed for 20 %)."""
    for r in devices:
        rate = r.values.get("vat_rate")
        if rate is None or rate >= 1 or rate in FRENCH_VAT_RATES or rate in LOCAL_VAT_RATES:
            continue
        report.warning(
            f"{_label(DEVICES, 'vat_rate')} : {format_percent(rate)} n'est pas un taux de TVA "
            "français (20 %, 10 %, 5,5 %, 2,1 % ou 0 %) ; le prix TTC du matériel en dépend. "
            "Vérifiez le taux (ex. 20 %).",
            r.title, r.cell("vat_rate"),
        )


# --- served territories (issue #11): the code's form follows the territory's kind -------

QPV_CODE = re.compile(r"^(QP\d{2}[\dAB]\d{3}|QN\d{2}[\dAB]\d{2}[A-Z])$", re.ASCII)
# A commune's INSEE code: département (01 to 95 but 20, 2A/2B for Corsica) + 3 digits, or an
# overseas département/collectivity (971 to 978) + 2 digits.
INSEE_CODE = re.compile(r"^((0[1-9]|1\d|2[1-9]|[3-8]\d|9[0-5])\d{3}|2[AB]\d{3}|97[1-8]\d{2})$", re.ASCII)
_EXPECTED_CODE = {
    TerritoryKind.QPV: "un code QPV (ex. QP087005 ou QN08705M)",
    TerritoryKind.ZRR: ("le code INSEE de la commune, 5 caractères : le département sur 2 chiffres "
                        "(2A ou 2B en Corse) puis 3 chiffres (ex. 79339 ou 2A004) ; ce n'est pas "
                        "le code postal"),
}


def territory_code_problem(kind: TerritoryKind, code: str) -> str | None:
    """Return why ``code`` (compact, upper case) is not a code of a territory of ``kind``,
    in French, naming what is expected; None when it is one."""
    kind_label = _label(BENEFICIARIES, "territory_kind")
    expected_code = _EXPECTED_CODE[TerritoryKind.ZRR if kind.is_rural else TerritoryKind.QPV]
    if not kind.is_rural:
        if QPV_CODE.fullmatch(code):
            return None
        hint = (f" ; « {code} » a la forme d'un code INSEE de commune : pour une commune classée ZRR "
                f"ou FRR, écrivez « ZRR » ou « FRR » en colonne « {kind_label} »"
                if INSEE_CODE.fullmatch(code) else "")
        return (f"« {code} » n'est pas un code QPV ; attendu pour un QPV (colonne « {kind_label} » "
                f"vide ou « QPV ») : {expected_code}{hint}.")
    if INSEE_CODE.fullmatch(code):
        return None
    if QPV_CODE.fullmatch(code):
        hint = f" ; « {code} » est un code QPV : pour un quartier prioritaire, écrivez « QPV » en colonne « {kind_label} »"
    elif re.fullmatch(r"20\d{3}", code):
        hint = " ; en Corse, le code INSEE commence par 2A ou 2B"
    else:
        hint = ""
    return (f"« {code} » n'est pas un code INSEE de commune ; attendu pour une commune classée "
            f"{kind.value} : {expected_code}{hint}.")


def check_territories(beneficiaries: list[Record], report: Report) -> None:
    """Report each territory code whose form does not fit the territory's kind (an empty
    « Type de territoire », or no such column, means QPV: older workbooks are QPV only)."""
    label = _label(BENEFICIARIES, "territory_code")
    for r in beneficiaries:
        code = r.values.get("territory_code")
        if code is None:
            continue
        kind_cell = r.cells.get("territory_kind")
        kind = r.values.get("territory_kind")
        if kind is None:
            if kind_cell is not None and not kind_cell.is_empty:
                continue  # the kind itself is wrong, and already reported
            kind = TerritoryKind.QPV
        problem = territory_code_problem(kind, code)
        if problem:
            report.error(f"{label} : {problem}", r.title, r.cell("territory_code"))
            r.values["territory_code"] = None


# Loi n° 2023-1322 du 29 décembre 2023 (loi de finances pour 2024), art. 73: France Ruralités
# Revitalisation replaces the ZRR classification from 1 July 2024.
FRR_START = dt.date(2024, 7, 1)


def _check_territory_kind_dates(op: Record | None, beneficiaries: list[Record], report: Report) -> None:
    """Warn when a territory's kind did not exist on the handover day: « ZRR » on or after
    1 July 2024 (the documents would call the commune « classée en ZRR »), « FRR » before."""
    handover = op.values.get("handover_date") if op is not None else None
    if handover is None:
        return
    label = _label(BENEFICIARIES, "territory_kind")
    for r in beneficiaries:
        kind = r.values.get("territory_kind")
        if kind is TerritoryKind.ZRR and handover >= FRR_START:
            report.warning(
                f"{label} : « ZRR » pour une remise du {_show(handover)} ; depuis le 1er juillet 2024, le "
                "classement en zone de revitalisation rurale est remplacé par France Ruralités Revitalisation "
                "(loi n° 2023-1322, art. 73) et les documents diraient la commune « classée en zone de "
                "revitalisation rurale ». Écrivez « FRR » si la commune est classée FRR.",
                r.title, r.cell("territory_kind"),
            )
        elif kind is TerritoryKind.FRR and handover < FRR_START:
            report.warning(
                f"{label} : « FRR » pour une remise du {_show(handover)}, avant le 1er juillet 2024, date où "
                "France Ruralités Revitalisation a remplacé les zones de revitalisation rurale. Écrivez « ZRR » "
                "si la commune était alors classée ZRR.",
                r.title, r.cell("territory_kind"),
            )


def _check_signature_sequence(op: Record | None, beneficiaries: list[Record], report: Report) -> None:
    """Warn about a signature dated before the financing decision (the documents cite
    it: a date from 1899 or 2019 is a typing slip), and about a handover record signed
    while its association's convention is not (the record applies the convention)."""
    decision = op.values.get("decision_date") if op is not None else None
    convention = _label(BENEFICIARIES, "convention_signed_on")
    for r in beneficiaries:
        for key in ("convention_signed_on", "handover_signed_on"):
            day = r.values.get(key)
            if day is not None and decision is not None and day < decision:
                report.warning(
                    f"{_label(BENEFICIARIES, key)} : {_show(day)}, avant la décision de financement du "
                    f"{_show(decision)} que le document cite. Vérifiez la date.",
                    r.title, r.cell(key),
                )
        if (r.values.get("handover_signed_on") is not None and r.values.get("convention_signed_on") is None
                and r.values.get("kind") is BeneficiaryKind.ASSOCIATION):
            report.warning(
                f"{_label(BENEFICIARIES, 'handover_signed_on')} : renseignée, mais pas la « {convention} » : le "
                "procès-verbal applique la convention. Renseignez la date de signature de la convention.",
                r.title, r.cell("handover_signed_on"),
            )


def _check_signatures_against_handover(op: Record | None, beneficiaries: list[Record], equipped: set[str],
                                       report: Report) -> None:
    """Warn about a handover record signed before the handover day (it records a handover
    made) and about an association's convention signed after it (the devices are handed
    over in application of the convention). Left to :func:`_check_signature_dates`, which
    says what is wrong with them, and not warned about again here: a record signed before
    its convention, a date after today, a beneficiary without devices (it signs nothing)."""
    handover_day = op.values.get("handover_date") if op is not None else None
    if handover_day is None:
        return
    now = today()
    day = f"le jour de la remise ({_show(handover_day)}, « {_label(OPERATION, 'handover_date')} », " \
          f"feuille « {OPERATION.title} »)"
    for r in beneficiaries:
        identifier = r.values.get("identifier")
        if identifier is None or _fold(identifier) not in equipped:
            continue
        signed_convention, signed_handover = r.values.get("convention_signed_on"), r.values.get("handover_signed_on")
        association = r.values.get("kind") is BeneficiaryKind.ASSOCIATION
        if (signed_convention is not None and signed_handover is not None and signed_handover < signed_convention
                and association):
            continue
        if signed_handover is not None and signed_handover < handover_day and signed_handover <= now:
            report.warning(
                f"{_label(BENEFICIARIES, 'handover_signed_on')} : {_show(signed_handover)}, avant {day}. Un "
                "procès-verbal constate une remise déjà faite : il se signe le jour de la remise ou après. "
                "Corrigez l'une des deux dates.",
                r.title, r.cell("handover_signed_on"),
            )
        if signed_convention is not None and handover_day < signed_convention <= now and association:
            report.warning(
                f"{_label(BENEFICIARIES, 'convention_signed_on')} : {_show(signed_convention)}, après {day}. Le "
                "matériel est remis en application de la convention : elle se signe au plus tard le jour de la "
                "remise. Corrigez l'une des deux dates.",
                r.title, r.cell("convention_signed_on"),
            )


def _check_claim_date(op: Record | None, invoices: list[Record], beneficiaries: list[Record], equipped: set[str],
                      report: Report) -> None:
    """Warn about what the claim would certify on its date and the data does not show
    (never certify what the data does not show): a claim dated before the handover (it
    says the operation complete), an invoice paid after the claim's date (it says every
    invoice paid): the claim file is then not produced; a handover record or a
    convention signed after it (the certificate then marks the record « non signé »).
    Nothing to compare with an empty claim date: the claim is then dated by hand."""
    claim = op.values.get("claim_date") if op is not None else None
    if op is None or claim is None:
        return
    handover = op.values.get("handover_date")
    if handover is not None and not (_add_years(handover, -YEARS_AROUND_HANDOVER) <= claim
                                     <= _add_years(handover, YEARS_AROUND_HANDOVER)):
        return  # a mistyped year, already an error (_check_dates): comparing with it says nothing more
    cell = f"« {_label(OPERATION, 'claim_date')} », feuille « {OPERATION.title} »"
    now = today()
    if claim > now:
        report.warning(
            f"{_label(OPERATION, 'claim_date')} : {_show(claim)}, après aujourd'hui ({_show(now)}) : la demande "
            "de versement certifie, à cette date, des paiements et des signatures que le classeur ne montre pas "
            "encore. Datez-la du jour de son envoi, ou videz la cellule pour la dater à la main.",
            op.title, op.cell("claim_date"),
        )
    early = handover is not None and claim < handover
    if early:
        report.warning(
            f"{_label(OPERATION, 'claim_date')} : {_show(claim)}, avant la remise du {_show(handover)} "
            f"(« {_label(OPERATION, 'handover_date')} ») : la demande de versement atteste une opération achevée ; "
            "elle ne sera pas produite tant que sa date précède la remise. Datez-la du jour de la remise ou "
            "d'après, ou videz la cellule pour la dater à la main le jour de l'envoi.",
            op.title, op.cell("claim_date"),
        )
    for r in invoices:
        payment, ref = r.values.get("payment_date"), r.values.get("reference")
        if payment is None or ref is None or payment <= claim:
            continue
        report.warning(
            f"{_label(INVOICES, 'payment_date')} : {_show(payment)}, après la date de la demande de versement "
            f"({_show(claim)}, {cell}) : à cette date, la facture « {ref} » n'était pas payée. La demande ne peut "
            "porter que sur des dépenses payées ; elle ne sera pas produite tant que sa date précède ce "
            "paiement. Datez-la du jour du paiement ou d'après (ou videz la cellule pour la dater à la main), "
            "ou corrigez la date de paiement si elle est fausse.",
            r.title, r.cell("payment_date"),
        )
    # Before the handover, every record signed from that day on is signed after the claim:
    # the claim's date, warned about above, is the one to fix.
    for r in [] if early else beneficiaries:
        identifier = r.values.get("identifier")
        if identifier is None or _fold(identifier) not in equipped:
            continue  # signs nothing: warned about by _check_signature_dates
        documents = [("handover_signed_on", "le procès-verbal de remise", "signé",
                      "le certificat d'achèvement l'indiquera « non signé à ce jour »")]
        if r.values.get("kind") is BeneficiaryKind.ASSOCIATION:
            documents.append(("convention_signed_on", "la convention", "signée",
                              "le certificat d'achèvement l'indiquera « non signée à ce jour »"))
        for key, what, signed, consequence in documents:
            day = r.values.get(key)
            if day is None or day <= claim:
                continue
            report.warning(
                f"{_label(BENEFICIARIES, key)} : {_show(day)}, après la date de la demande de versement "
                f"({_show(claim)}, {cell}) : à cette date, {what} de « {identifier} » n'était pas {signed}, et "
                f"{consequence}. Datez la demande du jour de son envoi, une fois tout signé, ou corrigez la "
                "date de signature si elle est fausse.",
                r.title, r.cell(key),
            )


def _check_signature_dates(beneficiaries: list[Record], equipped: set[str], report: Report) -> None:
    """Warn about the signature dates of « Bénéficiaires » (used by ``dotation etat`` and
    ``dotation demande``): a date after today, a handover record signed before the
    convention it applies (the record says the handover is made « en application de la
    convention » and starts its term), a date for a beneficiary without devices (it gets
    no document: ``equipped`` holds the folded identifiers of those with devices) or a
    convention date for a service of the authority (it signs none)."""
    convention, handover = _label(BENEFICIARIES, "convention_signed_on"), _label(BENEFICIARIES, "handover_signed_on")
    now = today()
    for r in beneficiaries:
        signed_convention, signed_handover = r.values.get("convention_signed_on"), r.values.get("handover_signed_on")
        for key, label, day in (("convention_signed_on", convention, signed_convention),
                                ("handover_signed_on", handover, signed_handover)):
            if day is not None and day > now:
                report.warning(
                    f"{label} : {_show(day)}, après aujourd'hui ({_show(now)}) : une date de signature "
                    "est celle d'un document déjà signé. Vérifiez la date, ou videz-la tant qu'il ne l'est pas.",
                    r.title, r.cell(key),
                )
        if (signed_convention is not None and signed_handover is not None and signed_handover < signed_convention
                and r.values.get("kind") is BeneficiaryKind.ASSOCIATION):
            report.warning(
                f"{handover} : {_show(signed_handover)}, avant la signature de la convention le "
                f"{_show(signed_convention)} : le procès-verbal constate une remise faite en application "
                "de la convention, qui en fait courir la durée. Vérifiez les deux dates.",
                r.title, r.cell("handover_signed_on"),
            )
        if signed_convention is not None and r.values.get("kind") is BeneficiaryKind.AUTHORITY_SERVICE:
            report.warning(
                f"{convention} : renseignée pour un service de la collectivité, qui ne signe pas de "
                "convention (il reçoit seulement un procès-verbal). Videz la cellule.",
                r.title, r.cell("convention_signed_on"),
            )
        identifier = r.values.get("identifier")
        dated = [(key, label) for key, label, day in (("convention_signed_on", convention, signed_convention),
                                                      ("handover_signed_on", handover, signed_handover))
                 if day is not None]
        if dated and identifier is not None and _fold(identifier) not in equipped:
            for key, label in dated:
                report.warning(
                    f"{label} : renseignée pour le bénéficiaire « {identifier} », qui n'a aucun matériel "
                    "dans la feuille « Matériel » : il n'a ni convention ni procès-verbal à signer. "
                    "Vérifiez la ligne, ou videz la cellule.",
                    r.title, r.cell(key),
                )
