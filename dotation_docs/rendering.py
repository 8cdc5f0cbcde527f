"""Rendering: turns a template and a context into the bytes of one document.

The only module that imports docxtpl. One Jinja environment serves Word and HTML templates
alike: sandboxed (templates are code written elsewhere: no attribute of Python's internals, no
mutation of the context), autoescape on, ``StrictUndefined``, ``None`` printed as empty, the
French filters; ``{% include %}``, ``{% import %}`` and ``{% extends %}`` are refused.
Only plain values (texts, numbers, dates, lists of them) are ever written: a function, a
generator (``|map`` without ``|join``) or a template object would write a memory address,
and ``lipsum``/``|random`` are not available, so that the same data always give the same
bytes. Loop turns, the work of Jinja's filters and the size of computed texts have budgets
far beyond a national batch's needs (:data:`MAX_LOOP_TURNS`, :data:`MAX_FILTER_WORK`,
:data:`MAX_SEQUENCE`), so that a template from elsewhere is refused at once instead of
hanging or exhausting the memory.
:func:`render` is the single entry point and raises no other user-facing error than
:class:`TemplateError`, in French. The typographic marks the filters emit (see
:mod:`dotation_docs.formatting`) become a superscript run or a ``w:noBreakHyphen`` in Word,
``<sup>`` or U+2011 in HTML, and are removed from plain text (document properties) and from
every string of the context. Output is deterministic: zip entries and document properties
carry a fixed date.
"""

from __future__ import annotations

import collections.abc
import contextlib
import copy
import html
import functools
import inspect
import io
import itertools
import re
import string
import types
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
import markupsafe
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docxtpl import DocxTemplate
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Cycler, Joiner, _PassArg
from lxml import etree

from dotation_docs.exceptions import DotationError, TemplateError, describe_os_error
from dotation_docs.formatting import (
    MARKS,
    NNBSP,
    NO_BREAK_HYPHEN,
    SUPERSCRIPT_END,
    SUPERSCRIPT_START,
    filter_usage,
    make_filters,
    plain_text,
    strip_marks,
)

# Zip entries get this timestamp so that two runs give the same bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Deflate level of the entries of a Word document (zlib's fastest: about four times faster
# than the default level on the rendered parts, a few % larger; fastdocx uses it too).
DOCX_COMPRESSION = 1
# Document properties rendered from the template as plain text (the title is set by the caller).
_TEXT_PROPERTIES = ("author", "comments", "identifier", "language", "subject")
# python-docx refuses a core property longer than this.
PROPERTY_MAX_LENGTH = 255
# Jinja names the frames of template code with this file name when the template has none.
_TEMPLATE_FRAME = "<template>"
# Keyword argument added to every call of a French filter, holding the expression filtered.
_EXPRESSION_KEYWORD = "_expression_"
_UNSUPPORTED_TAGS: dict[type[nodes.Node], str] = {
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.FromImport: "{% from … import … %}",
    nodes.Import: "{% import %}",
}
# What each French filter expects, for the message when it receives something else.
_FILTER_INPUTS = {
    "montant": "un montant", "euros": "un montant", "en_lettres": "un montant",
    "nombre": "un nombre", "quantite": "un nombre entier", "pluriel": "un nombre entier",
    "pourcentage": "un taux", "date": "une date", "date_longue": "une date",
    "date_courte": "une date", "heure": "une heure", "liste": "une liste de textes",
    "siret": "un texte", "iban": "un texte", "exposant": "un texte", "insecable": "un texte",
}
_MARK = re.compile(f"[{''.join(MARKS)}]")
_MARK_SPLIT = re.compile(f"([{''.join(MARKS)}])")
# Children of w:rPr that come after w:vertAlign in the schema's sequence.
_AFTER_VERT_ALIGN = {qn(f"w:{tag}") for tag in ("rtl", "cs", "em", "lang", "eastAsianLayout", "specVanish", "oMath")}
_NOTES = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.endnotes+xml",
)


@jinja2.pass_eval_context  # needs the run time: no printing folded at compile time, unchecked
def _finalize(_eval_ctx: Any, value: Any) -> Any:
    """What ``{{ value }}`` prints: ``value`` itself when it is a plain value (see
    :func:`_printed_size`), "" for None; anything else is refused."""
    kind = type(value)
    if kind is str or kind is markupsafe.Markup:
        return value
    if value is None:
        return ""
    if not isinstance(value, _PRINTABLE_SCALARS):
        _printed_size(value, "une expression affiche")
    return value


# --- The sandboxed environment --------------------------------------------------------------


class _UnsupportedTagError(jinja2.TemplateSyntaxError):
    """A tag that needs other template files: templates are rendered one file at a time."""


class FilterError(jinja2.TemplateRuntimeError):
    """Raised (inside rendering) when a French filter receives a value it cannot format;
    its message is French and names the filter and, when known, the expression filtered."""


class UnprintableError(jinja2.TemplateRuntimeError):
    """Raised (inside rendering) when a template writes into a document something that is
    not a plain value (a function, a sequence not joined, a ``cycler()``…): its text would
    hold a memory address, so two runs would no longer give the same bytes."""


class PrintedFunctionError(UnprintableError):
    """Raised (inside rendering) when a template prints a function instead of a value."""


class SizeLimitError(jinja2.TemplateRuntimeError):
    """Raised (inside rendering) when a template computes a number, a text or a list too
    large to be a document's content (``10**10**10``, ``'x' * 10**10``,
    ``range(10**9)``): refused at once instead of exhausting the time or the memory."""


# Limits of what template code may compute (far beyond any document's needs: a national
# batch's certificate loops over 1 000 records, a convention over some 70 devices).
MAX_RANGE = 100_000  # items of range(), as Jinja's own sandbox
MAX_RANGE_WORK = 1_000_000  # items of all the range() calls of one rendering (nested loops)
MAX_LOOP_TURNS = 1_000_000  # turns of all the for loops of one rendering (of one part of a document)
MAX_SEQUENCE = 1_000_000  # characters of a text, items of a list, built by *, +, ~, format…
MAX_FILTER_WORK = 2_000_000  # items and characters that Jinja's filters go through in one rendering
MAX_INT_BITS = 10_000  # about 3 000 decimal digits
# libxml2 (which parses a rendered Word part) silently cuts a text longer than this, in bytes
# (XML_MAX_TEXT_LENGTH), and the document would be written without what follows it.
MAX_XML_TEXT = 10_000_000

_SEQUENCE_TOO_LONG = ("une expression produirait un texte ou une liste de plus d'un million de caractères ou "
                      "d'éléments (calcul refusé)")


@jinja2.pass_context
def _safe_range(context: jinja2.runtime.Context, *args: int) -> range:
    """``range`` for templates: at most MAX_RANGE items per call, MAX_RANGE_WORK for all
    the calls of one rendering (two nested loops of 99 999 turns would run for hours)."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SizeLimitError(
            f"range() produirait {len(rng)} éléments, plus que les {MAX_RANGE} permis dans un modèle"
        )
    used = getattr(context, "_dotation_range_work", 0) + len(rng)
    context._dotation_range_work = used  # type: ignore[attr-defined]  # one Context per rendering
    if used > MAX_RANGE_WORK:
        raise SizeLimitError(
            f"les boucles sur range() dépasseraient {MAX_RANGE_WORK} tours en tout dans ce modèle (boucles "
            "imbriquées ?)"
        )
    return rng


def _spend_turns(context: jinja2.runtime.Context, turns: int) -> None:
    """Count ``turns`` loop turns against MAX_LOOP_TURNS for the rendering of ``context``."""
    used = context.__dict__.get("_dotation_turns", 0) + turns
    context._dotation_turns = used  # type: ignore[attr-defined]  # one Context per rendering
    if used > MAX_LOOP_TURNS:
        raise SizeLimitError(
            "les boucles « for » de ce modèle feraient plus d'un million de tours en tout (boucles imbriquées "
            "sur un long texte ou une longue liste ?)"
        )


def _spend_filter_work(context: jinja2.runtime.Context, name: str, work: int) -> None:
    """Count ``work`` items or characters that the filter ``name`` goes through against
    MAX_FILTER_WORK for the rendering of ``context`` (``select`` in a loop over a long list
    would otherwise run for hours without a single loop turn)."""
    used = context.__dict__.get("_dotation_filter_work", 0) + work
    context._dotation_filter_work = used  # type: ignore[attr-defined]
    if used > MAX_FILTER_WORK:
        raise SizeLimitError(
            f"les filtres de ce modèle (ici « {name} ») parcourraient plus de deux millions d'éléments ou de "
            "caractères en tout (filtre sur une longue liste dans une boucle ?)"
        )


# Iterables whose length is their number of turns, known before the loop: counted at once
# and iterated as they are (no cost per turn in the usual loops over a list).
_SIZED = frozenset({list, tuple, str, markupsafe.Markup, dict, range, type({}.keys()), type({}.values()),
                    type({}.items())})


def _counted_turns(context: jinja2.runtime.Context, iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _spend_turns(context, 1)
        yield item


def _width_checked(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's filter ``name`` (``center``, ``indent``, ``wordwrap``, ``batch``, ``slice``),
    refusing a width or a count beyond MAX_SEQUENCE (``"ab"|center(10**8)`` would write
    100 Mo)."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        values = list(args) + list(kwargs.values())
        if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_SEQUENCE for v in values):
            raise SizeLimitError(f"le filtre « {name} » recevrait une largeur de plus d'un million de caractères")
        return func(*args, **kwargs)

    checked.__name__ = name
    for attribute in ("jinja_pass_arg",):
        if hasattr(func, attribute):
            setattr(checked, attribute, getattr(func, attribute))
    return checked


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _checked_binop(operator: str, left: Any, right: Any) -> None:
    """Raise SizeLimitError when ``left operator right`` would be too large to compute."""
    number = "une expression produirait un nombre de plus de 3 000 chiffres (calcul refusé)"
    sequence = _SEQUENCE_TOO_LONG
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        if left.bit_length() * right > MAX_INT_BITS:
            raise SizeLimitError(number)
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SizeLimitError(number)
            return
        for seq, times in ((left, right), (right, left)):
            size = _size(seq)
            if size is not None and isinstance(times, int) and size * times > MAX_SEQUENCE:
                raise SizeLimitError(sequence)
            if isinstance(seq, (list, tuple)) and isinstance(times, int) and times > 1:
                # A list of long texts repeated: printing or joining it would write them all.
                if _printed_size(seq, "une expression répète") * times > MAX_SEQUENCE:
                    raise SizeLimitError(sequence)
    elif operator == "+":
        left_size, right_size = _size(left), _size(right)
        if left_size is not None and right_size is not None and left_size + right_size > MAX_SEQUENCE:
            raise SizeLimitError(sequence)
    elif operator == "%" and isinstance(left, str):
        if isinstance(right, tuple):
            arguments: tuple[Any, ...] = right
        elif isinstance(right, Mapping):
            arguments = (right, *right.values())
        else:
            arguments = (right,)
        _check_percent_format(left, arguments)


# --- What a template may write: plain values ------------------------------------------------

# Values written as they are: texts (Markup included), numbers (bool included), dates and
# times (datetime included): everything the context holds.
_PRINTABLE_SCALARS = (str, int, float, Decimal, date, time)
# Template objects refused by their name (the others by their type's name).
_OBJECT_NAMES = {LoopContext: "loop", Cycler: "cycler()", jinja2.utils.Namespace: "namespace()", range: "range()",
                 set: "ensemble", frozenset: "ensemble"}
_MAX_DEPTH = 32


def _printed_size(value: Any, subject: str, depth: int = 0) -> int:
    """Return how many characters of text ``value`` holds (one for any other plain value),
    after checking that it is a plain value: a text, a number, a date, None, a list, tuple
    or dict of plain values, or an object that writes itself as markup (docxtpl's
    ``RichText``, ``InlineImage``…). Raise UnprintableError (a French sentence starting
    with ``subject``, e.g. « une expression affiche ») for anything else: its text would
    hold a memory address (a function, a generator) or mean nothing in a document
    (``loop``, ``namespace()``); SizeLimitError when a list holds more than MAX_SEQUENCE
    characters (a list of long texts repeated: writing it would write them all)."""
    if isinstance(value, str):
        return len(value)
    if value is None or isinstance(value, _PRINTABLE_SCALARS):
        return 1
    if isinstance(value, jinja2.Undefined):
        if depth:  # inside a list, it would be written as « Undefined »: its own error instead
            value._fail_with_undefined_error()
        return 1  # (alone, it raises its own error when it is written)
    if isinstance(value, (list, tuple, dict)) and depth < _MAX_DEPTH:
        total = 0
        items = itertools.chain.from_iterable(value.items()) if isinstance(value, dict) else value
        for item in items:
            total += _printed_size(item, subject, depth + 1)
            if total > MAX_SEQUENCE:
                raise SizeLimitError(_SEQUENCE_TOO_LONG)
        return total
    name = _OBJECT_NAMES.get(type(value))
    if name is None and hasattr(type(value), "__html__"):
        return 1  # docxtpl's objects: their XML
    if name is None and callable(value):
        raise PrintedFunctionError(
            "une expression affiche une fonction au lieu d'une valeur (parenthèses oubliées ?)"
            if subject == "une expression affiche" else
            f"{subject} une fonction au lieu d'une valeur (parenthèses oubliées ?)"
        )
    if name is None and isinstance(value, (_Sequence, collections.abc.Iterator)):
        raise UnprintableError(
            f"{subject} une suite de valeurs au lieu d'un texte : ajoutez « |join(', ') » (ou « |list ») après "
            "« map », « select », « reject », « batch »…"
        )
    raise UnprintableError(
        f"{subject} l'objet « {name or type(value).__name__} » au lieu d'une valeur : seuls des textes, des "
        "nombres, des dates (ou des listes de ces valeurs) peuvent être écrits dans un document"
    )


class _SortedSet(frozenset):  # type: ignore[type-arg]
    """A set a template computed (``d.keys() - ['nom']``), iterated in sorted order: a
    set's own order changes with each run (hash randomization), so would the documents."""

    def __iter__(self) -> Iterator[Any]:
        try:
            return iter(sorted(frozenset.__iter__(self)))
        except TypeError:
            raise UnprintableError(
                "une expression parcourt un ensemble de valeurs qui ne peuvent pas être triées : son ordre "
                "changerait d'une génération à l'autre (écrivez une liste à la place)"
            ) from None


_OBJECT_NAMES[_SortedSet] = "ensemble"


def _sorted_if_set(value: Any) -> Any:
    """``value``, a set made a :class:`_SortedSet` (iterated in sorted order)."""
    if isinstance(value, (set, frozenset)) and type(value) is not _SortedSet:
        return _SortedSet(value)
    return value


class _Sequence:
    """The sequence a filter such as ``map`` or ``select`` returns (a generator), which a
    loop, ``|join`` or ``|list`` consume as they would the generator, but which cannot be
    turned into text: Python would write « <generator object … at 0x7f…> »."""

    __slots__ = ("_iterator",)

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._iterator = iterator

    def __iter__(self) -> _Sequence:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def __str__(self) -> str:
        _printed_size(self, "une expression écrit")
        raise AssertionError  # (unreachable: refused above)

    __repr__ = __str__


class _Cycler(Cycler):
    """``cycler()``, which cannot be turned into text (« <jinja2.utils.Cycler object at 0x…> »)."""

    def __str__(self) -> str:
        _printed_size(self, "une expression écrit")
        raise AssertionError

    __repr__ = __str__


class _Joiner(Joiner):
    """``joiner()``, which cannot be turned into text (« <jinja2.utils.Joiner object at 0x…> »)."""

    def __str__(self) -> str:
        _printed_size(self, "une expression écrit")
        raise AssertionError

    __repr__ = __str__


_OBJECT_NAMES[_Cycler] = "cycler()"

# Jinja's filters that write their value as text: the value must be a plain value.
_TEXT_FILTERS = frozenset({
    "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "pprint", "replace", "safe",
    "string", "striptags", "title", "trim", "truncate", "upper", "urlencode", "urlize", "wordcount", "wordwrap",
    "xmlattr",
})
# Jinja's filters that do not go through their value (not counted in MAX_FILTER_WORK).
_CONSTANT_TIME_FILTERS = frozenset({"length", "count", "first", "default", "d", "attr"})
# Jinja's filters taking a width or a count (refused beyond MAX_SEQUENCE).
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "batch", "slice")
# Filters and globals whose result changes from one run to the next (or lorem ipsum).
_NONDETERMINISTIC_FILTERS = ("random",)
_NONDETERMINISTIC_GLOBALS = ("lipsum",)


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's filter ``name``, counting the items or characters of its value against
    MAX_FILTER_WORK, refusing a value that is not plain when it writes it as text (a
    function anywhere) and a text result beyond MAX_SEQUENCE, and returning a sequence
    that cannot be written (:class:`_Sequence`) instead of a generator."""
    passed = _PassArg.from_obj(func)
    subject = f"le filtre « {name} » reçoit"
    text = name in _TEXT_FILTERS
    counted = name not in _CONSTANT_TIME_FILTERS

    @jinja2.pass_context
    def guarded(context: jinja2.runtime.Context, value: Any = None, *args: Any, **kwargs: Any) -> Any:
        if type(value) is not str:
            if text:
                _printed_size(value, subject)
                for argument in itertools.chain(args, kwargs.values()):
                    if type(argument) is not str:
                        _printed_size(argument, f"le filtre « {name} » reçoit en argument")
            elif callable(value) and not isinstance(value, (jinja2.Undefined, str)):
                _printed_size(value, subject)
        if counted and type(value) in _SIZED:
            _spend_filter_work(context, name, len(value))
        if name == "format" and isinstance(value, str):
            _check_percent_format(value, (*args, *kwargs.values()))
        elif name == "replace" and isinstance(value, str):
            _check_replace(value, (*args, *(kwargs[k] for k in ("old", "new", "count") if k in kwargs)))
        elif name == "join":
            value, args = _checked_join(context.environment, value, args, kwargs)
        if passed is None:
            result = func(value, *args, **kwargs)
        elif passed is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif passed is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        else:
            result = func(context.environment, value, *args, **kwargs)
        if isinstance(result, str):
            if len(result) > MAX_SEQUENCE and len(result) > len(value if isinstance(value, str) else ""):
                raise SizeLimitError(_SEQUENCE_TOO_LONG)
        elif isinstance(result, collections.abc.Iterator) and not isinstance(result, _Sequence):
            return _Sequence(result)
        return result

    guarded.__name__ = name
    return guarded


def _checked_join(env: jinja2.Environment, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                  ) -> tuple[Any, tuple[Any, ...]]:
    """The value and arguments of ``|join``, its value as a list, after checking that the
    joined text stays within MAX_SEQUENCE and its items (or their ``attribute``) are plain
    values."""
    if isinstance(value, jinja2.Undefined) or not isinstance(value, collections.abc.Iterable):
        return value, args
    items = list(value)
    separator = args[0] if args else kwargs.get("d", "")
    total = len(separator) * max(0, len(items) - 1) if isinstance(separator, str) else 0
    if total > MAX_SEQUENCE:
        raise SizeLimitError(_SEQUENCE_TOO_LONG)
    attribute = args[1] if len(args) > 1 else kwargs.get("attribute")
    getter = None if attribute is None else jinja2.filters.make_attrgetter(env, attribute)
    for item in items:
        total += _printed_size(item if getter is None else getter(item), "le filtre « join » reçoit")
        if total > MAX_SEQUENCE:
            raise SizeLimitError(_SEQUENCE_TOO_LONG)
    return items, args


_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _check_replace(text: str, args: tuple[Any, ...]) -> None:
    """Refuse ``text.replace(*args)`` (the method or the filter) when its result would be
    beyond MAX_SEQUENCE, before computing it."""
    if len(args) < 2 or not isinstance(args[0], str) or not isinstance(args[1], str):
        return
    count = len(text) + 1 if not args[0] else text.count(args[0])
    if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
        count = min(count, args[2])
    if len(text) + count * max(0, len(args[1]) - len(args[0])) > MAX_SEQUENCE:
        raise SizeLimitError(_SEQUENCE_TOO_LONG)


def _check_text_method(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a call of a text's method whose result would be beyond MAX_SEQUENCE
    (``'a'.ljust(10**9)``, ``s.replace('', s)``, ``s.join(t)``)."""
    text = getattr(obj, "__self__", None)
    if not isinstance(text, str):
        return
    method = getattr(obj, "__name__", "")
    values = (*args, *kwargs.values())
    if method in _WIDTH_METHODS:
        if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_SEQUENCE for v in values):
            raise SizeLimitError(_SEQUENCE_TOO_LONG)
    elif method == "replace":
        _check_replace(text, args)
    elif method == "join" and len(args) == 1 and type(args[0]) in _SIZED:
        if len(text) * max(0, len(args[0]) - 1) + _printed_size(list(args[0]), "« join » reçoit") > MAX_SEQUENCE:
            raise SizeLimitError(_SEQUENCE_TOO_LONG)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.DOTALL)
_DIGITS = re.compile(r"\d+")


def _check_percent_format(text: str, arguments: tuple[Any, ...]) -> None:
    """Refuse ``text % arguments`` (``|format``, ``%``) when it would be too long to
    compute: a width or precision beyond MAX_SEQUENCE, or a result estimated beyond it;
    refuse an argument that is not a plain value."""
    sizes = [_printed_size(a, "une mise en forme « % » reçoit") for a in arguments]
    widest = max(sizes, default=0)
    total = len(text)
    for match in _PERCENT_SPEC.finditer(text):
        width, precision, _conversion = match.groups()
        counts = [int(n) for n in (width, precision) if n and n != "*"]
        if "*" in (width, precision):
            counts += [a for a in arguments if isinstance(a, int) and not isinstance(a, bool)]
        total += max([widest, *counts])
        if total > MAX_SEQUENCE:
            raise SizeLimitError(_SEQUENCE_TOO_LONG)


# A field nested in a format spec (« {:<{}} », « {:<{w}} », « {:.{1}f} »): its name, the part
# before any attribute or index.
_NESTED_FIELD = re.compile(r"\{([^{}.\[!:]*)[^{}]*\}")


def _check_brace_format(text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse ``text.format(*args, **kwargs)`` when it would be too long to compute (as
    :func:`_check_percent_format`)."""
    arguments = (*args, *kwargs.values())
    sizes = [_printed_size(a, "une mise en forme « format » reçoit") for a in arguments]
    widest = max(sizes, default=0)
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # badly written: format raises its own error
    total = len(text)
    automatic = 0  # the next argument of a field written « {} » (outer and nested fields alike)
    for _literal, field, spec, _conversion in fields:
        if field is None:
            continue
        if field == "":
            automatic += 1
        counts = [int(n) for n in _DIGITS.findall(spec or "")]
        for nested in _NESTED_FIELD.findall(spec or ""):  # a width or precision given as an argument
            if nested == "":
                position: int | str = automatic
                automatic += 1
            else:
                position = int(nested) if nested.isdecimal() else nested
            value = (args[position] if isinstance(position, int) and position < len(args)
                     else kwargs.get(position) if isinstance(position, str) else None)
            if isinstance(value, int) and not isinstance(value, bool):
                counts.append(value)
            elif isinstance(value, str) and value.strip().isdecimal():  # a text of digits
                counts.append(int(value) if len(value) < 19 else MAX_SEQUENCE + 1)
        total += max([widest, *counts])
        if total > MAX_SEQUENCE:
            raise SizeLimitError(_SEQUENCE_TOO_LONG)


def _check_xml_texts(xml: str) -> None:
    """Refuse a rendered Word part holding a text longer than libxml2 reads (it would cut
    the document there, silently)."""
    if len(xml) * 4 <= MAX_XML_TEXT:  # (at most 4 bytes a character: nothing to look at)
        return
    for piece in xml.split("<"):
        if len(piece) * 4 > MAX_XML_TEXT and len(piece.encode("utf-8", "surrogatepass")) > MAX_XML_TEXT:
            raise SizeLimitError(
                "le document contiendrait un texte de plus de 10 millions de caractères d'un seul tenant, que Word "
                "ne peut pas lire (calcul refusé)"
            )


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``a ~ b`` checked (:meth:`TemplateEnvironment.dotation_concat`)."""

    # (Not folded at compile time as Jinja does, which would write « <built-in method … at
    # 0x…> » for ``'a' ~ 'b'.upper``.)
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            escaped = "context.eval_ctx.autoescape"
        else:
            escaped = "True" if frame.eval_ctx.autoescape else "False"
        self.write(f"environment.dotation_concat({escaped}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _RenderFailure(jinja2.TemplateError):
    """Any error raised by template code while rendering, with the template line it came from."""

    def __init__(self, original: BaseException, lineno: int | None, source: str) -> None:
        super().__init__(str(original))
        self.original = original
        self.lineno = lineno
        self.source = source


def _template_line(tb: TracebackType | None) -> int | None:
    """Return the template line of the innermost template frame of ``tb``, or None when
    the error did not pass through template code."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FRAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class _Template(jinja2.Template):
    """A template that knows its source, so that an error can point at the faulty line."""

    source_text = ""

    def render(self, *args: Any, **kwargs: Any) -> str:
        try:
            return super().render(*args, **kwargs)
        except jinja2.TemplateSyntaxError:
            raise
        except Exception as err:
            lineno = _template_line(err.__traceback__)
            if lineno is None and not isinstance(err, jinja2.TemplateError):
                raise  # not caused by the template: a bug, which keeps its traceback
            raise _RenderFailure(err, lineno, self.source_text) from err


class _CheckedFormatter(SandboxedFormatter):
    """The sandbox's formatter, checking the value each field resolves to as ``{{ }}``
    does (:func:`_printed_size`)."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        obj, first = super().get_field(field_name, args, kwargs)
        if type(obj) is not str:
            _printed_size(obj, "une expression affiche")
        return obj, first


class _CheckedEscapeFormatter(_CheckedFormatter, SandboxedEscapeFormatter):
    """:class:`_CheckedFormatter` for a Markup text (its arguments escaped)."""


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """The sandboxed environment of every template. ``from_string`` refuses the tags that
    load other templates, counts the turns of every loop and labels each French filter
    call with the expression it filters, for the error messages."""

    template_class = _Template
    code_generator_class = _CodeGenerator
    # Power, repetition and %-formatting go through call_binop, which refuses results too
    # large to compute (they are no longer folded at compile time either).
    # ``-`` too: on a dict's keys it gives a set, iterated in sorted order (:class:`_SortedSet`).
    intercepted_binops = frozenset({"**", "*", "+", "%", "-"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _safe_range
        self.globals["cycler"] = _Cycler
        self.globals["joiner"] = _Joiner
        for name in _NONDETERMINISTIC_GLOBALS:  # a text of its own on each run: refused as unknown
            self.globals.pop(name, None)
        for name in _NONDETERMINISTIC_FILTERS:
            self.filters.pop(name, None)
        for name in _WIDTH_FILTERS:
            self.filters[name] = _width_checked(name, self.filters[name])
        for name, func in list(self.filters.items()):
            self.filters[name] = _guarded_filter(name, func)

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        _checked_binop(operator, left, right)
        return _sorted_if_set(super().call_binop(context, operator, left, right))

    def call(self, context: jinja2.runtime.Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if type(obj) is LoopContext and len(args) == 1:  # loop(children) in a recursive loop: counted too
            args = (self.dotation_loop(context, args[0]),)
        elif type(obj) is types.BuiltinMethodType:
            _check_text_method(obj, args, kwargs)
        # a set's methods (union, difference…) give sets too: iterated in sorted order as well
        return _sorted_if_set(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format`` / ``str.format_map``, refusing a result beyond
        MAX_SEQUENCE, an argument that is not a plain value and a field that resolves to
        one (``'{0.items}'.format(d)`` would write a method's address)."""
        if (not isinstance(value, (types.MethodType, types.BuiltinMethodType))
                or value.__name__ not in ("format", "format_map") or not isinstance(value.__self__, str)):
            return None
        text = value.__self__
        is_map = value.__name__ == "format_map"
        formatter = (_CheckedEscapeFormatter(self, escape=text.escape) if isinstance(text, markupsafe.Markup)
                     else _CheckedFormatter(self))

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:  # as Jinja's wrapper
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                args, kwargs = (), args[0]
                if isinstance(kwargs, Mapping):
                    _check_brace_format(text, (), kwargs)
            else:
                _check_brace_format(text, args, kwargs)
            result = type(text)(formatter.vformat(text, args, kwargs))
            if len(result) > MAX_SEQUENCE:
                raise SizeLimitError(_SEQUENCE_TOO_LONG)
            return result

        return functools.update_wrapper(checked, value)

    def dotation_loop(self, context: jinja2.runtime.Context, iterable: Any) -> Any:
        """The iterable of a ``for`` loop, its turns counted against MAX_LOOP_TURNS (every
        loop's iterable goes through this: see :func:`_count_loops`)."""
        if type(iterable) in _SIZED:
            _spend_turns(context, len(iterable))
            return iterable
        if isinstance(iterable, jinja2.Undefined):
            return iterable  # (the loop raises its own error)
        return _counted_turns(context, iterable)

    def dotation_concat(self, autoescape: bool, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ …``: Jinja's ``markup_join`` (``str_join`` without autoescape), refusing
        a value that is not plain and a text beyond MAX_SEQUENCE."""
        texts = []
        total = 0
        for value in values:
            if type(value) is not str:
                _printed_size(value, "« ~ » reçoit")
            text = markupsafe.soft_str(value)
            total += len(text)
            if total > MAX_SEQUENCE:
                raise SizeLimitError(_SEQUENCE_TOO_LONG)
            texts.append(text)
        if autoescape and any(hasattr(text, "__html__") for text in texts):
            return markupsafe.Markup("").join(texts)
        return "".join(texts)

    def from_string(  # type: ignore[override]
        self,
        source: str | nodes.Template,
        globals: Mapping[str, Any] | None = None,
        template_class: type[jinja2.Template] | None = None,
    ) -> jinja2.Template:
        if not isinstance(source, str):
            return super().from_string(source, globals, template_class)  # type: ignore[arg-type]
        if globals is None and template_class is None:
            return compile_source(self, source)
        return self._compile_source(source, None, globals, template_class)

    def _compile_source(self, source: str, tree: nodes.Template | None, globals: Mapping[str, Any] | None = None,
                        template_class: type[jinja2.Template] | None = None) -> jinja2.Template:
        if tree is None:
            tree = self.parse(source)
        _refuse_unsupported_tags(tree, source)
        _count_loops(tree)
        _label_filter_calls(tree, self)
        template = super().from_string(tree, globals, template_class)  # type: ignore[arg-type]
        template.source_text = source  # type: ignore[attr-defined]
        return template


_COMPILED_PER_ENVIRONMENT = 256


def compiled_sources(env: jinja2.Environment) -> dict[str, jinja2.Template]:
    """The templates ``env`` compiled, by source (see :func:`compile_source`): kept on
    the environment itself, so that they go with it (a compiled template refers to its
    environment: a table beside it would keep both alive). An overlay copies its
    environment's attributes: the table found there belongs to the other one."""
    kept = env.__dict__.get("_dotation_compiled")
    if kept is None or kept[0] is not env:
        kept = env.__dict__["_dotation_compiled"] = (env, {})
    return kept[1]


def compile_source(env: TemplateEnvironment, source: str, tree: nodes.Template | None = None) -> jinja2.Template:
    """Return ``source`` compiled by ``env`` (``env.from_string(source)``), compiled once
    per environment: the template check and the renderer compile the same parts, and an
    HTML template is rendered many times in a batch. ``tree``, when given, is
    ``env.parse(source)`` not yet compiled (it is labelled and compiled here). A compiled
    template is never modified by rendering it; a source that does not compile is not
    remembered (each call raises the same error again)."""
    kept = compiled_sources(env)
    template = kept.get(source)
    if template is None:
        template = env._compile_source(source, tree)
        if len(kept) >= _COMPILED_PER_ENVIRONMENT:
            kept.clear()
        kept[source] = template
    return template


def _refuse_unsupported_tags(tree: nodes.Template, source: str) -> None:
    for node in tree.find_all(tuple(_UNSUPPORTED_TAGS)):
        tag = _UNSUPPORTED_TAGS[type(node)]
        err = _UnsupportedTagError(tag, node.lineno)
        err.source = source
        raise err


def _count_loops(tree: nodes.Template) -> None:
    """Make every ``for`` loop of ``tree`` iterate through
    :meth:`TemplateEnvironment.dotation_loop`, which counts its turns."""
    for node in tree.find_all(nodes.For):
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("dotation_loop", lineno=node.lineno),
            [nodes.ContextReference(lineno=node.lineno), node.iter], [], None, None, lineno=node.lineno,
        )


def _describe_expression(node: nodes.Node | None) -> str | None:
    """Return ``operation.lieu_signature`` for the expression node, or None when it is not
    a plain variable path."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        parent = _describe_expression(node.node)
        return f"{parent}.{node.attr}" if parent else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        parent = _describe_expression(node.node)
        return f"{parent}[{node.arg.value!r}]" if parent else None
    return None


def _label_filter_calls(tree: nodes.Template, env: jinja2.Environment) -> None:
    for node in tree.find_all(nodes.Filter):
        if node.name not in _FILTER_INPUTS:
            continue
        expression = _describe_expression(node.node)
        if expression:
            value = nodes.Const(expression, lineno=node.lineno)
            node.kwargs.append(nodes.Keyword(_EXPRESSION_KEYWORD, value, lineno=node.lineno))
    tree.set_environment(env)


def _kind_of(value: Any) -> str:
    """Return what ``value`` is, in French words."""
    if isinstance(value, str):
        return "un texte"
    if isinstance(value, bool):
        return "une valeur oui/non"
    if isinstance(value, (int, Decimal, float)):
        return "un nombre"
    if isinstance(value, datetime):
        return "une date et heure"
    if isinstance(value, date):
        return "une date"
    if isinstance(value, time):
        return "une heure"
    if isinstance(value, Mapping):
        return "un groupe de valeurs"
    if isinstance(value, (list, tuple)):
        return "une liste"
    return "une valeur"


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _checked_filter(name: str, func: Callable[..., str]) -> Callable[..., str]:
    """Return ``func`` wrapped so that a wrong value or wrong arguments raise a French
    :class:`FilterError` naming the filter and the expression."""
    signature = inspect.signature(func)

    def checked(value: Any, *args: Any, **kwargs: Any) -> str:
        expression = kwargs.pop(_EXPRESSION_KEYWORD, None)
        subject = f"à « {expression} »" if expression else "à la valeur"
        try:
            return func(value, *args, **kwargs)
        except (TypeError, AttributeError) as err:
            # Wrong arguments, or a value of the wrong type: the signature tells (checked
            # only then, a filter being called thousands of times in a batch).
            try:
                signature.bind(value, *args, **kwargs)
            except TypeError as wrong:
                raise FilterError(
                    f"le filtre « {name} » est mal appelé (arguments incorrects) ; "
                    f"écrivez-le par exemple {filter_usage(name)}"
                ) from wrong
            raise FilterError(
                f"le filtre « {name} » ne s'applique pas {subject}, qui est {_kind_of(value)} "
                f"(« {_shorten(str(value))} ») : il attend {_FILTER_INPUTS[name]}"
            ) from err
        except (ValueError, ArithmeticError) as err:
            origin = f" de « {expression} »" if expression else ""
            raise FilterError(
                f"le filtre « {name} » ne sait pas mettre en forme la valeur « {_shorten(str(value))} »{origin}"
            ) from err

    checked.__name__ = name
    return checked


def build_environment(thousands_separator: str = NNBSP) -> TemplateEnvironment:
    """Return the sandboxed Jinja environment every template is rendered with."""
    env = TemplateEnvironment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.filters.update(
        {name: _checked_filter(name, func) for name, func in make_filters(thousands_separator).items()}
    )
    return env


# --- Rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedTemplate:
    """A template file read once: its name (as the catalogue knows it), where it was
    read from, and its bytes. Rendering never reads the disk again."""

    name: str
    origin: Path
    data: bytes

    @property
    def is_docx(self) -> bool:
        """True for a Word template, False for a text (HTML) one."""
        return self.name.lower().endswith(".docx")


def load_template(path: Path, name: str | None = None) -> LoadedTemplate:
    """Return the template at ``path``, read once. Raises TemplateError when it is
    missing or unreadable."""
    name = name or path.name
    if not path.is_file():
        raise TemplateError(f"modèle « {name} » introuvable dans le dossier « {path.parent} ».")
    try:
        return LoadedTemplate(name, path, path.read_bytes())
    except OSError as err:
        raise TemplateError(f"le modèle « {name} » ne peut pas être lu : {describe_os_error(err)}.") from err


def render(
    template: Path | LoadedTemplate,
    context: Mapping[str, Any],
    *,
    title: str,
    timestamp: datetime,
    env: jinja2.Environment | None = None,
) -> bytes:
    """Return the rendered document for ``template`` (a path, or a template loaded once
    with :func:`load_template`; .docx → Word, .html → HTML text in UTF-8). ``title``
    becomes the Word document's title property (shortened to the 255 characters Word
    allows), ``timestamp`` its creation and modification dates.

    Raises :class:`TemplateError` (one French sentence naming the template) when the
    template is missing, unreadable, not a valid .docx, badly formed, refused by the
    sandbox, or fails while being filled (unknown variable, filter on a wrong value…).
    """
    env = env or build_environment()
    loaded = template if isinstance(template, LoadedTemplate) else load_template(template)
    context = _without_marks(context)
    with translated_errors(loaded, document_label(context, title)):
        if loaded.is_docx:
            return _render_docx(loaded, context, env, title, timestamp)
        return _render_text(loaded, context, env)


def document_label(context: Mapping[str, Any], title: str) -> str:
    """Return how a message names the document being made when it is one beneficiary's
    (« pour le document « … » du bénéficiaire B05 »: an error due to one beneficiary's
    values must be found among a thousand), or "" (a document of the whole operation is
    the only one made from its template)."""
    beneficiary = context.get("beneficiaire")
    identifier = beneficiary.get("identifiant") if isinstance(beneficiary, Mapping) else None
    if not isinstance(identifier, str) or not identifier:
        return ""
    title = _shorten(plain_text(title), 100)
    return f" pour le document « {title} » du bénéficiaire {identifier}" if title else f" pour le bénéficiaire {identifier}"


@contextlib.contextmanager
def translated_errors(template: LoadedTemplate, document: str = "") -> Iterator[None]:
    """Turn any error of the block due to ``template`` into one French
    :class:`TemplateError` naming it (and, for an error while filling it, ``document``:
    :func:`document_label`); other exceptions (bugs) pass through."""
    name, is_docx = template.name, template.is_docx
    try:
        yield
    except DotationError:
        raise
    except _UnsupportedTagError as err:
        raise TemplateError(unsupported_tag_message(name, err.message or "", err.source, err.lineno, is_docx)) from err
    except jinja2.TemplateSyntaxError as err:
        where = _where(err.source, err.lineno, is_docx, excerpt="end of template" not in str(err.message).lower())
        raise TemplateError(
            f"le modèle « {name} » contient une balise mal formée{where} : {_translate_syntax(err)}. "
            "Vérifiez les accolades {{ … }} et {% … %}."
        ) from err
    except _RenderFailure as err:
        # An unknown variable is named, which is enough to find it (and the message documented).
        where = "" if isinstance(err.original, jinja2.UndefinedError) else _where(err.source, err.lineno, is_docx)
        raise TemplateError(
            f"le modèle « {name} » ne peut pas être rempli{document}{where} : {_translate_runtime(err.original)}."
        ) from err
    except jinja2.TemplateError as err:
        raise TemplateError(
            f"le modèle « {name} » ne peut pas être rempli{document} : {_translate_runtime(err)}."
        ) from err
    except UnicodeDecodeError as err:
        raise TemplateError(f"le modèle « {name} » n'est pas un texte UTF-8 ; enregistrez-le en UTF-8.") from err
    except OSError as err:
        raise TemplateError(f"le modèle « {name} » ne peut pas être lu : {describe_os_error(err)}.") from err


def unsupported_tag_message(name: str, tag: str, source: str | None, lineno: int | None, is_docx: bool) -> str:
    """Return the French message for a tag that loads another template file."""
    return (
        f"le modèle « {name} » utilise la balise « {tag} »{_where(source, lineno, is_docx)}, "
        "qui n'est pas prise en charge : un modèle ne peut pas inclure, importer ou étendre un autre "
        "fichier de modèle ; recopiez-en le contenu dans ce modèle."
    )


@dataclass(frozen=True)
class Source:
    """One piece of Jinja source of a template (an HTML file; a Word part or property),
    with ``text`` True for a document property (rendered without XML escaping)."""

    text: str
    properties: bool = False


def template_sources(template: LoadedTemplate) -> list[Source]:
    """Return the Jinja sources of ``template`` as the renderer sees them: the text of
    an HTML template; for a Word template its body, headers, footers and footnotes (after
    docxtpl's tag clean-up) and its text properties. Raises TemplateError when it is not
    a valid .docx or not UTF-8."""
    with translated_errors(template):
        if not template.is_docx:
            return [Source(template.data.decode("utf-8"))]
        doc = _open_docx(template)
        parts = [doc.get_xml()]
        main = doc.docx.part
        for rel in main.rels.values():
            if not rel.is_external and rel.reltype in (RT.HEADER, RT.FOOTER) and rel.target_part.blob:
                parts.append(doc.get_part_xml(rel.target_part))
        for part in main.package.iter_parts():
            if part.content_type == _NOTES[0]:
                parts.append(part.blob.decode("utf-8"))
        sources = [Source(prepared_source(xml)) for xml in parts]
        props = doc.docx.core_properties
        sources += [Source(value, True) for value in (getattr(props, n) or "" for n in _TEXT_PROPERTIES) if value]
        return sources


@functools.lru_cache(maxsize=64)
def prepared_source(xml: str) -> str:
    """Return the Jinja source of a Word part's XML as docxtpl renders it: its
    preprocessing (``patch_xml``: ``{%p``, ``{%tr``, tags split over runs…), then a line
    break before each paragraph. Remembered: the template check and the compiled
    renderer prepare the same parts (docxtpl's preprocessing is a long series of regular
    expressions)."""
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", DocxTemplate.patch_xml(None, xml))  # type: ignore[arg-type]


def parse_source(template: LoadedTemplate, source: Source, env: jinja2.Environment) -> nodes.Template:
    """Return the Jinja tree of one source of ``template``; raises TemplateError (French)
    for a syntax error."""
    with translated_errors(template):
        return env.parse(source.text)


def where(template: LoadedTemplate, source: Source, lineno: int | None) -> str:
    """Return « (ligne 3) » or « (paragraphe « … ») »: where ``lineno`` is, for a message."""
    return _where(source.text, lineno, template.is_docx)


def dry_render(
    template: LoadedTemplate,
    parsed: list[tuple[Source, nodes.Template]],
    contexts: list[Mapping[str, Any]],
    env: jinja2.Environment,
    environments: tuple[jinja2.Environment, jinja2.Environment] | None = None,
) -> list[str]:
    """Fill each source of ``template`` (with its tree from :func:`parse_source`, consumed:
    it is compiled) with each context, as :func:`render` would, without building the
    document; return the French message of each failure (the first one of each source).
    ``environments`` are the environments of the parts and of the properties when they
    are not ``env`` and its plain-text overlay (the renderer's own, which fill a template
    the same way: the templates compiled here are then compiled once for both)."""
    problems = []
    text_env = env.overlay(autoescape=False) if environments is None else environments[1]
    if environments is not None:
        env = environments[0]
    for source, tree in parsed:
        source_env = text_env if source.properties else env
        try:
            with translated_errors(template):
                if isinstance(source_env, TemplateEnvironment):  # compiled once for the renderer too
                    compiled = compile_source(source_env, source.text, tree)
                else:
                    _label_filter_calls(tree, source_env)
                    compiled = source_env.from_string(tree)
                    compiled.source_text = source.text  # type: ignore[attr-defined]
                for context in contexts:
                    compiled.render(_without_marks(context))
        except TemplateError as err:
            problems.append(err.message)
    return list(dict.fromkeys(problems))


UNSUPPORTED_TAGS = _UNSUPPORTED_TAGS


def _without_marks(value: Any) -> Any:
    """Return the context with the typographic marks removed from every string: only the
    filters may produce them, never a workbook value."""
    if isinstance(value, str):
        return strip_marks(value) if _MARK.search(value) else value
    if isinstance(value, Mapping):
        return {key: _without_marks(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_marks(item) for item in value]
    return value


def _render_text(template: LoadedTemplate, context: Mapping[str, Any], env: jinja2.Environment) -> bytes:
    text = env.from_string(template.data.decode("utf-8")).render(context)
    return html_marks(text).encode("utf-8")


def html_marks(text: str) -> str:
    """Return rendered HTML with the typographic marks as HTML: <sup>…</sup>, U+2011."""
    return (
        text.replace(SUPERSCRIPT_START, "<sup>")
        .replace(SUPERSCRIPT_END, "</sup>")
        .replace(NO_BREAK_HYPHEN, "\u2011")
    )


class _DocxTemplate(DocxTemplate):
    """docxtpl's template, refusing a rendered part that libxml2 would cut."""

    def render_xml_part(self, src_xml: str, part: Any, context: Any, jinja_env: Any = None) -> str:
        xml = super().render_xml_part(src_xml, part, context, jinja_env)
        _check_xml_texts(xml)
        return xml


def _open_docx(template: LoadedTemplate) -> DocxTemplate:
    """Return the Word template ready to render (a fresh object on each call: docxtpl
    renders in place); raises TemplateError when it is not a valid .docx."""
    name = template.name
    save_as = "enregistrez-le depuis Word ou LibreOffice au format « Word 2007-365 (.docx) »"
    try:
        doc = _DocxTemplate(io.BytesIO(template.data))
        doc.init_docx()
        return doc
    except ValueError as err:  # python-docx: "file '…' is not a Word file, content type is '…'"
        found = str(err)
        kind = (
            "un classeur Excel" if "spreadsheetml" in found
            else "une présentation PowerPoint" if "presentationml" in found
            else "un autre type de fichier"
        )
        raise TemplateError(f"le modèle « {name} » est {kind} renommé en .docx, pas un document Word ; {save_as}.") from err
    except etree.XMLSyntaxError as err:
        raise TemplateError(
            f"le modèle « {name} » est endommagé (contenu XML incomplet ou mal formé) ; "
            "remplacez-le par une copie intacte."
        ) from err
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, EOFError) as err:
        raise TemplateError(f"le modèle « {name} » n'est pas un document Word (.docx) valide ; {save_as}.") from err


def _render_docx(
    template: LoadedTemplate, context: Mapping[str, Any], env: jinja2.Environment, title: str, timestamp: datetime
) -> bytes:
    doc = _open_docx(template)
    props = doc.docx.core_properties
    # docxtpl renders the document properties with the escaping meant for the body's XML,
    # which would show "R&amp;D", and would fail on a value over 255 characters: they are
    # blanked for docxtpl, then rendered here as plain text (python-docx escapes them).
    sources = {name: getattr(props, name) or "" for name in _TEXT_PROPERTIES}
    for name in (*_TEXT_PROPERTIES, "title"):
        setattr(props, name, "")
    try:
        doc.render(dict(context), jinja_env=env, autoescape=True)
    except etree.XMLSyntaxError as err:
        raise TemplateError(
            f"le modèle « {template.name} » produit un document Word invalide (XML mal formé), "
            "par exemple à cause du filtre « safe » : retirez-le."
        ) from err
    _apply_marks_to_parts(doc)
    text_env = env.overlay(autoescape=False)
    for name, source in sources.items():
        setattr(props, name, fit_property(plain_text(text_env.from_string(source).render(context))))
    props.title = fit_property(plain_text(title))
    props.created = props.modified = timestamp
    props.revision = 1
    props.last_modified_by = "dotation-docs"
    buffer = io.BytesIO()
    doc.save(buffer)
    return normalize_zip(buffer.getvalue(), level=DOCX_COMPRESSION)


def _apply_marks_to_parts(doc: DocxTemplate) -> None:
    """Turn the typographic marks into Word formatting in the body, headers, footers and
    notes of the rendered document."""
    main = doc.docx.part
    _apply_marks(doc.docx.element)
    for rel in main.rels.values():
        if not rel.is_external and rel.reltype in (RT.HEADER, RT.FOOTER):
            _apply_marks(rel.target_part.element)
    for part in main.package.iter_parts():
        if part.content_type in _NOTES and _MARK.search(part.blob.decode("utf-8")):
            root = parse_xml(part.blob)
            _apply_marks(root)
            part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _apply_marks(root: etree._Element) -> None:
    """Split each run whose text carries typographic marks: the superscript part becomes a
    run of its own with the same formatting plus ``w:vertAlign superscript``, a
    non-breaking hyphen mark a ``w:noBreakHyphen``. A mark anywhere else is removed."""
    runs = {t.getparent() for t in root.iter(qn("w:t")) if t.text and _MARK.search(t.text)}
    for run in runs:
        if run is not None and run.tag == qn("w:r"):
            _split_run(run)
    for element in root.iter():
        if isinstance(element.tag, str) and element.text and _MARK.search(element.text):
            element.text = plain_text(element.text)


def _split_run(run: etree._Element, make: Callable[[str], etree._Element] = OxmlElement) -> None:
    """Split ``run`` at its typography marks into runs, the superscript ones raised;
    ``make`` builds an element from its ``w:`` tag (python-docx's ``OxmlElement``, or the
    compiled renderer's plain lxml elements: same XML)."""
    properties = run.find(qn("w:rPr"))
    pieces: list[tuple[bool, etree._Element]] = []  # (in superscript, content element)
    raised = False
    for child in list(run):
        if child is properties:
            continue
        if child.tag != qn("w:t") or not child.text or not _MARK.search(child.text):
            pieces.append((raised, child))
            continue
        for token in _MARK_SPLIT.split(child.text):
            if token == SUPERSCRIPT_START:
                raised = True
            elif token == SUPERSCRIPT_END:
                raised = False
            elif token == NO_BREAK_HYPHEN:
                pieces.append((raised, make("w:noBreakHyphen")))
            elif token:
                text = make("w:t")
                text.text = token
                text.set(qn("xml:space"), "preserve")
                pieces.append((raised, text))
    for superscript, group in itertools.groupby(pieces, key=lambda piece: piece[0]):
        new_run = make("w:r")
        for key, value in run.attrib.items():
            new_run.set(key, value)
        if properties is not None or superscript:
            new_properties = copy.deepcopy(properties) if properties is not None else make("w:rPr")
            if superscript:
                _raise(new_properties, make)
            new_run.append(new_properties)
        for _, element in group:
            new_run.append(element)
        run.addprevious(new_run)
    run.getparent().remove(run)


def _raise(properties: etree._Element, make: Callable[[str], etree._Element] = OxmlElement) -> None:
    """Set ``w:vertAlign superscript`` in the run properties, at its place in the schema."""
    for old in properties.findall(qn("w:vertAlign")):
        properties.remove(old)
    align = make("w:vertAlign")
    align.set(qn("w:val"), "superscript")
    follower = next((child for child in properties if child.tag in _AFTER_VERT_ALIGN), None)
    if follower is None:
        properties.append(align)
    else:
        follower.addprevious(align)


def fit_property(text: str) -> str:
    """Return ``text`` shortened to :data:`PROPERTY_MAX_LENGTH` characters with a final
    "…" when it is longer, never cutting a character from its accents or joiners."""
    if len(text) <= PROPERTY_MAX_LENGTH:
        return text
    cut = PROPERTY_MAX_LENGTH - 1
    # Step back while the first dropped character belongs to the previous one (a combining
    # accent, a variation selector, a skin tone) or follows a zero-width joiner.
    while cut > 0 and (_continues_character(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return text[:cut].rstrip() + "…"


def _continues_character(char: str) -> bool:
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me")
        or char == "\u200d"
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tone modifiers
    )


def normalize_zip(data: bytes, level: int | None = None) -> bytes:
    """Return the same zip archive with every entry dated :data:`ZIP_EPOCH`, so that
    identical content gives identical bytes; ``level`` is the deflate level (zlib's default
    when None)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    # A template saved by LibreOffice's "Office Open XML" filter may carry an entry twice
    # (docProps/core.xml), which Word reports as corrupt: each name is written once.
    names = list(dict.fromkeys(info.filename for info in source.infolist()))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in names:
            info = source.getinfo(name)
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename), compresslevel=level)
    return out.getvalue()


# --- French messages ------------------------------------------------------------------------


def _where(source: str | None, lineno: int | None, is_docx: bool, excerpt: bool = True) -> str:
    """Return where the error is: the line of an HTML template; for a Word template (whose
    lines are lines of XML, meaningless to the agent), the text of the paragraph."""
    if not lineno:
        return ""
    if not is_docx:
        return f" (ligne {lineno})"
    lines = (source or "").splitlines()
    if not excerpt or lineno > len(lines):
        return ""
    text = _shorten(html.unescape(re.sub(r"<[^>]+>", "", lines[lineno - 1])), 80)
    return f" (paragraphe « {text} »)" if text else ""


def _token(description: str) -> str:
    """Return Jinja's description of a token in French."""
    names = {
        "end of print statement": "« }} »",
        "end of statement block": "« %} »",
        "begin of print statement": "« {{ »",
        "begin of statement block": "« {% »",
        "end of template": "la fin du modèle",
        "name": "un nom",
        "integer": "un nombre",
        "float": "un nombre",
        "string": "un texte entre guillemets",
    }
    return names.get(description, f"« {description} »")


def _tag_list(text: str) -> list[str]:
    return re.findall(r"'([^']+)'", text)


def _translate_syntax(err: jinja2.TemplateSyntaxError) -> str:
    """Return Jinja's English syntax message in French; a generic French sentence when it
    is not one of the known forms (the agent never reads English)."""
    message = str(err.message or "")
    if match := re.fullmatch(r"No (filter|test) named '([^']+)'\.?(?: found\.)?", message):
        kind = "filtre" if match.group(1) == "filter" else "test"
        return f"le {kind} « {match.group(2)} » n'existe pas (voir docs/modeles.md pour la liste des filtres)"
    if match := re.match(r"Expected an expression, got '([^']+)'", message):
        return f"une variable ou une valeur manque avant {_token(match.group(1))}"
    if message == "tag name expected":
        return "une balise « {% %} » ne contient aucune instruction"
    if match := re.match(
        r"Encountered unknown tag '([^']+)'\.(?: Jinja was looking for the following tags: (.*?)\."
        r" The innermost block that needs to be closed is '([^']+)'\.)?",
        message,
    ):
        tag, expected, block = match.groups()
        if block:
            closing = next((t for t in _tag_list(expected) if t.startswith("end")), f"end{block}")
            return (f"« {{% {tag} %}} » arrive alors que le bloc « {{% {block} %}} » n'est pas fermé : "
                    f"il attend « {{% {closing} %}} »")
        if tag.startswith("end"):
            return f"« {{% {tag} %}} » ne ferme aucun bloc ouvert"
        return f"l'instruction « {{% {tag} %}} » n'existe pas"
    if match := re.match(
        r"Unexpected end of template\. Jinja was looking for the following tags: (.*?)\."
        r" The innermost block that needs to be closed is '([^']+)'\.",
        message,
    ):
        expected, block = match.groups()
        closing = next((t for t in _tag_list(expected) if t.startswith("end")), f"end{block}")
        return f"le bloc « {{% {block} %}} » n'est jamais fermé : ajoutez « {{% {closing} %}} »"
    if match := re.match(r"unexpected end of template, expected '([^']+)'", message):
        return f"une balise n'est pas fermée à la fin du modèle : {_token(match.group(1))} manque"
    if match := re.fullmatch(r"unexpected '([^']+)', expected '([^']+)'", message):
        return f"{_token(match.group(1))} trouvé là où {_token(match.group(2))} est attendu"
    if match := re.fullmatch(r"unexpected '([^']+)'", message):
        return f"{_token(match.group(1))} inattendu"
    if match := re.match(r"""unexpected char (['"])(.)\1 at \d+""", message):
        char = match.group(2)
        if char in "'\"":
            return f"un guillemet {char} n'est pas fermé"
        return f"caractère « {char} » inattendu dans une balise"
    if match := re.fullmatch(r"expected token '([^']+)', got '([^']+)'", message):
        return f"{_token(match.group(1))} attendu, {_token(match.group(2))} trouvé"
    if message == "expected name or number":
        return "un nom est attendu après le point"
    if message == "invalid syntax for function call expression":
        return "les arguments d'un filtre ou d'une fonction sont mal écrits"
    if message == "Missing end of comment tag":
        return "un commentaire « {# » n'est pas fermé par « #} »"
    if message.startswith("Missing end of raw directive"):
        return "« {% raw %} » n'est pas fermé par « {% endraw %} »"
    if match := re.fullmatch(r"block '([^']+)' defined twice", message):
        return f"le bloc « {match.group(1)} » est défini deux fois"
    return "la syntaxe d'une balise n'est pas comprise"


_UNDEFINED = re.compile(r"'(?:[^']*)' (?:object )?has no attribute '([^']+)'|'([^']+)' is undefined")
_NO_ELEMENT = re.compile(r"'?(?:[^']*?)'? (?:object )?has no element (.+)")
_UNSAFE = re.compile(r"access to attribute '([^']+)' of '([^']+)' object is unsafe")


def _translate_runtime(err: BaseException) -> str:
    """Return the French reason why a template could not be filled."""
    message = str(getattr(err, "message", None) or err)
    if isinstance(err, (FilterError, SizeLimitError, UnprintableError)):
        return message
    if isinstance(err, RecursionError):
        return "une macro s'appelle elle-même sans fin"
    if isinstance(err, jinja2.TemplateSyntaxError):
        return _translate_syntax(err)
    if isinstance(err, jinja2.UndefinedError):
        if match := _UNSAFE.search(message):
            return _unsafe(match.group(1))
        if match := _UNDEFINED.search(message):
            name = match.group(1) or match.group(2)
            return f"la variable « {name} » n'existe pas (voir docs/modeles.md pour la liste des variables)"
        if match := _NO_ELEMENT.search(message):
            return f"l'élément {match.group(1)} n'existe pas dans la liste"
        return "une variable n'existe pas (voir docs/modeles.md pour la liste des variables)"
    if isinstance(err, SecurityError):
        if match := _UNSAFE.search(message):
            return _unsafe(match.group(1))
        return "cette fonction ne peut pas être appelée depuis un modèle (protection contre l'exécution de code)"
    if isinstance(err, ZeroDivisionError):
        return "une expression divise par zéro"
    if isinstance(err, OverflowError):
        return "une expression produit un nombre ou une suite trop grande"
    return "une expression ne peut pas être calculée (valeurs de types incompatibles ou opération impossible)"


def _unsafe(attribute: str) -> str:
    return (f"l'accès à « {attribute} » est interdit dans un modèle "
            "(protection contre l'exécution de code)")
