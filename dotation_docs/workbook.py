"""Workbook reader: opens the .xlsx and returns raw cells with their sheet, row and column.

This is the only module that imports openpyxl for reading: openpyxl reads the package
(sheets, styles); the cells of a sheet written as spreadsheets write it are scanned with
one regular expression, those of any other sheet read by lxml in one pass; openpyxl alone
is the reference reader and the fallback for what the fast one gives up on. It maps the French sheet
titles and headers (matched tolerantly) to the schema's keys, records structural
problems (missing sheet or column, unknown column) in a :class:`Report`, and leaves the
parsing of values to :mod:`dotation_docs.validation`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import itertools
import logging
import operator
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from lxml import etree
from openpyxl.cell.text import Text
from openpyxl.reader.excel import SUPPORTED_FORMATS, ExcelReader
from openpyxl.formula.translate import Translator
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_to_tuple
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.worksheet import _reader as sheet_reader
from openpyxl.worksheet._reader import WorkSheetParser, _cast_number
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.xml.functions import iterparse

from dotation_docs.exceptions import WorkbookOpenError, describe_os_error
from dotation_docs.report import Report
from dotation_docs.schema import SHEETS, Layout, Sheet, normalize_label

logger = logging.getLogger(__name__)

# Largest workbook accepted, uncompressed: a sheet formatted down to row 1,048,576 takes
# about 40 Mio, 100,000 devices about 150 Mio.
MAX_EXPANDED_SIZE = 512 * 2**20
# How far down to look for the header row of a table sheet (a title row may come first).
HEADER_SEARCH_ROWS = 10
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
# What openpyxl raises on a damaged file. SyntaxError covers the XML parsers' errors
# (ElementTree's and lxml's both derive from it); ValueError a malformed cell value.
_DAMAGED = (InvalidFileException, zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError,
            ValueError, SyntaxError)
# A row with no cell, or only cells without a value (formatting only): <row r="9" s="1"/>,
# <row r="9"><c r="A9" s="2"/></row>. Spreadsheets write one per formatted row, up to
# row 1,048,576; openpyxl would parse each of them.
_EMPTY_ROW = re.compile(
    rb"<(?:\w+:)?row\b[^>]*/>|<((?:\w+:)?)row\b[^>]*>(?:\s*<(?:\w+:)?c\b[^>]*/>)*\s*</\1row>"
)
_ROW_START = re.compile(rb"<(?:\w+:)?row[\s>/]")
_ROW_END = re.compile(rb"</(?:\w+:)?row\s*>")
# Below this many bytes per ``row`` in a chunk, the rows are looked for with regular
# expressions (in C) rather than one Python step per ``row``: bounded cost either way.
_BYTES_PER_ROW_WORD = 64
# What ``\w`` matches in a bytes pattern: the characters of a namespace prefix above.
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# A row still incomplete after this many bytes is passed on unfiltered: the filter only
# saves work (openpyxl reads an empty row as well), and a bounded buffer keeps reading
# linear whatever the file holds (a row 48 MiB long is read once, not once per chunk).
# A row of 16,384 formatted empty cells takes about 400 KB: it is still filtered.
_MAX_PENDING = 1 << 20
# Excel's escape of a character XML cannot hold, or of a literal "_x": _x000D_, _x005F_.
_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# Two escapes that make one UTF-16 surrogate pair (_xD83D__xDE00_) are one character.
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
# Characters an XML 1.0 document cannot hold (a lone surrogate would cut a rendered
# document short). Tab, line feed, carriage return and vertical tab are kept: the
# cleaner turns them into a space or a line break.
_NOT_XML = re.compile("[\x00-\x08\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A text that needs one of the two above: an escape, or a character to remove.
_UNCLEAN = re.compile("_x|[\x00-\x08\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class RawCell(NamedTuple):
    """A cell as stored: its computed value and, when the workbook holds a formula whose
    value was never computed, the formula text.

    A named tuple rather than a frozen dataclass: as immutable, and made five times
    faster (a national workbook has some 150,000 cells)."""

    value: Any
    row: int
    column: int
    uncomputed_formula: str | None = None
    excel_error: str | None = None

    @property
    def coordinate(self) -> str:
        """``F12``."""
        return f"{get_column_letter(self.column)}{self.row}"

    @property
    def is_empty(self) -> bool:
        """True when the cell holds nothing (blank strings count as nothing)."""
        if self.uncomputed_formula or self.excel_error:
            return False
        return self.value is None or (isinstance(self.value, str) and not self.value.strip())


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record: a row of a table sheet, or the whole of a form sheet."""

    row: int
    cells: dict[str, RawCell]


@dataclass(slots=True)
class RawSheet:
    """A sheet found in the workbook, its columns mapped to the schema's fields."""

    spec: Sheet
    title: str
    records: list[RawRecord] = field(default_factory=list)
    header_row: int | None = None  # of a table sheet, when found


@dataclass(slots=True)
class RawWorkbook:
    """What the reader found: the sheets it recognised and the structural problems."""

    path: Path
    sheets: dict[str, RawSheet]
    report: Report


def read_workbook(path: Path) -> RawWorkbook:
    """Return the raw content of the workbook at ``path``.

    Raises :class:`WorkbookOpenError` when the file cannot be opened as an .xlsx
    workbook; every other problem is recorded in the returned report.

    The cells are read by :func:`_read_fast` (the scanner, or lxml where the scanner
    gives up: one pass per sheet). Whatever it does not take on (a part it cannot parse, a document type declaration, a damaged cell) is
    read again by :func:`read_workbook_with_openpyxl`, the reference reader, so that the
    result, the messages and the errors stay those of openpyxl.
    """
    _check_openable(path)
    report = _extension_report(path)
    try:
        with no_garbage_collection():
            return _read_fast(path, Report(list(report.issues)))
    except Exception as err:  # noqa: BLE001 - the reference reader decides what it means
        logger.debug("fast reader gave up on %s (%r): openpyxl reads it", path, err)
    return _read_with_openpyxl(path, report)


@contextlib.contextmanager
def no_garbage_collection() -> Iterator[None]:
    """Pause Python's cycle collector while the fast reader runs (as Mercurial's
    ``util.nogc`` does): its hundreds of thousands of new objects, none in a cycle, would
    set it off again and again, each time walking all the cells already read (a third of
    the reading time of a national workbook). Restored as it was, whatever happens."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def read_workbook_with_openpyxl(path: Path) -> RawWorkbook:
    """Return what :func:`read_workbook` returns, read by openpyxl alone (twice: computed
    values, then formulas). The reference of the fast reader, and its fallback."""
    _check_openable(path)
    return _read_with_openpyxl(path, _extension_report(path))


def _extension_report(path: Path) -> Report:
    report = Report()
    if path.suffix.lower() not in SUPPORTED_FORMATS:
        report.warning(
            f"le fichier « {path.name} » n'a pas l'extension .xlsx "
            f"({f'« {path.suffix} »' if path.suffix else 'aucune extension'}) ; il a été lu "
            "comme un classeur Excel. Renommez-le en "
            f"« {path.stem if path.suffix else path.name}.xlsx » pour l'ouvrir dans un tableur."
        )
    return report


def _read_with_openpyxl(path: Path, report: Report) -> RawWorkbook:
    try:
        with path.open("rb") as value_file, path.open("rb") as formula_file:
            try:
                values = _load(value_file, data_only=True)
            except _DAMAGED as err:
                raise WorkbookOpenError(
                    f"Le fichier « {path} » n'a pas pu être lu comme un classeur Excel (.xlsx) : "
                    "il est peut-être endommagé. Ouvrez-le dans Excel ou LibreOffice et "
                    "enregistrez-le de nouveau au format .xlsx."
                ) from err
            try:
                formulas = _load(formula_file, data_only=False)
                try:
                    return _read_sheets(path, values, formulas, report)
                finally:
                    formulas.close()
            except _DAMAGED as err:
                raise WorkbookOpenError(
                    f"Le classeur « {path} » est endommagé (feuille illisible) : ouvrez-le dans "
                    "Excel ou LibreOffice et enregistrez-le de nouveau au format .xlsx."
                ) from err
            finally:
                values.close()
    except OSError as err:  # only opening the file can get here: reading errors are _DAMAGED
        raise WorkbookOpenError(
            f"Le fichier « {path} » n'a pas pu être ouvert : {describe_os_error(err)}."
        ) from err


class _ExactStringsReader(ExcelReader):
    """openpyxl's reader, but shared strings are kept exactly as stored: openpyxl deletes
    every ``x005F_``, which makes Excel's escaped literal ``_x005F_x000D_`` look like the
    escape ``_x000D_``. :func:`decode_excel_escapes` decodes them all, once."""

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is None:
            return
        tag = f"{{{SHEET_MAIN_NS}}}si"
        strings = []
        with self.archive.open(part.PartName[1:]) as src:
            for _, node in iterparse(src):
                if node.tag == tag:
                    strings.append(Text.from_tree(node).content)
                    node.clear()
        self.shared_strings = strings


def _load(source: IO[bytes], data_only: bool) -> Any:
    """Open the workbook in ``source`` read-only. A file object, not a path, so that
    openpyxl does not refuse a workbook whose name lacks the .xlsx extension (the
    content was checked by :func:`_check_openable`)."""
    reader = _ExactStringsReader(source, read_only=True, data_only=data_only)
    reader.read()
    return reader.wb


def decode_excel_escapes(text: str) -> str:
    """Return ``text`` with Excel's ``_xHHHH_`` escapes decoded in one pass: ``_x000D_``
    is a carriage return, ``_x000B_`` a vertical tab (a line break pasted from Word) and
    ``_x005F_`` the ``_`` that makes the next escape a literal (``_x005F_x000D_`` stays
    ``_x000D_``)."""
    if "_x" not in text:
        return text
    text = _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return _SURROGATE_PAIR.sub(_join_pair, text)


def _join_pair(match: re.Match[str]) -> str:
    high, low = (ord(c) for c in match.group())
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def remove_invalid_characters(text: str) -> tuple[str, list[str]]:
    """Return ``text`` without the characters XML cannot hold, and those characters
    written as ``U+D800`` (in order, without repeats)."""
    found = _NOT_XML.findall(text)
    if not found:
        return text, []
    return _NOT_XML.sub("", text), [f"U+{ord(c):04X}" for c in dict.fromkeys(found)]


def _read_sheets(path: Path, values: Any, formulas: Any, report: Report) -> RawWorkbook:
    """Return the sheets of both views of the workbook, paired cell by cell."""
    sheets: dict[str, RawSheet] = {}
    for spec in SHEETS:
        title = _find_sheet(spec, values, report)
        if title is None:
            continue
        rows = _zip_rows(values[title], formulas[title], title, report)
        reader = _read_form if spec.layout is Layout.FORM else _read_table
        sheets[spec.key] = reader(spec, title, rows, report)
    return RawWorkbook(path=path, sheets=sheets, report=report)


def _find_sheet(spec: Sheet, values: Any, report: Report) -> str | None:
    """Return the title of the one sheet that matches ``spec``, or None after recording
    why there is none (no match, or several: which to read would be a guess)."""
    matches = [t for t in values.sheetnames if normalize_label(t) in spec.names]
    hidden = {t for t in matches if values[t].sheet_state != "visible"}

    def describe(title: str) -> str:
        return f"« {title} »" + (" (masquée)" if title in hidden else "")

    if not matches:
        report.error(
            f"feuille « {spec.title} » introuvable dans le classeur "
            f"(feuilles trouvées : {', '.join(f'« {t} »' for t in values.sheetnames)})."
            f" Ajoutez une feuille nommée « {spec.title} ».",
        )
        return None
    if len(matches) > 1:
        report.error(
            f"plusieurs feuilles peuvent être la feuille « {spec.title} » : "
            f"{', '.join(describe(t) for t in matches)}. Gardez-en une seule : supprimez ou "
            "renommez les autres (une feuille masquée s'affiche par clic droit sur un onglet, "
            "« Afficher »).",
        )
        return None
    title = matches[0]
    if title in hidden:
        report.warning(
            f"la feuille « {title} » est masquée ; elle est lue quand même comme feuille "
            f"« {spec.title} ». Affichez-la (clic droit sur un onglet, « Afficher ») pour "
            "vérifier son contenu.",
        )
    return title


def _check_openable(path: Path) -> None:
    """Raise WorkbookOpenError with one clear sentence for a file that cannot be an .xlsx."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise WorkbookOpenError(f"Le fichier « {path} » est introuvable. Vérifiez le chemin.") from None
    except OSError as err:
        raise WorkbookOpenError(
            f"Le fichier « {path} » n'a pas pu être ouvert : {describe_os_error(err)}."
        ) from err
    if stat.S_ISDIR(mode):
        raise WorkbookOpenError(f"« {path} » est un dossier, pas un classeur Excel (.xlsx).")
    if not stat.S_ISREG(mode):
        # A named pipe would block the reading for ever; a device never ends.
        raise WorkbookOpenError(
            f"« {path} » n'est pas un fichier ordinaire (c'est un tube nommé, un périphérique "
            "ou une socket) : indiquez le fichier du classeur Excel (.xlsx)."
        )
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as err:
        raise WorkbookOpenError(
            f"Le fichier « {path} » n'a pas pu être ouvert : {describe_os_error(err)}."
        ) from err
    if head == _OLE_MAGIC:
        data = path.read_bytes()
        if _ENCRYPTION_STREAM in data:
            raise WorkbookOpenError(
                f"Le classeur « {path} » est protégé par un mot de passe. Enregistrez-en une "
                "copie sans mot de passe (Fichier > Informations > Protéger le classeur)."
            )
        raise WorkbookOpenError(
            f"Le fichier « {path} » est au format Excel 97-2003 (.xls), qui n'est pas pris en "
            "charge. Ouvrez-le et enregistrez-le au format « Classeur Excel (.xlsx) »."
        )
    if not zipfile.is_zipfile(path):
        raise WorkbookOpenError(
            f"Le fichier « {path} » n'est pas un classeur Excel (.xlsx). Enregistrez le "
            "classeur au format « Classeur Excel (.xlsx) »."
        )
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        if "mimetype" in names and b"opendocument" in z.read("mimetype"):
            raise WorkbookOpenError(
                f"Le fichier « {path} » est au format OpenDocument (.ods). Enregistrez-le au "
                "format « Classeur Excel (.xlsx) »."
            )
        if "xl/workbook.xml" not in names:
            raise WorkbookOpenError(
                f"Le fichier « {path} » n'est pas un classeur Excel (.xlsx) (c'est peut-être "
                "un document Word ou une archive). Indiquez le classeur de l'opération."
            )
        # Python's zip reader never inflates an entry past its declared size: checking the
        # declared sizes bounds what reading can cost (a « zip bomb » of spaces).
        expanded = sum(info.file_size for info in z.infolist())
        if expanded > MAX_EXPANDED_SIZE:
            raise WorkbookOpenError(
                f"Le classeur « {path} » occupe {expanded // 2**20} Mio une fois décompressé, plus "
                f"que les {MAX_EXPANDED_SIZE // 2**20} Mio admis (un classeur de 100 000 lignes de "
                "matériel en occupe bien moins) : il contient sans doute un contenu parasite. "
                "Ouvrez-le dans Excel ou LibreOffice, copiez les feuilles utiles dans un classeur "
                "neuf et enregistrez-le au format .xlsx."
            )


class _ValueRowsOnly(io.RawIOBase):
    """A worksheet XML stream with the empty rows (see ``_EMPTY_ROW``) taken out.

    Each round filters the new chunk and keeps back only what may be the start of an
    empty row (an unfinished row or tag), at most ``_MAX_PENDING`` bytes: every byte is
    scanned a bounded number of times, so reading stays linear in the size of the sheet.
    """

    def __init__(self, source: Any, chunk_size: int = 1 << 16) -> None:
        self._source = source
        self._chunk_size = chunk_size
        self._pending = b""
        self._ready = b""
        self._offset = 0  # of the first byte of _ready not yet handed out
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._ready) and not self._done:
            chunk = self._source.read(self._chunk_size)
            self._done = not chunk
            data = self._pending + chunk
            cut = len(data) if self._done else _unfinished_tail(data)
            if len(data) - cut > _MAX_PENDING:
                cut = len(data)
            self._ready, self._pending, self._offset = _remove_empty_rows(data[:cut]), data[cut:], 0
        n = min(len(buffer), len(self._ready) - self._offset)
        buffer[:n] = self._ready[self._offset : self._offset + n]
        self._offset += n
        return n

    def close(self) -> None:
        self._source.close()
        super().close()


def _tag_start(data: bytes, name: int) -> int:
    """Return where the tag whose local name starts at ``name`` opens (its ``<``, before
    a namespace prefix ``x:`` if any), or -1 when no start tag ``<`` / ``<x:`` is there."""
    if name and data[name - 1] == 0x3C:  # "<"
        return name - 1
    if name > 1 and data[name - 1] == 0x3A:  # ":"
        start = name - 1
        while start > 0 and data[start - 1] in _WORD_BYTES:
            start -= 1
        if start < name - 1 and start > 0 and data[start - 1] == 0x3C:
            return start - 1
    return -1


def _remove_empty_rows(data: bytes) -> bytes:
    """Return ``_EMPTY_ROW.sub(b"", data)``, found faster: a regular expression that may
    match at every ``<`` costs more than reading the sheet, so it is tried only where the
    literal ``row`` opens a tag (``<row``, ``<x:row``). Where ``row`` comes too often for
    that to pay (rows of formatting alone, a text repeating it), the expression runs."""
    if data.count(b"row") * _BYTES_PER_ROW_WORD > len(data):
        return _EMPTY_ROW.sub(b"", data)
    parts = []
    kept = 0  # where the bytes not yet copied begin
    find, match = data.find, _EMPTY_ROW.match
    name = find(b"row")
    while name >= 0:
        start = _tag_start(data, name)
        found = match(data, start) if start >= kept else None
        if found is None:
            name = find(b"row", name + 3)
            continue
        parts.append(data[kept:start])
        kept = found.end()
        name = find(b"row", kept)
    if not parts:
        return data
    parts.append(data[kept:])
    return b"".join(parts)


def _last_row_start(data: bytes) -> int:
    """Return where the last match of ``_ROW_START`` in ``data`` begins, or -1."""
    if data.count(b"row") * _BYTES_PER_ROW_WORD > len(data):
        last = None
        for last in _ROW_START.finditer(data):
            pass
        return last.start() if last is not None else -1
    name = len(data)
    while True:
        name = data.rfind(b"row", 0, name)
        if name < 0:
            return -1
        start = _tag_start(data, name)
        if start >= 0 and _ROW_START.match(data, start):
            return start


def _unfinished_tail(data: bytes) -> int:
    """Return where the part of ``data`` that must wait for more bytes begins: the last
    row when it is not closed yet, else the last tag when its ``>`` is missing."""
    start = _last_row_start(data)
    if start >= 0:
        tag_end = data.find(b">", start)
        self_closed = tag_end > 0 and data[tag_end - 1 : tag_end] == b"/"
        if tag_end < 0 or not (self_closed or _ROW_END.search(data, tag_end)):
            return start
    last_tag = data.rfind(b"<")
    if last_tag >= 0 and data.find(b">", last_tag) < 0:
        return last_tag
    return len(data)


def _compact(ws: Any) -> Any:
    """Make the read-only worksheet ``ws`` skip empty rows and ignore its declared
    dimensions, so formatting that reaches row 1,000,000 costs nothing."""
    source = ws._get_source
    ws._get_source = lambda: io.BufferedReader(_ValueRowsOnly(source()))
    ws.reset_dimensions()
    return ws


def _zip_rows(
    values_ws: Any, formulas_ws: Any, title: str, report: Report
) -> Iterator[tuple[int, list[RawCell]]]:
    """Yield (row number, cells) for every non-empty row, pairing each computed value
    with its formula. A character no document can hold is removed, with a warning."""
    _compact(values_ws)
    _compact(formulas_ws)
    for value_row, formula_row in zip(values_ws.iter_rows(), formulas_ws.iter_rows(), strict=True):
        cells = []
        for value_cell, formula_cell in zip(value_row, formula_row, strict=True):
            if getattr(value_cell, "row", None) is None:  # openpyxl's filler for a gap
                continue
            formula = formula_cell.value if formula_cell.data_type == "f" else None
            uncomputed = str(formula) if formula is not None and value_cell.value is None else None
            error = str(value_cell.value) if value_cell.data_type == "e" else None
            value = value_cell.value
            if isinstance(value, str):
                value = _without_invalid_characters(
                    decode_excel_escapes(value), title, value_cell.coordinate, report)
            cells.append(RawCell(value, value_cell.row, value_cell.column, uncomputed, error))
        if any(not c.is_empty for c in cells):
            yield cells[0].row, cells


def _without_invalid_characters(text: str, title: str, coordinate: str, report: Report) -> str:
    """Return ``text`` without the characters XML cannot hold, warning when there was one."""
    kept, removed = remove_invalid_characters(text)
    if removed:
        plural = "s" if len(removed) > 1 else ""
        shown = " ".join(kept.split())
        shown = shown if len(shown) <= 60 else shown[:57] + "…"
        report.warning(
            f"caractère{plural} invalide{plural} supprimé{plural} ({', '.join(removed)}) : les "
            f"documents produits ne peuvent pas le{plural} contenir ; texte retenu : « {shown} ». "
            "Vérifiez la cellule.",
            title, coordinate,
        )
    return kept


def _read_form(spec: Sheet, title: str, rows: Iterator[tuple[int, list[RawCell]]], report: Report) -> RawSheet:
    """Read a form sheet: label in the first column, value in the second."""
    sheet = RawSheet(spec=spec, title=title)
    by_name = {name: f for f in spec.fields for name in f.names}
    found: dict[str, RawCell] = {}
    first_row = None
    for row, cells in rows:
        label_cell = next((c for c in cells if c.column == 1), None)
        value_cell = next((c for c in cells if c.column == 2), None)
        if label_cell is None or label_cell.is_empty:
            continue
        if spec.is_header(str(label_cell.value)):  # the optional header row
            continue
        label = normalize_label(str(label_cell.value))
        f = by_name.get(label)
        if f is None:
            report.warning(
                f"libellé « {label_cell.value} » inconnu : la ligne est ignorée.",
                title, label_cell.coordinate,
            )
            continue
        if f.key in found:
            report.error(
                f"« {f.label} » apparaît deux fois (déjà en {found[f.key].coordinate}) ; "
                "gardez une seule ligne.",
                title, label_cell.coordinate,
            )
            continue
        first_row = first_row or row
        found[f.key] = value_cell or RawCell(None, row, 2)
    for f in spec.fields:
        if f.key not in found and f.required:
            report.error(
                f"ligne « {f.label} » manquante ; ajoutez-la (libellé en colonne A, valeur en "
                f"colonne B) : {f.kind.value} attendu.",
                title,
            )
    sheet.records.append(RawRecord(row=first_row or 1, cells=found))
    return sheet


def _read_table(spec: Sheet, title: str, rows: Iterator[tuple[int, list[RawCell]]], report: Report) -> RawSheet:
    """Read a table sheet: the header is the row, among the first ones, that names the
    most known columns (title rows above it are skipped); then one record per row."""
    sheet = RawSheet(spec=spec, title=title)
    by_name = {name: f for f in spec.fields for name in f.names}
    head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    scores = [sum(1 for c in cells if not c.is_empty and normalize_label(str(c.value)) in by_name)
              for _, cells in head]
    if not any(scores):
        report.error(
            "ligne d'en-têtes introuvable : la première ligne doit porter les titres de "
            f"colonnes ({', '.join(f'« {f.label} »' for f in spec.fields if f.required)}).",
            title,
        )
        return sheet
    best = scores.index(max(scores))
    sheet.header_row = head[best][0]
    columns = _map_header(spec, title, head[best][1], by_name, report)
    items = tuple(columns.items())
    keys = tuple(columns)
    # A row that holds every column up to the last one mapped: its record picked in C.
    last = max(columns.values(), default=0)
    pick = operator.itemgetter(*(i - 1 for i in columns.values())) if len(columns) > 1 else None
    append = sheet.records.append
    for row, cells in itertools.chain(head[best + 1:], rows):
        count = len(cells)
        if pick is not None and count >= last and cells[-1][2] == count:
            record = dict(zip(keys, pick(cells)))
        elif cells and cells[-1].column == count:
            # Cells come in increasing columns from 1: up to the last, every column is there.
            record = {key: cells[i - 1] if i <= count else RawCell(None, row, i) for key, i in items}
        else:
            by_col = {c.column: c for c in cells}
            record = {key: by_col.get(i) or RawCell(None, row, i) for key, i in items}
        for cell in record.values():
            if not cell.is_empty:
                append(RawRecord(row=row, cells=record))
                break
    return sheet


def _map_header(spec: Sheet, title: str, cells: list[RawCell], by_name: dict, report: Report) -> dict[str, int]:
    """Return field key → column index; record unknown, duplicate and missing columns."""
    columns: dict[str, int] = {}
    for cell in cells:
        if cell.is_empty:
            continue
        f = by_name.get(normalize_label(str(cell.value)))
        if f is None:
            report.warning(f"colonne « {cell.value} » inconnue : elle est ignorée.", title, cell.coordinate)
        elif f.key in columns:
            report.error(
                f"colonne « {f.label} » en double (déjà en colonne "
                f"{get_column_letter(columns[f.key])}) ; gardez-en une seule.",
                title, cell.coordinate,
            )
        else:
            columns[f.key] = cell.column
    for f in spec.fields:
        if f.required and f.key not in columns:
            report.error(
                f"colonne « {f.label} » manquante ; ajoutez-la à la ligne d'en-têtes : "
                f"{f.kind.value} attendu dans chaque ligne.",
                title,
            )
    return columns



# --- The fast reader: lxml, one pass per sheet ---------------------------------------------
#
# openpyxl still reads the package (content types, workbook.xml, its relationships,
# styles.xml: about 15 ms), so that the sheets found, their order, their state, the date
# system and the date styles are exactly openpyxl's. The cells, the bulk of the work, are
# read here, computed value and formula together, following openpyxl's
# ``WorkSheetParser.parse_cell`` and ``ReadOnlyWorksheet._get_row`` line by line. Any
# exception sends the whole workbook to the reference reader (see read_workbook).

_MAIN = f"{{{SHEET_MAIN_NS}}}"
_ROW_TAG, _VALUE_TAG, _FORMULA_TAG, _INLINE_TAG = (_MAIN + t for t in ("row", "v", "f", "is"))
_SI_TAG, _T_TAG, _R_TAG = (_MAIN + t for t in ("si", "t", "r"))
_SHEET_DATA_TAG, _SST_TAG = _MAIN + "sheetData", _MAIN + "sst"
_COORDINATE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")
_COLUMN_INDEX: dict[str, int] = {}
# Column letters → index, A to ZZ: a cell "F12" of row "12" needs no regular expression.
_COLUMNS = {get_column_letter(i): i for i in range(1, 703)}
# The sheet-level elements openpyxl's WorkSheetParser.parse hands to a method of its own,
# and those it builds with from_tree (openpyxl 3.1).
_SHEET_HANDLERS = {
    sheet_reader.COL_TAG: "parse_column_dimensions",
    sheet_reader.PROT_TAG: "parse_sheet_protection",
    sheet_reader.EXT_TAG: "parse_extensions",
    sheet_reader.CF_TAG: "parse_formatting",
    sheet_reader.LEGACY_TAG: "parse_legacy",
    sheet_reader.ROW_BREAK_TAG: "parse_row_breaks",
    sheet_reader.COL_BREAK_TAG: "parse_col_breaks",
    sheet_reader.CUSTOM_VIEWS_TAG: "parse_custom_views",
}
_SHEET_PROPERTIES = {
    sheet_reader.PRINT_TAG: sheet_reader.PrintOptions,
    sheet_reader.MARGINS_TAG: sheet_reader.PageMargins,
    sheet_reader.PAGE_TAG: sheet_reader.PrintPageSetup,
    sheet_reader.HEADER_TAG: sheet_reader.HeaderFooter,
    sheet_reader.FILTER_TAG: sheet_reader.AutoFilter,
    sheet_reader.VALIDATION_TAG: sheet_reader.DataValidationList,
    sheet_reader.PROPERTIES_TAG: sheet_reader.WorksheetProperties,
    sheet_reader.VIEWS_TAG: sheet_reader.SheetViewList,
    sheet_reader.FORMAT_TAG: sheet_reader.SheetFormatProperties,
    sheet_reader.SCENARIOS_TAG: sheet_reader.ScenarioList,
    sheet_reader.TABLE_TAG: sheet_reader.TablePartList,
    sheet_reader.HYPERLINK_TAG: sheet_reader.HyperlinkList,
    sheet_reader.MERGE_TAG: sheet_reader.MergeCells,
}
_SHEET_TAGS = [_ROW_TAG, *_SHEET_HANDLERS, *_SHEET_PROPERTIES]


class _NotForTheFastReader(Exception):
    """A part the fast reader leaves to openpyxl (a document type declaration)."""


class _PackageReader(ExcelReader):
    """openpyxl's reader of the package, without the shared strings (read by lxml)."""

    strings_part: str | None = None

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        self.strings_part = part.PartName[1:] if part is not None else None


def _iterparse(source: IO[bytes], tag: Any) -> Any:
    """Safe lxml iterparse: no entity expansion, no network, no huge text node."""
    return etree.iterparse(
        source, events=("end",), tag=tag, resolve_entities=False, no_network=True,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )


def _refuse_doctype(element: Any) -> None:
    if element.getroottree().docinfo.doctype:
        raise _NotForTheFastReader("document type declaration")


def _read_fast(path: Path, report: Report) -> RawWorkbook:
    with path.open("rb") as file:
        reader = _PackageReader(file, read_only=True, data_only=True)
        reader.read()
        wb = reader.wb
        try:
            strings = _read_shared_strings(reader.archive, reader.strings_part)
            sheets: dict[str, RawSheet] = {}
            for spec in SHEETS:
                title = _find_sheet(spec, wb, report)
                if title is None:
                    continue
                ws = wb[title]
                rows = _fast_rows(reader.archive, ws._worksheet_path, strings, wb, title, report)
                read = _read_form if spec.layout is Layout.FORM else _read_table
                sheets[spec.key] = read(spec, title, rows, report)
            return RawWorkbook(path=path, sheets=sheets, report=report)
        finally:
            wb.close()


def _read_shared_strings(archive: zipfile.ZipFile, part: str | None) -> list[str]:
    """Return the shared strings as ``Text.from_tree(si).content`` gives them: the plain
    text then the text of each run, phonetic runs left out, escapes kept as stored."""
    if part is None:
        return []
    scanned = _scan_shared_strings(archive, part)
    if scanned is not None:
        return scanned
    strings = []
    with archive.open(part) as src:
        checked = False
        for _, node in _iterparse(src, _SI_TAG):
            if not checked:
                _refuse_doctype(node)
                checked = True
            strings.append(_text_content(node))
            node.clear()
            parent = node.getparent()
            if parent is not None and parent.tag == _SST_TAG:  # not an si inside an si
                while node.getprevious() is not None:
                    del parent[0]
    return strings


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text_content(node: Any) -> str:
    """``openpyxl.cell.text.Text.from_tree(node).content``: the last ``t`` child's text,
    then the last ``t`` of each ``r`` child (children matched by local name)."""
    if len(node) == 1:
        child = node[0]
        if child.tag == _T_TAG:
            return child.text or ""
    plain = None
    runs = []
    for child in node:
        tag = child.tag
        if tag == _T_TAG or (tag != _R_TAG and _local(tag) == "t"):
            plain = child.text
        elif tag == _R_TAG or _local(tag) == "r":
            run = None
            for part in child:
                if part.tag == _T_TAG or _local(part.tag) == "t":
                    run = part.text
            if run is not None:
                runs.append(run)
    if runs:
        return (plain or "") + "".join(runs)
    return plain or ""


def _column_index(letters: str) -> int:
    index = _COLUMN_INDEX.get(letters)
    if index is None:
        index = _COLUMN_INDEX[letters] = column_index_from_string(letters)
    return index


def _fast_rows(
    archive: zipfile.ZipFile, part: str, strings: list[str], wb: Any, title: str, report: Report,
) -> Iterator[tuple[int, list[RawCell]]]:
    """Yield what :func:`_zip_rows` yields for the sheet stored at ``part``: scanned
    (:func:`_scan_sheet`) when the sheet is written as spreadsheets write it, else parsed
    by lxml element by element."""
    epoch = wb.epoch
    styles = _DateStyles(wb._date_formats, wb._timedelta_formats)
    # openpyxl parses these sheet-level elements too, and refuses a damaged one: so does
    # the fast reader, with openpyxl's own code.
    helper = WorkSheetParser(None, strings, data_only=True, epoch=epoch)
    handlers = {tag: getattr(helper, name) for tag, name in _SHEET_HANDLERS.items()}
    properties = _SHEET_PROPERTIES
    scanned = _scan_sheet(archive, part, handlers)
    if scanned is not None:
        yield from _scanned_rows(scanned, strings, epoch, styles, title, report)
        return
    shared_formulae: dict[str, Any] = {}
    row_counter = 0
    counter = 1  # openpyxl's count of the rows handed out: a row numbered below it is skipped
    checked = False
    # The same filter as openpyxl's stream (see _compact): the rows it takes out are not
    # seen, which keeps the numbering of rows without a number, and the cost of a sheet
    # formatted down to row 1,048,576, exactly as they were.
    with io.BufferedReader(_ValueRowsOnly(archive.open(part))) as src:
        for _, element in _iterparse(src, _SHEET_TAGS):
            if not checked:
                _refuse_doctype(element)
                checked = True
            tag = element.tag
            if tag != _ROW_TAG:
                if tag in handlers:
                    handlers[tag](element)
                else:
                    properties[tag].from_tree(element)
                element.clear()
                continue
            number = element.get("r")
            if number is not None:
                try:
                    row_counter = int(number)
                except ValueError:
                    val = float(number)
                    if not val.is_integer():
                        raise ValueError(f"{number} is not a valid row number") from None
                    row_counter = int(val)
            else:
                row_counter += 1
            idx = row_counter
            if counter < idx:
                counter = idx  # the empty rows openpyxl yields for a gap: skipped anyway
            if counter > idx:  # openpyxl parses the row all the same, then drops it
                _fast_cells(element, idx, strings, epoch, styles, shared_formulae, title, Report())
                _drop(element)
                continue
            counter += 1
            cells = _fast_cells(element, idx, strings, epoch, styles, shared_formulae, title, report)
            _drop(element)
            if cells:
                for cell in cells:
                    if not cell.is_empty:
                        yield cells[0].row, cells
                        break


def _drop(element: Any) -> None:
    """Free a row read: its content and the rows before it (constant memory)."""
    element.clear()
    parent = element.getparent()
    if parent is not None and parent.tag == _SHEET_DATA_TAG:  # not a row inside a row
        while element.getprevious() is not None:
            del parent[0]


class _DateStyles(dict):
    """Style attribute (``s``, as written) → 0 (not a date), 1 (a date) or 2 (a duration),
    as ``WorkSheetParser.parse_cell`` decides it: worked out once per style, not per cell.
    A style openpyxl cannot read (``s="x"``) raises, as it does in openpyxl."""

    def __init__(self, date_formats: Any, timedelta_formats: Any) -> None:
        super().__init__()
        self._date_formats, self._timedelta_formats = date_formats, timedelta_formats
        self[None] = self._kind(0)  # no style: openpyxl's default, 0

    def _kind(self, style_id: Any) -> int:
        if style_id not in self._date_formats:
            return 0
        return 2 if style_id in self._timedelta_formats else 1

    def __missing__(self, style: str) -> int:
        kind = self[style] = self._kind(int(style) if style else style)
        return kind


def _fast_cells(
    row: Any, row_number: int, strings: list[str], epoch: Any, styles: _DateStyles,
    shared_formulae: dict[str, Any], title: str, report: Report,
) -> list[RawCell]:
    """Return the cells of ``row`` as :func:`_zip_rows` makes them from openpyxl's two
    views of the row (``WorkSheetParser.parse_cell`` with and without ``data_only``)."""
    cells: list[RawCell] = []
    append = cells.append
    new = tuple.__new__
    col_counter = previous = 0
    ordered = True  # columns strictly increasing, as written
    unclean = False  # a text holds an escape or a character XML cannot hold
    # A cell written "F12" in row "12": its column looked up at once (see _COLUMNS).
    suffix = row.get("r")
    if suffix is not None and not (suffix.isascii() and suffix.isdigit()):
        suffix = None
    cut = -len(suffix) if suffix else 0
    columns = _COLUMNS
    for element in row:
        get = element.get
        data_type = get("t", "n")
        coordinate = get("r")
        date_style = styles[get("s")]
        value_node = formula = inline = None
        for child in element:
            tag = child.tag
            if tag == _VALUE_TAG:
                if value_node is None:
                    value_node = child
            elif tag == _INLINE_TAG:
                if inline is None:
                    inline = child
            elif tag == _FORMULA_TAG and formula is None:
                formula = child
        if coordinate:
            column = columns.get(coordinate[:cut]) if suffix and coordinate.endswith(suffix) else None
            if column is not None:
                r = row_number
            else:
                match = _COORDINATE.fullmatch(coordinate)
                if match:
                    column, r = _column_index(match.group(1)), int(match.group(2))
                else:
                    r, column = coordinate_to_tuple(coordinate)
            col_counter = column
        else:
            col_counter += 1
            r, column = row_number, col_counter
        if column <= previous:
            ordered = False
        previous = column
        if data_type == "inlineStr":
            value = None
            if inline is not None:
                data_type = "s"
                value = _text_content(inline)
        else:
            value = value_node.text if value_node is not None else None
            if not value:
                value = None
            elif data_type == "n":
                value = _cast_number(value)
                if date_style:
                    data_type = "d"
                    try:
                        value = from_excel(value, epoch, timedelta=date_style == 2)
                    except (OverflowError, ValueError):
                        # openpyxl warns in English here; the agent gets the cell's
                        # French error from validation instead
                        logger.debug("%s: date serial %s out of range, read as an error", coordinate, value)
                        data_type = "e"
                        value = "#VALUE!"
            elif data_type == "s":
                value = strings[int(value)]
            elif data_type == "b":
                value = bool(int(value))
            elif data_type == "str":
                data_type = "s"
            elif data_type == "d":
                value = from_ISO8601(value)
        uncomputed = None
        if formula is not None:
            text = _formula(formula, coordinate, shared_formulae)
            if value is None:
                uncomputed = str(text)
        if value.__class__ is str and not unclean and _UNCLEAN.search(value):
            unclean = True
        append(new(RawCell, (value, r, column, uncomputed, str(value) if data_type == "e" else None)))
    return _finish_cells(cells, ordered, unclean, title, report)


def _finish_cells(cells: list[RawCell], ordered: bool, unclean: bool, title: str, report: Report) -> list[RawCell]:
    """Return the cells of a row placed as openpyxl places them (when their columns were
    not strictly increasing) and their texts decoded and cleaned (when one needs it)."""
    if not ordered:
        # ReadOnlyWorksheet._get_row: the cells placed by column, up to the last one's column.
        max_col = cells[-1].column
        placed = {cell.column: cell for cell in cells if 1 <= cell.column <= max_col}
        cells = [placed[c] for c in sorted(placed)]
    if unclean:
        for i, cell in enumerate(cells):
            value = cell.value
            if value.__class__ is str:
                if "_x" in value:
                    value = decode_excel_escapes(value)
                if _NOT_XML.search(value):
                    value = _without_invalid_characters(value, title, cell.coordinate, report)
                cells[i] = cell._replace(value=value)
    return cells


def _formula(node: Any, coordinate: str | None, shared_formulae: dict[str, Any]) -> Any:
    """openpyxl's ``WorkSheetParser.parse_formula``; a shared formula is translated to
    ``coordinate`` at once, as openpyxl does, so that a translation openpyxl refuses
    (« Formula out of range ») makes the fast path give up too."""
    formula_type = node.get("t")
    value = "="
    if node.text is not None:
        value += node.text
    if formula_type == "array":
        return ArrayFormula(ref=node.get("ref"), text=value)
    if formula_type == "shared":
        idx = node.get("si")
        if idx in shared_formulae:
            return shared_formulae[idx].translate_formula(coordinate)
        if value != "=":
            shared_formulae[idx] = Translator(value, coordinate)
        return value
    if formula_type == "dataTable":
        return DataTableFormula(**node.attrib)
    return value



# --- The scanner: regular expressions over a sheet written as spreadsheets write it ---------
#
# Excel, LibreOffice and openpyxl write the cells of a sheet in a handful of shapes
# (``<c r="B7" s="3" t="s"><v>12</v></c>``). The scanner reads the ``sheetData`` of such a
# sheet with one regular expression (each match a row tag or a cell: the work done in C)
# and hands each cell to the code of :func:`_fast_cells`, step by step. It takes a sheet
# only when its ``sheetData`` is made of these shapes and nothing else, end to end, so that
# it is well-formed XML whose meaning is certain: anything else (white space between tags,
# a comment, a prefix, an attribute it does not know, a rich text, a carriage return, a
# character XML refuses…) and the sheet goes to the lxml reader above, which decides. The
# rest of the sheet (columns, merged cells, validations…) is still parsed by lxml and
# openpyxl's code.

# Largest sheet part scanned (the scanner holds it whole in memory; the lxml reader streams).
_SCAN_MAX_BYTES = 96 * 2**20
# Longest text scanned, in bytes as written (libxml2 refuses a text node of 10,000,000
# bytes or more once decoded; it can only be shorter than written): only a sheetData at
# least as long may hold one.
_SCAN_MAX_TEXT = 9_000_000
# A row of cells without content is taken out by the empty-row filter only when shorter
# than _MAX_PENDING, give or take a chunk; it takes that many cells (47 bytes at most each,
# after a row tag of 13 kB at most).
_SCAN_MAX_EMPTY_ROW = _MAX_PENDING - (1 << 17)
_SCAN_MANY_CELLS = (_SCAN_MAX_EMPTY_ROW - 13_000) // 47
# An attribute value: printable ASCII without " & < > (no entity, nothing to normalise).
_VALUE = rb'"[!#-%\'-;=?-~]{0,255}"'
_ROW_ATTRIBUTES = rb"((?: [A-Za-z_][\w.-]{0,63}(?::[A-Za-z_][\w.-]{0,63})?=" + _VALUE + rb"){0,32})"
# One token of a sheetData: a cell, a row's start or end tag (group 1, whole), or a row
# without content (group 14, whole: the empty-row filter takes it out). ``(?:X|)`` rather
# than ``(?:X)?``: the same, faster.
_SCAN_TOKEN = re.compile(
    rb'(<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"(?: s="([0-9]{1,9})"|)(?: t="([a-zA-Z]{1,9})"|)'
    rb"(?:(/)>|>"
    rb"(?:(<f(?: [a-zA-Z]{1,16}=" + _VALUE + rb")*)(?:/>|>([^<]*)</f>)|)"
    rb"(?:<v>([^<]*)</v>|<v/>|)"
    rb'(?:(<is>)<t(?: xml:space="preserve"|)>([^<]*)</t></is>|)'
    rb"</c>)"
    rb'|<row r="([0-9]{1,7})"' + _ROW_ATTRIBUTES + rb">|</row>)"
    rb'|(<row r="[0-9]{1,7}"' + _ROW_ATTRIBUTES + rb"/>)",
)
_TOKEN_KIND = operator.itemgetter(slice(1, 2))  # of group 1: c (cell), r (row start), / (row end)
_ROW_SEQUENCE = re.compile(rb"(?:rc*/)*")
_WHOLE = operator.itemgetter(0)
_WHOLE_EMPTY_ROW = operator.itemgetter(13)
_ROW_ATTRIBUTES_OF = operator.itemgetter(12)
_TEXTS_OF = operator.itemgetter(7, 8, 10)
_SCAN_ROW_ATTRIBUTE = re.compile(r" ([A-Za-z_][\w.-]*)(?::([A-Za-z_][\w.-]*))?=", re.ASCII)
_SCAN_FORMULA_ATTRIBUTE = re.compile(r' ([a-zA-Z]+)="([^"]*)"')
_SCAN_FORMULA_WITH_ATTRIBUTES = re.compile(rb"<f( [^>/]*)")
_SCAN_SHARED_STRING = re.compile(r'(<si><t(?: xml:space="preserve")?>([^<]*)</t></si>)')
# What the scanner leaves to lxml in any text (see _decode_text): a control character XML
# 1.0 refuses or a carriage return (XML turns line ends into \n), U+FFFE and U+FFFF (in
# UTF-8), the sequence ]]>, an & that does not start an entity or a character reference.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, 0x0D, *range(0x0E, 0x20)])
_OTHER_BYTES = bytes(sorted(set(range(256)) - set(_CONTROL_BYTES)))
_REFUSED_SEQUENCES = (b"]]>", b"\xef\xbf\xbe", b"\xef\xbf\xbf")
_BAD_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)")
_SCAN_REFERENCE = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));")
_SCAN_CHARACTER_REFERENCE = re.compile(r"&#(?:[0-9]+|x[0-9a-fA-F]+);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
# Column letters → index, A to ZZ (more added as met).
_SCAN_COLUMNS = {letters.encode(): index for letters, index in _COLUMNS.items()}


class _NotScanned(Exception):
    """A sheet (or shared strings table) the scanner leaves to lxml."""


class _Formula:
    """The ``f`` element of a scanned cell, as :func:`_formula` reads it."""

    __slots__ = ("attrib", "text")

    def __init__(self, opening: bytes, text: bytes) -> None:
        self.attrib = dict(_SCAN_FORMULA_ATTRIBUTE.findall(opening.decode()))
        self.text = _unescape(text.decode()) if text else None

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrib.get(key, default)


def _is_xml_char(code: int) -> bool:
    return (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF)


def _decode_text(data: bytes) -> str:
    """Return the text ``data`` (UTF-8) after checking that every character and every
    ``&`` of it is one XML reads as the scanner does, else raise :class:`_NotScanned`.
    A text so checked holds no character :data:`_NOT_XML` matches (nor may decoding its
    references bring one): only an escape ``_x`` can make it unclean."""
    if data.translate(None, _OTHER_BYTES) or any(s in data for s in _REFUSED_SEQUENCES):
        raise _NotScanned("a character XML refuses, a carriage return or ]]>")
    text = data.decode("utf-8")
    if "&" not in text:
        return text
    if _BAD_AMPERSAND.search(text):
        raise _NotScanned("an entity")
    if "&#" not in text:
        return text
    for reference in set(_SCAN_CHARACTER_REFERENCE.findall(text)):
        hexadecimal = reference[2] == "x"
        if not _is_xml_char(int(reference[3 if hexadecimal else 2:-1], 16 if hexadecimal else 10)):
            raise _NotScanned("a character reference XML refuses")
    return text


def _reference(match: re.Match[str]) -> str:
    name, decimal, hexadecimal = match.groups()
    if name is not None:
        return _ENTITIES[name]
    return chr(int(decimal, 10) if decimal is not None else int(hexadecimal, 16))


def _unescape(text: str) -> str:
    """The text of an XML text node (checked by :func:`_decode_text`): references decoded."""
    if "&" not in text:
        return text
    return _unescape_references(text)


@functools.lru_cache(maxsize=1 << 14)
def _unescape_references(text: str) -> str:
    # The same texts come back (openpyxl writes each « é » as &#233;): decoded once each.
    return _SCAN_REFERENCE.sub(_reference, text)


def _split_part(data: bytes, opening: bytes, closing: bytes) -> tuple[bytes, bytes]:
    """Return the part ``data`` without what lies between ``opening`` and ``closing`` (its
    skeleton, for lxml) and that content (checked by :func:`_decode_text`); raise
    :class:`_NotScanned` unless both occur once, in that order."""
    if b"<!" in data:  # a comment, a CDATA section or a document type declaration
        raise _NotScanned("a comment, a CDATA section or a DTD")
    start, end = data.find(opening), data.rfind(closing)
    if start < 0 or end < start or data.count(opening) != 1 or data.count(closing) != 1:
        raise _NotScanned("no single " + opening.decode())
    start += len(opening)
    content = data[start:end]
    _decode_text(content)
    return data[:start] + data[end:], content


class _ScannedSheet(NamedTuple):
    tokens: list[tuple[bytes, ...]]  # see _SCAN_TOKEN, rows without content left out
    kinds: bytes  # of each token: c, r or /


def _scan_sheet(archive: zipfile.ZipFile, part: str, handlers: dict[str, Any]) -> _ScannedSheet | None:
    """Return the tokens of the sheet at ``part`` found by the scanner, its other elements
    parsed by lxml and openpyxl's handlers; None when the sheet is not for the scanner
    (it is then read by lxml from the start: nothing here has any effect)."""
    try:
        if archive.getinfo(part).file_size > _SCAN_MAX_BYTES:
            return None
        data = archive.read(part)
        skeleton, content = _split_part(data, b"<sheetData>", b"</sheetData>")
        if _ROW_START.search(skeleton):
            raise _NotScanned("a row outside sheetData")
        prefixes = _scan_skeleton(skeleton, handlers)
        return _scan_tokens(content, prefixes)
    except Exception as err:  # noqa: BLE001 - the lxml reader decides what it means
        logger.debug("scanner left %s to lxml (%r)", part, err)
        return None


def _scan_skeleton(skeleton: bytes, handlers: dict[str, Any]) -> frozenset[str]:
    """Parse the sheet without its rows as :func:`_fast_rows` does; return the namespace
    prefixes declared where its ``sheetData`` is (which must be in the main namespace)."""
    prefixes = None
    checked = False
    for _, element in _iterparse(io.BytesIO(skeleton), [*_SHEET_TAGS, _SHEET_DATA_TAG]):
        if not checked:
            _refuse_doctype(element)
            checked = True
        tag = element.tag
        if tag == _SHEET_DATA_TAG:
            if prefixes is not None or len(element) or element.text or element.attrib:
                raise _NotScanned("an unexpected sheetData")
            prefixes = frozenset(p for p in element.nsmap if p is not None) | {"xml"}
        elif tag == _ROW_TAG:
            raise _NotScanned("a row outside sheetData")
        elif tag in handlers:
            handlers[tag](element)
        else:
            _SHEET_PROPERTIES[tag].from_tree(element)
        element.clear()
    if prefixes is None:
        raise _NotScanned("no sheetData in the main namespace")
    return prefixes


def _scan_tokens(content: bytes, prefixes: frozenset[str]) -> _ScannedSheet:
    """Return the tokens of ``content``; raise :class:`_NotScanned` unless ``content`` is
    made of them end to end (their lengths add up to its length: matches do not overlap)
    in the order XML requires (cells within rows, rows one after the other), with row
    attributes XML takes as the scanner does."""
    tokens = _SCAN_TOKEN.findall(content)
    wholes = sum(map(len, map(_WHOLE, tokens)))
    if wholes != len(content) and wholes + sum(map(len, map(_WHOLE_EMPTY_ROW, tokens))) != len(content):
        raise _NotScanned("something the scanner does not read")
    kinds = b"".join(map(_TOKEN_KIND, map(_WHOLE, tokens)))
    if not _ROW_SEQUENCE.fullmatch(kinds):
        raise _NotScanned("cells outside a row, or a row in a row")
    if len(kinds) != len(tokens):  # rows without content: taken out by the empty-row filter
        tokens = [token for token in tokens if token[0]]
    for attributes in set(map(_ROW_ATTRIBUTES_OF, tokens)):
        if attributes:
            _check_row_attributes(attributes.decode(), prefixes)
    if len(content) >= _SCAN_MAX_TEXT and max(map(len, itertools.chain.from_iterable(map(_TEXTS_OF, tokens)))) \
            >= _SCAN_MAX_TEXT:
        raise _NotScanned("a huge text")
    if b"<f " in content:
        for match in _SCAN_FORMULA_WITH_ATTRIBUTES.finditer(content):
            names = [name for name, _ in _SCAN_FORMULA_ATTRIBUTE.findall(match.group(1).decode())]
            if len(set(names)) != len(names):
                raise _NotScanned("an attribute written twice")
    return _ScannedSheet(tokens, kinds)


def _check_row_attributes(attributes: str, prefixes: frozenset[str]) -> None:
    """Raise :class:`_NotScanned` unless the attributes of a row (after ``r``) are written
    once each, declare no namespace and use only declared prefixes."""
    names = _SCAN_ROW_ATTRIBUTE.findall(attributes)
    locals_ = [local or prefix for prefix, local in names]
    if len(set(names)) != len(names) or len(set(locals_)) != len(locals_):
        raise _NotScanned("an attribute written twice")
    for prefix, local in names:
        if (prefix == "r" and not local) or prefix == "xmlns" or (local and prefix not in prefixes):
            raise _NotScanned("a namespace or an unknown prefix")


def _scanned_rows(
    scanned: _ScannedSheet, strings: list[str], epoch: Any, styles: _DateStyles, title: str, report: Report,
) -> Iterator[tuple[int, list[RawCell]]]:
    """Yield what :func:`_fast_rows` yields from lxml's elements, from the scanned tokens."""
    tokens, kinds = scanned
    find = kinds.find
    date_kinds = {b"": styles[None]}
    shared_formulae: dict[str, Any] = {}
    counter = 1
    end = 0
    while True:
        start = find(b"r", end)
        if start < 0:
            break
        end = find(b"/", start)
        for token in tokens[start + 1:end]:
            if not token[5]:  # a cell that is not <c …/>
                break
        else:  # a row without cell, or of <c …/> only: taken out by the empty-row filter
            if end - start > _SCAN_MANY_CELLS and \
                    sum(map(len, map(_WHOLE, tokens[start:end + 1]))) >= _SCAN_MAX_EMPTY_ROW:
                # unless it is too long for the filter (see _MAX_PENDING): openpyxl decides
                raise _NotScanned("an empty row too long for the empty-row filter")
            continue
        number = tokens[start][11]
        idx = int(number)
        if counter < idx:
            counter = idx
        if counter > idx:  # openpyxl parses the row all the same, then drops it
            _scanned_cells(tokens[start + 1:end], idx, number, strings, epoch, styles, date_kinds,
                           shared_formulae, title, Report())
            continue
        counter += 1
        cells = _scanned_cells(tokens[start + 1:end], idx, number, strings, epoch, styles, date_kinds,
                               shared_formulae, title, report)
        for cell in cells:
            if not cell.is_empty:
                yield cells[0].row, cells
                break


def _scanned_cells(
    matched: list[tuple[bytes, ...]], row_number: int, number: bytes, strings: list[str], epoch: Any,
    styles: _DateStyles, date_kinds: dict[bytes, int], shared_formulae: dict[str, Any], title: str,
    report: Report,
) -> list[RawCell]:
    """:func:`_fast_cells`, cell by cell, for the cells the scanner matched. Its texts are
    checked (see _decode_text): only an escape ``_x`` can make one unclean."""
    cells: list[RawCell] = []
    append = cells.append
    new = tuple.__new__
    previous = 0
    ordered = True
    unclean = False
    columns = _SCAN_COLUMNS
    for _, letters, digits, style, data_type, _, formula, formula_text, text, inline, inline_text, _, _, _, _ \
            in matched:
        date_style = date_kinds.get(style)
        if date_style is None:
            date_style = date_kinds[style] = styles[style.decode()]
        column = columns.get(letters)
        if column is None:
            column = columns[letters] = _column_index(letters.decode())
        if column <= previous:
            ordered = False
        previous = column
        error = None
        if data_type == b"inlineStr":
            if inline:
                value = inline_text.decode()
                if "&" in value:
                    value = _unescape_references(value)
                if "_x" in value:
                    unclean = True
            else:
                value = None
        elif not text:
            value = None
        elif not data_type or data_type == b"n":
            value = _cast_number(_unescape(text.decode()))
            if date_style:
                try:
                    value = from_excel(value, epoch, timedelta=date_style == 2)
                except (OverflowError, ValueError):
                    # openpyxl warns in English here; the agent gets the cell's French
                    # error from validation instead
                    logger.debug("%s: date serial %s out of range, read as an error",
                                 (letters + digits).decode(), value)
                    value = error = "#VALUE!"
        elif data_type == b"s":
            value = strings[int(_unescape(text.decode()))]
            if "_x" in value:
                unclean = True
        elif data_type == b"b":
            value = bool(int(_unescape(text.decode())))
        elif data_type == b"d":
            value = from_ISO8601(_unescape(text.decode()))
        else:  # "str", "e" or a type openpyxl keeps as text
            value = _unescape(text.decode())
            if "_x" in value:
                unclean = True
            if data_type == b"e":
                error = value
        uncomputed = None
        if formula:
            computed = _formula(_Formula(formula, formula_text), (letters + digits).decode(), shared_formulae)
            if value is None:
                uncomputed = str(computed)
        append(new(RawCell, (value, row_number if digits == number else int(digits), column, uncomputed,
                             error if data_type != b"e" or value is not None else "None")))
    return _finish_cells(cells, ordered, unclean, title, report)


def _scan_shared_strings(archive: zipfile.ZipFile, part: str) -> list[str] | None:
    """Return the shared strings when every one is a plain ``<si><t>…</t></si>`` (as Excel
    writes a text without formatting), read by a regular expression; None otherwise."""
    try:
        data = archive.read(part)
        if b"<!" in data:
            raise _NotScanned("a comment, a CDATA section or a DTD")
        first, last = data.find(b"<si>"), data.rfind(b"</si>")
        if first < 0:
            raise _NotScanned("no si")
        skeleton = data[:first] + data[last + 5:]
        content = _decode_text(data[first:last + 5])
        root = etree.fromstring(skeleton, _SAFE_PARSER)
        if (root.getroottree().docinfo.doctype or root.tag != _SST_TAG or len(root)
                or (root.text or "").strip(" \t\n") or root.nsmap.get(None) != SHEET_MAIN_NS):
            raise _NotScanned("an unexpected sst")
        matched = _SCAN_SHARED_STRING.findall(content)
        if sum(len(whole) for whole, _ in matched) != len(content):
            raise _NotScanned("a shared string the scanner does not read")
        return [_unescape(text) for _, text in matched]
    except Exception as err:  # noqa: BLE001 - the lxml reader decides what it means
        logger.debug("scanner left %s to lxml (%r)", part, err)
        return None


_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                               remove_comments=True, remove_pis=True)
