"""Rendering, compiled once: a Word template prepared a single time per run, then filled
for each document at a fraction of the cost of :func:`dotation_docs.rendering.render`.

:func:`compile_docx` does once what docxtpl does for every document: it loads the template
with python-docx, applies docxtpl's own XML preprocessing (``{%p``, ``{%tr``, ``{%tc``,
``{%r``, tags split over several runs…) to the body, the headers, the footers and the
footnotes, compiles each part and each document property with the sandboxed environment, and
keeps every zip entry that rendering does not touch as already-compressed bytes.
:meth:`CompiledDocxTemplate.render` then runs the compiled Jinja code, applies docxtpl's
post-processing (line breaks and tabs, table grid, picture ids) and the tool's typography
marks, and writes the zip itself, copying the untouched entries raw. Every part of the
result is identical, byte for byte, to what :func:`rendering.render` writes for the same
template and context (the zip bytes too, at the default compression level,
:data:`rendering.DOCX_COMPRESSION`); errors are the same French :class:`TemplateError`
naming the template.

Around the compiled Jinja code, each document only pays for what it may need: whether a
table can ever need docxtpl's ``fix_tables`` is decided once per template when its
statements allow it (:func:`_static_tables`); the marks are counted in the rendered text so
that the search stops once they are all found; the parts of the context shared by every
document are prepared once; headers and footers that come out the same are serialized
once; the document properties are spliced into their serialized form.

What the fast path does not reproduce falls back to :func:`rendering.render` for that
template or that document (see :attr:`CompiledDocxTemplate.fallback_reason`): docxtpl
objects in the context (``InlineImage``, ``Subdoc``, ``RichText``, ``Listing``), which need
a ``DocxTemplate`` of their own.
"""

from __future__ import annotations

import copy
import io
import itertools
import logging
import re
import struct
import types
import weakref
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from docx.opc.coreprops import CoreProperties
from docx.oxml import parse_xml
from docx.oxml.ns import qn
from docxtpl import DocxTemplate
from lxml import etree

from dotation_docs import rendering
from dotation_docs.exceptions import DotationError, TemplateError, describe_os_error
from dotation_docs.formatting import (
    MARKS,
    NO_BREAK_HYPHEN,
    SUPERSCRIPT_END,
    SUPERSCRIPT_START,
    plain_text,
    strip_marks,
)
from dotation_docs.rendering import (
    ZIP_EPOCH,
    LoadedTemplate,
    _RenderFailure,
    _translate_runtime,
    _translate_syntax,
    _UnsupportedTagError,
    _check_xml_texts,
    _where,
    fit_property,
)

log = logging.getLogger(__name__)

# Deflate level of every entry: the level ``rendering.render`` uses, so that the zip bytes
# are identical too.
DEFAULT_LEVEL = rendering.DOCX_COMPRESSION
_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
_MARK = re.compile(f"[{''.join(MARKS)}]")
_PARAGRAPH_JOIN = re.compile(r"\n<w:p([ >])")
_LISTING_CHARS = re.compile("[\t\a\n\f]")
_DOCPR_XPATH = etree.XPath(
    "//wp:docPr", namespaces={"wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"}
)
_SECTIONS_XPATH = etree.XPath(  # python-docx's sections, from the body
    "./w:p/w:pPr/w:sectPr | ./w:sectPr",
    namespaces={"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"},
)
# docxtpl's ``fix_tables`` parses the rendered body with this (forgiving) parser.
_BODY_PARSER = etree.XMLParser(recover=True)
_SNIPPET_PARSER = etree.XMLParser()  # a run carrying marks, parsed alone: strict
_W_R = qn("w:r")
_W_T = qn("w:t")
_W_NSMAP = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
# A character reference to a mark (never written by the tool; a template could).
_MARK_REFERENCE = re.compile(
    "&#(?:[xX]0*(?:" + "|".join(f"{ord(m):x}" for m in MARKS) + ")|0*(?:" + "|".join(str(ord(m)) for m in MARKS) + "));",
    re.IGNORECASE,
)
# Characters XML 1.0 does not allow: the forgiving parser may drop text around them.
# A property value python-docx would not write as plain escaped text (or would refuse).
_UNPLAIN_PROPERTY = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
# Every byte but the control characters XML does not allow (deleted to find those).
_XML_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in (0x09, 0x0A, 0x0D))
_ANY_MARK = etree.XPath("boolean(//text()[" + " or ".join(f"contains(., '{m}')" for m in MARKS) + "])")
_DOS_TIME = (ZIP_EPOCH[3] << 11) | (ZIP_EPOCH[4] << 5) | (ZIP_EPOCH[5] // 2)
_DOS_DATE = ((ZIP_EPOCH[0] - 1980) << 9) | (ZIP_EPOCH[1] << 5) | ZIP_EPOCH[2]
_EXTERNAL_ATTR = 0o644 << 16
# Flags of a prepared context.
_FOREIGN = 1  # holds a docxtpl object: docxtpl's own rendering
_UNUSUAL = 2  # holds a value of another type (a str subclass such as Markup…): no shortcut
_PLAIN_TYPES = frozenset({int, bool, float, Decimal, date, datetime, time, type(None)})
_PLAIN_OR_TEXT = _PLAIN_TYPES | {str}
_resolve_listing = DocxTemplate.resolve_listing
_fix_tables = DocxTemplate.fix_tables


# --- Zip writing --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One compressed zip entry: its local header and data, and its central directory record
    without the offset (packed when the archive is written)."""

    local: bytes
    central_head: bytes  # up to the relative offset of the local header
    name: bytes

    @classmethod
    def compress(cls, name: str, data: bytes, level: int) -> _Entry:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        packed = compressor.compress(data) + compressor.flush()
        crc = zlib.crc32(data)
        encoded, flags = _encode_name(name)
        # Same fields as zipfile.ZipFile.writestr gives a ZipInfo dated ZIP_EPOCH.
        local = struct.pack(
            zipfile.structFileHeader, zipfile.stringFileHeader, 20, 0, flags, zipfile.ZIP_DEFLATED,
            _DOS_TIME, _DOS_DATE, crc, len(packed), len(data), len(encoded), 0,
        ) + encoded + packed
        central_head = struct.pack(
            "<4s4B4HL2L5H2L", zipfile.stringCentralDir, 20, 3, 20, 0, flags, zipfile.ZIP_DEFLATED,
            _DOS_TIME, _DOS_DATE, crc, len(packed), len(data), len(encoded), 0, 0, 0, 0, _EXTERNAL_ATTR, 0,
        )[:-4]
        return cls(local, central_head, encoded)


def _compressed(name: str, data: bytes | _Entry, level: int) -> _Entry:
    return data if isinstance(data, _Entry) else _Entry.compress(name, data, level)


def _encode_name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), 0x800


def _write_zip(entries: list[_Entry]) -> bytes:
    """Return the zip archive of ``entries``, laid out as :mod:`zipfile` lays it out."""
    chunks: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for entry in entries:
        chunks.append(entry.local)
        central.append(entry.central_head + struct.pack("<L", offset) + entry.name)
        offset += len(entry.local)
    directory = b"".join(central)
    end = struct.pack(
        zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, len(entries), len(entries),
        len(directory), offset, 0,
    )
    return b"".join(chunks) + directory + end


# --- The compiled template ----------------------------------------------------------------


class _Part:
    """A rendered part: its Jinja template, or the error compiling it raised (raised again
    when a document reaches this part, as docxtpl would)."""

    def __init__(self, env: jinja2.Environment, source: str) -> None:
        self.text: _TextForm | None = None  # how it is written without parsing, when it can be
        self.template: jinja2.Template | None = None
        self.error: Exception | None = None
        self.globals = env.globals  # the variables every rendering sees besides the context
        try:
            self.template = env.from_string(source)
        except jinja2.TemplateError as err:  # syntax, refused tag: reported per document
            self.error = err
        #: The text every rendering gives when the source holds no Jinja (a document
        #: property, usually): then it is not rendered.
        self.constant = _constant_text(env, source) if self.error is None else None
        #: The compiled code with docxtpl's paragraph joining done on its constant text
        #: (see :meth:`join_paragraphs`), or None.
        self.joined: Callable[..., Any] | None = None

    def join_paragraphs(self) -> None:
        """Prepare :attr:`joined`: the compiled code whose text constants are already
        joined as ``render_xml_part`` joins the rendered text (``\n<w:p`` becomes
        ``<w:p``), so that the rendered text needs no joining. Only for a part whose
        printed values are always escaped text (a :class:`_TextForm` part, a context with
        plain values): a value then holds no ``<``, and the joining of the whole text is
        the joining of each constant when no constant ends with the start of a
        ``\n<w:p`` nor starts with ``<w:p`` (proof: each removed line break is followed,
        within its constant, by ``<w:p`` and a space or ``>``; a line break ending a value
        is followed by a constant that does not start with ``<w:p``). Left None when a
        constant of the code (a printed text or any other string) does not allow it."""
        template = self.template
        if template is None or self.constant is not None or self.error is not None:
            return
        func = template.root_render_func  # type: ignore[attr-defined]
        literals = func.__globals__.get("dotation_literals")
        if literals is None:
            return
        code = _joined_code(func.__code__, literals)
        if code is not None and not getattr(template, "blocks", None):
            self.joined = type(func)(code, func.__globals__, func.__name__, func.__defaults__, func.__closure__)

    def render(self, context: Mapping[str, Any], scope: _Scope | None = None, joined: bool = False) -> str:
        """The part rendered for ``context``. ``scope`` is, when given, :func:`_scope` of
        ``context`` for the environment's globals, built once for every part of a document
        (Jinja builds it again for each template it renders): the same result, the same
        errors."""
        if self.error is not None:
            raise self.error
        if self.constant is not None:
            return self.constant
        template = self.template
        assert template is not None
        if scope is None or scope[0] is not self.globals:
            return template.render(context)
        # Template.render and _Template.render, with the context's variables merged once.
        env = template.environment
        func = self.joined if joined else template.root_render_func  # type: ignore[attr-defined]
        try:
            try:
                return env.concat(func(
                    _Context(env, scope[1], template.name, template.blocks, globals=template.globals)))
            except Exception:
                env.handle_exception()
        except jinja2.TemplateSyntaxError:
            raise
        except Exception as err:
            lineno = rendering._template_line(err.__traceback__)
            if lineno is None and not isinstance(err, jinja2.TemplateError):
                raise
            raise _RenderFailure(err, lineno, template.source_text) from err  # type: ignore[attr-defined]


# The ends of a constant after which a value could complete a ``\n<w:p`` (a value never
# holds ``<``), and the starts of one completing a line break ending a value.
_JOIN_CUT_ENDS = ("\n", "\n<", "\n<w", "\n<w:", "\n<w:p")


def _joined_code(code: Any, literals: frozenset[str]) -> Any:
    """``code`` (a compiled Jinja function) with each string constant joined as
    :data:`_PARAGRAPH_JOIN` joins, or None when a string constant ends with a piece of
    ``\n<w:p`` or starts with one of ``<w:p``, or when one that joining would change is
    also a string the template's expressions use (``literals``, recorded by
    :class:`_CodeGenerator`): see :meth:`_Part.join_paragraphs`."""
    constants = []
    for constant in code.co_consts:
        constant = _joined_constant(constant, literals)
        if constant is _NOT_JOINED:
            return None
        constants.append(constant)
    return code.replace(co_consts=tuple(constants))


_NOT_JOINED = object()


def _joined_constant(constant: Any, literals: frozenset[str]) -> Any:
    """A constant of compiled Jinja code, joined (see :func:`_joined_code`), or
    :data:`_NOT_JOINED`."""
    kind = type(constant)
    if kind is str:
        if constant and ("<w:p".startswith(constant[:4]) or constant.endswith(_JOIN_CUT_ENDS)):
            return _NOT_JOINED
        if "\n<w:p" not in constant:
            return constant
        return _NOT_JOINED if constant in literals else _PARAGRAPH_JOIN.sub(r"<w:p\1", constant)
    if kind is types.CodeType:
        joined = _joined_code(constant, literals)
        return _NOT_JOINED if joined is None else joined
    if kind is tuple or kind is frozenset:
        items = [_joined_constant(item, literals) for item in constant]
        return _NOT_JOINED if any(item is _NOT_JOINED for item in items) else kind(items)
    if kind in (int, float, bool, bytes, type(None), type(...)):
        return constant
    return _NOT_JOINED


def _constant_text(env: jinja2.Environment, source: str) -> str | None:
    """``source`` when Jinja renders it as it is whatever the context (no delimiter of
    ``env`` in it, no line break it would change), else None."""
    delimiters = (env.block_start_string, env.variable_start_string, env.comment_start_string,
                  env.line_statement_prefix, env.line_comment_prefix)
    if "\r" in source or any(d and d in source for d in delimiters):
        return None
    if "\n" in source and (env.newline_sequence != "\n" or source.endswith("\n") and not env.keep_trailing_newline):
        return None
    return source


_Context = jinja2.runtime.Context
_Scope = tuple[Mapping[str, Any], dict[str, Any]]


def _scope(globals_: Mapping[str, Any], context: Mapping[str, Any]) -> _Scope | None:
    """Return the globals ``globals_`` and the variables a Jinja template of them rendered
    for ``context`` sees (what ``Template.new_context`` builds: the globals, then the
    context), or None when Jinja would refuse the context (a key that is not a str: then
    each part raises as it does)."""
    try:
        return globals_, dict(globals_, **context)
    except TypeError:
        return None


def _render_xml(part: _Part, context: Mapping[str, Any], listing: bool = False,
                scope: _Scope | None = None, plain: bool = False) -> Any:
    """docxtpl's ``render_xml_part`` without the compilation. With ``listing``, return
    also whether docxtpl's line-break handling ran (``resolve_listing``). ``plain``
    tells that the context holds plain values only (no flag :data:`_UNUSUAL`): then a
    part's code joined once (:meth:`_Part.join_paragraphs`) renders the joined text."""
    if plain and part.joined is not None and scope is not None and scope[0] is part.globals:
        xml = part.render(context, scope, True)
    else:
        # Same as substituting _PARAGRAPH_JOIN (neither replacement can create the other's match).
        xml = part.render(context, scope).replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
    if "_" in xml and ("{_" in xml or "_}" in xml):  # (one character is found much faster than two)
        xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    listed = "\n" in xml or "\t" in xml or "\a" in xml or "\f" in xml
    if listed:  # otherwise resolve_listing changes nothing
        xml = _resolve_listing(None, xml)
    _check_xml_texts(xml)
    return (xml, listed) if listing else xml


def _prepare_source(xml: str) -> str:
    """docxtpl's ``patch_xml`` then the line breaks ``render_xml_part`` adds before compiling."""
    return rendering.prepared_source(xml)


def _escape_text(text: str) -> str:
    """Escape ``text`` as lxml serializes the text of an element."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _serialize(element: etree._Element) -> bytes:
    """Serialize a part as python-docx saves it."""
    return etree.tostring(element, encoding="UTF-8", standalone=True)


class CompiledDocxTemplate:
    """A Word template compiled once; :meth:`render` fills it for one document. Create it
    with :func:`compile_docx`."""

    def __init__(self, template: LoadedTemplate, env: jinja2.Environment, level: int = DEFAULT_LEVEL) -> None:
        #: The template as loaded once (rendering and the fallback use its bytes only).
        self.template = template
        self.name = template.name
        self.env = env
        self.level = level
        #: Why every document of this template goes through docxtpl's rendering (or None).
        self.fallback_reason: str | None = None
        self._preparer = _PREPARER  # shared: a convention and a handover record share variables
        doc = rendering._open_docx(template)  # TemplateError when it is not a usable .docx
        document = doc.docx
        props = document.core_properties
        sources = {name: getattr(props, name) or "" for name in rendering._TEXT_PROPERTIES}
        for name in (*rendering._TEXT_PROPERTIES, "title"):
            setattr(props, name, "")
        fast_env = _fast_environment(env)
        self._globals = fast_env.globals
        text_env = text_environment(fast_env)
        self._properties = {name: (source, _Part(text_env, source) if source else None)
                            for name, source in sources.items()}
        main = document.part
        self._root = document.element
        body = self._root.body
        self._body_index = self._root.index(body)
        body_xml = etree.tostring(body, encoding="unicode")  # docxtpl's get_xml
        body_source = _prepare_source(body_xml)
        self._body = _Part(fast_env, body_source)
        #: Whether no table of the body can ever need docxtpl's ``fix_tables`` whatever the
        #: context (then the tables are not scanned in each document).
        self._tables_fixed, self._nested_paragraphs = _static_tables(body_source, env)
        placeholder = etree.Comment(" dotation-docs: body ")
        self._root.replace(body, placeholder)
        shell = _serialize(self._root)
        marker = b"<!-- dotation-docs: body -->"
        if shell.count(marker) != 1:
            raise AssertionError(f"{template.name}: cannot locate the body in the document")
        before, after = shell.split(marker)
        self._shell = (before, after)
        self._marked_shell = bool(_MARK.search(shell.decode("utf-8")))
        # Inside the document, the body's start tag loses the namespace declarations its
        # ancestor already makes: the start tag the body has alone, and the one it gets there.
        probe = etree.fromstring(body_xml.encode("utf-8"), _BODY_PARSER)
        alone = etree.tostring(probe, encoding="UTF-8")
        self._root.replace(placeholder, probe)
        inside = _serialize(self._root)[len(before):-len(after) or None]
        self._root.remove(probe)
        self._body_tags = (alone[: alone.index(b">") + 1], inside[: inside.index(b">") + 1])
        #: Whether the rendered body can be spliced as text, without parsing it (see
        #: :meth:`_spliced`): decided once, from the template alone.
        self._text = _text_form(body_source, body_xml, env, probe.nsmap,
                                (self._tables_fixed, self._nested_paragraphs))
        self._text_body = self._text is not None and not self._marked_shell
        if self._text is not None:
            self._body.join_paragraphs()
        # Headers then footers, in the order docxtpl renders them.
        self._headers: list[tuple[str, _Part]] = []
        self._header_cache: dict[tuple[int, str], bytes] = {}
        self._entry_cache: dict[tuple[str, bytes], _Entry] = {}
        for uri in (DocxTemplate.HEADER_URI, DocxTemplate.FOOTER_URI):
            for rel in main.rels.values():
                if rel.reltype == uri and rel.target_part.blob:
                    element = parse_xml(rel.target_part.blob)
                    xml = etree.tostring(element, encoding="unicode")
                    source = _prepare_source(xml)
                    part = _Part(fast_env, source)
                    part.text = _text_form(source, xml, env, element.nsmap)
                    if part.text is not None:
                        part.join_paragraphs()
                    self._headers.append((rel.target_part.partname[1:], part))
        package = main.package
        self._footnotes = [
            (part.partname[1:], part.blob, _Part(fast_env, _prepare_source(part.blob.decode("utf-8"))))
            for part in package.iter_parts() if part.content_type == _FOOTNOTES
        ]
        self._core_name = package._core_properties_part.partname[1:]
        self._core_xml = _serialize(props._element)
        self._core_pieces: dict[datetime, tuple[bytes, list[tuple[str, bytes]]] | None] = {}
        # The template as python-docx saves it once the properties are blanked: every entry
        # rendering does not change keeps these bytes, compressed once here.
        buffer = io.BytesIO()
        document.save(buffer)
        self._layout: list[_Entry | str] = []
        rendered = {main.partname[1:], self._core_name, *(n for n, _ in self._headers),
                    *(n for n, _, _ in self._footnotes)}
        with zipfile.ZipFile(buffer) as saved:
            for name in dict.fromkeys(info.filename for info in saved.infolist()):
                if name in rendered:
                    self._layout.append(name)
                else:
                    self._layout.append(_Entry.compress(name, saved.read(name), level))
        self._main_name = main.partname[1:]

    def _core(self, context: Mapping[str, Any], title: str, timestamp: datetime, scope: _Scope | None = None) -> bytes:
        values = {name: "" if part is None else fit_property(plain_text(part.render(context, scope)))
                  for name, (source, part) in self._properties.items()}
        values["title"] = fit_property(plain_text(title))
        pieces = self._core_pieces.get(timestamp)
        if pieces is None:
            if len(self._core_pieces) >= 16:
                self._core_pieces.clear()
            pieces = self._core_pieces[timestamp] = self._core_template(timestamp)
        if pieces:
            head, rest = pieces
            if all(values[name] and not _UNPLAIN_PROPERTY.search(values[name]) for name, _ in rest):
                chunks = [head]
                for name, tail in rest:
                    chunks.append(_escape_text(values[name]).encode("utf-8"))
                    chunks.append(tail)
                return b"".join(chunks)
        return self._core_slow(values, timestamp)

    def _core_slow(self, values: Mapping[str, str], timestamp: datetime) -> bytes:
        """The document properties as :func:`rendering.render` sets them."""
        element = parse_xml(self._core_xml)
        props = CoreProperties(element)
        for name, value in values.items():
            if name != "title":
                setattr(props, name, value)
        props.title = values["title"]
        props.created = props.modified = timestamp
        props.revision = 1
        props.last_modified_by = "dotation-docs"
        return _serialize(element)

    def _core_template(self, timestamp: datetime) -> tuple[bytes, list[tuple[str, bytes]]] | None:
        """Return the serialized properties for ``timestamp`` cut where each non-blank
        property's text goes (the first piece, then each property's name and the piece
        after it), or None when they cannot be found once each."""
        names = [name for name, (_, part) in self._properties.items() if part is not None] + ["title"]
        holders = {name: f"\U000f0000{index}\U000f0001" for index, name in enumerate(names)}
        values = {name: holders.get(name, "") for name in self._properties}
        values["title"] = holders["title"]
        serialized = self._core_slow(values, timestamp)
        positions = []
        for name, holder in holders.items():
            encoded = holder.encode("utf-8")
            if serialized.count(encoded) != 1:
                return None
            positions.append((serialized.index(encoded), name, len(encoded)))
        positions.sort()
        head = serialized[: positions[0][0]]
        rest = []
        for number, (start, name, size) in enumerate(positions):
            end = positions[number + 1][0] if number + 1 < len(positions) else len(serialized)
            rest.append((name, serialized[start + size: end]))
        return head, rest

    def render(self, context: Mapping[str, Any], *, title: str, timestamp: datetime) -> bytes:
        """Return the document for ``context``, identical to :func:`rendering.render`'s.
        Raises :class:`TemplateError` exactly as it does."""
        context, flags = self._preparer.prepare(context)
        if flags & _FOREIGN or self.fallback_reason:
            return rendering.render(self.template, context, title=title, timestamp=timestamp, env=self.env)
        try:
            return self._render(context, title, timestamp, flags)
        except DotationError:
            raise
        except Exception as err:
            translated = _translate(err, self.name, rendering.document_label(context, title))
            if translated is None:
                raise
            raise translated from err

    def _render(self, context: dict[str, Any], title: str, timestamp: datetime, flags: int = _UNUSUAL) -> bytes:
        # Body: docxtpl's build_xml, fix_tables, fix_docpr_ids, map_tree; rendered in the
        # order docxtpl renders the parts, so that the first error is the same.
        scope = _scope(self._globals, context)
        xml, listed = _render_xml(self._body, context, True, scope, not flags & _UNUSUAL)
        document = body = None
        if self._text_body and not flags & _UNUSUAL and not listed and not self._footnotes:
            document = self._spliced(xml)
        if document is None:
            document, body = self._parsed(xml, flags)
        headers = [(name, self._render_header(part, context, flags, scope)) for name, part in self._headers]
        notes = []
        if self._footnotes:
            sections = len(_SECTIONS_XPATH(body))
            notes = [(name, self._render_notes(blob, part, context, sections)) for name, blob, part in self._footnotes]
        parts: dict[str, bytes | _Entry] = {self._main_name: document}
        for name, blob in notes:
            parts[name] = blob
        parts[self._core_name] = self._core(context, title, timestamp, scope)
        level = self.level
        entries = self._entry_cache
        for name, serialized in headers:  # often the same for many documents: compressed once
            entry = entries.get((name, serialized))
            if entry is None:
                if len(entries) >= 64:
                    entries.clear()
                entry = entries[name, serialized] = _Entry.compress(name, serialized, level)
            parts[name] = entry
        return _write_zip([
            entry if isinstance(entry, _Entry) else _compressed(entry, parts[entry], level)
            for entry in self._layout
        ])

    def _spliced(self, xml: str) -> bytes | None:
        """Return the document for the rendered body ``xml`` without parsing it (see
        :class:`_TextForm`), or None when the text must go through the parser (then
        :meth:`_parsed` gives the same bytes)."""
        data = self._text.canonical(xml)
        if data is None:
            return None
        alone, inside = self._body_tags
        return self._shell[0] + inside + data[len(alone):] + self._shell[1]

    def _parsed(self, xml: str, flags: int) -> tuple[bytes, etree._Element]:
        """The document for the rendered body ``xml`` through the parsed tree (docxtpl's
        ``fix_tables``, ``fix_docpr_ids``, the tool's typography marks), and that tree."""
        try:
            data = xml.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the forgiving parser decides
            data = None
            body = etree.fromstring(xml, _BODY_PARSER)
        else:  # the same tree, parsed faster
            body = etree.fromstring(data, _BODY_PARSER)
        check = (
            not self._tables_fixed or flags & _UNUSUAL or data is None
            or data.translate(None, _XML_BYTES) or b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data
            or (self._nested_paragraphs and _LISTING_CHARS.search(xml))
        )
        if check and _tables_need_fixing(body):
            body = _fix_tables(None, xml)
        if "docPr" in xml:
            for number, element in enumerate(_DOCPR_XPATH(body), start=1001):
                element.attrib["id"] = str(number)
        document = None
        marks = _count_marks(xml)
        if not self._marked_shell and not (
            (marks or ("&#" in xml and _MARK_REFERENCE.search(xml))) and _split_marked_runs(body, xml, marks)
        ):
            # Alone, the body serializes as inside the document but for its start tag (which
            # repeats the namespace declarations): spliced into the serialized document.
            serialized = etree.tostring(body, encoding="UTF-8")
            alone, inside = self._body_tags
            # (A declaration repeated inside the body is dropped once in the document: the
            # tree's way below.)
            if serialized.startswith(alone) and serialized.count(b"xmlns") == alone.count(b"xmlns"):
                document = self._shell[0] + inside + serialized[len(alone):] + self._shell[1]
        if document is None:
            # Rare: a mark outside a run (the tool's own walk over the document cleans it),
            # or a body whose start tag the template does not have.
            root = self._root
            root.insert(self._body_index, body)
            try:
                rendering._apply_marks(root)
                document = _serialize(root)
            finally:
                root.remove(body)
        return document, body

    def _render_header(self, part: _Part, context: Mapping[str, Any], flags: int = _UNUSUAL,
                       scope: _Scope | None = None) -> bytes:
        xml, listed = _render_xml(part, context, True, scope, not flags & _UNUSUAL)
        key = (id(part), xml)  # headers and footers often come out the same for many documents
        serialized = self._header_cache.get(key)
        if serialized is None and part.text is not None and not listed and not flags & _UNUSUAL:
            data = part.text.canonical(xml)
            if data is not None:
                serialized = _DECLARATION + data
        if serialized is None:
            element = parse_xml(xml.encode("utf-8"))
            if _count_marks(xml):
                _apply_marks(element)
            serialized = _serialize(element)
            if len(self._header_cache) >= 64:
                self._header_cache.clear()
            self._header_cache[key] = serialized
        return serialized

    def _render_notes(self, blob: bytes, part: _Part, context: Mapping[str, Any], sections: int) -> bytes:
        # docxtpl renders the footnotes once per section of the document, each time over
        # the previous result.
        if sections == 0:
            xml = blob.decode("utf-8")
        else:
            xml = _render_xml(part, context)
        for _ in range(sections - 1):
            xml = _render_xml(_Part(_fast_environment(self.env), _prepare_source(xml)), context)
        if _MARK.search(xml):
            root = parse_xml(xml.encode("utf-8"))
            _apply_marks(root)
            return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        return xml.encode("utf-8")


class _TextForm:
    """How a part proven well-formed whatever the context (:func:`_static_structure`) is
    written from its rendered text, without parsing it.

    The rendered text of such a part is well-formed XML, its values escaped text in
    ``w:t`` elements. It is then what lxml would write back from the parsed tree but for
    three things, rewritten here: the apostrophes and quotes the escaping wrote as
    references (lxml writes them as they are in text), elements left empty (lxml writes
    ``<x/>``) and the typography marks (each run carrying some is split as text, or parsed
    alone, as :func:`_split_run` does). Anything else (a character XML refuses, a carriage
    return, a character reference, a mark outside a run's text, an image) goes through
    the parser: :meth:`canonical` returns None."""

    def __init__(self, empty: tuple[str, ...], start: str, nsmap: Mapping[str | None, str],
                 drawings: bool = True) -> None:
        #: The elements a rendering can leave empty, and how lxml writes them.
        self.empty = [(w.encode("utf-8"), (w[: w.rindex("></")] + "/>").encode("utf-8")) for w in empty]
        self.start = start.encode("utf-8")  # the part's start tag, as the template writes it
        #: Whether the template's text names ``docPr`` (a drawing, renumbered when parsed).
        self.drawings = drawings
        self._splits: dict[bytes, bytes | None] = {}  # _split_run's result, by run
        self.wrapper = ("<dotation-docs " + " ".join(
            f'xmlns:{prefix}="{uri}"' if prefix else f'xmlns="{uri}"' for prefix, uri in nsmap.items()
        ) + ">", "</dotation-docs>")

    def canonical(self, xml: str) -> bytes | None:
        """Return the bytes lxml writes for the rendered part ``xml`` once parsed (without
        XML declaration), or None when it must be parsed. (Searched as UTF-8 bytes: a
        text with accents is held two bytes per character, searched more slowly.)"""
        try:
            data = xml.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the forgiving parser decides
            return None
        # (Each search of several bytes is guarded by a search of one, found much faster.)
        if b"#" in data:
            if b"&#39;" in data:
                data = data.replace(b"&#39;", b"'")
            if b"&#34;" in data:
                data = data.replace(b"&#34;", b'"')
            if b"&#" in data:
                return None
        # (A drawing's w:docPr can only come from the template's own text: values are
        # escaped text.)
        if (b"\r" in data or self.drawings and b"docPr" in data or b"!" in data and b"<!" in data
                or b"?" in data and b"<?" in data):
            return None
        if data.translate(None, _XML_BYTES) or b"\xbf" in data and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data):
            return None
        for written, collapsed in self.empty:
            if written in data:
                data = data.replace(written, collapsed)
        if not data.startswith(self.start):
            return None
        if _MARK_PREFIX in data:
            return self._split_marks(data)
        return data

    def _split_marks(self, data: bytes) -> bytes | None:
        """Return ``data`` with each run whose text carries typography marks split as
        :func:`_split_run` splits it, or None when a mark is anywhere else than in the
        text of a run holding no other run."""
        chunks = []
        done = 0  # end of the last run split
        while True:
            position = _next_mark(data, done)
            if position < 0:
                break
            # The mark must be in the text of a w:t...
            opening = data.rfind(b"<", 0, position)
            if not (data.startswith(b"<w:t>", opening) or data.startswith(b"<w:t ", opening)):
                return None
            if not data.startswith(b"</w:t>", data.find(b"<", position)):
                return None
            # ...child of the innermost w:r around it, which holds no other run.
            start = opening
            while True:
                start = data.rfind(b"<w:r", 0, start)
                if start < done:
                    return None
                if data[start + 4: start + 5] in (b">", b" "):
                    break
            end = data.find(b"</w:r>", position)
            if end < 0:
                return None
            end += len(b"</w:r>")
            snippet = data[start:end]
            if b"<w:r>" in snippet[4:] or b"<w:r " in snippet[4:] or b"xmlns" in snippet:
                return None
            # (The same runs come back in many documents: split once.)
            split = self._splits.get(snippet, _NOT_SPLIT)
            if split is _NOT_SPLIT:
                text = self._split_run(snippet.decode("utf-8"))
                split = text.encode("utf-8") if text else None
                if len(snippet) <= _SPLIT_KEPT:
                    if len(self._splits) >= 4096:
                        self._splits.clear()
                    self._splits[snippet] = split
            if split is None:  # a mark left, or the run removed (it held marks only): its parent may be left empty
                return None
            chunks.append(data[done:start])
            chunks.append(split)
            done = end
        chunks.append(data[done:])
        return b"".join(chunks)

    def _split_run(self, snippet: str) -> str | None:
        """The runs :func:`_split_run` makes of the run ``snippet`` (as text; parsed alone
        when it holds more than texts and leaf elements), or None when a mark would be
        left."""
        split = _split_run_text(snippet)
        if split is not None:
            return split
        head, tail = self.wrapper
        try:
            wrapper = etree.fromstring(head + snippet + tail, _SNIPPET_PARSER)
        except etree.XMLSyntaxError:
            return None
        run = wrapper[0]
        if len(wrapper) != 1 or run.tag != _W_R or any(
                child.tag != _W_T and child.text and _MARK.search(child.text) for child in run):
            return None
        _split_run(run)
        split = etree.tostring(wrapper, encoding="unicode")
        split = split[split.index(">") + 1: -len(tail)]
        return None if _MARK.search(split) else split


_NOT_SPLIT: Any = object()
_SPLIT_KEPT = 2048  # longest run whose split is remembered (in bytes)
# The typography marks (U+E000 to U+E002) in UTF-8: this prefix, then one of these bytes.
_MARK_PREFIX = b"\xee\x80"
_MARK_LAST_BYTES = frozenset(mark.encode("utf-8")[2] for mark in MARKS)


def _next_mark(data: bytes, start: int) -> int:
    """The position of the next typography mark in the UTF-8 ``data`` from ``start``, or -1."""
    while True:
        found = data.find(b"\xee", start)  # one byte: found much faster than two
        if found < 0:
            return found
        if data[found + 1: found + 2] == b"\x80" and data[found + 2] in _MARK_LAST_BYTES:
            return found
        start = found + 1


_EXPRESSION = rendering._EXPRESSION_KEYWORD
_FAST_ENVS: weakref.WeakKeyDictionary[jinja2.Environment, jinja2.Environment] = weakref.WeakKeyDictionary()
_CACHE_SIZE = 65536


def _told_apart(value: Any) -> tuple[type, Any]:
    """A cache key of a filter's value or argument: its type with it (a plain string) or
    its ``repr`` (1, 1.0, True, Decimal("1.00") and a Markup string stay apart)."""
    kind = type(value)
    return kind, value if kind is str else repr(value)


def _memoized(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``func`` (a French filter: a pure function of its arguments) remembering its
    results: a batch formats the same amounts and dates over and over, and Babel is slow.
    Values and arguments are told apart by type and ``repr`` (:func:`_told_apart`); errors
    are not remembered, so they are raised again the same way."""
    cache: dict[Any, Any] = {}

    def memo(value: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            # The expression a call is labelled with only names it in an error (never remembered).
            if not kwargs or len(kwargs) == 1 and _EXPRESSION in kwargs:
                options: tuple[Any, ...] = ()
            else:
                options = tuple(sorted((name, _told_apart(item)) for name, item in kwargs.items()
                                       if name != _EXPRESSION))
            key = (_told_apart(value), tuple(map(_told_apart, args)) if args else (), options)
            return cache[key]
        except TypeError:  # a list, a dict: not remembered
            return func(value, *args, **kwargs)
        except KeyError:
            result = func(value, *args, **kwargs)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key] = result
            return result

    memo.__name__ = name
    return memo


def environments(env: jinja2.Environment) -> tuple[jinja2.Environment, jinja2.Environment]:
    """Return the environments a Word template compiled for ``env`` renders its parts
    and its document properties with (the same results, the same errors as ``env`` and
    its plain-text overlay): the template check fills the parts with these, so that each
    part is compiled once (:func:`rendering.compile_source`)."""
    fast = _fast_environment(env)
    return fast, text_environment(fast)


def text_environment(fast: jinja2.Environment) -> jinja2.Environment:
    """``fast`` without autoescape (the document properties are plain text), one per
    environment (templates are compiled once per environment)."""
    kept = fast.__dict__.get("_dotation_text")  # on the environment: goes with it (see rendering.compiled_sources)
    if kept is None or kept[0] is not fast:
        kept = fast.__dict__["_dotation_text"] = (fast, fast.overlay(autoescape=False))
    return kept[1]


def _fast_environment(env: jinja2.Environment) -> jinja2.Environment:
    """Return ``env`` with its French filters remembering their results, and looking up
    the keys of plain dicts directly (the same environment otherwise: sandbox, autoescape,
    refused tags, error labels)."""
    fast = _FAST_ENVS.get(env)
    if fast is None:
        fast = env.overlay()
        fast.filters = {
            name: _memoized(name, func) if name in rendering._FILTER_INPUTS else func
            for name, func in env.filters.items()
        }
        fast.getattr = _dict_first(fast.getattr)  # type: ignore[method-assign]
        fast.code_generator_class = _CodeGenerator
        fast.dotation_output = _output  # type: ignore[attr-defined]
        fast.dotation_text = _output_text  # type: ignore[attr-defined]
        _FAST_ENVS[env] = fast
    return fast


_FINALIZE_SOURCE = "environment.finalize(context.eval_ctx, "
_escape = markupsafe.escape
_escape_text_value: Callable[[str], str] = getattr(markupsafe, "_escape_inner", _escape)
_finalize = rendering._finalize


def _output(value: Any) -> Any:
    """What ``escape(environment.finalize(context.eval_ctx, value))`` prints (the same
    text: only joined), without building a ``Markup`` for a plain str."""
    if type(value) is str:
        return _escape_text_value(value)
    return _escape(_finalize(None, value))


def _output_text(value: Any) -> Any:
    """What ``str(environment.finalize(context.eval_ctx, value))`` prints."""
    if type(value) is str:
        return value
    return str(_finalize(None, value))


class _CodeGenerator(rendering._CodeGenerator):
    """Jinja's code generator, printing a value with one call (:func:`_output`) instead of
    three when the environment's ``finalize`` is :func:`rendering._finalize` (the printed
    text is the same: what is printed is only joined)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dotation_literals: set[str] = set()

    def visit_Const(self, node: Any, frame: Any) -> None:
        _strings_of(node.value, self.dotation_literals)  # a string of an expression (or inside one)
        super().visit_Const(node, frame)

    def visit_Template(self, node: Any, frame: Any = None) -> None:
        super().visit_Template(node, frame)
        # The strings of the expressions, for _Part.join_paragraphs.
        self.writeline(f"dotation_literals = frozenset({sorted(self.dotation_literals)!r})")

    def _fused(self, frame: Any, finalize: Any) -> str | None:
        if frame.eval_ctx.volatile or finalize.src != _FINALIZE_SOURCE or self.environment.finalize is not _finalize:
            return None
        return "environment.dotation_output(" if frame.eval_ctx.autoescape else "environment.dotation_text("

    def _output_child_pre(self, node: Any, frame: Any, finalize: Any) -> None:
        fused = self._fused(frame, finalize)
        if fused is None:
            super()._output_child_pre(node, frame, finalize)
        else:
            self.write(fused)

    def _output_child_post(self, node: Any, frame: Any, finalize: Any) -> None:
        if self._fused(frame, finalize) is None:
            super()._output_child_post(node, frame, finalize)
        else:
            self.write(")")


def _strings_of(value: Any, found: set[str]) -> None:
    """Add to ``found`` ``value`` when it is a string, or the strings inside it."""
    if isinstance(value, str):
        found.add(str(value))
    elif isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            _strings_of(item, found)
    elif isinstance(value, dict):
        for item in value.items():
            _strings_of(item, found)


_DICT_ATTRIBUTES = frozenset(dir(dict))


def _dict_first(getattr_: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """Return the sandbox's ``getattr`` (``a.b`` in a template) answering at once for a key
    of a plain dict that is no attribute of dicts: the sandbox tries the attribute first,
    fails (an exception, slow) then returns the item; the result is the same."""

    def lookup(obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return getattr_(obj, attribute)

    return lookup


def compile_docx(
    template: LoadedTemplate | Path, env: jinja2.Environment | None = None, *, level: int = DEFAULT_LEVEL
) -> CompiledDocxTemplate:
    """Return the Word ``template`` compiled for ``env`` (the run's environment,
    :func:`rendering.build_environment` by default), from the bytes loaded once (a path is
    loaded first with :func:`rendering.load_template`). ``level`` is the deflate level of
    the rendered parts. Raises :class:`TemplateError` when the template is missing,
    unreadable or not a Word document, with :func:`rendering.render`'s message; mistakes
    inside the template are reported by :meth:`CompiledDocxTemplate.render`, document by
    document, as :func:`rendering.render` reports them."""
    env = env or rendering.build_environment()
    loaded = template if isinstance(template, LoadedTemplate) else rendering.load_template(template)
    return CompiledDocxTemplate(loaded, env, level)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _tables_need_fixing(tree: etree._Element) -> bool:
    """Return whether docxtpl's ``fix_tables`` would change a table of ``tree``: a row with
    more cells than the grid has columns, or no row spanning every column."""
    if tree.nsmap.get("w") != _W[1:-1]:
        return True
    for table in tree.iter(_W + "tbl"):
        grid = table.find(_W + "tblGrid")
        if grid is None:
            return True  # fix_tables fails on it: let it raise its own error
        columns = len(grid.findall(_W + "gridCol"))
        widest = 0
        for row in table.iter(_W + "tr"):
            cells = row.findall(_W + "tc")
            if len(cells) > columns:
                return True
            width = 0
            for cell in cells:  # as docxtpl counts: the first w:tcPr, its first w:gridSpan
                properties = cell.find(_W + "tcPr")
                span = None if properties is None else properties.find(_W + "gridSpan")
                if span is None:
                    width += 1
                    continue
                value = span.get(_W + "val")
                if value is None or not value.isdigit():
                    return True  # let fix_tables handle (or fail on) it
                width += int(value)
            widest = max(widest, width)
        if widest < columns:
            return True
    return False


_STATEMENT = re.compile(r"\{%[-+]?\s*(\w*)")
# Jinja that can print markup unescaped (and so add cells or rows to a table).
# (Also the filters that make markup of escaped text, ``e``, ``escape``, ``forceescape``,
# ``tojson``: markup changed afterwards, ``x|e|upper``, is no longer escaped text.)
# (And ``map``, which applies a filter named by any expression: ``map("s" ~ "afe")``.)
_UNESCAPED = re.compile(r"safe|macro|call|autoescape|filter|set|block|raw|markup|lipsum|urlize|xmlattr|include|import|"
                        r"extends|escape|tojson|map|\|\s*e\b", re.IGNORECASE)
_CODE_DELIMITERS = ("{{", "}}", "{%", "%}", "{#", "#}")


def _jinja_code(source: str, env: jinja2.Environment) -> str | None:
    """The Jinja code of ``source`` (its tags, statements and comments, as Jinja's lexer
    cuts them: a string or braces holding ``}}`` do not end an expression), or None when
    it cannot be lexed or a delimiter stands inside a tag (``{{ "{%if" }}``: a statement
    for a search of ``{%`` in the text)."""
    try:
        tokens = list(env.lex(source))
    except jinja2.TemplateSyntaxError:
        return None
    code: list[str] = []
    inside: list[str] = []  # the current tag's content
    for _, kind, value in tokens:
        if kind == "data":
            continue
        code.append(value)
        if kind.endswith("_begin"):
            inside = []
        elif kind.endswith("_end"):
            if any(d in "".join(inside) for d in _CODE_DELIMITERS):
                return None
        else:
            inside.append(value)
    return "".join(code)


def _static_tables(source: str, env: jinja2.Environment) -> tuple[bool, bool]:
    """Return whether no table of the body ``source`` (its Jinja source once docxtpl's
    preprocessing is applied) can need docxtpl's ``fix_tables``, whatever the context, and
    whether a paragraph of it holds other paragraphs (a text box: docxtpl's line-break
    handling may then reshape the XML).

    A table can be decided once when its Jinja statements all stand between its rows
    (``{%tr`` loops and conditions), when no Jinja in the body can print unescaped markup,
    and when one row outside every statement spans the whole grid and no row has more
    cells than the grid has columns: every rendering of it then only repeats or drops
    rows of the same shapes, which ``fix_tables`` leaves alone. Anything else is decided
    document by document, as docxtpl does. Values of the context are escaped; a context
    holding anything else than plain values, a rendered text with characters XML does not
    allow, or line breaks in a body with text boxes are checked document by document too.
    """
    parser = etree.XMLParser()  # strict: a source that is not plain XML is not decided here
    try:
        tree = etree.fromstring(source.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return False, True
    nested = any(p.find(".//" + _W + "p") is not None for p in tree.iter(_W + "p"))
    delimiters = (env.block_start_string, env.variable_start_string, env.comment_start_string,
                  env.line_statement_prefix, env.line_comment_prefix)
    if delimiters != ("{%", "{{", "{#", None, None) or tree.nsmap.get("w") != _W[1:-1]:
        return False, nested
    code = _jinja_code(source, env)
    if code is None or _UNESCAPED.search(code):
        return False, nested
    return all(_static_table(table) for table in tree.iter(_W + "tbl")), nested


_DECLARATION = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"


def _text_form(source: str, xml: str, env: jinja2.Environment, nsmap: Mapping[str | None, str],
               tables: tuple[bool, bool] | None = None) -> _TextForm | None:
    """The :class:`_TextForm` of a part whose Jinja ``source`` (its XML ``xml`` once
    docxtpl's preprocessing is applied) gives well-formed XML whatever the context, with
    tables ``fix_tables`` leaves alone, namespaces declared on its start tag only and no
    paragraph inside another (a text box: docxtpl's line breaks could reshape it); None
    otherwise. ``tables`` is :func:`_static_tables` of ``source`` when already known."""
    fixed, nested = tables if tables is not None else _static_tables(source, env)
    if not fixed or nested:
        return None
    empty = _static_structure(source, env)
    start = xml[: xml.find(">") + 1]
    if empty is None or xml.count("xmlns") != start.count("xmlns"):
        return None
    return _TextForm(empty, start, nsmap, "docPr" in source)


_OUTSIDE_TAG = re.compile(r"<([/!?]?)([^\s/>]*)")
_IN_TAG = re.compile(r"""["'>]""")


def _static_structure(source: str, env: jinja2.Environment) -> tuple[str, ...] | None:
    """Return whether every rendering of the body ``source`` (its Jinja source once
    docxtpl's preprocessing is applied) is well-formed XML whose values are text, whatever
    the context: then the rendered text can be used without parsing it (see
    :meth:`CompiledDocxTemplate._spliced`).

    True when ``source`` is well-formed XML with its Jinja code taken as text, prints
    values only in the text between tags (``{{ }}`` in an attribute is not decided here),
    and its only statements are conditions and loops whose every branch (and a loop's
    body) leaves the elements open as it found them: the same elements, by name, whether
    it closes none (text, whole elements) or closes some and opens the same again
    (``</w:t><w:br/><w:t>``), or stays inside one attribute value. Dropping or repeating
    such branches gives well-formed XML again; the values they print are escaped
    (:func:`_static_tables` refuses the Jinja that could print markup). Comments holding
    markup, ``raw`` blocks and any other statement are not decided here.

    When it is so, return the elements that a rendering can leave empty, as the template
    writes them empty (``<w:t xml:space="preserve"></w:t>``): those whose start tag is
    followed by Jinja code (any other is followed by the same text in every rendering);
    otherwise return None."""
    try:
        etree.fromstring(source.encode("utf-8"), etree.XMLParser())
        tokens = list(env.lex(source))
    except (etree.XMLSyntaxError, jinja2.TemplateSyntaxError, UnicodeEncodeError):
        return None
    empty: dict[str, None] = {}
    start = -1  # where the tag being read starts in the current text (-1: in an earlier one)
    open_elements: list[str] = []
    name = ""  # of the tag being read
    closing = False  # the tag being read is an end tag
    tag = 0  # number of the tag being read (0: between tags)
    quote = 0  # number of the attribute value being read (0: none)
    tags = quotes = 0
    blocks: list[tuple[tuple[str, ...], int, int]] = []  # where each open statement stands
    index = 0
    while index < len(tokens):
        _, kind, value = tokens[index]
        index += 1
        if kind == "data":
            position = 0
            start = -1
            while position < len(value):
                if quote:  # in an attribute value: up to its closing quote
                    end = value.find('"', position)
                    if end < 0:
                        break
                    quote, position = 0, end + 1
                elif tag:
                    found = _IN_TAG.search(value, position)
                    if found is None:
                        break
                    position = found.end()
                    if found.group() == "'":
                        return None  # single-quoted attribute values: not decided here
                    if found.group() == '"':
                        quotes += 1
                        quote = quotes
                        continue
                    if closing:  # the source is well-formed: it closes the last one open
                        open_elements.pop()
                    elif value[found.start() - 1: found.start()] != "/":
                        open_elements.append(name)
                        if position == len(value):  # Jinja code follows
                            if start < 0:
                                return None  # a start tag holding Jinja code
                            empty[f"{value[start:position]}</{name}>"] = None
                    tag = 0
                else:
                    found = _OUTSIDE_TAG.search(value, position)
                    if found is None:
                        break
                    position = found.end()
                    if found.group(1) in ("!", "?"):
                        return None  # a comment, CDATA or processing instruction
                    closing, name = found.group(1) == "/", found.group(2)
                    start = found.start()
                    tags += 1
                    tag = tags
        elif kind == "block_begin":
            while index < len(tokens) and tokens[index][1] == "whitespace":
                index += 1
            keyword = tokens[index][2] if index < len(tokens) and tokens[index][1] == "name" else ""
            where = (tuple(open_elements), tag, quote)
            if tag and not quote:
                return None  # between the attributes of a tag
            if keyword in ("if", "for"):
                blocks.append(where)
            elif keyword in ("elif", "else", "endif", "endfor"):
                if not blocks or blocks[-1] != where:
                    return None
                if keyword.startswith("end"):
                    blocks.pop()
            else:
                return None
            while index < len(tokens) and tokens[index][1] != "block_end":
                index += 1
            index += 1
        elif kind == "variable_begin":
            if tag:
                return None
            while index < len(tokens) and tokens[index][1] != "variable_end":
                index += 1
            index += 1
        elif kind == "comment_begin":
            while index < len(tokens) and tokens[index][1] != "comment_end":
                if "<" in tokens[index][2] or ">" in tokens[index][2]:
                    return None
                index += 1
            index += 1
        else:  # raw blocks, line statements…
            return None
    if open_elements or tag or blocks:
        return None
    return tuple(empty)


def _balanced(text: str) -> bool:
    """Return whether the Jinja statements of ``text`` (one text or attribute of the XML)
    are loops and conditions opened and closed inside it: they can only repeat or drop
    pieces of that text, never elements."""
    return _nesting_after(text, 0) == 0


def _nesting_after(text: str, depth: int) -> int | None:
    """Return the nesting of loops and conditions after the Jinja statements of ``text``,
    starting at ``depth``; None when a statement is anything else (or closes what
    ``text`` did not open at that depth)."""
    for keyword in _STATEMENT.findall(text):
        if keyword in ("for", "if"):
            depth += 1
        elif keyword in ("endfor", "endif"):
            depth -= 1
            if depth < 0:
                return None
        elif keyword not in ("elif", "else") or depth == 0:
            return None
    return depth


def _static_table(table: etree._Element) -> bool:
    """See :func:`_static_tables`."""
    if "{#" in etree.tostring(table, encoding="unicode"):
        return False
    level_texts = [table.text or ""]
    for child in table:
        level_texts.append(child.tail or "")
        if any(not isinstance(e.tag, str) or e.tag == _W + "tbl" for e in child.iter()):
            return False  # a comment, a processing instruction, a nested table
        if child.tag != _W + "tr":
            if "{%" in etree.tostring(child, encoding="unicode", with_tail=False):
                return False
            continue
        # In a row, statements may only stand inside a cell's content, opened and closed
        # there: they change its paragraphs and runs, never the cells.
        if "{%" in (child.text or ""):
            return False
        for part in child:
            if "{%" in (part.tail or ""):
                return False
            if part.tag != _W + "tc":
                if "{%" in etree.tostring(part, encoding="unicode", with_tail=False):
                    return False
                continue
            properties = part.find(_W + "tcPr")
            if "{%" in (part.text or "") or properties is not None and (
                    properties is not part[0] or "{%" in etree.tostring(properties, encoding="unicode", with_tail=False)):
                return False  # the properties (and their w:gridSpan) must not depend on a statement
            if not _balanced(etree.tostring(part, encoding="unicode", with_tail=False)):
                return False
    grid = table.find(_W + "tblGrid")
    if grid is None:
        return False
    columns = len(grid.findall(_W + "gridCol"))
    spanned = False
    depth = 0
    for child, before in zip(table, level_texts):
        nesting = _nesting_after(before, depth)
        if nesting is None:
            return False
        depth = nesting
        if child.tag in (_W + "tblPr", _W + "tblGrid"):
            continue
        if child.tag != _W + "tr":
            return False  # w:sdt, w:customXml… holding rows
        cells = child.findall(_W + "tc")
        if len(cells) > columns:
            return False
        width = 0
        for cell in cells:
            properties = cell.find(_W + "tcPr")
            span = None if properties is None else properties.find(_W + "gridSpan")
            value = "1" if span is None else span.get(_W + "val")
            if value is None or not value.isdigit():
                return False
            width += int(value)
        if depth == 0 and width >= columns:
            spanned = True
    for keyword in _STATEMENT.findall(level_texts[-1]):
        if keyword in ("for", "if"):
            depth += 1
        elif keyword in ("endfor", "endif"):
            depth -= 1
        else:
            return False
    return spanned and depth == 0


def _split_marked_runs(root: etree._Element, xml: str | None = None, marks: int = 0) -> bool:
    """Do the first step of :func:`rendering._apply_marks` (split the runs whose text
    carries marks) and return whether a mark is left anywhere, in which case its second step
    (a walk over every element, python-docx computing each paragraph's text) must run too.
    With ``xml``, the text ``root`` was parsed from, and ``marks``, the number of marks in
    it, the search stops once the texts found hold them all, and no second search is needed
    when the split runs held them all (unless ``xml`` has a character reference to a mark)."""
    exact = xml is not None and not ("&#" in xml and _MARK_REFERENCE.search(xml))
    search = _MARK.search
    runs = {}  # as rendering._apply_marks: the parents of the w:t whose text holds a mark
    found = 0
    for text in root.iter(_W_T):  # w:t holds text only
        value = text.text
        if value and search(value):
            runs[text.getparent()] = None
            if exact:
                found += _count_marks(value)
                if found == marks:
                    break
    split = 0
    for run in runs:
        if run is not None and run.tag == _W_R:
            split += sum(_count_marks(t.text) for t in run.iterchildren(_W_T) if t.text)
            _split_run(run)
    if exact and split == marks:
        return False
    return bool(_ANY_MARK(root))


def _element(tag: str) -> etree._Element:
    """python-docx's ``OxmlElement`` for a w: tag, without its element classes."""
    return etree.Element(tag, nsmap=_W_NSMAP)


def _split_run(run: etree._Element) -> None:
    """:func:`rendering._split_run`, building plain lxml elements (faster, same XML)."""
    rendering._split_run(run, _make)


def _make(nsptag: str) -> etree._Element:
    """:func:`_element` for a prefixed ``w:`` tag, as ``OxmlElement`` takes it."""
    return _element(qn(nsptag))


# A run as lxml writes it whose properties and content are leaf elements and texts: split
# as text by _split_run_text (anything else is parsed).
_TEXT_RUN = re.compile(
    r"(<w:r(?: [^<>]*)?>)(?:(<w:rPr/>)|<w:rPr>((?:<w:\w+(?: [^<>]*)?/>)*)</w:rPr>)?"
    r"((?:<w:t(?: [^<>]*)?>[^<]*</w:t>|<w:\w+(?: [^<>]*)?/>)*)</w:r>"
)
_RUN_CHILD = re.compile(r"<w:t(?: [^<>]*)?>([^<]*)</w:t>|<w:\w+(?: [^<>]*)?/>")
_PROPERTY = re.compile(r"<(w:\w+)(?: [^<>]*)?/>")
_SUPERSCRIPT = '<w:vertAlign w:val="superscript"/>'
_AFTER_VERT_ALIGN = frozenset(f"w:{tag}" for tag in ("rtl", "cs", "em", "lang", "eastAsianLayout", "specVanish", "oMath"))


def _split_run_text(run: str) -> str | None:
    """Return the runs :func:`_split_run` makes of ``run`` (a ``w:r`` as lxml writes it,
    its text carrying marks), as lxml writes them; None when the run holds more than
    leaf properties, texts and leaf elements (then it is parsed)."""
    match = _TEXT_RUN.fullmatch(run)
    if match is None:
        return None
    start, blank, properties, content = match.groups()
    if blank:
        properties = ""
    if SUPERSCRIPT_START not in content and SUPERSCRIPT_END not in content:
        # Non-breaking hyphens only (references, serial numbers): one run, as many texts.
        written = []
        for child in _RUN_CHILD.finditer(content):
            text = child.group(1)
            if not text or NO_BREAK_HYPHEN not in text:
                written.append(child.group())
                continue
            for number, token in enumerate(text.split(NO_BREAK_HYPHEN)):
                if number:
                    written.append("<w:noBreakHyphen/>")
                if token:
                    written.append(f'<w:t xml:space="preserve">{token}</w:t>')
        if properties is None:
            return f"{start}{''.join(written)}</w:r>"
        return f"{start}<w:rPr{'>' + properties + '</w:rPr>' if properties else '/>'}{''.join(written)}</w:r>"
    pieces: list[tuple[bool, str]] = []
    raised = False
    for child in _RUN_CHILD.finditer(content):
        text = child.group(1)
        if not text or not _MARK.search(text):
            pieces.append((raised, child.group()))
            continue
        for token in rendering._MARK_SPLIT.split(text):
            if token == SUPERSCRIPT_START:
                raised = True
            elif token == SUPERSCRIPT_END:
                raised = False
            elif token == NO_BREAK_HYPHEN:
                pieces.append((raised, "<w:noBreakHyphen/>"))
            elif token:  # already escaped as lxml escapes text
                pieces.append((raised, f'<w:t xml:space="preserve">{token}</w:t>'))
    if properties is None:
        plain = None
        raised_properties = f"<w:rPr>{_SUPERSCRIPT}</w:rPr>"
    else:
        plain = f"<w:rPr>{properties}</w:rPr>" if properties else "<w:rPr/>"
        children = [(m.group(1), m.group()) for m in _PROPERTY.finditer(properties) if m.group(1) != "w:vertAlign"]
        at = next((i for i, (tag, _) in enumerate(children) if tag in _AFTER_VERT_ALIGN), len(children))
        kept = [written for _, written in children]
        kept.insert(at, _SUPERSCRIPT)
        raised_properties = f"<w:rPr>{''.join(kept)}</w:rPr>"
    out = []
    for superscript, group in itertools.groupby(pieces, key=lambda piece: piece[0]):
        out.append(start)
        if superscript:
            out.append(raised_properties)
        elif plain is not None:
            out.append(plain)
        out.extend(written for _, written in group)
        out.append("</w:r>")
    return "".join(out)


def _count_marks(text: str) -> int:
    return sum(text.count(mark) for mark in MARKS)


def _apply_marks(root: etree._Element) -> None:
    """Same result as :func:`rendering._apply_marks`, faster when no mark is left once the
    runs carrying them are split (the usual case)."""
    if _split_marked_runs(root):
        rendering._apply_marks(root)  # finds no run left to split; cleans the other texts


class _ContextPreparer:
    """:func:`rendering._without_marks` (a copy of the context without typographic marks)
    and flags telling whether the context holds a docxtpl object (:data:`_FOREIGN`) or a
    value of an unusual type (:data:`_UNUSUAL`), remembering what was already prepared:
    every document's context shares the batch's parts (``operation``, ``beneficiaires``…),
    which would otherwise be walked again for each document (a cost growing with the
    batch). A top-level value that is the same object as in the previous context is not
    walked again, nor a container met earlier (by identity; an entry keeps its original
    alive, so that its ``id`` cannot be reused while it is remembered). Contexts must not
    change once planned (they do not: the planner builds new dicts and lists from the
    frozen model). A ``dict`` or ``list`` in which nothing changes is used as it is instead
    of an equal copy (the sandbox forbids templates to modify it)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._memo: dict[int, tuple[Any, Any, int]] = {}
        self._top: dict[Any, tuple[Any, Any, int]] = {}

    def prepare(self, context: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        flags = 0
        result = {}
        top = self._top
        for key, item in context.items():  # the top level is new for each document
            known = top.get(key)
            if known is not None and known[0] is item:
                result[key] = known[1]
                flags |= known[2]
                continue
            result[key], inner = prepared = self._prepare(item)
            flags |= inner
            top[key] = (item, *prepared)
        return result, flags

    def _prepare(self, value: Any) -> tuple[Any, int]:
        kind = type(value)
        if kind is str:
            return (strip_marks(value) if _MARK.search(value) else value), 0
        if kind in _PLAIN_TYPES:
            return value, 0
        # (A plain dict or list, the usual container, is told apart without isinstance.)
        if kind is not dict and kind is not list and isinstance(value, str):
            return (strip_marks(value) if _MARK.search(value) else value), _UNUSUAL
        if kind is dict or kind is list or isinstance(value, (Mapping, list, tuple)):
            known = self._memo.get(id(value))
            if known is not None and known[0] is value:
                return known[1], known[2]
            prepared, flags = self._prepare_container(value, kind)
            memo = self._memo
            if len(memo) >= self.size:  # the older half forgotten at once (one by one, each
                # removal from the front of a dict makes the next one slower)
                memo = self._memo = dict(itertools.islice(memo.items(), len(memo) // 2, None))
            memo[id(value)] = (value, prepared, flags)
            return prepared, flags
        # InlineImage, Subdoc, RichText, Listing… (docxtpl.subdoc needs docxcompose: not imported)
        if kind.__module__.startswith("docxtpl"):
            return value, _FOREIGN
        return value, _UNUSUAL

    def _prepare_container(self, value: Any, kind: type) -> tuple[Any, int]:
        """A mapping, list or tuple: its plain items (text without marks, numbers, dates)
        are kept as they are, the others prepared one by one."""
        mapping = isinstance(value, Mapping)
        items = value.values() if mapping else value
        # A key is kept as it is (as rendering does) but may be printed too
        # (``{% for key in mapping %}``): one of an unusual type (Markup…) flags the context.
        flags = 0 if not mapping or _PLAIN_OR_TEXT.issuperset(map(type, value.keys())) else _UNUSUAL
        reusable = kind is dict or kind is list  # used as it is when nothing changes
        if reusable and _PLAIN_OR_TEXT.issuperset(map(type, items)):
            # Plain values only (the usual case), told apart without a loop in Python: a
            # number or a date never writes a mark.
            if not _MARK.search("".join(map(str, items))):
                return value, flags
        changed = not reusable
        prepare = self._prepare
        search = _MARK.search
        plain = _PLAIN_TYPES
        prepared: Any = {} if mapping else []
        for key, item in (value.items() if mapping else enumerate(value)):
            kind_of = type(item)
            if kind_of is str:
                if search(item):
                    item = strip_marks(item)
                    changed = True
            elif kind_of not in plain:
                copied, inner = prepare(item)
                flags |= inner
                if copied is not item:
                    item = copied
                    changed = True
            if mapping:
                prepared[key] = item
            else:
                prepared.append(item)
        return (prepared if changed else value), flags


_PREPARER = _ContextPreparer()


def _translate(err: BaseException, name: str, document: str = "") -> TemplateError | None:
    """Return the TemplateError :func:`rendering.render` raises for ``err`` (a Word
    template named ``name``, filled for ``document``: :func:`rendering.document_label`), or
    None when ``err`` is a bug to let through."""
    if isinstance(err, _UnsupportedTagError):
        return TemplateError(
            f"le modèle « {name} » utilise la balise « {err.message} »{_where(err.source, err.lineno, True)}, "
            "qui n'est pas prise en charge : un modèle ne peut pas inclure, importer ou étendre un autre "
            "fichier de modèle ; recopiez-en le contenu dans ce modèle."
        )
    if isinstance(err, jinja2.TemplateSyntaxError):
        where = _where(err.source, err.lineno, True, excerpt="end of template" not in str(err.message).lower())
        return TemplateError(
            f"le modèle « {name} » contient une balise mal formée{where} : {_translate_syntax(err)}. "
            "Vérifiez les accolades {{ … }} et {% … %}."
        )
    if isinstance(err, _RenderFailure):
        where = "" if isinstance(err.original, jinja2.UndefinedError) else _where(err.source, err.lineno, True)
        return TemplateError(
            f"le modèle « {name} » ne peut pas être rempli{document}{where} : {_translate_runtime(err.original)}.")
    if isinstance(err, jinja2.TemplateError):
        return TemplateError(f"le modèle « {name} » ne peut pas être rempli{document} : {_translate_runtime(err)}.")
    if isinstance(err, etree.XMLSyntaxError):
        return TemplateError(
            f"le modèle « {name} » produit un document Word invalide (XML mal formé), "
            "par exemple à cause du filtre « safe » : retirez-le."
        )
    if isinstance(err, UnicodeDecodeError):
        return TemplateError(f"le modèle « {name} » n'est pas un texte UTF-8 ; enregistrez-le en UTF-8.")
    if isinstance(err, OSError):
        return TemplateError(f"le modèle « {name} » ne peut pas être lu : {describe_os_error(err)}.")
    return None
