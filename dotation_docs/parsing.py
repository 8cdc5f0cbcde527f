"""Cell parsing: turns one raw cell value into a typed value, or says why it cannot.

Pure functions, one per :class:`~dotation_docs.schema.Kind`. Each returns the typed
value or raises :class:`InvalidValueError`; the validation adds the cell and the field.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from stdnum.fr import siret as stdnum_siret

from dotation_docs.exceptions import INVISIBLE
from dotation_docs.formatting import format_amount
from dotation_docs.schema import Field, Kind, normalize_label

CENT = Decimal("0.01")
_EXCEL_EPOCH = datetime(1899, 12, 30)
# Control characters and the characters XML cannot hold (lone surrogates included).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# A text holding none of these (nor outer spaces) is already clean: NFC aside, clean_text
# would only replace, remove or strip them.
_UNCLEAN = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SEPARATORS = re.compile(r"[\s\u00a0\u202f\u2007.\-/]")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,20}$", re.ASCII)
_RNA = re.compile(r"^W\d{9}$", re.ASCII)
_QPV = re.compile(r"^(QP\d{2}[\dAB]\d{3}|QN\d{2}[\dAB]\d{2}[A-Z])$", re.ASCII)
_PHONE = re.compile(r"^(0\d{9}|\+33\d{9}|\+\d{6,15})$", re.ASCII)
_POSTCODE = re.compile(r"^\d{5}$", re.ASCII)
# Amounts written as text: the forms nobody can read two ways. Digits grouped by three
# with one kind of space, or with dots when a decimal comma follows; at most two decimals
# after a comma; a dot is a decimal point only when exactly two digits follow it.
_GROUP_SPACE = "[ \u00a0\u202f\u2007\u2009]"
_AMOUNT_FORMS = (
    re.compile(r"^(?P<whole>\d+)(?:,(?P<cents>\d{1,2}))?$"),
    re.compile(rf"^(?P<whole>\d{{1,3}}(?:(?P<sep>{_GROUP_SPACE})\d{{3}})(?:(?P=sep)\d{{3}})*)"
               r"(?:,(?P<cents>\d{1,2}))?$"),
    re.compile(r"^(?P<whole>\d{1,3}(?:\.\d{3})+),(?P<cents>\d{1,2})$"),
    re.compile(rf"^(?P<whole>\d+|\d{{1,3}}(?:(?P<sep>{_GROUP_SPACE})\d{{3}})(?:(?P=sep)\d{{3}})*)"
               r"\.(?P<cents>\d{2})$"),
)
_CURRENCY = re.compile(r"^(?:€|EUR\b|euros?\b)\s*|\s*(?:€|EUR|euros?)$", re.IGNORECASE)
# Bounds of a plausible amount of an operation (devices, invoices, cap, advances).
MAX_AMOUNT = Decimal("10000000")
# Float noise of a computed number cell (=0.1+0.2), far below a cent and far above the
# error of a double for amounts below MAX_AMOUNT.
_FLOAT_NOISE = Decimal("1e-6")
_RATE_TEXT = re.compile(r"^\d{1,6}(?:[.,]\d{1,10})?$", re.ASCII)
_MAX_INTEGER_DIGITS = 9
# A time of day may follow a date typed as text (« 05/11/2024 16:00 », « 2024-11-05T10:00:00 »,
# as a date cell copied from another program reads): it is ignored, as in a date cell;
# anything else after the date is not a date.
_TIME_OF_DAY = r"(?:[ T]\d{1,2}(?::|h)\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE_TEXT = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})" + _TIME_OF_DAY + "$", re.ASCII)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})" + _TIME_OF_DAY + "$", re.ASCII)
_TIME_TEXT = re.compile(r"^(\d{1,2})\s*(?:h|:|H)\s*(\d{2})?(?::\d{2})?$", re.ASCII)


class InvalidValueError(ValueError):
    """The value does not fit its kind; ``detail`` (French, may be empty) says why."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


def clean_text(value: Any) -> str:
    """Return ``value`` as a clean one-block text: NFC, Windows line breaks made plain,
    tabs made spaces, control characters removed, outer spaces stripped.

    A whole number stored as a float (``12345.0``) is written without its ``.0``.
    """
    if value.__class__ is str and not _UNCLEAN.search(value) and value.strip() == value \
            and (value.isascii() or unicodedata.is_normalized("NFC", value)):
        return value  # the common case: nothing to clean
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    text = unicodedata.normalize("NFC", str(value))
    # A carriage return or a vertical tab (a line break pasted from Word, stored by
    # Excel as _x000B_) is a line break, not a character to delete between two words.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n").replace("\t", " ")
    text = _CONTROL.sub("", text)
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def _compact(value: Any) -> str:
    return _SEPARATORS.sub("", clean_text(value)).upper()


def parse_text(value: Any, field: Field | None = None) -> str:
    """Return the cleaned text."""
    text = clean_text(value)
    if not text:
        raise InvalidValueError("la cellule ne contient que des espaces")
    return text


def parse_identifier(value: Any, field: Field | None = None) -> str:
    """Return a short identifier usable in a file name: ASCII letters, digits and ``_``
    only, 20 at most. No ``-``: it separates the identifier from the rest of a file name,
    so that two beneficiaries never get the same file name."""
    text = clean_text(value)
    if not _IDENTIFIER.fullmatch(text):
        wrong = sorted({c for c in text if not (c.isascii() and (c.isalnum() or c == "_"))})
        if len(text) > 20:
            raise InvalidValueError(f"{len(text)} caractères")
        if wrong:
            shown = ", ".join("espace" if c.isspace() else f"« {c} »" for c in wrong)
            raise InvalidValueError(f"caractère{'s' if len(wrong) > 1 else ''} non permis : {shown}")
        raise InvalidValueError()
    return text


def parse_siret(value: Any, field: Field | None = None) -> str:
    """Return the 14 digits of a SIRET whose checksum is valid (La Poste rule included)."""
    digits = _compact(value)
    if not (digits.isascii() and digits.isdigit()) or len(digits) != 14:
        raise InvalidValueError(f"{len(digits)} caractères au lieu de 14 chiffres" if digits else "")
    if not stdnum_siret.is_valid(digits):
        raise InvalidValueError("la clé de contrôle est fausse : vérifiez les chiffres")
    return digits


def parse_rna(value: Any, field: Field | None = None) -> str:
    """Return an RNA number ``W`` + 9 digits."""
    text = _compact(value)
    if not _RNA.fullmatch(text):
        raise InvalidValueError()
    return text


def parse_qpv(value: Any, field: Field | None = None) -> str:
    """Return a QPV code of the 2015 (``QP087005``) or 2024 (``QN08705M``) list."""
    text = _compact(value)
    if not _QPV.fullmatch(text):
        raise InvalidValueError()
    return text


def parse_territory_code(value: Any, field: Field | None = None) -> str:
    """Return the code of a served territory, compact and upper case (``qp 087 005`` gives
    ``QP087005``; a number cell that lost the leading zero of an INSEE code, ``1053``, gives
    ``01053``). Its form depends on the territory's kind: the validation checks it
    (:func:`dotation_docs.validation.check_territories`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1000 <= value < 10000:
        value = f"{int(value):05d}"
    text = _compact(value)
    if not text:
        raise InvalidValueError("la cellule ne contient que des espaces")
    return text


def parse_iban(value: Any, field: Field | None = None) -> str:
    """Return the compact IBAN; the French RIB key is checked, not only mod 97."""
    from schwifty import IBAN  # noqa: PLC0415 - 50 ms to import: only for the cells that need it
    from schwifty.exceptions import SchwiftyException  # noqa: PLC0415

    try:
        return IBAN(clean_text(value), validate_bban=True).compact
    except SchwiftyException as err:
        raise InvalidValueError("numéro ou clé de contrôle faux") from err


def parse_bic(value: Any, field: Field | None = None) -> str:
    """Return the compact BIC."""
    from schwifty import BIC  # noqa: PLC0415 - see parse_iban
    from schwifty.exceptions import SchwiftyException  # noqa: PLC0415

    try:
        return BIC(clean_text(value)).compact
    except SchwiftyException as err:
        raise InvalidValueError() from err


def parse_email(value: Any, field: Field | None = None) -> str:
    """Return the e-mail address (syntax only: no network look-up)."""
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415 - 45 ms to import

    try:
        return validate_email(clean_text(value), check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise InvalidValueError() from err


def parse_phone(value: Any, field: Field | None = None) -> str:
    """Return the phone number as typed (cleaned) once its digits look like a number."""
    text = clean_text(value)
    compact = re.sub(r"[\s\u00a0\u202f.\-()/]", "", text)
    if isinstance(value, (int, float)) and len(compact) == 9:
        compact = "0" + compact  # a number cell loses the leading zero
        text = " ".join(compact[i : i + 2] for i in range(0, 10, 2))
    if not _PHONE.fullmatch(compact):
        raise InvalidValueError()
    return text


def parse_postcode(value: Any, field: Field | None = None) -> str:
    """Return a 5-digit postcode (a number cell's lost leading zero is put back)."""
    text = clean_text(value)
    if isinstance(value, (int, float)) and text.isascii() and text.isdigit() and len(text) == 4:
        text = "0" + text
    if not _POSTCODE.fullmatch(text):
        raise InvalidValueError()
    return text


def parse_money(value: Any, field: Field | None = None) -> Decimal:
    """Return an amount in euros as a ``Decimal`` rounded half up to the cent.

    Accepts a number cell, or text in a form nobody can read two ways: ``1 234,50 €``,
    ``1.234,50``, ``25 000``, ``1234.50``. Refuses ``1,234.50``, ``25.000``, ``1,234``
    and three decimals, and any amount of 10 million euros or more.
    See :func:`money_warning` for number cells with more than two decimals.
    """
    if isinstance(value, bool):
        raise InvalidValueError()
    if isinstance(value, (int, float, Decimal)):
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise InvalidValueError()
    else:
        amount = _parse_money_text(clean_text(value))
    if abs(amount) >= MAX_AMOUNT:
        raise InvalidValueError("montant hors limites : moins de 10 millions d'euros attendu")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _parse_money_text(text: str) -> Decimal:
    body = _CURRENCY.sub("", text).strip()
    sign = ""
    if body[:1] in ("-", "\u2212"):
        sign, body = "-", body[1:].lstrip()
    for form in _AMOUNT_FORMS:
        match = form.fullmatch(body)
        if match:
            whole = re.sub(r"\D", "", match.group("whole"))
            return Decimal(f"{sign}{whole}.{match.group('cents') or '0'}")
    raise InvalidValueError(_ambiguity(body))


def _ambiguity(text: str) -> str:
    """Return why the amount ``text`` is refused, in French ("" when it is simply not a
    number)."""
    if re.search(r",\d*\.", text):
        return "écriture anglaise : la virgule sépare les milliers, le point les décimales"
    if re.fullmatch(r"[\d\s.]*\d\.\d{3}", text, re.ASCII):
        return "le point sépare-t-il les milliers ou les décimales ? écrivez « 25 000 » ou « 25,00 »"
    if re.fullmatch(r"[\d\s.]*\d,\d{3}", text, re.ASCII):
        return ("la virgule est-elle décimale (trois décimales) ou sépare-t-elle les milliers ? "
                "écrivez « 1 234 » ou « 1,23 »")
    if re.fullmatch(r"[\d\s.]*,\d{3,}", text, re.ASCII) or re.fullmatch(r"\d*\.\d{3,}", text):
        return "plus de deux décimales"
    if re.fullmatch(r"\d+\.\d", text):
        return "après un point, deux décimales sont attendues (« 12.50 ») ; ou écrivez « 12,5 »"
    return ""


def money_warning(value: Any, amount: Decimal) -> str | None:
    """Return a French warning when the number cell ``value`` holds more than two decimals
    (``=1000/3``) beyond float noise, naming the amount kept; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    exact = Decimal(str(value))
    if abs(exact - amount) <= _FLOAT_NOISE:
        return None
    shown = f"{exact.normalize():f}".replace(".", ",")
    return (f"la cellule contient {shown}, plus de deux décimales ; le montant retenu est "
            f"{format_amount(amount)} (arrondi au centime). Arrondissez la cellule (fonction "
            "ARRONDI) pour confirmer.")


# A text cell's characters that nobody sees, printed in the documents as they are (U+202E
# shows what follows backwards: « Sport droN »).
_INVISIBLE = re.compile("[" + "".join(map(chr, INVISIBLE)) + "]")
_INVISIBLE_NAMES = {"\u202e": "qui fait lire la suite à l'envers", "\u202d": "qui force le sens d'écriture",
                    "\u200b": "espace sans largeur", "\ufeff": "marque d'ordre des octets"}


def text_warning(_value: Any, text: str) -> str | None:
    """Return a French warning when the text ``text`` holds a character nobody sees (see
    :data:`_INVISIBLE`), naming each by its code; None otherwise."""
    found = sorted(set(_INVISIBLE.findall(text)))
    if not found:
        return None
    codes = [f"U+{ord(c):04X}" + (f" ({_INVISIBLE_NAMES[c]})" if c in _INVISIBLE_NAMES else "") for c in found]
    if len(found) == 1:
        return (f"la cellule contient un caractère invisible, {codes[0]} : il s'imprimerait tel quel dans les "
                "documents et peut en changer l'affichage ; effacez-le.")
    return (f"la cellule contient des caractères invisibles, {', '.join(codes[:-1])} et {codes[-1]} : ils "
            "s'imprimeraient tels quels dans les documents et peuvent en changer l'affichage ; effacez-les.")


def parse_rate(value: Any, field: Field | None = None) -> Decimal:
    """Return a rate as a fraction: ``80 %``, ``80``, ``0,8`` and ``0.8`` all give 0.8.

    Text has one decimal separator at most (``1,234.5`` is refused)."""
    if isinstance(value, bool):
        raise InvalidValueError()
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, float) and value == value and abs(value) != float("inf"):
            value = round(value, 10)  # float noise of a computed cell: 0.19999999999999998
        rate = Decimal(str(value))
        if not rate.is_finite():
            raise InvalidValueError()
        percent = rate > 1
    else:
        text = re.sub(r"[\s\u00a0\u202f]", "", clean_text(value))
        percent = text.endswith("%")
        text = text.removesuffix("%")
        if not _RATE_TEXT.fullmatch(text):
            raise InvalidValueError()
        rate = Decimal(text.replace(",", "."))
        percent = percent or rate > 1
    rate = rate / 100 if percent else rate
    if not 0 <= rate <= 1:
        raise InvalidValueError("un taux est compris entre 0 % et 100 %")
    return rate.normalize()


def parse_integer(value: Any, field: Field | None = None) -> int:
    """Return a whole number of at most nine digits."""
    if isinstance(value, bool):
        raise InvalidValueError()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        number = value
    else:
        text = clean_text(value)
        if not re.fullmatch(r"[0-9]+", text):
            raise InvalidValueError()
        if len(text.lstrip("0")) > _MAX_INTEGER_DIGITS:
            raise InvalidValueError(f"nombre de {len(text.lstrip('0'))} chiffres")
        number = int(text)
    if abs(number) >= 10**_MAX_INTEGER_DIGITS:
        raise InvalidValueError("nombre hors limites")
    return number


def parse_date(value: Any, field: Field | None = None) -> date:
    """Return a date from a date cell, an Excel serial number or ``03/02/2023`` text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 2958466:
        return (_EXCEL_EPOCH + timedelta(days=int(value))).date()
    text = clean_text(value)
    match = _DATE_TEXT.fullmatch(text)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
        match = _ISO_DATE.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError as err:
        raise InvalidValueError("cette date n'existe pas") from err
    raise InvalidValueError()


def parse_time(value: Any, field: Field | None = None) -> time:
    """Return a time from a time cell, a fraction of a day or ``10:30`` / ``10 h 30``."""
    if isinstance(value, datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, time):
        return value.replace(microsecond=0)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
        minutes = round(value * 24 * 60)
        return time(minutes // 60, minutes % 60)
    match = _TIME_TEXT.fullmatch(clean_text(value))
    if match:
        hours, minutes = int(match.group(1)), int(match.group(2) or 0)
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise InvalidValueError()


def parse_imei(value: Any, field: Field | None = None) -> str:
    """Return a 15-digit IMEI whose Luhn check digit is right."""
    digits = _compact(value)
    if not (digits.isascii() and digits.isdigit()) or len(digits) != 15:
        raise InvalidValueError(f"{len(digits)} caractères au lieu de 15 chiffres" if digits else "")
    if not luhn_is_valid(digits):
        raise InvalidValueError("la clé de contrôle est fausse : vérifiez les chiffres")
    return digits


# A digit doubled by the Luhn algorithm, its digits added: 7 → 14 → 5.
_LUHN_DOUBLED = {str(d): (2 * d) // 10 + (2 * d) % 10 for d in range(10)}
_LUHN_PLAIN = {str(d): d for d in range(10)}


def luhn_is_valid(digits: str) -> bool:
    """Return ``stdnum.imei.is_valid(digits)`` for 15 ASCII digits (``stdnum`` checks the
    Luhn key of a 15-digit IMEI, nothing else) without its per-digit generators: the
    rightmost digit kept, every second one from it doubled."""
    backwards = digits[::-1]
    return (sum(map(_LUHN_PLAIN.__getitem__, backwards[::2]))
            + sum(map(_LUHN_DOUBLED.__getitem__, backwards[1::2]))) % 10 == 0


def parse_choice(value: Any, field: Field | None = None) -> str:
    """Return the canonical spelling of a value of the field's closed list (case,
    accents and spaces are ignored)."""
    assert field is not None
    choice = _choice_table(field.choices).get(_normalized(clean_text(value)))
    if choice is None:
        raise InvalidValueError()
    return choice


@functools.lru_cache(maxsize=4096)
def _normalized(text: str) -> str:
    return normalize_label(text)


@functools.lru_cache(maxsize=256)
def _choice_table(choices: tuple[str, ...]) -> dict[str, str]:
    """Normalised label → the first choice that has it."""
    table: dict[str, str] = {}
    for choice in choices:
        table.setdefault(normalize_label(choice), choice)
    return table


# Checks of a value that parsed but deserves a word: kind → (raw value, parsed value) →
# French warning or None.
WARNINGS: dict[Kind, Callable[[Any, Any], str | None]] = {
    Kind.MONEY: money_warning,
    Kind.TEXT: text_warning,
}

PARSERS: dict[Kind, Callable[[Any, Field | None], Any]] = {
    Kind.TEXT: parse_text,
    Kind.IDENTIFIER: parse_identifier,
    Kind.SIRET: parse_siret,
    Kind.RNA: parse_rna,
    Kind.QPV: parse_qpv,
    Kind.TERRITORY_CODE: parse_territory_code,
    Kind.IBAN: parse_iban,
    Kind.BIC: parse_bic,
    Kind.EMAIL: parse_email,
    Kind.PHONE: parse_phone,
    Kind.POSTCODE: parse_postcode,
    Kind.DATE: parse_date,
    Kind.TIME: parse_time,
    Kind.MONEY: parse_money,
    Kind.RATE: parse_rate,
    Kind.INTEGER: parse_integer,
    Kind.IMEI: parse_imei,
    Kind.CHOICE: parse_choice,
}


def expected(field: Field) -> str:
    """Return what ``field`` expects, in French, listing the choices of a closed list."""
    if field.kind is Kind.CHOICE:
        return "une valeur de la liste : " + ", ".join(f"« {c} »" for c in field.choices)
    return field.kind.value


def describe(value: Any) -> str:
    """Return how an error shows the value found: « … », shortened if long."""
    if isinstance(value, datetime):
        text = value.strftime("%d/%m/%Y %H:%M")
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = clean_text(value).replace("\n", " ")
    if len(text) > 60:
        text = text[:57] + "…"
    return f"« {text} »"
