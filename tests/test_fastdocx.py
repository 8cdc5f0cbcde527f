"""The compiled Word renderer gives the documents of ``rendering.render``, part for part."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from docx.shared import Cm
from collections import OrderedDict

from docx.oxml.ns import qn
from docxtpl import RichText
from lxml import etree
from markupsafe import Markup

from dotation_docs import fastdocx, pipeline
from dotation_docs.documents import plan_batch
from dotation_docs.exceptions import TemplateError
from dotation_docs.fastdocx import compile_docx
from dotation_docs.funding import batch_funding
from dotation_docs.pipeline import check_workbook
from dotation_docs.rendering import build_environment, load_template, render
from dotation_docs.templateset import load_template_set
from tests.conftest import SAMPLE, docx_text

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STAMP = datetime(2023, 2, 3)
ENV = build_environment()


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def canonical(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


def assert_same_document(expected: bytes, actual: bytes) -> None:
    """Every XML part equal after canonicalisation, every other part byte for byte, in the
    same order; then the whole archive byte for byte (same compression level)."""
    want, got = parts(expected), parts(actual)
    assert list(got) == list(want)
    for name, data in want.items():
        if name.endswith((".xml", ".rels")):
            assert canonical(got[name]) == canonical(data), name
        assert got[name] == data, name
    assert actual == expected


def both(template: str | Path, context: dict[str, Any], title: str = "Titre") -> tuple[bytes | str, bytes | str]:
    """Return each renderer's document, or its TemplateError message."""
    path = template if isinstance(template, Path) else TEMPLATES / template
    results: list[bytes | str] = []
    compiled = compile_docx(path, ENV)
    for job in (
        lambda: render(path, context, title=title, timestamp=STAMP, env=ENV),
        lambda: compiled.render(context, title=title, timestamp=STAMP),
    ):
        try:
            results.append(job())
        except TemplateError as err:
            results.append(str(err))
    return results[0], results[1]


@pytest.fixture(scope="module")
def sample_docs() -> list:
    dotation = check_workbook(SAMPLE).dotation
    return [d for d in plan_batch(dotation, batch_funding(dotation)) if d.template and d.template.endswith(".docx")]


def test_every_sample_document_is_identical(sample_docs: list) -> None:
    compiled = {p.name: compile_docx(p, ENV) for p in TEMPLATES.glob("*.docx")}  # every bundled template
    # The sample lends its devices: its conventions are also rendered as gift conventions.
    jobs = [(d.template, d) for d in sample_docs]
    jobs += [("convention-don.docx", d) for d in sample_docs if d.template == "convention-mise-a-disposition.docx"]
    assert {name for name, _ in jobs} == set(compiled)
    for name, doc in jobs:
        expected = render(TEMPLATES / name, doc.context, title=doc.title, timestamp=STAMP, env=ENV)
        actual = compiled[name].render(doc.context, title=doc.title, timestamp=STAMP)
        assert_same_document(expected, actual)
    # Rendering twice with one compiled template gives the same bytes (nothing leaks).
    doc = sample_docs[0]
    first = compiled[doc.template].render(doc.context, title=doc.title, timestamp=STAMP)
    assert compiled[doc.template].render(doc.context, title=doc.title, timestamp=STAMP) == first
    assert "Beaubreuil" in docx_text(first)


HOSTILE = {
    "marks": "R&D <b>gras</b> \"guillemets\" 'apostrophe' > {{ 7*7 }} {% raw %}x{% endraw %} {# c #}"
             " ligne 1\nligne 2\ttabulation \u2011 😀👩‍👩‍👧 \u200fعربي\u200e fin",
    "long": ("Texte très long & <sûr> " * 220)[:5000],
    "name": "Association " + "é" * 300,
}


def hostile(value: Any, text: str) -> Any:
    """Return ``value`` with every string replaced by ``text``."""
    if isinstance(value, str):
        return text
    if isinstance(value, dict):
        return {key: hostile(item, text) for key, item in value.items()}
    if isinstance(value, list):
        return [hostile(item, text) for item in value]
    return value


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(HOSTILE))
def test_hostile_values_give_identical_documents_or_errors(sample_docs: list, variant: str) -> None:
    text = HOSTILE[variant]
    seen: dict[str, Any] = {}
    for doc in sample_docs:
        seen.setdefault(doc.template, doc)
    rendered = 0
    for name, doc in sorted(seen.items()):
        expected, actual = both(name, hostile(doc.context, text), title=text)
        if isinstance(expected, str):
            assert actual == expected  # the same French error
            continue
        assert isinstance(actual, bytes)
        assert_same_document(expected, actual)
        rendered += 1
        if variant == "marks":
            body = parts(actual)["word/document.xml"].decode()
            assert "R&amp;D &lt;b&gt;" in body
            assert "{{ 7*7 }} {% raw %}x{% endraw %} {# c #} ligne 1" in docx_text(actual)
    assert rendered >= 4  # most templates take any text


def feature_template(tmp_path: Path, image: bool = True) -> Path:
    """A template using each docxtpl feature the project relies on."""
    document = docx.Document()
    document.core_properties.author = "{{ auteur }}"
    document.core_properties.subject = "Sujet : {{ sujet }}"
    document.sections[0].header.paragraphs[0].text = "En-tête {{ nom }} {{ jour|date }}"
    document.sections[0].footer.paragraphs[0].text = "Pied {{ numero|insecable }}"
    document.add_paragraph("{%p if afficher %}")
    document.add_paragraph("Affiché : {{ nom }}, le {{ jour|date }}, {{ rang|exposant }}")
    document.add_paragraph("{%p endif %}")
    paragraph = document.add_paragraph("Avant ")
    paragraph.add_run("{%r if gras %}")
    paragraph.add_run("gras").bold = True
    paragraph.add_run("{%r endif %}")
    paragraph.add_run(" {{r riche }} après")
    split = document.add_paragraph("Tag coupé : {{ no")
    split.add_run("m }}").italic = True
    table = document.add_table(rows=3, cols=3)
    table.rows[0].cells[0].text = "{%tr for m in materiels %}"
    table.rows[1].cells[0].text = "{{ m.numero }}"
    table.rows[1].cells[1].text = "{% cellbg m.couleur %}{{ m.serie }}"
    table.rows[1].cells[2].text = "{{ m.prix|montant }}"
    table.rows[2].cells[0].text = "{%tr endfor %}"
    grid = document.add_table(rows=1, cols=4)
    for cell, text in zip(grid.rows[0].cells, ("Début", "{%tc for c in colonnes %}", "{{ c }}", "{%tc endfor %}")):
        cell.text = text
    document.add_paragraph("Total : {{ total|montant }} {{ texte }}")
    if image:
        document.add_picture(io.BytesIO(tiny_png()), width=Cm(1))
    path = tmp_path / "fonctions.docx"
    document.save(str(path))
    return path


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0")) + chunk(b"IEND", b"")


def feature_context(**changes: Any) -> dict[str, Any]:
    context = {
        "auteur": "R&D <Limoges>", "sujet": "Don", "nom": "Centre « Les Clés »", "afficher": True,
        "gras": True, "riche": "texte \u00absimple\u00bb", "jour": date(2023, 3, 1), "rang": "er",
        "numero": "2023-03-01", "total": Decimal("1234.5"), "texte": "a\nb\tc",
        "materiels": [
            {"numero": 1, "serie": "SN-1 & <2>", "couleur": "FF0000", "prix": Decimal("10")},
            {"numero": 2, "serie": "SN-2", "couleur": "00FF00", "prix": Decimal("1000.25")},
        ],
        "colonnes": ["A", "B", "C", "D"],
    }
    context.update(changes)
    return context


@pytest.mark.parametrize("changes", [{}, {"afficher": False, "gras": False, "materiels": [], "colonnes": ["X"]}])
def test_each_docxtpl_feature_gives_identical_documents(tmp_path: Path, changes: dict) -> None:
    expected, actual = both(feature_template(tmp_path), feature_context(**changes), title="Titre & <titre>")
    assert isinstance(expected, bytes) and isinstance(actual, bytes)
    assert_same_document(expected, actual)
    text = docx_text(actual)
    assert "Tag coupé : Centre « Les Clés »" in text
    assert "En-tête Centre « Les Clés » 1er\u00a0mars 2023" in text.replace("\u202f", "\u00a0")
    xml = parts(actual)["word/document.xml"].decode()
    if changes:
        assert "Affiché" not in text and "SN-1" not in text
    else:
        assert "Affiché" in text and "SN-1 &amp; &lt;2&gt;" in xml and 'w:fill="FF0000"' in xml
        assert '<w:vertAlign w:val="superscript"/>' in xml  # « 1er », « er »
        assert xml.count("<w:tc>") >= 4 + 6  # the columns of the {%tc loop
    footer = parts(actual)["word/footer1.xml"].decode() if "word/footer1.xml" in parts(actual) else ""
    assert "noBreakHyphen" in footer or "noBreakHyphen" in "".join(
        v.decode() for k, v in parts(actual).items() if k.startswith("word/footer"))
    props = docx.Document(io.BytesIO(actual)).core_properties
    assert (props.author, props.subject, props.title) == ("R&D <Limoges>", "Sujet : Don", "Titre & <titre>")


def test_a_long_title_is_shortened_like_render(tmp_path: Path) -> None:
    expected, actual = both(feature_template(tmp_path, image=False), feature_context(), title="T" * 300)
    assert_same_document(expected, actual)
    assert docx.Document(io.BytesIO(actual)).core_properties.title == "T" * 254 + "…"


def test_output_opens_in_python_docx_and_zipfile(tmp_path: Path) -> None:
    compiled = compile_docx(feature_template(tmp_path), ENV, level=9)  # another level: other bytes
    data = compiled.render(feature_context(), title="Titre", timestamp=STAMP)
    expected = render(feature_template(tmp_path), feature_context(), title="Titre", timestamp=STAMP, env=ENV)
    want, got = parts(expected), parts(data)
    assert got == want
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert "Total : 1" in docx_text(data)


@pytest.mark.parametrize("body, message_part", [
    ("{{ inconnue }}", "la variable « inconnue » n'existe pas"),
    ("{{ nom ", "balise mal formée"),
    ("{% include 'x.docx' %}", "{% include %}"),
    ("{{ nom|montant }}", "le filtre « montant »"),
    ("{{ nom.__class__ }}", "interdit"),
    ("{{ '<w:p>'|safe }}", "XML mal formé"),
])
def test_template_mistakes_give_the_same_french_error(tmp_path: Path, body: str, message_part: str) -> None:
    document = docx.Document()
    document.add_paragraph(f"Début {body} fin")
    # docxtpl's parser of the body forgives bad XML; the header's does not.
    document.sections[0].header.paragraphs[0].text = f"En-tête {body}"
    path = tmp_path / "faux.docx"
    document.save(str(path))
    expected, actual = both(path, {"nom": "x"})
    assert isinstance(expected, str) and message_part in expected and "faux.docx" in expected
    assert actual == expected


def test_bad_xml_in_the_body_is_recovered_the_same_way(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Début {{ '<w:p>'|safe }} fin")
    path = tmp_path / "recupere.docx"
    document.save(str(path))
    expected, actual = both(path, {})
    assert isinstance(expected, bytes) and isinstance(actual, bytes)
    assert_same_document(expected, actual)


def test_missing_or_broken_template_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="introuvable"):
        compile_docx(tmp_path / "absent.docx", ENV)
    broken = tmp_path / "casse.docx"
    broken.write_bytes(b"pas un zip")
    with pytest.raises(TemplateError) as err:
        compile_docx(broken, ENV)
    with pytest.raises(TemplateError) as same:
        render(broken, {}, title="t", timestamp=STAMP, env=ENV)
    assert str(err.value) == str(same.value)


def test_docxtpl_objects_in_the_context_fall_back_to_docxtpl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = feature_template(tmp_path, image=False)
    compiled = compile_docx(path, ENV)
    calls = []
    original = fastdocx.rendering.render
    monkeypatch.setattr(fastdocx.rendering, "render", lambda *a, **k: calls.append(a) or original(*a, **k))
    rich = RichText("riche en rouge", color="FF0000", bold=True)
    context = feature_context(riche=rich)
    data = compiled.render(context, title="Titre", timestamp=STAMP)
    assert len(calls) == 1  # docxtpl's own rendering
    assert 'w:val="FF0000"' in parts(data)["word/document.xml"].decode()
    assert data == original(path, context, title="Titre", timestamp=STAMP, env=ENV)
    compiled.render(feature_context(), title="Titre", timestamp=STAMP)
    assert len(calls) == 1  # plain contexts keep the fast path


def test_a_template_can_be_forced_through_docxtpl(tmp_path: Path) -> None:
    path = feature_template(tmp_path, image=False)
    compiled = compile_docx(path, ENV)
    compiled.fallback_reason = "essai"
    assert_same_document(
        render(path, feature_context(), title="T", timestamp=STAMP, env=ENV),
        compiled.render(feature_context(), title="T", timestamp=STAMP),
    )


def test_compiles_from_the_loaded_bytes_without_reading_the_disk_again(tmp_path: Path) -> None:
    path = feature_template(tmp_path, image=False)
    loaded = load_template(path, "convention-pret.docx")  # the catalogue's name, not the file's
    expected = render(loaded, feature_context(), title="Titre", timestamp=STAMP, env=ENV)
    path.unlink()  # neither compiling, rendering nor the fallback may need the file
    compiled = compile_docx(loaded, ENV)
    assert compiled.template is loaded and compiled.name == "convention-pret.docx"
    assert_same_document(expected, compiled.render(feature_context(), title="Titre", timestamp=STAMP))
    compiled.fallback_reason = "essai"
    assert_same_document(expected, compiled.render(feature_context(), title="Titre", timestamp=STAMP))


def test_the_batch_compiles_each_word_template_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = check_workbook(SAMPLE)
    dotation = checked.dotation
    docs = plan_batch(dotation, batch_funding(dotation))
    names = sorted({d.template for d in docs if d.template})
    templates = load_template_set(names)
    compiled: list[str] = []
    original_compile = fastdocx.compile_docx
    monkeypatch.setattr(fastdocx, "compile_docx", lambda t, *a, **k: compiled.append(t.name) or original_compile(t, *a, **k))
    rendered: list[str] = []
    original_render = pipeline.render
    monkeypatch.setattr(pipeline, "render", lambda t, *a, **k: rendered.append(t.name) or original_render(t, *a, **k))
    files = pipeline._render_all(docs, templates, dotation)
    word = [d for d in docs if d.template and d.template.endswith(".docx")]
    assert len(word) > len(set(compiled)) and sorted(compiled) == sorted({d.template for d in word})
    assert rendered and all(name.endswith(".html") for name in rendered)  # Word never through render()
    assert [f.path for f in files] == [d.path for d in docs]
    by_path = {f.path: f.data for f in files}
    first = word[0]
    expected = render(templates[first.template], first.context, title=first.title,
                      timestamp=pipeline._timestamp(dotation), env=ENV)
    assert_same_document(expected, by_path[first.path])


# --- The shortcuts of the fast path: each one gives the bytes of render() -----------------------


def word_template(tmp_path: Path, build: Any, name: str = "modele.docx") -> Path:
    document = docx.Document()
    build(document)
    path = tmp_path / name
    document.save(str(path))
    return path


def table_template(tmp_path: Path, rows: list[list[str]], columns: int = 3) -> Path:
    def build(document: Any) -> None:
        document.add_paragraph("Avant")
        table = document.add_table(rows=len(rows), cols=columns)
        for row, texts in zip(table.rows, rows):
            for cell, text in zip(row.cells, texts):
                cell.text = text
        document.add_paragraph("Après {{ nom }}")
    return word_template(tmp_path, build)


def test_bundled_templates_have_their_tables_decided_once() -> None:
    for path in TEMPLATES.glob("*.docx"):
        assert compile_docx(path, ENV)._tables_fixed, path.name


@pytest.mark.parametrize("rows, decided", [
    # A header row outside any statement, then a loop over rows: decided once.
    ([["N°", "Nom", "Prix"], ["{%tr for m in materiels %}"], ["{{ m.numero }}", "{% if m.serie %}{{ m.serie }}{% endif %}", "x"],
      ["{%tr endfor %}"]], True),
    # Every row in the loop: an empty list leaves no row spanning the grid (fix_tables changes it).
    ([["{%tr for m in materiels %}"], ["{{ m.numero }}", "{{ m.serie }}", "x"], ["{%tr endfor %}"]], False),
    # A column loop: the cells of a row depend on the context.
    ([["Début", "{%tc for c in colonnes %}", "{{ c }}", "{%tc endfor %}"]], False),
    # Unescaped markup could add cells.
    ([["N°", "{{ nom|safe }}", "x"]], False),
])
@pytest.mark.parametrize("materiels, colonnes", [([], ["A"]), ([{"numero": 1, "serie": ""}, {"numero": 2, "serie": "S"}], ["A", "B", "C", "D"])])
def test_tables_decided_once_or_checked_per_document(
    tmp_path: Path, rows: list, decided: bool, materiels: list, colonnes: list
) -> None:
    path = table_template(tmp_path, rows, columns=4 if "{%tc for c in colonnes %}" in rows[0] else 3)
    assert compile_docx(path, ENV)._tables_fixed is decided
    expected, actual = both(path, {"nom": "Centre", "materiels": materiels, "colonnes": colonnes})
    assert isinstance(expected, bytes)
    assert_same_document(expected, actual)


def test_a_condition_between_cells_is_checked_per_document(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        table = document.add_table(rows=1, cols=3)
        table.rows[0].cells[0].text = "A"
        table.rows[0].cells[1].text = "B"
        table.rows[0].cells[2].text = "C"
        cells = table.rows[0]._tr.findall(qn("w:tc"))
        cells[1].addprevious(etree.Comment(" x "))  # a comment in a row: not decided once
    path = word_template(tmp_path, build)
    assert not compile_docx(path, ENV)._tables_fixed
    expected, actual = both(path, {})
    assert_same_document(expected, actual)


@pytest.mark.parametrize("text", ["a\x01b", "a\x0bb\x1fc", "a\ufffeb", "fin\r\nligne"])
def test_characters_xml_refuses_give_the_same_document_or_error(tmp_path: Path, text: str) -> None:
    path = table_template(tmp_path, [["N°", "{{ nom }}", "x"]])
    assert compile_docx(path, ENV)._tables_fixed
    expected, actual = both(path, {"nom": text})
    assert type(actual) is type(expected)
    if isinstance(expected, bytes):
        assert_same_document(expected, actual)
    else:
        assert actual == expected


@pytest.mark.parametrize("body", [
    # Marks written as character references (only a template could).
    "{{ ('%c'|format(38) ~ '#xE000;er' ~ '%c'|format(38) ~ '#57345;')|safe }} suite",
    "{{ ('%c'|format(38) ~ '#xE000;1' ~ '%c'|format(38) ~ '#xe001; ')|safe }} et {{ 'er'|exposant }}",
    "A{{ ('</w:t><w:instrText>' ~ ('er'|exposant) ~ '</w:instrText><w:t>')|safe }}B",  # a mark outside w:t
    "{{ 1|date_longue if false else '' }}{{ '2023-03-01'|insecable }} et {{ 'er'|exposant }}",
])
def test_marks_the_shortcut_cannot_count_give_identical_documents(tmp_path: Path, body: str) -> None:
    path = word_template(tmp_path, lambda d: d.add_paragraph(f"Début {body} fin"))
    expected, actual = both(path, {})
    assert isinstance(expected, bytes), expected
    assert_same_document(expected, actual)


@pytest.mark.parametrize("auteur, sujet, title", [
    ("", "x", "Titre"),  # a rendered property left blank: written by python-docx
    ("R&D <Limoges> > 2", "Sujet « é » 😀", "T & <t>"),
    ("ligne\r\nsuite\ttab", "x", "a\tb"),
    ("a\x01b", "x", "Titre"),
    ("x", "y", "a" * 400),
])
def test_document_properties_are_spliced_like_python_docx_writes_them(
    tmp_path: Path, auteur: str, sujet: str, title: str
) -> None:
    path = feature_template(tmp_path, image=False)
    compiled = compile_docx(path, ENV)
    results = []
    for job in (lambda: render(path, feature_context(auteur=auteur, sujet=sujet), title=title, timestamp=STAMP, env=ENV),
                lambda: compiled.render(feature_context(auteur=auteur, sujet=sujet), title=title, timestamp=STAMP)):
        try:
            results.append(job())
        except (TemplateError, ValueError) as err:
            results.append(f"{type(err).__name__}: {err}")
    expected, actual = results
    assert type(actual) is type(expected)
    if isinstance(expected, bytes):
        assert_same_document(expected, actual)
    else:
        assert actual == expected


def test_headers_remembered_across_documents_stay_right(tmp_path: Path) -> None:
    path = feature_template(tmp_path, image=False)
    compiled = compile_docx(path, ENV)
    for nom in ("Un", "Deux", "Un", "Un & <trois>", "Deux"):
        context = feature_context(nom=nom)
        expected = render(path, context, title=nom, timestamp=STAMP, env=ENV)
        assert_same_document(expected, compiled.render(context, title=nom, timestamp=STAMP))


def test_shared_context_parts_are_prepared_once_and_never_copied_needlessly() -> None:
    preparer = fastdocx._ContextPreparer()
    shared = {"nom": "Limoges", "liste": [{"a": 1}, {"b": "x\ue000y"}]}
    first, flags = preparer.prepare({"operation": shared, "n": 1})
    assert flags == 0 and first["operation"] is not shared  # a mark inside: copied without it
    assert first["operation"]["liste"][0] is shared["liste"][0]  # nothing to change: the same dict
    assert first["operation"]["liste"][1] == {"b": "xy"}
    second, _ = preparer.prepare({"operation": shared, "n": 2})
    assert second["operation"] is first["operation"]  # the same object: not walked again
    changed = {"nom": "Limoges", "liste": [{"a": 1}, {"b": "x\ue000y"}]}  # another object
    assert preparer.prepare({"operation": changed})[0]["operation"] is not first["operation"]
    # As rendering._without_marks: tuples become lists; unusual values are flagged.
    assert preparer.prepare({"t": ("a", "b")})[0]["t"] == ["a", "b"]
    assert preparer.prepare({"m": Markup("<b>")})[1] == fastdocx._UNUSUAL
    assert preparer.prepare({"r": RichText("x")})[1] & fastdocx._FOREIGN


@pytest.mark.parametrize("body", ["{{ d.cle }}", "{{ d.items }}", "{{ d.absente }}", "{{ d['cle'] }}", "{{ o.cle }}"])
def test_dict_lookups_give_what_the_sandbox_gives(tmp_path: Path, body: str) -> None:
    path = word_template(tmp_path, lambda d: d.add_paragraph(f"Valeur : {body}."))
    context = {"d": {"cle": "v", "items": "masqué"}, "o": OrderedDict(cle="w")}
    expected, actual = both(path, context)
    assert actual == expected if isinstance(expected, str) else assert_same_document(expected, actual) is None


# --- The body spliced as text, without parsing it ------------------------------------------


def test_every_bundled_template_is_spliced_as_text_for_the_sample(sample_docs: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed of a national batch rests on this: no bundled template parses its body."""
    compiled = {p.name: compile_docx(p, ENV) for p in TEMPLATES.glob("*.docx")}
    assert all(c._text_body for c in compiled.values()), [n for n, c in compiled.items() if not c._text_body]
    parsed: list[str] = []
    original = fastdocx.CompiledDocxTemplate._parsed
    monkeypatch.setattr(fastdocx.CompiledDocxTemplate, "_parsed",
                        lambda self, *args: parsed.append(self.name) or original(self, *args))
    real_parse = fastdocx.parse_xml
    monkeypatch.setattr(fastdocx, "parse_xml", lambda xml: (b"<w:ftr" in xml or b"<w:hdr" in xml)
                        and parsed.append("en-tête ou pied de page") or real_parse(xml))
    for doc in sample_docs:
        compiled[doc.template].render(doc.context, title=doc.title, timestamp=STAMP)
    assert parsed == []  # neither the body nor the headers and footers
    assert all(part.text is not None for c in compiled.values() for _name, part in c._headers)


def spliced_and_parsed(path: Path, context: dict[str, Any]) -> tuple[bytes | str, bytes | str, bytes | str]:
    """The document (or French error) of render(), of the text path, and of the parsed path."""
    expected, spliced = both(path, context)
    compiled = compile_docx(path, ENV)
    compiled._text_body = False
    try:
        parsed: bytes | str = compiled.render(context, title="Titre", timestamp=STAMP)
    except TemplateError as err:
        parsed = str(err)
    return expected, spliced, parsed


def branches_template(tmp_path: Path) -> Path:
    """Statements that open and close at the same place, a branch closing and reopening a
    text (``</w:t><w:br/><w:t>``), runs left empty, a table loop, a paragraph loop."""
    def build(document: Any) -> None:
        document.add_paragraph("{%p for v in valeurs %}")
        paragraph = document.add_paragraph("Valeur {{ v }}")
        paragraph.add_run("{% if v %} suite{% endif %}").bold = True
        document.add_paragraph("{%p endfor %}")
        document.add_paragraph("{{ vide }}")
        document.add_paragraph("{{ numero|insecable }}{% if detail %} : {{ detail|exposant }}{% endif %}")
        document.add_paragraph("{{ texte }}")
        table = document.add_table(rows=4, cols=2)
        table.rows[0].cells[0].text = "N°"
        table.rows[0].cells[1].text = "Série"
        table.rows[1].cells[0].text = "{%tr for v in valeurs %}"
        table.rows[2].cells[0].text = "{{ loop.index }}"
        table.rows[2].cells[1].text = "{{ v|insecable }}{% if v %}<BR>IMEI {{ v }}{% endif %}"
        table.rows[3].cells[0].text = "{%tr endfor %}"
    path = word_template(tmp_path, build)
    # The table cell: a branch that closes the text and opens another (as the bundled
    # handover record does for IMEI numbers).
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    body = entries["word/document.xml"].decode()
    body = body.replace("&lt;BR&gt;", '</w:t><w:br/><w:t xml:space="preserve">')
    entries["word/document.xml"] = body.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


VALUES = st.lists(
    st.sampled_from(list("aé &<>\"'{}%#-–« »\u00a0\u202f😀") + ["\n", "\t", "\r", "\x01", "\ue000", "\ue002",
                                                                  "&#39;", "&#34;", "]]>", "<w:t>", "</w:r>"]),
    max_size=12,
).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(VALUES, max_size=4), vide=VALUES, numero=VALUES, detail=VALUES, texte=VALUES)
def test_the_text_path_gives_the_parsed_documents(tmp_path: Path, values: list, vide: str, numero: str,
                                                   detail: str, texte: str) -> None:
    path = branches_template(tmp_path)
    assert compile_docx(path, ENV)._text_body
    context = {"valeurs": values, "vide": vide, "numero": numero, "detail": detail, "texte": texte}
    expected, spliced, parsed = spliced_and_parsed(path, context)
    assert type(spliced) is type(expected) and type(parsed) is type(expected)
    if isinstance(expected, bytes):
        assert_same_document(expected, spliced)
        assert_same_document(expected, parsed)
    else:
        assert spliced == expected == parsed


@pytest.mark.parametrize("paragraphs, spliced", [
    (["{% if a %}x{% endif %} {{ b }}"], True),
    (["{% for i in l %}{{ i }}{% else %}rien{% endfor %}"], True),
    (["{# un commentaire #}{{ b }}"], True),
    (["{% set x = 1 %}{{ x }}"], False),  # another statement
    (["{% raw %}{{ b }}{% endraw %}"], False),
    (["{# « </w:t> » #}{{ b }}"], True),  # typed text: escaped in the XML, no markup
    (["{%p if a %}", "texte", "{% if b %}"], False),  # closes an element opened before the statement
])
def test_what_can_be_spliced_is_decided_from_the_template(tmp_path: Path, paragraphs: list, spliced: bool) -> None:
    def build(document: Any) -> None:
        for text in paragraphs:
            document.add_paragraph(text)
    path = word_template(tmp_path, build)
    try:
        compiled = compile_docx(path, ENV)
    except TemplateError:
        assert not spliced
        return
    assert compiled._text_body is spliced
    for context in ({"a": True, "b": "B & <b>", "l": [1, 2]}, {"a": False, "b": "", "l": []}):
        expected, actual = both(path, context)
        assert type(actual) is type(expected)
        if isinstance(expected, bytes):
            assert_same_document(expected, actual)


@pytest.mark.parametrize("source, spliced", [
    ('<w:body xmlns:w="u"><w:p><w:r><w:t>{% if a %}</w:t></w:r></w:p><w:tbl><w:tr><w:tc><w:p><w:r><w:t>'
     '{% endif %}</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:body>', False),  # other elements open after the branch
    ('<w:body xmlns:w="u"><w:p><w:r><w:t>{% if a %}</w:t></w:r><w:r><w:t>{% endif %}</w:t></w:r></w:p></w:body>',
     True),  # closes a run and opens another: the same elements open after it
    ('<w:body xmlns:w="u"><w:p><w:r><w:t>{% if a %}</w:t><w:br/><w:t>{% endif %}</w:t></w:r></w:p></w:body>',
     True),  # closed and reopened: the same elements open after it
    ('<w:body xmlns:w="u"><w:p w:x="{% if a %}1{% else %}2{% endif %}"/></w:body>', True),
    ('<w:body xmlns:w="u"><w:p w:x="{{ a }}"/></w:body>', False),  # a value in an attribute
    ('<w:body xmlns:w="u"><w:p {% if a %}w:x="1"{% endif %}/></w:body>', False),  # between attributes
    ('<w:body xmlns:w="u"><w:p w:x="{% if a %}1" w:y="{% endif %}2"/></w:body>', False),  # across values
    ("<w:body xmlns:w=\"u\"><w:p w:x='1'/></w:body>", False),
    ('<w:body xmlns:w="u"><!-- c --><w:p/></w:body>', False),
    ('<w:body xmlns:w="u"><w:p><w:r><w:t>{# </w:t></w:r><w:r><w:t> #}</w:t></w:r></w:p></w:body>', False),
    ('<w:body xmlns:w="u"><w:p>{% for i in l %}<w:r><w:t>{{ i }}</w:t></w:r>{% endfor %}</w:p></w:body>', True),
])
def test_static_structure(source: str, spliced: bool) -> None:
    assert (fastdocx._static_structure(source, ENV) is not None) is spliced


def test_elements_a_rendering_can_leave_empty_are_known() -> None:
    source = ('<w:body xmlns:w="u"><w:p><w:r><w:t xml:space="preserve">{{ a }}</w:t></w:r></w:p>'
              '<w:p>{% if b %}<w:r><w:t>x</w:t></w:r>{% endif %}</w:p><w:p><w:r><w:t>fixe</w:t></w:r></w:p></w:body>')
    assert set(fastdocx._static_structure(source, ENV)) == {'<w:t xml:space="preserve"></w:t>', "<w:p></w:p>"}
