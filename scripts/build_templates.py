#!/usr/bin/env python3
"""Build the document templates (templates/*.docx and the press release's .html).

Usage::

    python scripts/build_templates.py [--output DIR]

The script is deterministic: running it twice gives byte-identical files. It overwrites the
templates, so an agent who edits a .docx by hand in Word or LibreOffice should not re-run it
afterwards (or should port the change here first).

Templates use docxtpl's Jinja syntax and only the variables defined in
``dotation_docs/context.py``; values are formatted with the filters of
``dotation_docs/formatting.py`` (``montant``, ``date``, ``quantite``…). Conventions of this
script:

* French text is written with plain ASCII apostrophes and spaces; :func:`typography` turns
  them into typographic apostrophes and no-break spaces (before « : ; ! ? » », after « « »
  and « L. »), never inside a Jinja tag. « n° » keeps a plain space: the tests and the
  agents search for « n° LM-2023-… » as typed.
* ``**bold**`` and ``__italic__`` mark formatting inside a paragraph; a Jinja tag is never
  split across runs.
* ``{%p … %}`` statements get a paragraph of their own (docxtpl removes it), ``{%tr … %}``
  statements a table row of their own.
"""

from __future__ import annotations

import argparse
import html
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"

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
MARKUP_RE = re.compile(r"(\*\*|__)")

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
# Names always follow a fixed noun, so that no elision depends on the data.
ASSOCIATION = "l'association « {{ beneficiaire.nom }} »"
# Claim documents are dated by the claim date, or left with dots to fill in by hand.
DATE_DEMANDE = "{% if demande.date %}{{ demande.date | date }}{% else %}………………………{% endif %}"
EQUIPEMENTS = "quantite('équipement', 'équipements')"


# --- typography and rich text --------------------------------------------------------------


def typography(text: str) -> str:
    """Return ``text`` with French typography applied outside Jinja tags: typographic
    apostrophes and no-break spaces inside guillemets, before « : ; ! ? », after « L. »."""
    parts = TAG_RE.split(text)
    for i in range(0, len(parts), 2):  # even items are literal text, odd items are tags
        s = parts[i].replace("'", "’")
        s = re.sub(r" ([:;!?»])", NBSP + r"\1", s)
        s = s.replace("« ", "«" + NBSP)
        s = re.sub(r"\b([LDR])\. (?=\d)", r"\1." + NBSP, s)  # article L. 3212-2
        parts[i] = s
    return "".join(parts)


def rich_chunks(text: str) -> list[tuple[str, bool, bool]]:
    """Split typographed ``text`` into (text, bold, italic) chunks: ``**`` toggles bold and
    ``__`` italic outside tags; tags stay whole inside one chunk."""
    pieces: list[tuple[str, bool, bool]] = []
    bold = italic = False
    for i, part in enumerate(TAG_RE.split(text)):
        if i % 2:
            pieces.append((part, bold, italic))
            continue
        for token in MARKUP_RE.split(part):
            if token == "**":
                bold = not bold
            elif token == "__":
                italic = not italic
            elif token:
                pieces.append((token, bold, italic))
    merged: list[tuple[str, bool, bool]] = []
    for chunk in pieces:
        if merged and merged[-1][1:] == chunk[1:]:
            merged[-1] = (merged[-1][0] + chunk[0], *chunk[1:])
        else:
            merged.append(chunk)
    return merged


def rich_html(text: str) -> str:
    """Return ``text`` (same markup as the .docx) as HTML: literal text escaped, tags kept,
    ``**`` as <strong>, ``__`` as <em>, line breaks as <br>."""
    out: list[str] = []
    bold = italic = False
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

    def __init__(self, title: str, subject: str) -> None:
        self.document = Document()
        _setup_styles(self.document)
        _setup_bullets(self.document)
        _setup_settings(self.document)
        _setup_page(self.document.sections[0])
        self._articles: list[str] = []
        self._next_article = 0
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
        write(paragraph, text, bold=bold, italic=italic, size=size)
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

    def title_block(self, title: str, *subtitles: str) -> None:
        self.p(title, style="Title", align="center")
        for subtitle in subtitles:
            self.p(subtitle, style="Subtitle", align="center")

    def heading(self, text: str, level: int = 1, align: str | None = None) -> Paragraph:
        return self.p(text, style=f"Heading {level}", align=align)

    def set_articles(self, keys: Sequence[str]) -> None:
        """Declare the order of the articles; ``[[key]]`` in texts becomes the article number."""
        self._articles = list(keys)
        self._next_article = 0

    def article(self, key: str, title: str) -> None:
        number = self._articles.index(key) + 1
        if number != self._next_article + 1:
            raise ValueError(f"article {key!r} written out of order")
        self._next_article = number
        self.heading(f"Article{NBSP}{number} – {title}", level=2)

    def ref(self, text: str) -> str:
        """Return ``text`` with every ``[[key]]`` replaced by that article's number."""
        return re.sub(r"\[\[(\w+)\]\]", lambda m: str(self._articles.index(m.group(1)) + 1), text)

    def text(self, text: str, **kwargs) -> Paragraph:
        """Add a justified body paragraph (article references resolved)."""
        return self.p(self.ref(text), **kwargs)

    def bullets(self, items: Iterable[str], **kwargs) -> None:
        for item in items:
            self.p(self.ref(item), style="List Bullet", **kwargs)

    def dotted_lines(self, count: int, width=PORTRAIT_WIDTH) -> None:
        """Add ``count`` dotted lines to write on by hand, kept together with what follows."""
        for _ in range(count):
            paragraph = self.p("\t", align=None, after=2, before=8, keep_next=True)
            paragraph.paragraph_format.tab_stops.add_tab_stop(
                Emu(width), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS
            )

    def fait_a(self, text: str) -> None:
        """The « Fait à … » line: kept on the page of the signatures that follow."""
        self.p(text, align="left", keep_next=True, before=10, after=8)

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
            write(paragraph, text, bold=bold)
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
        self.document.save(path)
        normalize_zip(path)


def write(paragraph: Paragraph, text: str, *, bold: bool = False, italic: bool = False, size=None) -> None:
    """Append rich ``text`` to ``paragraph`` as runs; tags are never split across runs."""
    for chunk, chunk_bold, chunk_italic in rich_chunks(typography(text)):
        run = paragraph.add_run(chunk)
        if bold or chunk_bold:
            run.bold = True
        if italic or chunk_italic:
            run.italic = True
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


# --- conventions ---------------------------------------------------------------------------

LOAN, GIFT = "mise à disposition", "don"


def convention_header(doc: Builder, kind: str) -> None:
    title = (
        "CONVENTION DE MISE À DISPOSITION DE MATÉRIEL INFORMATIQUE"
        if kind == LOAN
        else "CONVENTION DE DON DE MATÉRIEL INFORMATIQUE"
    )
    doc.title_block(title, "n° {{ beneficiaire.numero_convention }}")
    doc.p("__{{ operation.titre }}__", align="center", after=14)


def convention_visas(doc: Builder, kind: str) -> None:
    visas = ["Vu le code général des collectivités territoriales ;"]
    if kind == GIFT:
        visas += [
            "Vu le code général de la propriété des personnes publiques, notamment le 3° de son "
            "article L. 3212-2 et ses articles L. 3212-3 et D. 3212-3 ;",
            "Vu le décret n° 2022-791 du 6 mai 2022 relatif à la fixation du seuil de valeur des "
            "biens mobiliers réformés des administrations et cédés gratuitement ;",
        ]
    visas += [
        "Vu la délibération {{ operation.deliberation_reference }} du "
        "{{ operation.deliberation_date | date }} autorisant la signature de la présente convention ;",
        "Vu la décision de financement de l'État du {{ operation.decision_date | date }} "
        "(réf. : {{ operation.decision_reference }}) ;",
        "Vu le dispositif « {{ operation.programme }} ».",
    ]
    for visa in visas:
        doc.text(visa, after=3)


def convention_parties(doc: Builder) -> None:
    doc.heading("ENTRE LES SOUSSIGNÉS")
    doc.p("**{{ collectivite.nom }}**", keep_next=True, after=2)
    details = dict(indent=0.6, after=1, align="left", keep_next=True)
    doc.p("SIRET : {{ collectivite.siret | siret }}", **details)
    doc.p("Siège : {{ collectivite.adresse }}", **details)
    doc.p(
        "Représentant : {{ collectivite.representant }}, {{ collectivite.representant_qualite }}, "
        "dûment habilité{% if collectivite.representant_civilite == 'Madame' %}e{% endif %} par la "
        "délibération {{ operation.deliberation_reference }} du {{ operation.deliberation_date | date }}",
        **details,
    )
    doc.p("ci-après « **la Collectivité** »,", before=4, after=2)
    doc.p("d'une part,", align="right", after=8)
    doc.p("**ET**", keep_next=True, after=8)
    doc.p(
        "**L'association « {{ beneficiaire.nom }} »**, association régie par la loi du "
        "1er juillet 1901",
        keep_next=True,
        after=2,
    )
    doc.tag("if beneficiaire.rna")
    doc.p("RNA : {{ beneficiaire.rna }}", **details)
    doc.tag("endif")
    doc.tag("if beneficiaire.siret")
    doc.p("SIRET : {{ beneficiaire.siret | siret }}", **details)
    doc.tag("endif")
    doc.p(
        "Siège : {{ beneficiaire.adresse }}, {{ beneficiaire.code_postal }} {{ beneficiaire.ville }}",
        **details,
    )
    doc.p(
        "Représentant : {{ beneficiaire.civilite }} {{ beneficiaire.representant }}, "
        "{{ beneficiaire.qualite }}",
        **details,
    )
    doc.p("ci-après « **le Bénéficiaire** »,", before=4, after=2)
    doc.p("d'autre part.", align="right", after=8)


FINANCEMENT = (
    "Cette acquisition est financée par l'État à hauteur de {{ totaux.taux_etat | pourcentage }} "
    "du montant {{ totaux.assiette }} de la dépense ({{ totaux.eligible | montant }})"
    "{% if totaux.est_plafonne %}, dans la limite d'un plafond de {{ totaux.plafond | montant }}"
    "{% endif %}, soit {{ totaux.part_etat | montant }} ; le solde, soit "
    "{{ totaux.part_collectivite | montant }}, reste à la charge de {{ collectivite.nom }}."
)


def convention_preamble(doc: Builder, kind: str) -> None:
    doc.heading("PRÉAMBULE")
    doc.text(
        "Dans le cadre du dispositif « {{ operation.programme }} », {{ collectivite.nom }} a "
        "acquis du matériel "
        "informatique reconditionné destiné à équiper les acteurs de la médiation numérique qui "
        "interviennent dans les quartiers prioritaires de la politique de la ville (QPV)."
    )
    doc.text(FINANCEMENT)
    doc.text(
        "L'association « {{ beneficiaire.nom }} » conduit des actions de médiation numérique au "
        "bénéfice des habitants du quartier prioritaire {{ beneficiaire.qpv_nom }} "
        "({{ beneficiaire.qpv_code }})."
    )
    if kind == LOAN:
        doc.text(
            "C'est dans ce cadre que la Collectivité met gratuitement une partie de ce matériel "
            "à la disposition du Bénéficiaire."
        )
    else:
        doc.text(
            "C'est dans ce cadre que la Collectivité cède gratuitement au Bénéficiaire une partie "
            "de ce matériel, dont elle n'a pas l'emploi pour ses propres services, dans les "
            "conditions prévues au 3° de l'article L. 3212-2 et à l'article L. 3212-3 du code "
            "général de la propriété des personnes publiques."
        )
    doc.p("**IL A ÉTÉ CONVENU CE QUI SUIT :**", align="center", keep_next=True, before=10, after=4)


def convention_articles(doc: Builder, kind: str) -> None:
    loan = kind == LOAN
    verb = "mis à disposition" if loan else "cédé"
    if loan:
        doc.set_articles([
            "objet", "designation", "usage", "duree", "gratuite", "obligations",
            "assurance", "controle", "restitution", "resiliation", "litiges",
        ])
    else:
        doc.set_articles([
            "objet", "designation", "usage", "propriete", "gratuite", "obligations",
            "assurance", "controle", "resiliation", "litiges",
        ])

    doc.article("objet", "Objet")
    if loan:
        doc.text(
            "La présente convention a pour objet de définir les conditions dans lesquelles la "
            "Collectivité met gratuitement à la disposition du Bénéficiaire du matériel "
            "informatique reconditionné, pour ses actions de médiation numérique au bénéfice des "
            "habitants des quartiers prioritaires de la politique de la ville."
        )
        doc.text("La Collectivité demeure propriétaire du matériel pendant toute la durée de la convention.")
    else:
        doc.text(
            "La présente convention a pour objet de définir les conditions dans lesquelles la "
            "Collectivité cède gratuitement au Bénéficiaire du matériel informatique "
            "reconditionné, ainsi que les engagements que le Bénéficiaire prend en contrepartie, "
            "pour ses actions de médiation numérique au bénéfice des habitants des quartiers "
            "prioritaires de la politique de la ville."
        )
        doc.text(
            "Le Bénéficiaire déclare remplir les conditions prévues au 3° de l'article L. 3212-2 "
            "du code général de la propriété des personnes publiques pour bénéficier de cette cession."
        )

    doc.article("designation", "Désignation du matériel")
    doc.text(
        f"Le matériel {verb} comprend {{{{ totaux_beneficiaire.quantites }}}}, soit "
        f"{{{{ totaux_beneficiaire.nombre | {EQUIPEMENTS} }}}}. Chaque équipement est désigné "
        "(catégorie, marque et modèle, numéro de série, IMEI le cas échéant, numéro d'inventaire, "
        "accessoires et valeur) dans l'inventaire figurant en annexe 1, qui fait partie intégrante "
        "de la présente convention."
    )
    doc.text(
        f"La valeur totale du matériel {verb} s'élève à **{{{{ totaux_beneficiaire.ttc | montant }}}} TTC** "
        "({{ totaux_beneficiaire.ht | montant }} HT)."
    )
    if not loan:
        doc.text(
            "La valeur unitaire de chaque équipement n'excède pas le seuil de 300 € fixé par "
            "l'article D. 3212-3 du code général de la propriété des personnes publiques."
        )
    doc.text(
        "Le matériel est remis au Bénéficiaire le {{ operation.date_remise | date }} ; la remise "
        "est constatée par un procès-verbal signé des deux parties."
    )

    doc.article("usage", "Affectation et usage")
    doc.text(
        "Le matériel est affecté exclusivement aux actions de médiation numérique conduites par le "
        "Bénéficiaire au profit des habitants du quartier prioritaire {{ beneficiaire.qpv_nom }} "
        "({{ beneficiaire.qpv_code }}) et, plus largement, des quartiers prioritaires de la "
        "politique de la ville : accès aux services en ligne et aux droits, apprentissage des "
        "usages numériques, accompagnement des démarches."
    )
    doc.text(
        "Il est utilisé au lieu suivant : {{ beneficiaire.lieu_utilisation }}. Tout changement de "
        "lieu d'utilisation est porté au préalable, par écrit, à la connaissance de la Collectivité."
    )
    doc.text(
        "L'accès au matériel et l'accompagnement proposé sont gratuits pour le public. Le matériel "
        "ne peut être utilisé ni à des fins commerciales, ni à des fins personnelles par les "
        "membres, salariés ou bénévoles du Bénéficiaire."
    )
    if not loan:
        doc.text(
            "Le Bénéficiaire s'engage à réemployer le matériel pour ces actions aussi longtemps "
            "qu'il est en état de fonctionner."
        )

    if loan:
        doc.article("duree", "Durée")
        doc.text(
            "La présente convention est conclue pour une durée de {{ operation.duree_mois }} mois "
            "à compter de la remise du matériel, le {{ operation.date_remise | date }}. Elle peut "
            "être prolongée par avenant."
        )
    else:
        doc.article("propriete", "Transfert de propriété et durée des engagements")
        doc.text(
            "La propriété du matériel est transférée au Bénéficiaire à la date de sa remise, le "
            "{{ operation.date_remise | date }}, constatée par le procès-verbal de remise. La garde "
            "du matériel et les risques lui sont transférés à la même date."
        )
        doc.text(
            "Les engagements pris par le Bénéficiaire aux articles [[usage]] et [[obligations]] "
            "valent pour une durée de {{ operation.duree_mois }} mois à compter de cette date."
        )

    doc.article("gratuite", "Gratuité")
    if loan:
        doc.text(
            "La mise à disposition est consentie à titre gratuit : le Bénéficiaire ne verse aucune "
            "redevance à la Collectivité."
        )
        doc.text(
            "La valeur du matériel mis à disposition, qui sert notamment de référence pour "
            "l'assurance et en cas de perte, s'élève à {{ totaux_beneficiaire.ttc | montant }} TTC."
        )
    else:
        doc.text(
            "La cession est consentie à titre gratuit : le Bénéficiaire ne verse aucune contrepartie "
            "financière à la Collectivité."
        )
        doc.text("La valeur du matériel cédé s'élève à {{ totaux_beneficiaire.ttc | montant }} TTC.")

    doc.article("obligations", "Obligations du bénéficiaire")
    doc.text("Le Bénéficiaire s'engage à :", keep_next=True, after=3)
    care = "utiliser le matériel conformément à l'article [[usage]], avec soin et prudence, et en assurer l'entretien courant ;"
    if loan:
        transfer = (
            "ne pas prêter, louer, revendre ni céder le matériel, même à titre gratuit, et ne pas "
            "le mettre à la disposition de tiers en dehors des actions mentionnées à l'article [[usage]] ;"
        )
        labels = "conserver les étiquettes d'inventaire apposées sur le matériel, sans les retirer ni les altérer ;"
    else:
        transfer = (
            "ne pas prêter ni louer le matériel, et ne pas le revendre, sauf, dans les conditions "
            "prévues au 3° de l'article L. 3212-2 du code général de la propriété des personnes "
            "publiques, à des personnes en situation de précarité ou à des associations œuvrant en "
            "leur faveur, à un prix solidaire n'excédant pas les seuils fixés par décret ;"
        )
        labels = (
            "conserver les étiquettes d'inventaire apposées sur le matériel pendant la durée de ses "
            "engagements ;"
        )
    items = [
        care,
        transfer,
        labels,
        "effacer, entre deux usagers, les données personnelles, comptes et fichiers des usagers, "
        "conformément au règlement (UE) 2016/679 du 27 avril 2016 (RGPD) et à la loi n° 78-17 du "
        "6 janvier 1978 relative à l'informatique, aux fichiers et aux libertés ;",
        "signaler sans délai à la Collectivité toute panne ou détérioration du matériel ;",
        "déclarer à la Collectivité toute perte ou tout vol dans un délai de 48 heures, en "
        "joignant une copie du dépôt de plainte ;",
        "adresser chaque année à la Collectivité un bilan d'activité indiquant notamment le nombre "
        "de personnes accompagnées, les actions conduites et l'état du matériel ;",
    ]
    if loan:
        items.append(
            "mentionner dans toute communication relative aux actions conduites avec ce matériel "
            "qu'elles le sont « avec le soutien de l'État et de {{ collectivite.nom }} »."
        )
    else:
        items += [
            "mentionner dans toute communication relative aux actions conduites avec ce matériel "
            "qu'elles le sont « avec le soutien de l'État et de {{ collectivite.nom }} » ;",
            "confier le matériel hors d'usage à une filière agréée de collecte et de traitement des "
            "déchets d'équipements électriques et électroniques.",
        ]
    doc.bullets(items)

    doc.article("assurance", "Assurance")
    if loan:
        doc.text(
            "Le Bénéficiaire assure le matériel contre les risques de vol, de perte, de détérioration "
            "et de destruction, pour la valeur indiquée à l'article [[gratuite]], et souscrit une "
            "assurance de responsabilité civile couvrant son utilisation. Il transmet une attestation "
            "d'assurance à la Collectivité à la signature de la présente convention, puis chaque année."
        )
        doc.text(
            "En cas de perte, de vol ou de destruction, le Bénéficiaire reverse à la Collectivité "
            "l'indemnité perçue de son assureur."
        )
    else:
        doc.text(
            "À compter de la remise, le Bénéficiaire, devenu propriétaire du matériel, en assume la "
            "garde et les risques. Il souscrit une assurance de responsabilité civile couvrant son "
            "activité et l'utilisation du matériel par le public, et en justifie à la demande de la "
            "Collectivité."
        )

    doc.article("controle", "Contrôle")
    doc.text(
        "La Collectivité et les services de l'État peuvent, pendant toute la durée de la "
        "convention et après en avoir informé le Bénéficiaire, vérifier sur place la présence, "
        "l'état et l'usage du matériel ainsi que le respect de la présente convention. Le "
        "Bénéficiaire leur communique tout document utile à ce contrôle, notamment ses bilans "
        "d'activité."
    )

    if loan:
        doc.article("restitution", "Restitution du matériel")
        doc.text("Le Bénéficiaire restitue le matériel à la Collectivité :", keep_next=True, after=3)
        doc.bullets([
            "au terme de la convention, sauf prolongation par avenant ;",
            "en cas de résiliation, dans les conditions de l'article [[resiliation]] ;",
            "en cas de dissolution ou de cessation d'activité du Bénéficiaire.",
        ])
        doc.text(
            "Le matériel est restitué avec ses accessoires, dans l'état où il se trouve compte tenu "
            "de l'usure normale, après effacement de toutes les données des usagers. La restitution "
            "est constatée par un procès-verbal de restitution signé des deux parties."
        )
        doc.article("resiliation", "Résiliation")
        doc.text(
            "En cas de manquement du Bénéficiaire à l'une de ses obligations, la Collectivité peut "
            "résilier la présente convention à l'expiration d'un délai d'un mois suivant l'envoi "
            "d'une mise en demeure par lettre recommandée avec accusé de réception restée sans effet."
        )
        doc.text(
            "Le Bénéficiaire peut résilier la convention à tout moment, par lettre recommandée avec "
            "accusé de réception, moyennant un préavis d'un mois."
        )
    else:
        doc.article("resiliation", "Résiliation")
        doc.text(
            "En cas de manquement du Bénéficiaire à l'une de ses obligations, notamment en cas "
            "d'usage du matériel étranger à la médiation numérique ou de revente en dehors des "
            "conditions prévues à l'article [[obligations]], la Collectivité peut, après une mise en "
            "demeure adressée par lettre recommandée avec accusé de réception et restée sans effet "
            "pendant un mois, résilier la présente convention et exiger la restitution du matériel "
            "que le Bénéficiaire détient encore."
        )
        doc.text(
            "En cas de dissolution du Bénéficiaire avant le terme de ses engagements, le matériel "
            "qu'il détient encore est restitué à la Collectivité ; la restitution est constatée par "
            "un procès-verbal signé des deux parties."
        )

    doc.article("litiges", "Litiges")
    # The last article goes with the signatures: they never stand alone on a page.
    doc.text(
        "Les parties s'efforcent de régler à l'amiable tout différend relatif à l'interprétation "
        "ou à l'exécution de la présente convention. À défaut d'accord, le litige est porté devant "
        "le {{ operation.tribunal }}.",
        keep_next=True,
        keep_together=True,
    )


def convention_signatures(doc: Builder) -> None:
    doc.fait_a(
        "Fait à {{ operation.lieu_signature }}, le {{ operation.date_remise | date }}, en deux "
        "exemplaires originaux."
    )
    doc.signatures(
        [
            "Pour la Collectivité,",
            "{{ collectivite.representant_qualite }}",
            "{{ collectivite.representant }}",
        ],
        [
            "Pour l'association,",
            "{{ beneficiaire.qualite }}",
            "{{ beneficiaire.civilite }} {{ beneficiaire.representant }}",
        ],
    )


INVENTORY_COLUMNS = [
    Column("N°", 0.9, "center"),
    Column("Catégorie", 3.3),
    Column("Marque et modèle", 4.0),
    Column("N° de série", 3.0),
    Column("IMEI", 3.4),
    Column("N° d'inventaire", 2.7),
    Column("Accessoires", 3.2),
    Column("Valeur unitaire HT", 2.6, "right"),
    Column("Valeur unitaire TTC", 2.6, "right"),
]
assert abs(sum(c.width for c in INVENTORY_COLUMNS) - LANDSCAPE_WIDTH / Cm(1)) < 0.01


def convention_annex(doc: Builder, kind: str) -> None:
    doc.landscape_section()
    what = "MIS À DISPOSITION" if kind == LOAN else "CÉDÉ"
    doc.heading(f"ANNEXE 1 – INVENTAIRE DU MATÉRIEL {what}", align="center").paragraph_format.space_before = Pt(0)
    doc.p(
        f"Convention de {kind} n° {{{{ beneficiaire.numero_convention }}}} – {ASSOCIATION}",
        align="center",
        after=10,
    )
    table = doc.table(INVENTORY_COLUMNS)
    doc.tag_row(table, "for m in materiels")
    doc.row(table, [
        "{{ m.numero }}",
        "{{ m.categorie | capitalize }}",
        "{{ m.designation }}",
        "{{ m.numero_serie }}",
        "{{ m.imei or '—' }}",
        "{{ m.numero_inventaire }}",
        "{{ m.accessoires or '—' }}",
        "{{ m.prix_ht | montant }}",
        "{{ m.prix_ttc | montant }}",
    ])
    doc.tag_row(table, "endfor")
    cells = doc.row(
        table,
        [
            f"Total : {{{{ totaux_beneficiaire.nombre | {EQUIPEMENTS} }}}}",
            "{{ totaux_beneficiaire.ht | montant }}",
            "{{ totaux_beneficiaire.ttc | montant }}",
        ],
        spans=[7, 1, 1],
        bold=True,
    )
    cells[0].paragraphs[0].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for cell in cells:
        _shade(cell, LABEL_FILL)
    doc.p(
        "Soit {{ totaux_beneficiaire.quantites }}. Valeurs d'acquisition en euros.",
        align="left",
        before=6,
    )


def build_convention(kind: str) -> Builder:
    title = f"Convention de {kind} de matériel informatique"
    doc = Builder(title, "Modèle de convention – une convention par association")
    convention_header(doc, kind)
    convention_visas(doc, kind)
    convention_parties(doc)
    convention_preamble(doc, kind)
    convention_articles(doc, kind)
    convention_signatures(doc)
    convention_annex(doc, kind)
    return doc


# --- handover record -----------------------------------------------------------------------

HANDOVER_COLUMNS = [
    Column("N°", 0.7, "center"),
    Column("Catégorie", 2.0),
    Column("Marque et modèle", 2.4),
    Column("N° de série / IMEI", 3.4),
    Column("N°\nd'inventaire", 2.1),
    Column("Accessoires", 2.0),
    Column("État", 2.3),
    Column("Observations", 2.1),
]
assert abs(sum(c.width for c in HANDOVER_COLUMNS) - PORTRAIT_WIDTH / Cm(1)) < 0.01


def build_handover() -> Builder:
    doc = Builder("Procès-verbal de remise de matériel", "Modèle de procès-verbal – un par bénéficiaire")
    doc.tag("if beneficiaire.est_association")
    doc.p("PROCÈS-VERBAL DE REMISE DE MATÉRIEL", style="Title", align="center")
    doc.tag("else")
    doc.p("PROCÈS-VERBAL DE REMISE ET D'AFFECTATION INTERNE DE MATÉRIEL", style="Title", align="center")
    doc.tag("endif")
    doc.p("__{{ operation.titre }}__", align="center", after=12)

    doc.tag("if beneficiaire.est_association")
    doc.text(
        "En application de la convention de {{ operation.type_convention }} "
        "n° {{ beneficiaire.numero_convention }} conclue entre {{ collectivite.nom }} et "
        f"{ASSOCIATION}, il est procédé ce jour à la remise du matériel désigné ci-après."
    )
    doc.tag("else")
    doc.text(
        "Il est procédé ce jour à la remise du matériel désigné ci-après au service "
        "« {{ beneficiaire.nom }} » de {{ collectivite.nom }}, qui l'affecte à ses actions de "
        "médiation numérique."
    )
    doc.tag("endif")

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
            "{% else %}Service « {{ beneficiaire.nom }} » de {{ collectivite.nom }}{% endif %}"
            "\nReprésentant : {{ beneficiaire.civilite }} {{ beneficiaire.representant }}, "
            "{{ beneficiaire.qualite }}",
        ),
        ("Quartier prioritaire", "{{ beneficiaire.qpv_nom }} ({{ beneficiaire.qpv_code }})"),
        ("Lieu d'utilisation", "{{ beneficiaire.lieu_utilisation }}"),
    ])

    doc.heading("Matériel remis")
    table = doc.table(HANDOVER_COLUMNS, small=True)
    doc.tag_row(table, "for m in materiels")
    doc.row(table, [
        "{{ m.numero }}",
        "{{ m.categorie | capitalize }}",
        "{{ m.designation }}",
        "{{ m.numero_serie }}{% if m.imei %}\nIMEI {{ m.imei }}{% endif %}",
        "{{ m.numero_inventaire }}",
        "{{ m.accessoires or '—' }}",
        "{{ m.etat }}",
        "",
    ])
    doc.tag_row(table, "endfor")
    doc.spacer(6)
    doc.p("Le matériel remis comprend :", keep_next=True, after=3, before=6)
    doc.tag("for c in totaux_beneficiaire.categories")
    doc.p("{{ c.texte }}", style="List Bullet", keep_next=True)
    doc.tag("endfor")
    doc.p(
        "soit **{{ totaux_beneficiaire.nombre }} {{ totaux_beneficiaire.nombre | "
        "pluriel('équipement', 'équipements') }}** au total."
    )

    doc.heading("Réserves")
    box = "☐"
    doc.p(f"{box}  Matériel reçu sans réserve", align="left", keep_next=True, after=4)
    doc.p(f"{box}  Matériel reçu avec les réserves suivantes :", align="left", keep_next=True, after=0)
    doc.dotted_lines(3)

    doc.p(
        "{% if beneficiaire.est_association %}La garde du matériel est transférée au bénéficiaire "
        "à compter de ce jour.{% if operation.est_don %} La propriété du matériel lui est transférée "
        "à la même date.{% endif %}{% else %}La garde du matériel est confiée au service "
        "« {{ beneficiaire.nom }} » à compter de ce jour.{% endif %}",
        before=10,
        bold=True,
        keep_next=True,
    )
    doc.fait_a(
        "Fait en deux exemplaires à {{ operation.lieu_signature }}, le "
        "{{ operation.date_remise | date }}."
    )
    doc.signatures(
        ["Pour la Collectivité,", ELU_QUALITE, ELU_NOM],
        [
            "Pour le bénéficiaire,",
            "« Bon pour réception »",
            "{{ beneficiaire.qualite }}",
            "{{ beneficiaire.civilite }} {{ beneficiaire.representant }}",
        ],
    )
    return doc


# --- press release (.docx and .html from one text) -----------------------------------------


@dataclass(frozen=True)
class Block:
    """One block of the press release, rendered both to .docx and to HTML."""

    kind: str  # issuers, title, dateline, headline, lead, p, heading, loop, contacts
    texts: tuple[str, ...]
    loop: str | None = None  # « x in items » for kind == loop


PRESS_RELEASE: tuple[Block, ...] = (
    Block("issuers", ("{{ collectivite.nom }}", "{{ etat.prefecture }}")),
    Block("title", ("COMMUNIQUÉ DE PRESSE",)),
    Block("dateline", ("{{ operation.lieu_signature }}, le {{ operation.date_remise | date }}",)),
    Block("headline", (
        "{{ totaux.nombre | quantite('équipement informatique reconditionné', "
        "'équipements informatiques reconditionnés') }} remis aux acteurs de la médiation "
        "numérique des quartiers prioritaires",
    )),
    Block("lead", (
        "Le {{ operation.date_remise | date_longue }} à {{ operation.heure_remise | heure }}, "
        "{{ etat.representant }}, {{ etat.representant_qualite }}, et " + ELU + ", remettent, au nom "
        "de l'État et de {{ collectivite.nom }}, {{ totaux.nombre | quantite('équipement "
        "informatique reconditionné', 'équipements informatiques reconditionnés') }} aux acteurs de "
        "la médiation numérique des quartiers prioritaires de la politique de la ville (lieu de la "
        "remise : {{ operation.lieu_remise }}).",
    )),
    Block("p", (
        "Cette dotation s'inscrit dans le dispositif « {{ operation.programme }} », qui permet "
        "aux collectivités d'acquérir "
        "du matériel informatique reconditionné pour équiper les structures de médiation numérique. "
        "Elle contribue à l'inclusion numérique des habitants des quartiers prioritaires : accès aux "
        "droits et aux démarches en ligne, recherche d'emploi, suivi de la scolarité, maintien du "
        "lien social. Le choix du reconditionné prolonge la durée de vie des équipements et réduit "
        "l'empreinte environnementale du numérique.",
    )),
    Block("p", (
        "Le matériel remis comprend {{ totaux.quantites }}. {% if operation.est_don %}Les "
        "associations le reçoivent en don, par convention{% else %}Les associations le reçoivent "
        "gratuitement, par une convention de mise à disposition d'une durée de "
        "{{ operation.duree_mois }} mois{% endif %}, pour leurs seules actions de médiation numérique.",
    )),
    Block("heading", ("Les bénéficiaires",)),
    Block(
        "loop",
        (
            "{% if b.est_association %}l'association « {{ b.nom }} »{% else %}le service "
            "« {{ b.nom }} » de {{ collectivite.nom }}{% endif %} (quartier {{ b.qpv_nom }}) : "
            "{{ b.nombre_materiels | quantite('équipement', 'équipements') }}"
            "{% if loop.last %}.{% else %} ;{% endif %}",
        ),
        loop="b in beneficiaires",
    ),
    Block("heading", ("Le financement",)),
    Block("p", (
        "L'État finance {{ totaux.taux_etat | pourcentage }} du montant {{ totaux.assiette }}"
        "{% if totaux.est_plafonne %}, dans la limite d'un plafond de {{ totaux.plafond | euros }}"
        "{% endif %}, soit {{ totaux.part_etat_euros | euros }} ; {{ collectivite.nom }} prend en "
        "charge le solde, soit {{ totaux.part_collectivite_euros | euros }}, pour un coût total de "
        "{{ totaux.ttc_euros | euros }} TTC.",
    )),
    Block("heading", ("Contacts presse",)),
    Block("contacts", (
        "**{{ collectivite.nom }}**\n{{ collectivite.contact_presse.nom }}\n"
        "{{ collectivite.contact_presse.telephone }}\n{{ collectivite.contact_presse.courriel }}",
        "**{{ etat.prefecture }}**\n{{ etat.contact_presse.nom }}\n"
        "{{ etat.contact_presse.telephone }}\n{{ etat.contact_presse.courriel }}",
    )),
)


def build_press_docx() -> Builder:
    doc = Builder("Communiqué de presse", "Modèle de communiqué de presse")
    for block in PRESS_RELEASE:
        if block.kind == "issuers":
            table = doc.table([Column("", 8.5), Column("", 8.5, "right")], header=False, borders=False)
            cells = doc.row(table, list(block.texts), style="Normal", bold=True)
            _cell_margin(cells[1], "right", 0)  # flush with the right margin of the page
            for cell in cells:
                for run in cell.paragraphs[0].runs:
                    run.font.size = Pt(11)
            doc.spacer(14)
        elif block.kind == "title":
            doc.p(block.texts[0], style="Title", align="center")
        elif block.kind == "dateline":
            doc.p(block.texts[0], align="center", italic=True, after=14)
        elif block.kind == "headline":
            paragraph = doc.p(block.texts[0], style="Heading 1", align="center")
            paragraph.paragraph_format.space_before = Pt(0)
            paragraph.paragraph_format.space_after = Pt(12)
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
            doc.p(block.texts[0], style="List Bullet", align="left")
            doc.tag("endfor")
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


def build_press_html() -> str:
    """Return the HTML press release: the same blocks as the .docx, as plain Jinja2."""
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
    for block in PRESS_RELEASE:
        texts = [rich_html(t) for t in block.texts]
        if block.kind == "issuers":
            lines.append('<header class="emetteurs">' + "".join(f"<span>{t}</span>" for t in texts) + "</header>")
        elif block.kind in HTML_BLOCKS:
            lines.append(HTML_BLOCKS[block.kind].format(texts[0]))
        elif block.kind == "loop":
            lines += ["<ul>", f"{{% for {block.loop} %}}<li>{texts[0]}</li>", "{% endfor %}</ul>"]
        elif block.kind == "contacts":
            lines.append('<div class="contacts">' + "".join(f"<p>{t}</p>" for t in texts) + "</div>")
        else:
            raise ValueError(block.kind)
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines)


# --- subsidy claim -------------------------------------------------------------------------


def build_claim_letter() -> Builder:
    doc = Builder("Demande de versement de la subvention", "Modèle de lettre de demande de versement")
    doc.p("**{{ collectivite.nom }}**", align="left", after=0)
    doc.p("{{ collectivite.adresse }}", align="left", after=12)
    address = dict(align="left", indent=9, after=0)
    doc.p("{{ etat.destinataire }}", **address)
    doc.p("{{ etat.prefecture }}", **address)
    doc.tag("if etat.adresse")
    doc.p("{{ etat.adresse }}", **address)
    doc.tag("endif")
    doc.p(f"{{{{ operation.lieu_signature }}}}, le {DATE_DEMANDE}", align="left", indent=9, before=12, after=12)
    for label, value, after in (
        ("Objet :", "Demande de versement de la subvention — {{ operation.programme }}", 2),
        ("Réf. :", "{{ operation.decision_reference }} du {{ operation.decision_date | date }}", 2),
        ("P. J. :", "voir la liste ci-dessous", 12),
    ):
        # the label hangs in the margin of its paragraph: wrapped lines align on the value
        paragraph = doc.p(f"**{label}**\t{value}", align="left", indent=1.6, first_line=-1.6, after=after)
        paragraph.paragraph_format.tab_stops.add_tab_stop(Cm(1.6))
    doc.p("{{ etat.formule_appel }},", align="left", first_line=1, after=6)
    body = dict(first_line=1, after=4)
    doc.p(
        "Par décision du {{ operation.decision_date | date }} (réf. : "
        "{{ operation.decision_reference }}), l'État a attribué à {{ collectivite.nom }} une "
        "subvention au titre du dispositif « {{ operation.programme }} », pour l'acquisition de "
        "matériel informatique reconditionné destiné aux acteurs de la médiation numérique des "
        "quartiers prioritaires de la politique de la ville.",
        **body,
    )
    doc.p(
        "L'opération « {{ operation.titre }} » est achevée : le matériel acquis, soit "
        f"{{{{ totaux.nombre | {EQUIPEMENTS} }}}} ({{{{ totaux.quantites }}}}), a été remis le "
        "{{ operation.date_remise | date }} à {{ associations | length | quantite('association', "
        "'associations') }}{% if beneficiaires | length > associations | length %} et "
        "{{ (beneficiaires | length - associations | length) | pluriel('au service', 'aux services') }} "
        "de {{ collectivite.nom }}{% endif %}, comme l'attestent les procès-verbaux de remise joints.",
        **body,
    )
    doc.p(
        "La dépense éligible réalisée s'élève à {{ demande.eligible | montant }} "
        "{{ demande.assiette }}. Au taux de {{ demande.taux | pourcentage }}, la participation de "
        "l'État s'établit à {{ demande.part_etat | montant }}{% if demande.est_plafonne %}, après "
        "application du plafond de {{ demande.plafond | montant }} (montant calculé : "
        "{{ demande.part_calculee | montant }}){% endif %}.{% if demande.acomptes %} Compte tenu des "
        "acomptes déjà perçus, d'un montant de {{ demande.acomptes | montant }}, le solde restant dû "
        "s'élève à {{ demande.montant | montant }}.{% endif %}",
        **body,
    )
    doc.p(
        "J'ai l'honneur de solliciter le versement de la somme de **{{ demande.montant | montant }}** "
        "({{ demande.montant_lettres }}) sur le compte suivant :",
        keep_next=True,
        **body,
    )
    account = dict(align="left", indent=2, after=1, keep_next=True)
    doc.p("IBAN : {{ operation.iban | iban }}", **account)
    doc.p("BIC : {{ operation.bic }}", **account)
    doc.tag("if operation.titulaire_compte")
    doc.p("Titulaire du compte : {{ operation.titulaire_compte }}", **account)
    doc.tag("endif")
    doc.spacer(6)
    doc.p(
        "Mes services se tiennent à votre disposition pour tout renseignement complémentaire.",
        **body,
    )
    doc.p("Je vous prie d'agréer, {{ etat.formule_appel }}, l'expression de ma haute considération.", keep_next=True, **body)
    doc.spacer(6)
    doc.document.paragraphs[-1].paragraph_format.keep_with_next = True
    doc.signature_right(["{{ collectivite.representant_qualite }}", "{{ collectivite.representant }}"], gap=50)
    # The enclosures, in small type and kept together, close the page.
    doc.p("**Pièces jointes :**", align="left", before=12, keep_next=True, after=2, size=Pt(9.5))
    enclosures = [
        "état récapitulatif des dépenses, certifié exact ;",
        "attestation d'achèvement de l'opération et de service fait ;",
        "plan de financement définitif ;",
        "relevé d'identité bancaire ;",
        "procès-verbaux de remise du matériel ({{ proces_verbaux | length }}).",
    ]
    for index, item in enumerate(enclosures):
        doc.p(item, style="List Bullet", align="left", size=Pt(9.5), after=0,
              keep_next=index < len(enclosures) - 1)
    return doc


def build_financing_plan() -> Builder:
    doc = Builder("Plan de financement définitif", "Modèle de plan de financement définitif")
    doc.title_block("PLAN DE FINANCEMENT DÉFINITIF")
    doc.p("__{{ operation.titre }}__", align="center", after=14)
    doc.label_table([
        ("Maître d'ouvrage", "{{ collectivite.nom }}"),
        ("Programme", "{{ operation.programme }}"),
        (
            "Décision de financement",
            "{{ operation.decision_reference }} du {{ operation.decision_date | date }}",
        ),
        ("Date d'achèvement", "{{ operation.date_remise | date }} (remise du matériel)"),
    ], label_width=4.8)

    doc.heading("Dépenses")
    table = doc.table([
        Column("Nature de la dépense", 8.0),
        Column("Montant HT", 3.0, "right"),
        Column("TVA", 3.0, "right"),
        Column("Montant TTC", 3.0, "right"),
    ])
    doc.row(table, [
        "Acquisition de matériel informatique reconditionné : {{ totaux.quantites }}",
        "{{ totaux.ht | montant }}",
        "{{ totaux.tva | montant }}",
        "{{ totaux.ttc | montant }}",
    ])
    cells = doc.row(
        table,
        ["Total", "{{ totaux.ht | montant }}", "{{ totaux.tva | montant }}", "{{ totaux.ttc | montant }}"],
        bold=True,
    )
    for cell in cells:
        _shade(cell, LABEL_FILL)
    doc.spacer(6)

    doc.heading("Ressources")
    table = doc.table([
        Column("Financeur", 5.2),
        Column("Montant", 3.0, "right"),
        Column("% du coût TTC", 2.4, "right"),
        Column("Base de calcul", 6.4),
    ])
    doc.row(table, [
        "État – décision du {{ operation.decision_date | date }}",
        "{{ totaux.part_etat | montant }}",
        "{{ totaux.part_etat_sur_ttc | pourcentage }}",
        "{{ totaux.taux_etat | pourcentage }} du montant {{ totaux.assiette }} de la dépense "
        "éligible{% if totaux.est_plafonne %}, dans la limite du plafond de "
        "{{ totaux.plafond | montant }}{% endif %}",
    ])
    doc.row(table, [
        "{{ collectivite.nom }} (autofinancement)",
        "{{ totaux.part_collectivite | montant }}",
        "{{ totaux.part_collectivite_sur_ttc | pourcentage }}",
        "solde du coût TTC{% if totaux.assiette == 'HT' %}, dont TVA {{ totaux.tva | montant }}{% endif %}",
    ])
    cells = doc.row(table, ["Total TTC", "{{ totaux.ttc | montant }}", "100 %", "coût total de l'opération"], bold=True)
    for cell in cells:
        _shade(cell, LABEL_FILL)
    doc.spacer(6)
    doc.p(
        "Dépense éligible : {{ totaux.eligible | montant }} {{ totaux.assiette }} ; taux de "
        "subvention : {{ totaux.taux_etat | pourcentage }}{% if totaux.est_plafonne %} ; plafond : "
        "{{ totaux.plafond | montant }}{% endif %} ; subvention de l'État : "
        "{{ totaux.part_etat | montant }}{% if totaux.acomptes %}, dont acomptes déjà perçus : "
        "{{ totaux.acomptes | montant }}{% endif %}.",
        before=6,
    )
    doc.p("**Certifié exact,**", align="left", before=12, keep_next=True)
    doc.fait_a(f"Fait à {{{{ operation.lieu_signature }}}}, le {DATE_DEMANDE}.")
    doc.signature_right([
        "{{ collectivite.representant_qualite }}",
        "{{ collectivite.representant }}",
    ])
    return doc


def build_completion_certificate() -> Builder:
    doc = Builder(
        "Attestation d'achèvement et de service fait",
        "Modèle d'attestation d'achèvement et de service fait",
    )
    doc.title_block("ATTESTATION D'ACHÈVEMENT ET DE SERVICE FAIT")
    doc.p("__{{ operation.titre }}__", align="center", after=16)
    doc.p(
        "Je soussigné{% if collectivite.representant_civilite == 'Madame' %}e{% endif %}, "
        "{{ collectivite.representant }}, {{ collectivite.representant_qualite }}, certifie :",
        keep_next=True,
    )
    doc.bullets([
        "que l'opération « {{ operation.titre }} », financée par l'État au titre de la décision du "
        "{{ operation.decision_date | date }} (réf. : {{ operation.decision_reference }}) dans le "
        "cadre du dispositif « {{ operation.programme }} », a été réalisée conformément à la "
        "décision attributive et achevée le {{ operation.date_remise | date }}, date de la remise "
        "du matériel aux bénéficiaires ;",
        "que le matériel acquis, soit {{ totaux.quantites }} "
        f"({{{{ totaux.nombre | {EQUIPEMENTS} }}}}), a été livré, puis remis aux bénéficiaires et "
        "affecté à la médiation numérique dans les quartiers prioritaires (service fait) ;",
        "que les dépenses figurant à l'état récapitulatif des dépenses joint, d'un montant total de "
        "{{ totaux.ht | montant }} HT, soit {{ totaux.ttc | montant }} TTC, ont été intégralement "
        "payées ;",
        "que la remise du matériel est constatée par les procès-verbaux suivants, joints à la "
        "présente attestation :",
    ])
    doc.spacer(4)
    table = doc.table([
        Column("Identifiant", 1.8),
        Column("Bénéficiaire", 4.8),
        Column("Convention n°", 2.6),
        Column("Équipements", 2.1, "center"),
        Column("Procès-verbal (fichier)", 5.7),
    ], small=True)
    doc.tag_row(table, "for pv in proces_verbaux")
    doc.row(table, [
        "{{ pv.identifiant }}",
        "{{ pv.nom }}",
        "{{ pv.numero_convention or '—' }}",
        "{{ pv.nombre_materiels }}",
        "{{ pv.fichier }}",
    ])
    doc.tag_row(table, "endfor")
    cells = doc.row(table, ["Total", "{{ totaux.nombre }}", ""], spans=[3, 1, 1], bold=True)
    cells[0].paragraphs[0].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for cell in cells:
        _shade(cell, LABEL_FILL)
    doc.p("Fait pour servir et valoir ce que de droit.", before=12, keep_next=True)
    doc.fait_a(f"Fait à {{{{ operation.lieu_signature }}}}, le {DATE_DEMANDE}.")
    doc.signature_right([
        "{{ collectivite.representant_qualite }}",
        "{{ collectivite.representant }}",
    ])
    return doc


# --- main ----------------------------------------------------------------------------------

DOCX_TEMPLATES: dict[str, Callable[[], Builder]] = {
    "convention-mise-a-disposition.docx": lambda: build_convention(LOAN),
    "convention-don.docx": lambda: build_convention(GIFT),
    "proces-verbal-remise.docx": build_handover,
    "communique-de-presse.docx": build_press_docx,
    "demande-lettre.docx": build_claim_letter,
    "plan-de-financement.docx": build_financing_plan,
    "attestation-achevement.docx": build_completion_certificate,
}
HTML_TEMPLATES: dict[str, Callable[[], str]] = {
    "communique-de-presse.html": build_press_html,
}


def build_all(output: Path) -> list[Path]:
    """Write every template into ``output`` and return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in DOCX_TEMPLATES.items():
        path = output / name
        build().save(path)
        written.append(path)
    for name, build_text in HTML_TEMPLATES.items():
        path = output / name
        path.write_text(build_text(), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=TEMPLATES_DIR, help="dossier de sortie")
    args = parser.parse_args(argv)
    for path in build_all(args.output):
        print(path)


if __name__ == "__main__":
    main()
