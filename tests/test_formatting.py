"""Tests of the formatting stage: exact French outputs and property tests."""

from datetime import date, time
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dotation_docs.formatting import (
    FILTER_DOCS,
    amount_in_words,
    format_amount,
    format_date,
    format_date_long,
    format_date_short,
    format_iban,
    format_list,
    format_number,
    format_percent,
    format_quantity,
    format_siret,
    format_time,
    format_whole_euros,
    MARKS,
    NO_BREAK_HYPHEN,
    SUPERSCRIPT_END,
    SUPERSCRIPT_START,
    make_filters,
    plain_text,
    pluralize,
    strip_marks,
)

NNBSP = "\u202f"
NBSP = "\xa0"

amounts = st.decimals(
    min_value=0, max_value=Decimal("999999999.99"), places=2, allow_nan=False, allow_infinity=False
)
round_millions = st.integers(min_value=1, max_value=999).map(lambda n: Decimal(n * 10**6))


# --- amounts and numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("28921"), "28\u202f921,00\xa0€"),
        (Decimal("36151.25"), "36\u202f151,25\xa0€"),
        (Decimal("-5"), "-5,00\xa0€"),
        (28921, "28\u202f921,00\xa0€"),
        (Decimal("0.005"), "0,01\xa0€"),
        (Decimal("2.675"), "2,68\xa0€"),
        (Decimal("-0.001"), "0,00\xa0€"),
        (Decimal("1234567.891"), "1\u202f234\u202f567,89\xa0€"),
    ],
)
def test_format_amount(value, expected):
    assert format_amount(value) == expected


def test_format_amount_custom_separator():
    assert format_amount(Decimal("28921"), thousands_separator="\xa0") == "28\xa0921,00\xa0€"
    assert format_amount(Decimal("28921"), thousands_separator=" ") == "28 921,00\xa0€"


@pytest.mark.parametrize("bad", [1.5, None, "12", True])
def test_format_amount_rejects_non_money(bad):
    with pytest.raises(TypeError):
        format_amount(bad)


def test_format_amount_rejects_infinity():
    with pytest.raises(ValueError):
        format_amount(Decimal("Infinity"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("14460.50"), "14\u202f460\xa0€"),
        (Decimal("28921"), "28\u202f921\xa0€"),
        (Decimal("0.99"), "0\xa0€"),
        (Decimal("-0.99"), "0\xa0€"),
        (Decimal("-14.99"), "-14\xa0€"),
        (1000, "1\u202f000\xa0€"),
    ],
)
def test_format_whole_euros(value, expected):
    assert format_whole_euros(value) == expected


def test_format_whole_euros_rejects_float():
    with pytest.raises(TypeError):
        format_whole_euros(14460.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1000, "1\u202f000"), (Decimal("12.5"), "12,5"), (0, "0"), (1234567, "1\u202f234\u202f567")],
)
def test_format_number(value, expected):
    assert format_number(value) == expected


def test_format_number_custom_separator():
    assert format_number(1000, thousands_separator="\xa0") == "1\xa0000"


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (Decimal("0.8"), "80\xa0%"),
        (Decimal("0.125"), "12,5\xa0%"),
        (Decimal("0.2"), "20\xa0%"),
        (Decimal("0.055"), "5,5\xa0%"),
        (Decimal("0.80"), "80\xa0%"),
        (1, "100\xa0%"),
    ],
)
def test_format_percent(rate, expected):
    assert format_percent(rate) == expected


def test_format_percent_rejects_float():
    with pytest.raises(TypeError):
        format_percent(0.8)


# --- dates and times -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2023, 2, 3), "vendredi 3\xa0février 2023"),
        (date(2023, 3, 1), "mercredi 1er\xa0mars 2023"),
        (date(2023, 8, 11), "vendredi 11\xa0août 2023"),
        (date(2024, 12, 21), "samedi 21\xa0décembre 2024"),
    ],
)
def test_format_date_long(d, expected):
    assert format_date_long(d) == expected


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2023, 2, 3), "3\xa0février 2023"),
        (date(2023, 3, 1), "1er\xa0mars 2023"),
        (date(2023, 3, 11), "11\xa0mars 2023"),
        (date(2023, 3, 21), "21\xa0mars 2023"),
    ],
)
def test_format_date(d, expected):
    assert format_date(d) == expected


@pytest.mark.parametrize("d", [date(2023, 2, 3), date(2023, 3, 1), date(2024, 12, 21)])
def test_dates_join_day_and_month_only(d):
    for text in (format_date(d), format_date_long(d)):
        day_month, year = text.rsplit(" ", 1)
        assert year == str(d.year)
        assert day_month.count("\xa0") == 1  # between the day and the month, nowhere else
    assert format_date_long(d).split(" ", 1)[1] == format_date(d)  # a normal space after the weekday


def test_date_filters_mark_the_superscript_of_the_first_only():
    filters = make_filters()
    assert filters["date"](date(2023, 3, 1)) == f"1{SUPERSCRIPT_START}er{SUPERSCRIPT_END}\xa0mars 2023"
    assert filters["date_longue"](date(2023, 3, 1)) == f"mercredi 1{SUPERSCRIPT_START}er{SUPERSCRIPT_END}\xa0mars 2023"
    assert filters["date"](date(2023, 3, 2)) == "2\xa0mars 2023"
    assert plain_text(filters["date"](date(2023, 3, 1))) == format_date(date(2023, 3, 1)) == "1er\xa0mars 2023"


def test_exposant_and_insecable_filters():
    filters = make_filters()
    assert filters["exposant"]("er") == f"{SUPERSCRIPT_START}er{SUPERSCRIPT_END}"
    reference = filters["insecable"]("Arrêté n° 87-2022-12-08-00003")
    assert reference == "Arrêté\xa0n°\xa087" + "".join(f"{NO_BREAK_HYPHEN}{p}" for p in ("2022", "12", "08", "00003"))
    assert plain_text(reference) == "Arrêté\xa0n°\xa087-2022-12-08-00003"
    assert filters["insecable"](f"a{SUPERSCRIPT_START}-b") == f"a{NO_BREAK_HYPHEN}b"  # no mark from the value
    assert filters["insecable"](2022) == "2022"
    with pytest.raises(TypeError):
        filters["exposant"](1)


def test_marks_are_removed_for_plain_text():
    marked = f"1{SUPERSCRIPT_START}er{SUPERSCRIPT_END} 87{NO_BREAK_HYPHEN}2022"
    assert plain_text(marked) == "1er 87-2022"
    assert strip_marks(marked) == "1er 872022"


def test_format_date_short():
    assert format_date_short(date(2023, 2, 3)) == "03/02/2023"
    assert format_date_short(date(2023, 12, 31)) == "31/12/2023"


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (time(10, 30), "10\xa0h\xa030"),
        (time(10, 0), "10\xa0h"),
        (time(9, 5), "9\xa0h\xa005"),
        (time(0, 0), "0\xa0h"),
        (time(18, 45, 59), "18\xa0h\xa045"),
    ],
)
def test_format_time(t, expected):
    assert format_time(t) == expected


# --- lists, plurals, quantities ------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "expected"),
    [(["a", "b", "c"], "a, b et c"), (["a", "b"], "a et b"), (["a"], "a"), ([], "")],
)
def test_format_list(items, expected):
    assert format_list(items) == expected


def test_format_list_accepts_generator():
    assert format_list(x for x in ("a", "b")) == "a et b"


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "tablette"), (1, "tablette"), (2, "tablettes"), (57, "tablettes"), (1000000, "tablettes")],
)
def test_pluralize(count, expected):
    assert pluralize(count, "tablette", "tablettes") == expected


@pytest.mark.parametrize(
    ("count", "singular", "plural", "expected"),
    [
        (57, "ordinateur portable", "ordinateurs portables", "57 ordinateurs portables"),
        (1, "tablette", "tablettes", "1 tablette"),
        (0, "tablette", "tablettes", "0 tablette"),
        (1000, "tablette", "tablettes", "1\u202f000 tablettes"),
    ],
)
def test_format_quantity(count, singular, plural, expected):
    assert format_quantity(count, singular, plural) == expected


def test_format_quantity_custom_separator():
    assert format_quantity(1000, "tablette", "tablettes", thousands_separator="\xa0") == "1\xa0000 tablettes"


# --- amounts in words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("28921"), "vingt-huit mille neuf cent vingt et un euros"),
        (Decimal("28921.00"), "vingt-huit mille neuf cent vingt et un euros"),
        (Decimal("14460.50"), "quatorze mille quatre cent soixante euros et cinquante centimes"),
        (Decimal("1"), "un euro"),
        (Decimal("0"), "zéro euro"),
        (Decimal("0.01"), "zéro euro et un centime"),
        (Decimal("1000000"), "un million d\u2019euros"),
        (Decimal("2000000"), "deux millions d\u2019euros"),
        (Decimal("1000001"), "un million un euros"),
        (Decimal("1500000"), "un million cinq cent mille euros"),
        (Decimal("80"), "quatre-vingts euros"),
        (Decimal("200"), "deux cents euros"),
        (Decimal("2000000.01"), "deux millions d\u2019euros et un centime"),
        (Decimal("1.995"), "deux euros"),
        (1000000000, "un milliard d\u2019euros"),
    ],
)
def test_amount_in_words(value, expected):
    assert amount_in_words(value) == expected


def test_amount_in_words_rejects_negative():
    with pytest.raises(ValueError):
        amount_in_words(Decimal("-1"))


@pytest.mark.parametrize("bad", [28921.0, None, "28921"])
def test_amount_in_words_rejects_non_money(bad):
    with pytest.raises(TypeError):
        amount_in_words(bad)


# --- identifiers ---------------------------------------------------------------------------


def test_format_siret():
    assert format_siret("21870085600017") == "218\xa0700\xa0856\xa000017"
    assert format_siret("218 700 856 00017") == "218\xa0700\xa0856\xa000017"


@pytest.mark.parametrize("bad", ["", "218700856", "2187008560001X", "218700856000171"])
def test_format_siret_returns_invalid_input_unchanged(bad):
    assert format_siret(bad) == bad


@pytest.mark.parametrize(
    "iban",
    ["FR7630001007941234567890185", "FR76 3000 1007 9412 3456 7890 185", "fr76 3000 1007 94123456 7890185"],
)
def test_format_iban(iban):
    assert format_iban(iban) == "FR76\xa03000\xa01007\xa09412\xa03456\xa07890\xa0185"


# --- filters -------------------------------------------------------------------------------

FILTER_NAMES = {
    "montant", "euros", "nombre", "pourcentage", "date_longue", "date", "date_courte",
    "heure", "liste", "pluriel", "quantite", "en_lettres", "siret", "iban", "exposant", "insecable",
}  # fmt: skip


def test_make_filters_names():
    assert set(make_filters()) == FILTER_NAMES


@pytest.mark.parametrize("name", sorted(FILTER_NAMES))
def test_every_filter_returns_empty_string_for_none(name):
    filters = make_filters()
    if name in {"pluriel", "quantite"}:
        assert filters[name](None, "tablette", "tablettes") == ""
    else:
        assert filters[name](None) == ""


@pytest.mark.parametrize(
    ("name", "args"),
    [("montant", ()), ("euros", ()), ("nombre", ()), ("pourcentage", ()), ("en_lettres", ()),
     ("quantite", ("tablette", "tablettes"))],
)  # fmt: skip
def test_filters_still_reject_float(name, args):
    with pytest.raises(TypeError):
        make_filters()[name](1.5, *args)


def test_filters_bind_separator():
    filters = make_filters(thousands_separator="\xa0")
    assert filters["montant"](Decimal("28921")) == "28\xa0921,00\xa0€"
    assert filters["euros"](Decimal("28921.99")) == "28\xa0921\xa0€"
    assert filters["nombre"](1000) == "1\xa0000"
    assert filters["quantite"](1000, "tablette", "tablettes") == "1\xa0000\xa0tablettes"
    assert make_filters()["montant"](Decimal("28921")) == "28\u202f921,00\xa0€"


def test_filters_usage_with_arguments():
    filters = make_filters()
    assert filters["pluriel"](2, "tablette", "tablettes") == "tablettes"
    # in the documents, a number never ends a line without its noun
    assert filters["quantite"](1, "tablette", "tablettes") == "1\xa0tablette"
    assert filters["en_lettres"](Decimal("80")) == "quatre-vingts euros"
    assert filters["exposant"]("e") == f"{SUPERSCRIPT_START}e{SUPERSCRIPT_END}"


def test_filter_docs():
    assert set(FILTER_DOCS) == FILTER_NAMES
    expected = "Montant en euros au centime près. `{{ montant | montant }}` → 28\u202f921,00\xa0€"
    assert FILTER_DOCS["montant"] == expected
    assert FILTER_DOCS["date_longue"].endswith("→ mercredi 1<sup>er</sup>\xa0mars 2023")
    for name, doc in FILTER_DOCS.items():
        assert f"| {name}" in doc and "→ " in doc and not doc.endswith("→ ")
        assert not any(mark in doc for mark in MARKS)


# --- properties ----------------------------------------------------------------------------


@given(amounts)
def test_format_amount_parses_back(value):
    text = format_amount(value)
    assert text.endswith("\xa0€")
    number = text.removesuffix("\xa0€").replace("\u202f", "").replace(",", ".")
    assert Decimal(number) == value


@given(st.one_of(amounts, round_millions))
@example(Decimal("0.00"))
@example(Decimal("3000000.00"))
@example(Decimal("3000000.10"))
def test_amount_in_words_properties(value):
    words = amount_in_words(value)
    assert "et zéro" not in words
    assert "million euros" not in words and "millions euros" not in words
    assert ("centime" in words) == (value % 1 != 0)


@given(amounts)
def test_format_whole_euros_never_exceeds_value(value):
    text = format_whole_euros(value)
    whole = Decimal(text.removesuffix("\xa0€").replace("\u202f", ""))
    assert whole <= value < whole + 1


def test_filters_in_a_jinja_template():
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment()
    env.filters.update(make_filters())
    template = env.from_string(
        "{{ n | quantite('tablette', 'tablettes') }} pour {{ total | montant }}, "
        "soit {{ total | en_lettres }} ; {{ absent | date }}{{ k | pluriel('poste', 'postes') }}"
    )
    rendered = template.render(n=2, total=Decimal("1000000"), absent=None, k=1)
    expected = "2\xa0tablettes pour 1\u202f000\u202f000,00\xa0€, soit un million d\u2019euros ; poste"
    assert rendered == expected
