"""French formatting of amounts, dates, lists and numbers in words, used as template filters."""

import functools
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, time
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any

from stdnum import iban as _stdnum_iban
from stdnum.fr import siret as _stdnum_siret

LOCALE = "fr_FR"
CURRENCY = "EUR"
NNBSP = "\u202f"  # narrow no-break space, the French thousands separator
NBSP = "\xa0"  # no-break space

# Typographic marks in the text the filters produce, turned into formatting by the renderer:
# a superscript run in Word and <sup> in HTML between SUPERSCRIPT_START and SUPERSCRIPT_END,
# a non-breaking hyphen (Word's <w:noBreakHyphen/>, U+2011 in HTML) for NO_BREAK_HYPHEN.
# They are private-use characters, which no workbook value may carry (the renderer strips
# them from the context) and which plain-text uses never see (see plain_text).
SUPERSCRIPT_START = "\ue000"
SUPERSCRIPT_END = "\ue001"
NO_BREAK_HYPHEN = "\ue002"
MARKS = (SUPERSCRIPT_START, SUPERSCRIPT_END, NO_BREAK_HYPHEN)
_STRIP_MARKS = str.maketrans(dict.fromkeys(MARKS, None))
_PLAIN_MARKS = str.maketrans({SUPERSCRIPT_START: None, SUPERSCRIPT_END: None, NO_BREAK_HYPHEN: "-"})
_CENT = Decimal("0.01")
_ONE_MILLION = 10**6


@functools.cache
def _babel() -> SimpleNamespace:
    """Babel's functions and the French locale, loaded on first use: the process that reads
    the workbook imports this module for its error messages only."""
    from babel import Locale, dates, lists, numbers

    return SimpleNamespace(
        format_date=dates.format_date, format_time=dates.format_time, format_list=lists.format_list,
        format_currency=numbers.format_currency, format_decimal=numbers.format_decimal,
        format_percent=numbers.format_percent, group=numbers.get_group_symbol(LOCALE),
        french=Locale.parse(LOCALE),
    )


def _require_decimal(value: Any) -> Decimal:
    """Return `value` as a Decimal; raise TypeError unless it is a Decimal or an int
    (floats are refused: money and rates are never binary floats), ValueError if not finite."""
    if isinstance(value, float):
        raise TypeError(f"float is not accepted, use decimal.Decimal: {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise TypeError(f"expected Decimal or int, got {type(value).__name__}: {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _quantize(value: Any, exponent: Decimal, rounding: str) -> Decimal:
    """Return `value` quantized to `exponent`, with a negative zero turned into zero.

    Raises TypeError / ValueError as `_require_decimal`."""
    result = _require_decimal(value).quantize(exponent, rounding=rounding)
    return abs(result) if result.is_zero() else result


def _regroup(text: str, thousands_separator: str) -> str:
    """Return Babel output with its thousands separator replaced by `thousands_separator`."""
    return text.replace(_babel().group, thousands_separator)


def format_amount(value: Decimal | int, thousands_separator: str = NNBSP) -> str:
    """Return the amount in euros to the cent, e.g. '28 921,00 €' (an int counts as euros).

    Rounds half up to the cent. Raises TypeError for float, None, str; ValueError if not finite."""
    cents = _quantize(value, _CENT, ROUND_HALF_UP)
    return _regroup(_babel().format_currency(cents, CURRENCY, locale=LOCALE), thousands_separator)


def format_whole_euros(value: Decimal | int, thousands_separator: str = NNBSP) -> str:
    """Return the amount in whole euros, cents truncated towards zero, e.g. '14 460 €'.

    Raises TypeError for float, None, str; ValueError if not finite."""
    euros = _quantize(value, Decimal(1), ROUND_DOWN)
    text = _babel().format_currency(euros, CURRENCY, format="#,##0\xa0¤", currency_digits=False, locale=LOCALE)
    return _regroup(text, thousands_separator)


def format_number(value: int | Decimal, thousands_separator: str = NNBSP) -> str:
    """Return the number with French grouping and decimal comma, e.g. '1 000', '12,5'.

    Raises TypeError for float, None, str; ValueError if not finite."""
    return _regroup(_babel().format_decimal(_require_decimal(value), locale=LOCALE), thousands_separator)


def format_percent(rate: Decimal | int) -> str:
    """Return the rate (a fraction, 0.125 for 12,5 %) as a French percentage, e.g. '12,5 %'.

    All significant decimals are kept. Raises TypeError for float, None, str; ValueError if not finite."""
    return _babel().format_percent(_require_decimal(rate), locale=LOCALE, decimal_quantization=False)


def _day_pattern(d: date, marked: bool) -> str:
    """Return the CLDR pattern of the day and month, joined by a no-break space: "1er" for
    the first of the month ("er" between superscript marks when ``marked``), else the number."""
    if d.day != 1:
        day = "d"
    elif marked:
        day = f"d'{SUPERSCRIPT_START}er{SUPERSCRIPT_END}'"
    else:
        day = "d'er'"
    return f"{day}{NBSP}MMMM"


def format_date_long(d: date, marked: bool = False) -> str:
    """Return the date with its weekday, e.g. 'mercredi 1er mars 2023', a no-break space
    between the day and the month; with ``marked``, "er" carries the superscript marks.

    Raises AttributeError / TypeError if `d` is not a date."""
    return _babel().format_date(d, f"EEEE {_day_pattern(d, marked)} y", locale=LOCALE)


def format_date(d: date, marked: bool = False) -> str:
    """Return the date in words, e.g. '3 février 2023', '1er mars 2023', a no-break space
    between the day and the month; with ``marked``, "er" carries the superscript marks.

    Raises AttributeError / TypeError if `d` is not a date."""
    return _babel().format_date(d, f"{_day_pattern(d, marked)} y", locale=LOCALE)


def superscript(text: str) -> str:
    """Return ``text`` between the superscript marks ('er' of '1er', 'e' of '2e'): the
    renderer prints it in superscript.

    Raises TypeError if `text` is not a str."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}: {text!r}")
    return f"{SUPERSCRIPT_START}{strip_marks(text)}{SUPERSCRIPT_END}"


def unbreakable(reference: Any) -> str:
    """Return the reference (e.g. '87-2022-12-08-00003') kept on one line: its hyphens
    become non-breaking hyphen marks and its spaces no-break spaces.

    Raises nothing: a value that is not a str is written with str()."""
    text = strip_marks(str(reference))
    return text.replace("-", NO_BREAK_HYPHEN).replace(" ", NBSP)


def strip_marks(text: str) -> str:
    """Return ``text`` without any typographic mark (for a value that must carry none)."""
    return text.translate(_STRIP_MARKS)


def plain_text(text: str) -> str:
    """Return the text the filters produced as plain text: superscript marks removed, a
    non-breaking hyphen written '-' (document properties, spreadsheets, messages)."""
    return text.translate(_PLAIN_MARKS)


def format_date_short(d: date) -> str:
    """Return the date as DD/MM/YYYY, e.g. '03/02/2023'.

    Raises AttributeError / TypeError if `d` is not a date."""
    return _babel().format_date(d, "short", locale=LOCALE)


def format_time(t: time) -> str:
    """Return the time in French administrative style: '10 h 30', '10 h', '9 h 05' (no-break spaces).

    Raises AttributeError / TypeError if `t` is not a time."""
    pattern = "H'\xa0h'" if t.minute == 0 else "H'\xa0h\xa0'mm"
    return _babel().format_time(t, pattern, locale=LOCALE)


def format_list(items: Iterable[str]) -> str:
    """Return the items joined the French way, e.g. 'a, b et c'; '' for no item.

    Raises TypeError if `items` is not iterable."""
    return _babel().format_list(list(items), locale="fr")


def format_first(items: Sequence[str], shown: int) -> str:
    """Return the first ``shown`` items joined by commas, the others counted, e.g.
    'a, b et 3 autres' (for the command's messages, which may list thousands of files)."""
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" et {format_number(more)} {pluralize(more, 'autre', 'autres')}"
                                        if more > 0 else "")


def pluralize(count: int, singular: str, plural: str) -> str:
    """Return `singular` when French treats `count` as singular (0 and 1, CLDR rule), else `plural`.

    Raises TypeError / ValueError if `count` is not a number."""
    return singular if _babel().french.plural_form(count) == "one" else plural


def format_quantity(
    count: int, singular: str, plural: str, thousands_separator: str = NNBSP, space: str = " ",
) -> str:
    """Return the count followed by the agreed noun, e.g. '57 ordinateurs portables', '1 tablette';
    ``space`` joins them (the documents pass a no-break space: a number never ends a line
    without its noun).

    Raises TypeError for float, None, str; ValueError if not finite."""
    return f"{format_number(count, thousands_separator)}{space}{pluralize(count, singular, plural)}"


def amount_in_words(value: Decimal | int) -> str:
    """Return the amount in French words, e.g. 'quatorze mille quatre cent soixante euros et cinquante
    centimes'.

    Rounds half up to the cent; cents are omitted when zero; 'd’euros' after a round number of
    millions. Raises TypeError for float, None, str; ValueError for a negative or non-finite amount."""
    amount = _quantize(value, _CENT, ROUND_HALF_UP)
    if amount < 0:
        raise ValueError(f"negative amount cannot be written in words: {value!r}")
    euros, cents = divmod(int(amount * 100), 100)
    if euros >= _ONE_MILLION and euros % _ONE_MILLION == 0:
        unit = "d’euros"
    else:
        unit = pluralize(euros, "euro", "euros")
    from num2words import num2words  # imported on first use: reading a workbook needs none of it

    words = f"{num2words(euros, lang='fr', to='cardinal')} {unit}"
    if cents:
        words += f" et {num2words(cents, lang='fr', to='cardinal')} {pluralize(cents, 'centime', 'centimes')}"
    return words


def of_place(name: str) -> str:
    """Return the place ``name`` headed by « de » as French contracts it: « de Niort »,
    « d’Airvault », « du Tallud » (Le Tallud), « des Aubiers » (Les Aubiers), « de La
    Chapelle-Thireuil ». An « h » is never elided (aspirated or not: no rule to guess)."""
    text = name.strip()
    folded = text.casefold()
    if folded.startswith("le "):
        return f"du {text[3:]}"
    if folded.startswith("les "):
        return f"des {text[4:]}"
    first = unicodedata.normalize("NFD", text[:1])[:1].casefold()
    if first and first in "aeiouy":
        return f"d\u2019{text}"
    return f"de {text}"


def format_siret(siret: str) -> str:
    """Return the SIRET grouped 3-3-3-5 with no-break spaces, e.g. '218 700 856 00017'.

    Returns the input unchanged if it is not 14 digits (spaces ignored); raises nothing for a str."""
    compact = _stdnum_siret.compact(siret)
    if len(compact) != 14 or not compact.isdigit():
        return siret
    return _stdnum_siret.format(compact, separator=NBSP)


def format_iban(iban: str) -> str:
    """Return the IBAN in groups of four separated by no-break spaces (existing spaces ignored).

    The IBAN is not validated. Raises AttributeError if `iban` is not a str."""
    return _stdnum_iban.format(iban, separator=NBSP)


def _none_as_empty(func: Callable[..., str]) -> Callable[..., str]:
    """Return `func` wrapped so that a None value gives '' (other errors, e.g. float, propagate)."""

    @functools.wraps(func)
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> str:
        return "" if value is None else func(value, *args, **kwargs)

    return wrapper


def make_filters(thousands_separator: str = NNBSP) -> dict[str, Callable[..., str]]:
    """Return the Jinja filters under their French names, `thousands_separator` bound.

    Every filter returns '' for None. Raises nothing."""
    sep = {"thousands_separator": thousands_separator}
    filters: dict[str, Callable[..., str]] = {
        "montant": functools.partial(format_amount, **sep),
        "euros": functools.partial(format_whole_euros, **sep),
        "nombre": functools.partial(format_number, **sep),
        "pourcentage": format_percent,
        "date_longue": functools.partial(format_date_long, marked=True),
        "date": functools.partial(format_date, marked=True),
        "date_courte": format_date_short,
        "heure": format_time,
        "liste": format_list,
        "pluriel": pluralize,
        "quantite": functools.partial(format_quantity, **sep, space=NBSP),
        "en_lettres": amount_in_words,
        "siret": format_siret,
        "iban": format_iban,
        "exposant": superscript,
        "insecable": unbreakable,
    }
    return {name: _none_as_empty(func) for name, func in filters.items()}


# name -> (French description, template variable, sample value, filter arguments)
_FILTER_EXAMPLES: dict[str, tuple[str, str, Any, tuple[str, ...]]] = {
    "montant": ("Montant en euros au centime près", "montant", Decimal("28921"), ()),
    "euros": ("Montant en euros entiers, centimes tronqués", "montant", Decimal("14460.50"), ()),
    "nombre": ("Nombre avec séparateur des milliers", "nombre", 1000, ()),
    "pourcentage": ("Taux (fraction) en pourcentage", "taux", Decimal("0.125"), ()),
    "date_longue": ("Date avec le jour de la semaine", "date_signature", date(2023, 3, 1), ()),
    "date": ("Date en lettres", "date_signature", date(2023, 2, 3), ()),
    "date_courte": ("Date au format JJ/MM/AAAA", "date_signature", date(2023, 2, 3), ()),
    "heure": ("Heure", "heure_seance", time(10, 30), ()),
    "liste": ("Énumération", "communes", ["Limoges", "Panazol", "Isle"], ()),
    "pluriel": ("Nom accordé au nombre (0 et 1 au singulier)", "nb", 2, ("tablette", "tablettes")),
    "quantite": ("Nombre suivi du nom accordé", "nb", 57, ("ordinateur portable", "ordinateurs portables")),
    "en_lettres": ("Montant en toutes lettres", "montant", Decimal("14460.50"), ()),
    "siret": ("SIRET groupé, insécable", "siret", "21870085600017", ()),
    "iban": ("IBAN par groupes de quatre, insécable", "iban", "FR7630001007941234567890185", ()),
    "exposant": ("Texte en exposant, pour un « 1er » écrit dans le modèle : `1{{ \"er\" | exposant }} "
                 "juillet 1901` (les filtres de date le font d'eux-mêmes)", '"er"', "er", ()),
    "insecable": ("Référence gardée sur une seule ligne (traits d'union et espaces insécables)",
                  "operation.decision_reference", "87-2022-12-08-00003", ()),
}


def filter_usage(name: str) -> str:
    """Return an example of the filter ``name`` as a template writes it, e.g.
    "{{ nb | pluriel('tablette', 'tablettes') }}". Raises KeyError for an unknown filter."""
    _, variable, _, args = _FILTER_EXAMPLES[name]
    call = f"{name}({', '.join(map(repr, args))})" if args else name
    return f"{{{{ {variable} | {call} }}}}"


def _filter_docs() -> dict[str, str]:
    """Return, for each filter, its French description followed by an example computed with the filter."""
    filters = make_filters()
    docs: dict[str, str] = {}
    for name, (description, _, sample, args) in _FILTER_EXAMPLES.items():
        example = filters[name](sample, *args)
        example = example.replace(SUPERSCRIPT_START, "<sup>").replace(SUPERSCRIPT_END, "</sup>")
        docs[name] = f"{description}. `{filter_usage(name)}` → {plain_text(example)}"
    return docs


def __getattr__(name: str) -> Any:
    # FILTER_DOCS, computed on first use (it runs every filter, Babel's and num2words'
    # data loaded): the process that reads the workbook imports this module too.
    if name == "FILTER_DOCS":
        docs = globals()["FILTER_DOCS"] = _filter_docs()
        return docs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def typographic_apostrophes(text: str) -> str:
    """Return `text` with its straight apostrophes (') made typographic, as French prose
    is printed: « l'Aurence » → « l’Aurence », « Amis' » → « Amis’ », « 's-Hertogenbosch »
    → « ’s-Hertogenbosch ». A word or phrase wrapped in straight single quotes (« 'Les
    Amis' ») gets opening and closing quotes (« ‘Les Amis’ »). Other characters are kept.

    For prose only: never apply it to identifiers, references, e-mail addresses or file
    names. Raises AttributeError if `text` is not a str."""
    if "'" not in text:
        return text
    chars = list(text)
    opening: int | None = None  # index of a quote that may open a quoted phrase
    for i, char in enumerate(chars):
        if char != "'":
            continue
        before = chars[i - 1] if i else " "
        after = chars[i + 1] if i + 1 < len(chars) else " "
        if opening is not None and not before.isspace() and not after.isalnum():
            chars[opening], chars[i] = "\u2018", "\u2019"
            opening = None
            continue
        if not before.isalnum() and before not in "'\u2019" and not after.isspace() and opening is None:
            opening = i
        chars[i] = "\u2019"
    return "".join(chars)
