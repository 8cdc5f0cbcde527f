#!/usr/bin/env python3
"""Build the document templates (templates/*.docx and the press release's .html).

Usage::

    python scripts/build_templates.py [--output DIR] [--textes DIR]

The wording of every template lives in ``templates/textes/*.md`` (French, UTF-8, with the
Jinja variables as they appear in the template), so that a jurist can review it without
reading Python; ``templates/textes/LISEZ-MOI.md`` explains the small markup to its readers.
This script reads those files and keeps what is not wording: page setup, styles, tables
(column headers included), signature grids. Each ``[[name]]`` line of a text file is such a
block, built here (the ``blocks`` given to :func:`write_elements`); a text file that names
an unknown block, leaves one out, references an article that does not exist or breaks the
markup stops the script with a French message (:class:`TextError`) before anything is
written. The press release is built to .docx and to HTML from the same ``communique.md``.

The script is deterministic: running it twice gives byte-identical files
(``tests/test_templates_build.py`` checks that the committed templates are what the text
files give). It overwrites the templates, so an agent who edits a .docx by hand in Word or
LibreOffice should not re-run it afterwards (or should port the change to the text first).

Templates use docxtpl's Jinja syntax and only the variables defined in
``dotation_docs/context.py``; values are formatted with the filters of
``dotation_docs/formatting.py`` (``montant``, ``date``, ``quantite``…). Conventions:

* French text may be written with plain ASCII apostrophes and spaces; :func:`typography`
  turns them into typographic apostrophes and no-break spaces (before « : ; ! ? » », after
  « « » and « L. »), never inside a Jinja tag. In the documents built with
  ``Builder.nbsp_numbers`` (the conventions, so far), it also puts a no-break space after
  « n° » and « article » (« article 7 », « article L. 3212-2 »), between a number and its
  unit (« 48 heures », « 300 € », an amount and « HT » or « TTC ») and between a day and its
  month (« 6 janvier 1978 »); elsewhere « n° » still keeps a plain space, and the texts type
  the no-break space before « HT », « TTC » or the base tag themselves.
* ``**bold**``, ``__italic__`` and ``^superscript^`` (« 1^er^ juillet 1901 ») mark
  formatting inside a paragraph; a Jinja tag is never split across runs.
* ``{%p … %}`` statements get a paragraph of their own (docxtpl removes it), ``{%tr … %}``
  statements a table row of their own.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
TEXTS_DIR = TEMPLATES_DIR / "textes"

# --- page and type -------------------------------------------------------------------------

FONT = "Arial"  # LibreOffice substitutes the metric-compatible Liberation Sans
BODY_SIZE = Pt(10.5)
TABLE_SIZE = Pt(9)
SMALL_TABLE_SIZE = Pt(8)
FOOTER_SIZE = Pt(8)
A4_SHORT, A4_LONG = Cm(21), Cm(29.7)
MARGIN = Cm(2)
PORTRAIT_WIDTH = A4_SHORT - 2 * MARGIN  # 17 cm of text
LANDSCAPE_WIDTH = A4_LONG - 2 * MARGIN  # 25,7 cm of text
HEADER_FILL = "D9D9D9"  # light grey behind table header rows and labels
LABEL_FILL = "F2F2F2"
BLACK = RGBColor(0, 0, 0)
GREY = RGBColor(0x59, 0x59, 0x59)
# Word and LibreOffice keep these dates in the files: fixed so that rebuilds are identical.
FIXED_DATE = datetime(2023, 1, 1, tzinfo=timezone.utc)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

NBSP = "\u00a0"
TAG_RE = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})", re.DOTALL)
MARKUP_RE = re.compile(r"(\*\*|__|\^)")

# --- shared Jinja snippets -----------------------------------------------------------------

# The authority's person at the ceremony: the delegate when there is one, else the
# representative (the delegate's title is optional).
ELU = (
    "{% if collectivite.elu_delegue %}{{ collectivite.elu_delegue }}"
    "{% if collectivite.elu_delegue_qualite %}, {{ collectivite.elu_delegue_qualite }}{% endif %}"
    "{% else %}{{ collectivite.representant }}, {{ collectivite.representant_qualite }}{% endif %}"
)
ELU_NOM = "{{ collectivite.signataire_remise }}"
ELU_QUALITE = "{{ collectivite.signataire_remise_qualite }}"
EQUIPEMENTS = "quantite('équipement', 'équipements')"


# --- typography and rich text --------------------------------------------------------------


MONTHS = "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
UNITS = r"mois|heures?|jours?|ans|€|%|cm|points?|HT|TTC"
# « 48 heures », « 300 € », « 6 janvier 1978 », « 1^er^ juillet 1901 »: a number and what it counts.
NUMBER_UNIT_RE = re.compile(rf"(\d|\^er\^) (?=(?:{MONTHS}|{UNITS})(?![\w]))")
# « {{ operation.duree_mois }} mois »: the number is a tag, the unit the text after it.
TAG_UNIT_RE = re.compile(rf"^ (?=(?:{UNITS})(?![\w]))")


def typography(text: str, nbsp_numbers: bool = False) -> str:
    """Return ``text`` with French typography applied outside Jinja tags: typographic
    apostrophes and no-break spaces inside guillemets, before « : ; ! ? », after « L. »;
    with ``nbsp_numbers``, also after « n° », between a number and its unit and between a
    day and its month (also after a ``{{ … }}`` value followed by a unit)."""
    parts = TAG_RE.split(text)
    for i in range(0, len(parts), 2):  # even items are literal text, odd items are tags
        s = parts[i].replace("'", "’")
        s = re.sub(r" ([:;!?»])", NBSP + r"\1", s)
        s = s.replace("« ", "«" + NBSP)
        s = re.sub(r"\b([LDR])\. (?=\d)", r"\1." + NBSP, s)  # article L. 3212-2
        if nbsp_numbers:
            s = re.sub(r"\b([nN]°) ", r"\1" + NBSP, s)
            # « article 7 », « article L. 3212-2 »: the word stays with its number
            s = re.sub(r"\b([aA]rticles?) (?=\d|[LDR]\.\s?\d)", r"\1" + NBSP, s)
            s = NUMBER_UNIT_RE.sub(r"\1" + NBSP, s)
            if i and parts[i - 1].startswith("{{"):
                s = TAG_UNIT_RE.sub(NBSP, s)
        parts[i] = s
    return "".join(parts)


def rich_chunks(text: str) -> list[tuple[str, bool, bool, bool]]:
    """Split typographed ``text`` into (text, bold, italic, superscript) chunks: ``**``
    toggles bold, ``__`` italic and ``^`` superscript outside tags; tags stay whole inside
    one chunk."""
    pieces: list[tuple[str, bool, bool, bool]] = []
    bold = italic = sup = False
    for i, part in enumerate(TAG_RE.split(text)):
        if i % 2:
            pieces.append((part, bold, italic, sup))
            continue
        for token in MARKUP_RE.split(part):
            if token == "**":
                bold = not bold
            elif token == "__":
                italic = not italic
            elif token == "^":
                sup = not sup
            elif token:
                pieces.append((token, bold, italic, sup))
    merged: list[tuple[str, bool, bool, bool]] = []
    for chunk in pieces:
        if merged and merged[-1][1:] == chunk[1:]:
            merged[-1] = (merged[-1][0] + chunk[0], *chunk[1:])
        else:
            merged.append(chunk)
    return merged


def rich_html(text: str) -> str:
    """Return ``text`` (same markup as the .docx) as HTML: literal text escaped, tags kept,
    ``**`` as <strong>, ``__`` as <em>, ``^`` as <sup>, line breaks as <br>."""
    out: list[str] = []
    bold = italic = sup = False
    for i, part in enumerate(TAG_RE.split(typography(text))):
        if i % 2:
            out.append(part)
            continue
        for token in MARKUP_RE.split(part):
            if token == "**":
                out.append("</strong>" if bold else "<strong>")
                bold = not bold
            elif token == "__":
                out.append("</em>" if italic else "<em>")
                italic = not italic
            elif token == "^":
                out.append("</sup>" if sup else "<sup>")
                sup = not sup
            else:
                out.append(html.escape(token, quote=False).replace("\n", "<br>\n"))
    return "".join(out)


# --- low-level OOXML helpers ---------------------------------------------------------------


def _set_on_off(parent, tag: str) -> None:
    """Switch on the property ``tag`` of ``parent`` (appended: callers add them in schema order)."""
    if parent.find(qn(tag)) is None:
        parent.append(OxmlElement(tag))


def _set_fonts(rpr, name: str) -> None:
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), name)


def _border(tag: str, val: str = "single", size: int = 4, color: str = "auto", space: int = 0):
    element = OxmlElement(tag)
    element.set(qn("w:val"), val)
    element.set(qn("w:sz"), str(size))
    element.set(qn("w:space"), str(space))
    element.set(qn("w:color"), color)
    return element


# Children of w:pPr that the schema puts after w:pBdr.
_PPR_AFTER_PBDR = (
    "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
    "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
    "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)


def _shade(cell: _Cell, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tc_pr.insert_element_before(
        shd, "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark"
    )


def _cell_margin(cell: _Cell, side: str, twips: int) -> None:
    """Set one inner margin of ``cell`` (overrides the table's)."""
    tc_pr = cell._tc.get_or_add_tcPr()
    margins = OxmlElement("w:tcMar")
    margin = OxmlElement(f"w:{side}")
    margin.set(qn("w:w"), str(twips))
    margin.set(qn("w:type"), "dxa")
    margins.append(margin)
    tc_pr.insert_element_before(margins, "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark")


def _add_field(paragraph: Paragraph, instruction: str, placeholder: str, size) -> None:
    """Append a complex field (PAGE, NUMPAGES) whose cached result is ``placeholder``."""
    def run_with(element):
        run = paragraph.add_run()
        run.font.size = size
        run._r.append(element)

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run_with(instr)
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    run_with(separate)
    result = paragraph.add_run(placeholder)
    result.font.size = size
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


# --- document setup ------------------------------------------------------------------------


def _setup_styles(document: DocxDocument) -> None:
    styles = document.styles
    # Document defaults: Arial, French, no theme fonts anywhere.
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr, FONT)
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "fr-FR")
    lang.set(qn("w:eastAsia"), "fr-FR")
    for fonts in styles.element.iter(qn("w:rFonts")):
        if fonts.getparent() is not rpr:
            fonts.getparent().remove(fonts)

    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = BODY_SIZE
    normal.font.color.rgb = BLACK
    fmt = normal.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(5)
    fmt.line_spacing = 1.1
    fmt.widow_control = True

    def heading(name, size, before, after, align=None, caps=False):
        style = styles[name]
        style.font.name = FONT
        style.font.size = size
        style.font.bold = True
        style.font.italic = False
        style.font.color.rgb = BLACK
        style.font.all_caps = caps
        pf = style.paragraph_format
        pf.space_before = before
        pf.space_after = after
        pf.keep_with_next = True
        pf.keep_together = True
        pf.line_spacing = 1.0
        if align is not None:
            pf.alignment = align
        # python-docx's template puts a coloured border under the title
        p_pr = style.element.get_or_add_pPr()
        for border in p_pr.findall(qn("w:pBdr")):
            p_pr.remove(border)
        for color in style.element.rPr.findall(qn("w:color")):
            for attr in ("w:themeColor", "w:themeShade", "w:themeTint"):
                color.attrib.pop(qn(attr), None)
        return style

    heading("Title", Pt(13), Pt(0), Pt(6), WD_ALIGN_PARAGRAPH.CENTER)
    subtitle = heading("Subtitle", Pt(11.5), Pt(0), Pt(4), WD_ALIGN_PARAGRAPH.CENTER)
    for name in ("Title", "Subtitle"):  # no letter spacing
        for spacing in styles[name].element.rPr.findall(qn("w:spacing")):
            styles[name].element.rPr.remove(spacing)
    heading("Heading 1", Pt(11.5), Pt(14), Pt(6))
    heading("Heading 2", Pt(10.5), Pt(10), Pt(4))
    heading("Heading 3", Pt(10.5), Pt(8), Pt(3))
    subtitle.font.bold = True

    bullet = styles["List Bullet"]
    bullet.paragraph_format.space_after = Pt(3)
    p_pr = bullet.element.get_or_add_pPr()
    for contextual in p_pr.findall(qn("w:contextualSpacing")):
        p_pr.remove(contextual)

    def paragraph_style(name, size, bold=False, before=Pt(0), after=Pt(0), align=None, base="Normal"):
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = styles[base]
        style.font.size = size
        style.font.bold = bold
        pf = style.paragraph_format
        pf.space_before = before
        pf.space_after = after
        pf.line_spacing = 1.0
        if align is not None:
            pf.alignment = align
        style.quick_style = True
        return style

    cell_pad = dict(before=Pt(1), after=Pt(1))
    paragraph_style("Texte de tableau", TABLE_SIZE, **cell_pad)
    paragraph_style("En-tête de tableau", TABLE_SIZE, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, **cell_pad)
    paragraph_style("Petit texte de tableau", SMALL_TABLE_SIZE, **cell_pad)
    paragraph_style(
        "Petit en-tête de tableau", SMALL_TABLE_SIZE, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, **cell_pad
    )
    paragraph_style("Signature", BODY_SIZE, after=Pt(2))
    paragraph_style("Balise", Pt(6))  # paragraphs that hold only a {%p %} tag
    footer = styles["Footer"]
    footer.font.size = FOOTER_SIZE
    footer.font.color.rgb = GREY
    footer.paragraph_format.space_after = Pt(0)
    footer.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _setup_bullets(document: DocxDocument) -> None:
    """Make the « List Bullet » style an en dash in Arial, as French administrative lists are."""
    numbering = document.part.numbering_part.element
    for abstract in numbering.findall(qn("w:abstractNum")):
        lvl = abstract.find(qn("w:lvl"))
        p_style = lvl.find(qn("w:pStyle"))
        if p_style is None or p_style.get(qn("w:val")) != "ListBullet":
            continue
        lvl.find(qn("w:lvlText")).set(qn("w:val"), "–")
        _set_fonts(lvl.find(qn("w:rPr")), FONT)
        lvl.find(qn("w:pPr")).find(qn("w:tabs")).find(qn("w:tab")).set(qn("w:pos"), "397")
        ind = lvl.find(qn("w:pPr")).find(qn("w:ind"))
        ind.set(qn("w:left"), "397")
        ind.set(qn("w:hanging"), "283")


def _setup_settings(document: DocxDocument) -> None:
    settings = document.settings.element
    for tag, value in (("w:decimalSymbol", ","), ("w:listSeparator", ";")):
        element = settings.find(qn(tag))
        if element is not None:
            element.set(qn("w:val"), value)
    theme_lang = settings.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:val"), "fr-FR")
    tab = settings.find(qn("w:defaultTabStop"))
    tab.set(qn("w:val"), "567")


# Parts of python-docx's default package that no template needs, dropped with their
# relationships (python-docx saves only the parts reachable from the package's relationships
# and writes [Content_Types].xml from them): Word 2010's copy of the styles
# (stylesWithEffects.xml, 438 kB), the default document's thumbnail (a file manager would show
# it as the preview of every generated document), its custom XML item and its web settings.
DROPPED_RELATIONSHIPS = frozenset({
    RT.THUMBNAIL,
    RT.CUSTOM_XML,
    RT.WEB_SETTINGS,
    "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects",
})
# The house styles set up by _setup_styles (and the table style of Builder.table): every
# template keeps them, used by its own text or not, so that all templates share one
# styles.xml and whoever edits a template in Word finds the same styles in each.
HOUSE_STYLES = (
    "Normal", "Title", "Subtitle", "Heading 1", "Heading 2", "Heading 3", "List Bullet", "Footer",
    "Table Grid", "Texte de tableau", "En-tête de tableau", "Petit texte de tableau",
    "Petit en-tête de tableau", "Signature", "Balise",
)
# Elements whose w:val names a style, in any part (styles.xml included).
STYLE_REFERENCES = tuple(
    qn(tag) for tag in (
        "w:pStyle", "w:rStyle", "w:tblStyle", "w:numStyleLink", "w:styleLink",
        "w:basedOn", "w:link", "w:next",
    )
)


def _style_references(element) -> set[str]:
    """The style ids that ``element`` and its descendants refer to."""
    return {ref.get(qn("w:val")) for ref in element.iter(*STYLE_REFERENCES)}


def _slim_package(document: DocxDocument) -> None:
    """Drop what python-docx's default package carries and no template uses (see
    :data:`DROPPED_RELATIONSHIPS`), and trim styles.xml to the styles a template can use.

    styles.xml keeps its defaults (w:docDefaults, the default style of each type), the house
    styles, every style another part refers to (the document, its footer, numbering.xml's
    list levels) and, from those, every style they are based on, linked to or followed by;
    w:latentStyles (Word's list of its built-in styles, which Word knows anyway) goes. Rendering
    adds no style: generated documents use only what their template's parts name."""
    package = document.part.package
    for rels in (package.rels, document.part.rels):
        for r_id in [r_id for r_id, rel in rels.items() if rel.reltype in DROPPED_RELATIONSHIPS]:
            del rels[r_id]

    styles = document.styles.element
    for latent in styles.findall(qn("w:latentStyles")):
        styles.remove(latent)
    by_id = {style.get(qn("w:styleId")): style for style in styles.findall(qn("w:style"))}
    wanted = {document.styles[name].style_id for name in HOUSE_STYLES}
    wanted |= {style_id for style_id, style in by_id.items() if style.get(qn("w:default")) == "1"}
    for part in package.iter_parts():
        element = getattr(part, "element", None)
        if element is not None and element is not styles:
            wanted |= _style_references(element)
    kept: set[str] = set()
    while wanted:
        style_id = wanted.pop()
        if style_id in kept or style_id not in by_id:
            continue
        kept.add(style_id)
        wanted |= _style_references(by_id[style_id])
    for style_id, style in by_id.items():
        if style_id not in kept:
            styles.remove(style)


def _setup_page(section, landscape: bool = False) -> None:
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (A4_LONG, A4_SHORT) if landscape else (A4_SHORT, A4_LONG)
    section.top_margin = section.bottom_margin = MARGIN
    section.left_margin = section.right_margin = MARGIN
    section.header_distance = Cm(1)
    section.footer_distance = Cm(1)


# --- the builder ---------------------------------------------------------------------------


@dataclass
class Column:
    """A table column: header text, width, alignment of its body cells."""

    header: str
    width: float  # cm
    align: str = "left"  # left, center, right


_ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
}


class Builder:
    """A .docx being written: A4, Arial, French, with a footer (title and « Page X sur Y »)."""

    def __init__(self, title: str, subject: str, nbsp_numbers: bool = False) -> None:
        # no-break spaces after « n° », in « 48 heures » and « 6 janvier » (see typography)
        self.nbsp_numbers = nbsp_numbers
        self.document = Document()
        _setup_styles(self.document)
        _setup_bullets(self.document)
        _setup_settings(self.document)
        _setup_page(self.document.sections[0])
        props = self.document.core_properties
        props.title = title  # plain text: the tool sets the real title after rendering
        props.subject = subject
        props.author = "dotation-docs"
        props.last_modified_by = "dotation-docs"
        props.language = "fr-FR"
        props.keywords = "modèle docxtpl"
        # docxtpl renders the properties through Jinja too: no braces here.
        props.comments = "Modèle dotation-docs : les balises entre accolades sont remplacées à la génération."
        props.created = props.modified = FIXED_DATE
        props.revision = 1
        self._footer()

    # paragraphs

    def p(self, text: str = "", *, container=None, **formatting) -> Paragraph:
        """Add a paragraph of rich ``text`` (see :func:`rich_chunks`) to the body or to
        ``container`` (a table cell) and return it; ``formatting`` as :meth:`fill`."""
        target = container if container is not None else self.document
        return self.fill(target.add_paragraph(), text, **formatting)

    def fill(
        self,
        paragraph: Paragraph,
        text: str,
        *,
        style: str | None = None,
        align: str | None = "justify",
        bold: bool = False,
        italic: bool = False,
        size=None,
        keep_next: bool = False,
        keep_together: bool = False,
        indent: float | None = None,
        first_line: float | None = None,
        before: float | None = None,
        after: float | None = None,
    ) -> Paragraph:
        """Write rich ``text`` into ``paragraph`` and format it; return it."""
        if style is not None:
            paragraph.style = self.document.styles[style]
        write(paragraph, text, bold=bold, italic=italic, size=size, nbsp_numbers=self.nbsp_numbers)
        fmt = paragraph.paragraph_format
        if align is not None:
            fmt.alignment = _ALIGN[align]
        if keep_next:
            fmt.keep_with_next = True
        if keep_together:
            fmt.keep_together = True
        if indent is not None:
            fmt.left_indent = Cm(indent)
        if first_line is not None:
            fmt.first_line_indent = Cm(first_line)
        if before is not None:
            fmt.space_before = Pt(before)
        if after is not None:
            fmt.space_after = Pt(after)
        return paragraph

    def tag(self, statement: str) -> None:
        """Add a paragraph holding only ``{%p statement %}`` (docxtpl removes the paragraph)."""
        self.p("{%p " + statement + " %}", style="Balise", align=None)

    def heading(self, text: str, level: int = 1, align: str | None = None) -> Paragraph:
        return self.p(text, style=f"Heading {level}", align=align)

    def dotted_lines(self, count: int, width=PORTRAIT_WIDTH) -> None:
        """Add ``count`` dotted lines to write on by hand, kept together with what follows."""
        for _ in range(count):
            paragraph = self.p("\t", align=None, after=2, before=8, keep_next=True)
            paragraph.paragraph_format.tab_stops.add_tab_stop(
                Emu(width), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS
            )

    # tables

    def table(
        self,
        columns: Sequence[Column],
        *,
        small: bool = False,
        header: bool = True,
        borders: bool = True,
    ) -> Table:
        """Add a fixed-layout table with ``columns``; with ``header``, a bold grey header row
        that Word and LibreOffice repeat on each page."""
        table = self.document.add_table(rows=0, cols=len(columns))
        table.style = self.document.styles["Table Grid"] if borders else None
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        tbl_pr = table._tbl.tblPr
        if not borders:
            tbl_borders = OxmlElement("w:tblBorders")
            for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
                tbl_borders.append(_border(f"w:{side}", val="nil"))
            tbl_pr.insert_element_before(tbl_borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook")
        if not borders or small:
            # side margins of the cells: without borders, none on the left (text aligns
            # with the body) and 0,5 cm on the right (a gutter between the columns);
            # narrow in small tables (room for the text)
            widths = {"left": "0", "right": "284"} if not borders else {"left": "57", "right": "57"}
            margins = OxmlElement("w:tblCellMar")
            for name in ("left", "right"):
                margin = OxmlElement(f"w:{name}")
                margin.set(qn("w:w"), widths[name])
                margin.set(qn("w:type"), "dxa")
                margins.append(margin)
            tbl_pr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription")
        total = sum(c.width for c in columns)
        tbl_w = tbl_pr.find(qn("w:tblW"))
        if tbl_w is None:
            tbl_w = OxmlElement("w:tblW")
            tbl_pr.append(tbl_w)
        tbl_w.set(qn("w:w"), str(int(Cm(total).twips)))
        tbl_w.set(qn("w:type"), "dxa")
        for grid_col, column in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), columns):
            grid_col.set(qn("w:w"), str(int(Cm(column.width).twips)))
        table._columns_spec = list(columns)  # type: ignore[attr-defined]
        table._small = small  # type: ignore[attr-defined]
        if header:
            style = "Petit en-tête de tableau" if small else "En-tête de tableau"
            cells = self.row(table, [c.header for c in columns], style=style, align="center")
            row = table.rows[-1]
            _set_on_off(row._tr.get_or_add_trPr(), "w:tblHeader")
            for cell in cells:
                _shade(cell, HEADER_FILL)
                cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        return table

    def row(
        self,
        table: Table,
        texts: Sequence[str],
        *,
        style: str | None = None,
        align: str | None = None,
        bold: bool = False,
        spans: Sequence[int] | None = None,
        keep_next: bool = False,
    ) -> list[_Cell]:
        """Add a row; ``spans`` merges cells (one span per text, summing to the column count)."""
        columns: list[Column] = table._columns_spec  # type: ignore[attr-defined]
        small: bool = table._small  # type: ignore[attr-defined]
        style = style or ("Petit texte de tableau" if small else "Texte de tableau")
        row = table.add_row()
        _set_on_off(row._tr.get_or_add_trPr(), "w:cantSplit")
        for cell, column in zip(row.cells, columns):
            cell.width = Cm(column.width)
        spans = list(spans) if spans else [1] * len(texts)
        cells: list[_Cell] = []
        start = 0
        for span in spans:
            cell = row.cells[start]
            if span > 1:
                cell = cell.merge(row.cells[start + span - 1])
            cells.append(cell)
            start += span
        for index, (cell, text) in enumerate(zip(cells, texts)):
            column = columns[sum(spans[:index])]
            paragraph = cell.paragraphs[0]
            paragraph.style = self.document.styles[style]
            write(paragraph, text, bold=bold, nbsp_numbers=self.nbsp_numbers)
            paragraph.paragraph_format.alignment = _ALIGN[align or column.align]
            if keep_next:
                paragraph.paragraph_format.keep_with_next = True
        return cells

    def tag_row(self, table: Table, statement: str) -> None:
        """Add a row holding only ``{%tr statement %}`` (docxtpl removes the row)."""
        self.row(table, ["{%tr " + statement + " %}"], spans=[len(table.columns)])

    def label_table(self, rows: Sequence[tuple[str, str]], label_width: float = 4.2) -> Table:
        """Add a bordered two-column table of labels (grey) and values."""
        table = self.table(
            [Column("", label_width), Column("", PORTRAIT_WIDTH / Cm(1) - label_width)],
            header=False,
        )
        for label, value in rows:
            cells = self.row(table, [label, value], style="Texte de tableau")
            _shade(cells[0], LABEL_FILL)
            for paragraph in cells[0].paragraphs:
                for run in paragraph.runs:
                    run.bold = True
            for cell in cells:
                for paragraph in cell.paragraphs:
                    paragraph.paragraph_format.space_before = Pt(2)
                    paragraph.paragraph_format.space_after = Pt(2)
                    for run in paragraph.runs:
                        run.font.size = Pt(10)
        self.spacer()
        return table

    def signatures(self, left: Sequence[str], right: Sequence[str], gap: float = 62) -> None:
        """Add the signature block: a borderless two-column table. Each side is a list of
        lines: the first (« Pour … ») in bold, the last (the name) on a second row after
        room to sign, so that both names line up whatever the length of the titles."""
        table = self.table([Column("", 8.5), Column("", 8.5)], header=False, borders=False)
        heads = self.row(table, ["", ""], style="Signature", align="left")
        names = self.row(table, ["", ""], style="Signature", align="left")
        for head, name, lines in zip(heads, names, (left, right)):
            for index, line in enumerate(lines[:-1]):
                self.fill(
                    head.paragraphs[0] if index == 0 else head.add_paragraph(),
                    line,
                    style="Signature",
                    align="left",
                    bold=index == 0,
                    keep_next=True,
                    keep_together=True,
                )
            self.fill(name.paragraphs[0], lines[-1], style="Signature", align="left", before=gap)
        # Word keeps rows together through keep-with-next; LibreOffice through the table's
        # own « keep with next » is not needed: both rows are short and cannot split.

    def signature_right(self, lines: Sequence[str], gap: float = 62) -> None:
        """Add a single signature on the right half of the page (letters, attestations)."""
        for index, line in enumerate(lines):
            last = index == len(lines) - 1
            self.p(
                line,
                style="Signature",
                align="left",
                indent=9,
                keep_next=not last,
                before=gap if last else None,
            )

    def spacer(self, points: float = 4) -> None:
        paragraph = self.p("", align=None, after=0)
        paragraph.paragraph_format.line_spacing = Pt(points)
        paragraph.paragraph_format.space_before = Pt(0)

    # sections

    def landscape_section(self) -> None:
        """Start a new page in landscape A4 (the footer carries over)."""
        # The paragraph that will hold the section break takes a line: make it tiny so
        # that it never spills onto an empty page of its own.
        section = self.document.add_section(WD_SECTION.NEW_PAGE)
        _setup_page(section, landscape=True)
        body = self.document.element.body
        breaker = body.findall(qn("w:p"))[-1]
        if breaker.pPr is not None and breaker.pPr.sectPr is not None:
            run_pr = OxmlElement("w:rPr")
            size = OxmlElement("w:sz")
            size.set(qn("w:val"), "2")
            run_pr.append(size)
            breaker.pPr.sectPr.addprevious(run_pr)  # w:rPr comes before w:sectPr
            spacing = OxmlElement("w:spacing")
            spacing.set(qn("w:before"), "0")
            spacing.set(qn("w:after"), "0")
            spacing.set(qn("w:line"), "20")
            spacing.set(qn("w:lineRule"), "exact")
            breaker.pPr.insert(0, spacing)

    def _footer(self) -> None:
        footer = self.document.sections[0].footer
        title = footer.paragraphs[0]
        title.style = self.document.styles["Footer"]
        write(title, "{{ document.titre }}")
        p_pr = title._p.get_or_add_pPr()
        borders = OxmlElement("w:pBdr")
        borders.append(_border("w:top", size=4, color="A6A6A6", space=4))
        p_pr.insert_element_before(borders, *_PPR_AFTER_PBDR)
        page = footer.add_paragraph(style=self.document.styles["Footer"])
        page.add_run("Page ").font.size = FOOTER_SIZE
        _add_field(page, "PAGE", "1", FOOTER_SIZE)
        page.add_run(" sur ").font.size = FOOTER_SIZE
        _add_field(page, "NUMPAGES", "1", FOOTER_SIZE)

    # output

    def save(self, path: Path) -> None:
        _slim_package(self.document)
        self.document.save(path)
        normalize_zip(path)


def write(
    paragraph: Paragraph, text: str, *, bold: bool = False, italic: bool = False, size=None,
    nbsp_numbers: bool = False,
) -> None:
    """Append rich ``text`` to ``paragraph`` as runs; tags are never split across runs."""
    for chunk, chunk_bold, chunk_italic, chunk_sup in rich_chunks(typography(text, nbsp_numbers)):
        run = paragraph.add_run(chunk)
        if bold or chunk_bold:
            run.bold = True
        if italic or chunk_italic:
            run.italic = True
        if chunk_sup:
            run.font.superscript = True
        if size is not None:
            run.font.size = size


def normalize_zip(path: Path) -> None:
    """Rewrite the .docx with fixed entry dates, so that rebuilding gives identical bytes."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, data)


# --- the text files ------------------------------------------------------------------------

LOAN, GIFT = "mise à disposition", "don"
# « ::: mise-à-disposition » and « ::: don » fence the text of one kind of convention.
VARIANTS = {"mise-à-disposition": LOAN, "don": GIFT}

FENCE_RE = re.compile(r"^:::\s*(\S*)\s*$")
CONTROL_RE = re.compile(r"^\{%p\s+(.*?)\s*%\}$")
BLOCK_RE = re.compile(r"^\[\[([\w-]+)(?:\s+(\S+))?\]\]$")
HEADING_RE = re.compile(r"^(#{1,3}) +(.*)$")
ATTRS_RE = re.compile(r"\s*\{:([^{}]*)\}$")
REF_RE = re.compile(r"\[\[([\w-]+)\]\]")
ARTICLE_RE = re.compile(r"^Article \[\[([\w-]+)\]\] – ")

HEADING_KINDS = {1: "title", 2: "heading1", 3: "heading2"}
# What each kind of element is in Word, before the {: …} attributes of the text.
KIND_FORMAT: dict[str, dict] = {
    "title": dict(style="Title", align="center"),
    "subtitle": dict(style="Subtitle", align="center"),
    "heading1": dict(style="Heading 1", align=None),
    "heading2": dict(style="Heading 2", align=None),
    "paragraph": {},
    "bullet": dict(style="List Bullet"),
}
# {: …} words: flags, and name=number settings (points or centimetres, « , » or « . »).
ATTR_FLAGS = {
    "gauche": ("align", "left"),
    "centré": ("align", "center"),
    "droite": ("align", "right"),
    "justifié": ("align", "justify"),
    "gras": ("bold", True),
    "italique": ("italic", True),
    "lié": ("keep_next", True),
    "entier": ("keep_together", True),
    # press release only: which block of the release a paragraph is
    "lieu-et-date": ("role", "dateline"),
    "chapeau": ("role", "lead"),
}
ATTR_VALUES = {
    "avant": "before",  # points
    "après": "after",  # points
    "retrait": "indent",  # cm
    "alinéa": "first_line",  # cm
    "taille": "size",  # points
    "tabulation": "tab",  # cm
}


class TextError(Exception):
    """A text file of ``templates/textes/`` that the script cannot build from (French message)."""


@dataclass(frozen=True)
class Element:
    """One paragraph-level piece of a text file, in the order of the document."""

    kind: str  # title, subtitle, heading1, heading2, paragraph, bullet, control, block
    text: str  # the words; the statement of a control; the name of a block
    where: str  # « textes/x.md, ligne n », for error messages
    attrs: dict = field(default_factory=dict)
    arg: str | None = None  # a block's argument: [[espace 6]]


def _parse_attrs(words: str, where: str) -> dict:
    attrs: dict = {}
    for word in words.split():
        name, _, value = word.partition("=")
        if word in ATTR_FLAGS:
            key, flag = ATTR_FLAGS[word]
            attrs[key] = flag
        elif value and name in ATTR_VALUES:
            try:
                attrs[ATTR_VALUES[name]] = float(value.replace(",", "."))
            except ValueError:
                raise TextError(f"{where} : « {word} » : un nombre est attendu après « {name}= ».") from None
        else:
            known = ", ".join([*ATTR_FLAGS, *(f"{v}=…" for v in ATTR_VALUES)])
            raise TextError(f"{where} : mise en page « {word} » inconnue dans {{: …}} ; possibles : {known}.")
    return attrs


def parse_text(text: str, name: str, variant: str | None = None) -> list[Element]:
    """Return the elements of the text file ``name`` (its content is ``text``), keeping the
    ``::: …`` fenced parts of ``variant`` only. Raise :class:`TextError` on a broken fence
    or an unknown ``{: …}`` word."""
    elements: list[Element] = []
    pending: list[str] = []  # lines of the paragraph or bullet being read
    pending_kind, pending_where = "paragraph", ""
    fence: tuple[str, str] | None = None  # (label, where) of the open fence
    last_title_line = -2

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        joined = " ".join(pending)
        attrs = {}
        match = ATTRS_RE.search(joined)
        if match:
            attrs = _parse_attrs(match.group(1), pending_where)
            joined = joined[: match.start()]
        if "{:" in joined:
            raise TextError(f"{pending_where} : « {{: … }} » se place à la fin du paragraphe, une seule fois.")
        kind = pending_kind
        if kind.startswith("heading:"):
            kind = kind.removeprefix("heading:")
        elements.append(Element(kind, joined.replace("\\t", "\t"), pending_where, attrs))
        pending = []

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"textes/{name}, ligne {number}"
        if line.startswith("%%"):
            continue
        fence_match = FENCE_RE.match(line)
        if fence_match:
            flush()
            label = fence_match.group(1)
            if not label:
                if fence is None:
                    raise TextError(f"{where} : « ::: » ferme une partie qui n'a pas été ouverte.")
                fence = None
            elif fence is not None:
                raise TextError(f"{where} : « ::: {label} » ouvre une partie dans la partie ouverte {fence[1]}.")
            elif variant is None:
                raise TextError(f"{where} : « ::: {label} » : ce document n'a pas de variantes.")
            elif label not in VARIANTS:
                raise TextError(f"{where} : variante « {label} » inconnue ; possibles : {', '.join(VARIANTS)}.")
            else:
                fence = (label, where)
            continue
        if fence is not None and VARIANTS[fence[0]] != variant:
            continue
        if not line:
            flush()
            continue
        control, block, heading = CONTROL_RE.match(line), BLOCK_RE.match(line), HEADING_RE.match(line)
        if control:
            flush()
            elements.append(Element("control", control.group(1), where))
        elif block:
            flush()
            elements.append(Element("block", block.group(1), where, arg=block.group(2)))
        elif heading:
            flush()
            level = len(heading.group(1))
            kind = HEADING_KINDS[level]
            if level == 1:  # two « # » lines in a row: a title and its subtitle
                kind = "subtitle" if last_title_line == number - 1 else "title"
                last_title_line = number
            pending, pending_kind, pending_where = [heading.group(2)], f"heading:{kind}", where
            flush()
        elif line.startswith("- "):
            flush()
            pending, pending_kind, pending_where = [line[2:].strip()], "bullet", where
        elif pending:
            pending.append(line)
        else:
            pending, pending_kind, pending_where = [line], "paragraph", where
    flush()
    if fence is not None:
        raise TextError(f"{fence[1]} : « ::: {fence[0]} » n'est jamais refermé par « ::: ».")
    return elements


def article_numbers(elements: Sequence[Element]) -> dict[str, int]:
    """Return the number of each article of ``elements`` by its mark, in order. Raise
    :class:`TextError` when two articles have the same mark."""
    numbers: dict[str, int] = {}
    for element in elements:
        match = ARTICLE_RE.match(element.text) if element.kind == "heading2" else None
        if match:
            if match.group(1) in numbers:
                raise TextError(f"{element.where} : deux articles portent le repère [[{match.group(1)}]].")
            numbers[match.group(1)] = len(numbers) + 1
    return numbers


def number_articles(elements: Sequence[Element], external: dict[str, int] | None = None) -> list[Element]:
    """Return ``elements`` with the articles numbered in order: « ### Article [[id]] – Titre »
    becomes « Article 3 – Titre » and every ``[[id]]`` in a text the number of that article
    (or of an article of another document, from ``external``: the handover record cites the
    convention's). Raise :class:`TextError` for a reference to an article that does not exist."""
    numbers = {**(external or {}), **article_numbers(elements)}

    def resolve(element: Element) -> Element:
        text = element.text
        match = ARTICLE_RE.match(text) if element.kind == "heading2" else None
        if match:
            text = f"Article{NBSP}{numbers[match.group(1)]} – " + text[match.end():]

        def number(ref: re.Match) -> str:
            if ref.group(1) not in numbers:
                known = ", ".join(f"[[{key}]]" for key in numbers) or "aucun"
                raise TextError(
                    f"{element.where} : renvoi [[{ref.group(1)}]] : aucun article ne porte ce repère "
                    f"(un article s'écrit « ### Article [[repère]] – Titre » ; repères : {known})."
                )
            return str(numbers[ref.group(1)])

        parts = TAG_RE.split(text)
        for i in range(0, len(parts), 2):  # references outside Jinja tags only
            parts[i] = REF_RE.sub(number, parts[i])
        return Element(element.kind, "".join(parts), element.where, element.attrs, element.arg)

    return [element if element.kind in ("control", "block") else resolve(element) for element in elements]


def read_texts(
    texts: Path, names: Sequence[str], variant: str | None = None, external: dict[str, int] | None = None
) -> list[Element]:
    """Return the elements of the text files ``names`` of the folder ``texts``, in order,
    articles numbered (see :func:`parse_text` and :func:`number_articles`; ``external``:
    the numbers of another document's articles that these texts may cite)."""
    return number_articles(parse_files(texts, names, variant), external)


def parse_files(texts: Path, names: Sequence[str], variant: str | None = None) -> list[Element]:
    """Return the elements of the text files ``names`` of the folder ``texts``, in order,
    articles not yet numbered (see :func:`parse_text`)."""
    elements: list[Element] = []
    for name in names:
        path = texts / name
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TextError(f"{path} : fichier de texte introuvable (il faut {', '.join(names)}).") from None
        except UnicodeDecodeError:
            raise TextError(f"{path} : le fichier n'est pas enregistré en UTF-8.") from None
        elements += parse_text(content, name, variant)
    return elements


def write_elements(doc: Builder, elements: Sequence[Element], blocks: dict[str, Callable[[], object]]) -> None:
    """Add ``elements`` to ``doc``; each ``[[name]]`` line calls ``blocks[name]`` (every one of
    them exactly once); ``[[espace n]]`` adds ``n`` points of space. Raise :class:`TextError`
    for an unknown, repeated or missing block, or a press-release mark outside the release."""
    used: dict[str, str] = {}
    for element in elements:
        if element.kind == "control":
            doc.tag(element.text)
        elif element.kind == "block":
            name = element.text
            if name == "espace":
                try:
                    doc.spacer(float(element.arg.replace(",", ".")) if element.arg else 4)
                except ValueError:
                    raise TextError(f"{element.where} : [[espace {element.arg}]] : un nombre de points est attendu.") from None
                continue
            if name not in blocks:
                known = ", ".join(f"[[{key}]]" for key in [*blocks, "espace"])
                raise TextError(f"{element.where} : bloc [[{name}]] inconnu ; blocs de ce document : {known}.")
            if name in used:
                raise TextError(f"{element.where} : le bloc [[{name}]] figure déjà {used[name]}.")
            if element.arg is not None:
                raise TextError(f"{element.where} : le bloc [[{name}]] ne prend pas d'argument.")
            used[name] = element.where.replace("ligne", "à la ligne")
            blocks[name]()
        else:
            attrs = dict(element.attrs)
            if "role" in attrs:
                raise TextError(f"{element.where} : « lieu-et-date » et « chapeau » sont réservés au communiqué.")
            tab = attrs.pop("tab", None)
            if "size" in attrs:
                attrs["size"] = Pt(attrs["size"])
            paragraph = doc.p(element.text, **{**KIND_FORMAT[element.kind], **attrs})
            if tab is not None:
                paragraph.paragraph_format.tab_stops.add_tab_stop(Cm(tab))
    missing = [name for name in blocks if name not in used]
    if missing:
        first = elements[0].where.split(",")[0] if elements else "le texte"
        raise TextError(
            f"{first} : il manque " + ", ".join(f"[[{name}]]" for name in missing)
            + " (une ligne à elle seule, là où le tableau ou les signatures doivent figurer)."
        )


# --- conventions ---------------------------------------------------------------------------

CONVENTION_TEXTS = ("convention-preambule.md", "convention-articles.md", "convention-annexe.md")


def convention_signatures(doc: Builder) -> None:
    """The two signatures; the authority's reads « Pour le Président et par délégation »,
    the delegate's title and the delegation act when ``signatures.convention`` says so
    (« Référence de la délégation de signature » filled and conventions signed by the
    delegate), else the signatory's function (« Le Président de Limoges Métropole »)."""
    doc.signatures(
        [
            "Pour la Collectivité,",
            "{%p if signatures.convention.par_delegation %}",
            "{{ signatures.convention.entete }},",
            "{{ signatures.convention.qualite }}",
            "({{ signatures.convention.acte }})",
            "{%p else %}",
            "{{ signatures.convention.entete }}",
            "{%p endif %}",
            "{{ signatures.convention.nom }}",
        ],
        [
            "Pour l'association,",
            "{{ beneficiaire.qualite }}",
            "{{ beneficiaire.civilite }} {{ beneficiaire.representant }}",
        ],
    )


# Serial numbers of up to 20 characters hold on one line of their column (8 pt Arial,
# 0,1 cm cell margins: 4,5 cm is 20 characters of 0,78 em); the IMEI column (15 digits)
# exists only in the table used when a device of the annex has an IMEI.
INVENTORY_COLUMNS = [
    Column("N°", 0.8, "center"),
    Column("Catégorie", 3.0),
    Column("Marque et modèle", 3.9),
    Column("N° de série", 4.5),
    Column("IMEI", 2.8),
    Column("N° d'inventaire", 2.6),
    Column("Accessoires", 3.3),
    Column("Valeur unitaire HT", 2.4, "right"),
    Column("Valeur unitaire TTC", 2.4, "right"),
]
INVENTORY_COLUMNS_NO_IMEI = [
    Column("N°", 0.8, "center"),
    Column("Catégorie", 3.4),
    Column("Marque et modèle", 5.1),
    Column("N° de série", 4.5),
    Column("N° d'inventaire", 3.0),
    Column("Accessoires", 4.1),
    Column("Valeur unitaire HT", 2.4, "right"),
    Column("Valeur unitaire TTC", 2.4, "right"),
]
for _columns in (INVENTORY_COLUMNS, INVENTORY_COLUMNS_NO_IMEI):
    assert abs(sum(c.width for c in _columns) - LANDSCAPE_WIDTH / Cm(1)) < 0.01


def _inventory_table(doc: Builder, with_imei: bool) -> None:
    table = doc.table(INVENTORY_COLUMNS if with_imei else INVENTORY_COLUMNS_NO_IMEI, small=True)
    doc.tag_row(table, "for m in materiels")
    doc.row(table, [
        "{{ m.numero }}",
        "{{ m.categorie | capitalize }}",
        "{{ m.designation }}",
        "{{ m.numero_serie }}",
        *(["{{ m.imei or '—' }}"] if with_imei else []),
        "{{ m.numero_inventaire }}",
        "{{ m.accessoires or '—' }}",
        "{{ m.prix_ht | montant }}",
        "{{ m.prix_ttc | montant }}",
    ])
    doc.tag_row(table, "endfor")
    cells = doc.row(
        table,
        [
            f"Total : {{{{ materiel_beneficiaire.nombre | {EQUIPEMENTS} }}}}",
            "{{ materiel_beneficiaire.valeur_ht | montant }}",
            "{{ materiel_beneficiaire.valeur_ttc | montant }}",
        ],
        spans=[len(table.columns) - 2, 1, 1],
        bold=True,
    )
    cells[0].paragraphs[0].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for cell in cells:
        _shade(cell, LABEL_FILL)


def convention_inventory(doc: Builder) -> None:
    """The annex's inventory: with an IMEI column when a device of the annex has an IMEI,
    without it otherwise (two tables, docxtpl keeps one)."""
    doc.tag("if materiel_beneficiaire.avec_imei")
    _inventory_table(doc, with_imei=True)
    doc.tag("else")
    _inventory_table(doc, with_imei=False)
    doc.tag("endif")


def build_convention(kind: str, texts: Path) -> Builder:
    doc = Builder(f"Convention de {kind} de matériel informatique", "Modèle de convention – une convention par association",
                  nbsp_numbers=True)
    write_elements(doc, read_texts(texts, CONVENTION_TEXTS, variant=kind), {
        "signatures": lambda: convention_signatures(doc),
        "page-paysage": doc.landscape_section,
        "inventaire": lambda: convention_inventory(doc),
    })
    return doc


# --- handover record -----------------------------------------------------------------------

# The record is the reference when a device comes back. Reference numbers are printed with
# non-breaking hyphens (filter « insecable »), so each column is wide enough for its
# reference on one line: a serial number of up to 16 characters of wide letters, and an
# « IMEI » line of 15 digits (3,8 cm: 16 characters of 0,78 em at 8 pt plus the cell
# margins); an inventory number such as « CCST-NUM-0005 » (2,6 cm); « câble USB-C, »
# (2,3 cm). The category and the model share one column so that « Observations » leaves
# room to write a remark.
HANDOVER_COLUMNS = [
    Column("N°", 0.7, "center"),
    Column("Désignation", 2.9),
    Column("N° de série / IMEI", 3.8),
    Column("N°\nd'inventaire", 2.6),
    Column("Accessoires", 2.3),
    Column("État", 2.0),
    Column("Observations", 2.7),
]
assert abs(sum(c.width for c in HANDOVER_COLUMNS) - PORTRAIT_WIDTH / Cm(1)) < 0.01


def handover_facts(doc: Builder) -> None:
    doc.label_table([
        ("Date", "{{ operation.date_remise | date_longue }}"),
        ("Heure", "{{ operation.heure_remise | heure }}"),
        ("Lieu", "{{ operation.lieu_remise }}"),
        ("Remis par", f"{{{{ collectivite.nom }}}}\nReprésentant : {ELU}"),
        (
            "En présence de",
            "{{ etat.representant }}, {{ etat.representant_qualite }}, pour l'État "
            "({{ etat.prefecture }})",
        ),
        (
            "Reçu par",
            "{% if beneficiaire.est_association %}Association « {{ beneficiaire.nom }} »"
            "{% else %}Service « {{ beneficiaire.nom }} » {{ collectivite.du_nom }}{% endif %}"
            "\nReprésentant : {{ beneficiaire.civilite }} {{ beneficiaire.representant }}, "
            "{{ beneficiaire.qualite }}",
        ),
        ("{{ beneficiaire.territoire.intitule }}", "{{ beneficiaire.territoire.designation }}"),
        ("Lieu d'utilisation", "{{ beneficiaire.lieu_utilisation }}"),
    ])


def handover_devices(doc: Builder) -> None:
    table = doc.table(HANDOVER_COLUMNS, small=True)
    doc.tag_row(table, "for m in materiels")
    doc.row(table, [
        "{{ m.numero }}",
        "{{ m.categorie | capitalize }}\n{{ m.designation }}",
        "{{ m.numero_serie | insecable }}{% if m.imei %}\nIMEI" + NBSP + "{{ m.imei | insecable }}{% endif %}",
        "{{ m.numero_inventaire | insecable }}",
        # « câble USB-C » keeps its hyphen, the list still wraps at its spaces.
        "{{ (m.accessoires or '—') | insecable | replace('" + NBSP + "', ' ') }}",
        "{{ m.etat or '—' }}",  # as the workbook says; never an assumed « bon état »
        "",
    ])
    doc.tag_row(table, "endfor")
    doc.spacer(6)


def handover_signatures(doc: Builder) -> None:
    """The two signatures; the authority's reads « Pour le Président et par délégation »,
    the delegate's title and the delegation act when ``signatures.proces_verbal`` says so
    (« Référence de la délégation de signature » filled), else the signatory's function or
    the delegate's title."""
    doc.signatures(
        [
            "Pour la Collectivité,",
            "{%p if signatures.proces_verbal.par_delegation %}",
            "{{ signatures.proces_verbal.entete }},",
            "{{ signatures.proces_verbal.qualite }}",
            "({{ signatures.proces_verbal.acte }})",
            "{%p else %}",
            "{{ signatures.proces_verbal.entete or signatures.proces_verbal.qualite }}",
            "{%p endif %}",
            "{{ signatures.proces_verbal.nom }}",
        ],
        [
            "{% if beneficiaire.est_association %}Pour le bénéficiaire,{% else %}Pour le service,{% endif %}",
            "« Bon pour réception »",
            "{{ beneficiaire.qualite }}",
            "{{ beneficiaire.civilite }} {{ beneficiaire.representant }}",
        ],
    )


def convention_article_numbers(texts: Path) -> dict[str, int]:
    """Return the numbers of the conventions' articles by mark, for the handover record to
    cite (« prévue à l'article 4 de la convention »): the marks of both kinds of
    convention, except a mark numbered differently in each (it cannot be cited)."""
    loan = article_numbers(parse_files(texts, CONVENTION_TEXTS, variant=LOAN))
    gift = article_numbers(parse_files(texts, CONVENTION_TEXTS, variant=GIFT))
    both = {**loan, **gift}
    return {mark: number for mark, number in both.items() if loan.get(mark, number) == gift.get(mark, number)}


def build_handover(texts: Path) -> Builder:
    doc = Builder("Procès-verbal de remise de matériel", "Modèle de procès-verbal – un par bénéficiaire")
    elements = read_texts(texts, ["proces-verbal.md"], external=convention_article_numbers(texts))
    write_elements(doc, elements, {
        "tableau-remise": lambda: handover_facts(doc),
        "tableau-materiels": lambda: handover_devices(doc),
        "lignes-reserves": lambda: doc.dotted_lines(3),
        "signatures": lambda: handover_signatures(doc),
    })
    return doc


# --- press release (.docx and .html from one text) -----------------------------------------


@dataclass(frozen=True)
class Block:
    """One block of the press release, rendered both to .docx and to HTML."""

    kind: str  # issuers, title, dateline, headline, lead, p, heading, loop, control, contacts
    texts: tuple[str, ...]  # for « control »: the statement of a {%p if/else/endif %} line
    loop: str | None = None  # « x in items » for kind == loop


# The blocks of the release that are not words of communique.md.
PRESS_BLOCKS = {
    "emetteurs": Block("issuers", ("{{ collectivite.nom }}", "{{ etat.prefecture }}")),
    "contacts": Block("contacts", (
        "**{{ collectivite.nom }}**\n{{ collectivite.contact_presse.nom }}\n"
        "{{ collectivite.contact_presse.telephone }}\n{{ collectivite.contact_presse.courriel }}",
        "**{{ etat.prefecture }}**\n{{ etat.contact_presse.nom }}\n"
        "{{ etat.contact_presse.telephone }}\n{{ etat.contact_presse.courriel }}",
    )),
}
PRESS_KINDS = {"title": "title", "heading1": "headline", "heading2": "heading"}
# The press texts: text file → title and subject of the .docx template.
PRESS_DOCUMENTS = {
    "communique.md": ("Communiqué de presse", "Modèle de communiqué de presse"),
    "invitation-presse.md": ("Invitation presse", "Modèle d'invitation presse"),
}


PRESS_CONDITIONS = ("if ", "elif ", "else", "endif")


def press_release(texts: Path, name: str = "communique.md") -> tuple[Block, ...]:
    """Return the blocks of the press release (or of the press invitation) read from the
    text file ``name``. Raise :class:`TextError` for what a press text cannot hold (page
    layout, other control paragraphs than « if » conditions and « for » loops around one
    bullet, unknown or missing blocks)."""
    elements = read_texts(texts, [name])
    blocks: list[Block] = []
    used: set[str] = set()
    index = 0
    while index < len(elements):
        element = elements[index]
        index += 1
        role = element.attrs.get("role")
        if set(element.attrs) - {"role"} or (role and element.kind != "paragraph"):
            raise TextError(
                f"{element.where} : le communiqué n'accepte que {{: lieu-et-date}} ou {{: chapeau}} "
                "sur un paragraphe (sa mise en page est commune au .docx et au .html)."
            )
        if element.kind == "block":
            if element.text not in PRESS_BLOCKS or element.text in used or element.arg:
                known = ", ".join(f"[[{key}]]" for key in PRESS_BLOCKS)
                raise TextError(f"{element.where} : bloc [[{element.text}]] inconnu ou répété ; blocs du communiqué : {known}.")
            used.add(element.text)
            blocks.append(PRESS_BLOCKS[element.text])
        elif element.kind == "control" and element.text.startswith(PRESS_CONDITIONS):
            blocks.append(Block("control", (element.text,)))
        elif element.kind == "control":
            loop = element.text.removeprefix("for ")
            body = elements[index : index + 2]
            if (
                loop == element.text
                or len(body) < 2
                or body[0].kind != "bullet"
                or body[0].attrs
                or (body[1].kind, body[1].text) != ("control", "endfor")
            ):
                raise TextError(
                    f"{element.where} : dans le communiqué, une ligne {{%p … %}} ne peut être qu'une "
                    "condition « {%p if … %} » … « {%p endif %} » ou une boucle « {%p for x in … %} », "
                    "suivie d'une seule ligne « - … » puis de « {%p endfor %} »."
                )
            blocks.append(Block("loop", (body[0].text,), loop=loop))
            index += 2
        elif element.kind == "paragraph":
            blocks.append(Block(role or "p", (element.text,)))
        elif element.kind in PRESS_KINDS:
            blocks.append(Block(PRESS_KINDS[element.kind], (element.text,)))
        else:
            raise TextError(f"{element.where} : le communiqué n'a ni sous-titre ni liste hors de la boucle des bénéficiaires.")
    missing = [name for name in PRESS_BLOCKS if name not in used]
    if missing:
        raise TextError(f"textes/{name} : il manque " + ", ".join(f"[[{block}]]" for block in missing) + ".")
    return tuple(blocks)


def build_press_docx(texts: Path, name: str = "communique.md") -> Builder:
    title, subject = PRESS_DOCUMENTS[name]
    doc = Builder(title, subject)
    # 10 pt body: a release with the agent's optional paragraphs still fits on one page
    doc.document.styles["Normal"].font.size = Pt(10)
    for block in press_release(texts, name):
        if block.kind == "issuers":
            table = doc.table([Column("", 8.5), Column("", 8.5, "right")], header=False, borders=False)
            cells = doc.row(table, list(block.texts), style="Normal", bold=True)
            _cell_margin(cells[1], "right", 0)  # flush with the right margin of the page
            for cell in cells:
                for run in cell.paragraphs[0].runs:
                    run.font.size = Pt(11)
            doc.spacer(10)
        elif block.kind == "title":
            doc.p(block.texts[0], style="Title", align="center")
        elif block.kind == "dateline":
            doc.p(block.texts[0], align="center", italic=True, after=10)
        elif block.kind == "headline":
            paragraph = doc.p(block.texts[0], style="Heading 1", align="center")
            paragraph.paragraph_format.space_before = Pt(0)
            paragraph.paragraph_format.space_after = Pt(10)
            for run in paragraph.runs:
                run.font.size = Pt(13)
        elif block.kind == "lead":
            doc.p(block.texts[0], bold=True, after=8)
        elif block.kind == "p":
            doc.p(block.texts[0])
        elif block.kind == "heading":
            doc.heading(block.texts[0], level=2)
        elif block.kind == "loop":
            doc.tag(f"for {block.loop}")
            doc.p(block.texts[0], style="List Bullet", align="left", after=1)
            doc.tag("endfor")
        elif block.kind == "control":
            doc.tag(block.texts[0])
        elif block.kind == "contacts":
            table = doc.table([Column("", 8.5), Column("", 8.5)], header=False, borders=False)
            doc.row(table, list(block.texts), style="Normal", align="left")
        else:
            raise ValueError(block.kind)
    return doc


PRESS_CSS = """\
body { font-family: Arial, "Liberation Sans", sans-serif; font-size: 11pt; line-height: 1.45;
       color: #000; max-width: 44em; margin: 2em auto; padding: 0 1em; }
.emetteurs { display: flex; justify-content: space-between; font-weight: bold; }
h1 { font-size: 16pt; text-align: center; margin: 1.5em 0 0.2em; }
.dateline { text-align: center; font-style: italic; margin-top: 0; }
h2 { font-size: 13pt; text-align: center; margin: 1.2em 0; }
h3 { font-size: 11pt; margin: 1.2em 0 0.4em; }
p, li { text-align: justify; }
.contacts { display: flex; gap: 2em; }
.contacts p { flex: 1; text-align: left; }"""


# One-text press-release blocks, as HTML.
HTML_BLOCKS = {
    "title": "<h1>{}</h1>",
    "dateline": '<p class="dateline">{}</p>',
    "headline": "<h2>{}</h2>",
    "lead": '<p class="chapo"><strong>{}</strong></p>',
    "p": "<p>{}</p>",
    "heading": "<h3>{}</h3>",
}


def build_press_html(texts: Path, name: str = "communique.md") -> str:
    """Return the HTML press release (or invitation, from the text file ``name``): the same
    blocks as the .docx, as plain Jinja2."""
    lines = [
        "<!DOCTYPE html>",
        '<html lang="fr">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>{{ document.titre }}</title>",
        "<style>",
        PRESS_CSS,
        "</style>",
        "</head>",
        "<body>",
    ]
    for block in press_release(texts, name):
        if block.kind == "control":
            lines.append(f"{{% {block.texts[0]} %}}")
            continue
        html_texts = [rich_html(t) for t in block.texts]
        if block.kind == "issuers":
            lines.append('<header class="emetteurs">' + "".join(f"<span>{t}</span>" for t in html_texts) + "</header>")
        elif block.kind in HTML_BLOCKS:
            lines.append(HTML_BLOCKS[block.kind].format(html_texts[0]))
        elif block.kind == "loop":
            lines += ["<ul>", f"{{% for {block.loop} %}}<li>{html_texts[0]}</li>", "{% endfor %}</ul>"]
        elif block.kind == "contacts":
            lines.append('<div class="contacts">' + "".join(f"<p>{t}</p>" for t in html_texts) + "</div>")
        else:
            raise ValueError(block.kind)
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines)


# --- subsidy claim -------------------------------------------------------------------------

# Who signs the claim file: the authority's ordonnateur (signatures.demande), headed by his
# function with its article (« Le Président de Limoges Métropole »).
CLAIM_SIGNATORY = [
    "{{ signatures.demande.entete or signatures.demande.qualite }}",
    "{{ signatures.demande.nom }}",
]


def claim_signature(doc: Builder, gap: float = 62) -> None:
    doc.signature_right(CLAIM_SIGNATORY, gap=gap)


def letter_signature(doc: Builder) -> None:
    doc.spacer(6)
    doc.document.paragraphs[-1].paragraph_format.keep_with_next = True
    claim_signature(doc, gap=40)


def _money_table(doc: Builder, rows: Sequence[tuple[str, str] | str], widths: tuple[float, float],
                 bold_last: bool = True) -> Table:
    """Add a bordered table of labels (grey) and amounts (right); a ``str`` row is a
    ``{%tr … %}`` tag; the last row (the result) in bold."""
    table = doc.table([Column("", widths[0]), Column("", widths[1], "right")], header=False)
    real = [r for r in rows if not isinstance(r, str)]
    for row in rows:
        if isinstance(row, str):
            doc.tag_row(table, row)
            continue
        last = row is real[-1]
        cells = doc.row(table, list(row), bold=bold_last and last, keep_next=True)
        _shade(cells[0], LABEL_FILL)
        if last:
            _shade(cells[1], LABEL_FILL)
        for cell in cells:
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.space_before = Pt(1)
                paragraph.paragraph_format.space_after = Pt(1)
                for run in paragraph.runs:
                    run.font.size = Pt(9.5)
    doc.spacer(6)
    return table


# The computation of the amount due, as the instructor checks it (décret n° 2018-514,
# art. 12): min(rate × actual eligible expense, amount granted) − advances received.
AMOUNT_DUE_ROWS: list[tuple[str, str] | str] = [
    ("Subvention attribuée par la décision du {{ operation.decision_date | date }}",
     "{{ financement.montant_attribue | montant }}"),
    "if financement.a_previsionnel",
    ("Dépense éligible prévisionnelle",
     "{{ financement.depense_previsionnelle | montant }}" + NBSP + "{{ financement.assiette }}"),
    "endif",
    ("Dépense éligible réalisée (factures payées)",
     "{{ financement.depense_eligible | montant }}" + NBSP + "{{ financement.assiette }}"),
    ("Subvention calculée : {{ financement.taux_etat | pourcentage }} du montant "
     "{{ financement.assiette }} de la dépense éligible réalisée",
     "{{ financement.part_etat_calculee | montant }}"),
    ("Subvention retenue, dans la limite de la subvention attribuée"
     "{% if financement.est_plafonne %} (plafond appliqué){% endif %}",
     "{{ financement.part_etat | montant }}"),
    ("Acomptes déjà perçus",
     "{% if financement.acomptes_neant %}néant{% else %}− {{ financement.acomptes | montant }}{% endif %}"),
    ("Montant dû : subvention retenue, moins les acomptes", "{{ financement.montant_du | montant }}"),
]


def amount_due_table(doc: Builder) -> None:
    _money_table(doc, AMOUNT_DUE_ROWS, (13.0, 4.0))


def build_claim_letter(texts: Path) -> Builder:
    doc = Builder("Demande de versement de la subvention", "Modèle de lettre de demande de versement")
    write_elements(doc, read_texts(texts, ["demande-lettre.md"]), {
        "tableau-montants": lambda: amount_due_table(doc),
        "signature": lambda: letter_signature(doc),
    })
    return doc


def financing_facts(doc: Builder) -> None:
    doc.label_table([
        ("Maître d'ouvrage", "{{ collectivite.nom }}"),
        ("Programme", "{{ operation.programme }}"),
        (
            "Décision attributive",
            "{{ operation.decision_reference | insecable }} du {{ operation.decision_date | date }}",
        ),
        ("Subvention attribuée", "{{ financement.montant_attribue | montant }}"),
        ("Premier achat", "{% if demande.date_premier_achat %}{{ demande.date_premier_achat | date }} "
                          "(date de la première facture){% else %}—{% endif %}"),
        ("Achèvement", "{{ demande.date_achevement | date }} (remise du matériel aux bénéficiaires)"),
    ], label_width=4.8)


EXPENSE_LABEL = ("Acquisition de matériel informatique reconditionné ({{ totaux.quantites }}) : "
                 "montant HT")


def _expense_rows(doc: Builder, table: Table, forecast: bool) -> None:
    """The expenses: HT, TVA, TTC; the eligible row marked; with ``forecast``, the forecast
    eligible expense beside the actual one (« — » where the workbook gives no forecast)."""
    eligible_ht = "{% if financement.assiette == 'HT' %} (dépense éligible){% endif %}"
    eligible_ttc = "{% if financement.assiette == 'TTC' %} (dépense éligible){% endif %}"
    prev_ht = "{% if financement.assiette == 'HT' %}{{ financement.depense_previsionnelle | montant }}{% else %}—{% endif %}"
    prev_ttc = "{% if financement.assiette == 'TTC' %}{{ financement.depense_previsionnelle | montant }}{% else %}—{% endif %}"
    rows = [
        [EXPENSE_LABEL + eligible_ht, prev_ht, "{{ financement.cout_total_ht | montant }}"],
        ["TVA", "—", "{{ financement.tva | montant }}"],
    ]
    # « : montant TTC » as the first row's « : montant HT »; never « (TTC) (dépense éligible) ».
    total = ["Coût total de l'opération : montant TTC" + eligible_ttc, prev_ttc, "{{ financement.cout_total | montant }}"]
    for row in rows:
        doc.row(table, row if forecast else [row[0], row[2]])
    cells = doc.row(table, total if forecast else [total[0], total[2]], bold=True)
    for cell in cells:
        _shade(cell, LABEL_FILL)


def financing_expenses(doc: Builder) -> None:
    doc.tag("if financement.a_previsionnel")
    table = doc.table([Column("Nature de la dépense", 10.0), Column("Prévisionnel", 3.5, "right"),
                       Column("Réalisé", 3.5, "right")])
    _expense_rows(doc, table, forecast=True)
    doc.tag("else")
    table = doc.table([Column("Nature de la dépense", 13.5), Column("Réalisé", 3.5, "right")])
    _expense_rows(doc, table, forecast=False)
    doc.tag("endif")
    doc.spacer(6)


STATE_BASIS = (
    "{{ financement.taux_etat | pourcentage }} du montant {{ financement.assiette }} de la dépense "
    "éligible{% if financement.est_plafonne %}, dans la limite de la subvention attribuée{% endif %}"
)
AUTHORITY_BASIS = (
    "reste du coût total{% if financement.assiette == 'HT' and financement.tva %}, "
    "dont TVA {{ financement.tva | montant }}{% endif %}"
)


def _resource_rows(doc: Builder, table: Table, forecast: bool) -> None:
    """The resources: the State, the other funders (« néant » when none), the authority and
    the total, each with its share of the total cost (TTC); with ``forecast``, the amount
    granted beside the State's actual share."""

    def row(name: str, planned: str, actual: str, share: str, basis: str, bold: bool = False) -> list[_Cell]:
        texts = [name, planned, actual, share, basis] if forecast else [name, actual, share, basis]
        return doc.row(table, texts, bold=bold)

    row("État – décision du {{ operation.decision_date | date }}", "{{ financement.montant_attribue | montant }}",
        "{{ financement.part_etat | montant }}", "{{ financement.part_etat_pourcentage | pourcentage }}", STATE_BASIS)
    doc.tag_row(table, "if financement.autres_neant")
    row("Autres financeurs", "néant", "néant", "—", "—")
    doc.tag_row(table, "else")
    row("{{ financement.autres_financeurs }}", "—", "{{ financement.autres_financements | montant }}",
        "{{ financement.autres_pourcentage | pourcentage }}", "—")
    doc.tag_row(table, "endif")
    row("{{ collectivite.nom }} (autofinancement)", "—", "{{ financement.part_collectivite | montant }}",
        "{{ financement.part_collectivite_pourcentage | pourcentage }}", AUTHORITY_BASIS)
    cells = row("Total", "—", "{{ financement.cout_total | montant }}", "100" + NBSP + "%", "coût total de l'opération (TTC)",
                bold=True)
    for cell in cells:
        _shade(cell, LABEL_FILL)


def financing_resources(doc: Builder) -> None:
    doc.tag("if financement.a_previsionnel")
    table = doc.table([
        Column("Financeur", 4.3),
        Column("Prévisionnel", 2.6, "right"),
        Column("Réalisé", 2.6, "right"),
        Column("% du coût TTC", 2.0, "right"),
        Column("Base de calcul", 5.5),
    ])
    _resource_rows(doc, table, forecast=True)
    doc.tag("else")
    table = doc.table([
        Column("Financeur", 5.2),
        Column("Réalisé", 3.0, "right"),
        Column("% du coût TTC", 2.4, "right"),
        Column("Base de calcul", 6.4),
    ])
    _resource_rows(doc, table, forecast=False)
    doc.tag("endif")
    doc.spacer(6)


def build_financing_plan(texts: Path) -> Builder:
    doc = Builder("Plan de financement définitif", "Modèle de plan de financement définitif")
    write_elements(doc, read_texts(texts, ["plan-de-financement.md"]), {
        "tableau-operation": lambda: financing_facts(doc),
        "tableau-depenses": lambda: financing_expenses(doc),
        "tableau-ressources": lambda: financing_resources(doc),
        "signature": lambda: claim_signature(doc),
    })
    return doc


def certificate_records(doc: Builder) -> None:
    """The handover records, by beneficiary and date (never by file name), those not
    signed on the claim's date marked so."""
    doc.spacer(2)
    table = doc.table([
        Column("Bénéficiaire", 6.3),
        Column("Convention", 3.6, "center"),  # « n° CCST-2024-B01 » on one line at 9 pt
        Column("Équipements", 2.5, "center"),
        Column("Procès-verbal de remise du", 4.2, "center"),
    ])
    doc.tag_row(table, "for pv in proces_verbaux")
    doc.row(table, [
        "{{ pv.identifiant }} – {{ pv.nom }}{% if not pv.est_association %} "
        "(service {{ collectivite.du_nom }}){% endif %}",
        "{% if pv.numero_convention %}n°" + NBSP + "{{ pv.numero_convention | insecable }}"
        "{% if not pv.convention_signee and demande.conventions_non_signees != demande.nombre_conventions %} "
        "(non" + NBSP + "signée" + NBSP + "à" + NBSP + "ce" + NBSP + "jour){% endif %}{% else %}—{% endif %}",
        "{{ pv.nombre_materiels | nombre }}",
        # never an unsigned record presented as signed (its words kept on one line); when
        # none is signed the lead sentence says so, and the rows stay one line high
        "{{ pv.date | date }}{% if not pv.signe and demande.proces_verbaux_non_signes != proces_verbaux | length %} "
        "(non" + NBSP + "signé" + NBSP + "à" + NBSP + "ce" + NBSP + "jour){% endif %}",
    ])
    doc.tag_row(table, "endfor")
    cells = doc.row(table, ["Total", "{{ totaux.nombre | nombre }}", ""], spans=[2, 1, 1], bold=True)
    cells[0].paragraphs[0].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for cell in cells:
        _shade(cell, LABEL_FILL)


def build_completion_certificate(texts: Path) -> Builder:
    doc = Builder(
        "Certificat d'achèvement et de conformité",
        "Modèle de certificat d'achèvement et de conformité",
    )
    write_elements(doc, read_texts(texts, ["attestation.md"]), {
        "tableau-proces-verbaux": lambda: certificate_records(doc),
        "signature": lambda: claim_signature(doc),
    })
    return doc


# --- main ----------------------------------------------------------------------------------

DOCX_TEMPLATES: dict[str, Callable[[Path], Builder]] = {
    "convention-mise-a-disposition.docx": lambda texts: build_convention(LOAN, texts),
    "convention-don.docx": lambda texts: build_convention(GIFT, texts),
    "proces-verbal-remise.docx": build_handover,
    "communique-de-presse.docx": build_press_docx,
    "invitation-presse.docx": lambda texts: build_press_docx(texts, "invitation-presse.md"),
    "demande-lettre.docx": build_claim_letter,
    "plan-de-financement.docx": build_financing_plan,
    "attestation-achevement.docx": build_completion_certificate,
}
HTML_TEMPLATES: dict[str, Callable[[Path], str]] = {
    "communique-de-presse.html": build_press_html,
    "invitation-presse.html": lambda texts: build_press_html(texts, "invitation-presse.md"),
}


def build_all(output: Path, texts: Path = TEXTS_DIR) -> list[Path]:
    """Write every template into ``output`` from the text files of ``texts`` and return
    their paths. Every text is read and checked before anything is written: raise
    :class:`TextError` (nothing written) when one of them cannot be built from."""
    docx = {name: build(texts) for name, build in DOCX_TEMPLATES.items()}
    html_texts = {name: build_text(texts) for name, build_text in HTML_TEMPLATES.items()}
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in docx.items():
        path = output / name
        doc.save(path)
        written.append(path)
    for name, text in html_texts.items():
        path = output / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=TEMPLATES_DIR, help="dossier de sortie")
    parser.add_argument("--textes", type=Path, default=TEXTS_DIR, help="dossier des textes (.md)")
    args = parser.parse_args(argv)
    try:
        written = build_all(args.output, args.textes)
    except TextError as err:
        sys.exit(f"Erreur : {err}")
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
