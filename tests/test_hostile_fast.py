"""Hostile cases found against the compiled Word renderer's text path: each gives the
bytes of ``rendering.render`` (each failed before its fix: markup changed after ``|e``, a
run of marks only removed from its parent, a namespace declaration repeated in the body)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

import docx
import pytest

from dotation_docs.exceptions import TemplateError
from dotation_docs.fastdocx import compile_docx
from dotation_docs.rendering import build_environment, render

ENV = build_environment()
STAMP = datetime(2023, 2, 3)


def template(tmp_path: Path, body: str) -> Path:
    """A python-docx default document whose body holds ``body`` (raw WordprocessingML)."""
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                xml = data.decode("utf-8")
                section = re.search(r"<w:sectPr.*</w:sectPr>", xml, re.S).group(0)
                xml = re.sub(r"<w:body>.*</w:body>", lambda m: f"<w:body>{body}{section}</w:body>", xml, flags=re.S)
                data = xml.encode("utf-8")
            dst.writestr(info, data)
    path = tmp_path / "modele.docx"
    path.write_bytes(out.getvalue())
    return path


def both(path: Path, context: dict) -> tuple[bytes | str, bytes | str]:
    compiled = compile_docx(path, ENV)
    results: list[bytes | str] = []
    for job in (lambda: render(path, context, title="T", timestamp=STAMP, env=ENV),
                lambda: compiled.render(context, title="T", timestamp=STAMP)):
        try:
            results.append(job())
        except TemplateError as err:
            results.append(str(err))
    return results[0], results[1]


@pytest.mark.parametrize("code", ["{{ x|e|upper }}", "{{ (x|e).upper() }}", '{{ x|e|replace("amp;", "") }}'])
def test_escaped_markup_reshaped_by_a_filter(tmp_path: Path, code: str) -> None:
    """Markup from ``|e`` changed by upper or replace breaks its entity references:
    docxtpl's forgiving parser repairs them; the text path wrote them as they are (a
    document Word and python-docx cannot open)."""
    path = template(tmp_path, f'<w:p><w:r><w:t xml:space="preserve">{code}</w:t></w:r></w:p>')
    expected, actual = both(path, {"x": "R&D <b>"})
    docx.Document(io.BytesIO(actual))  # XMLSyntaxError: Entity 'AMP' not defined
    assert actual == expected


@pytest.mark.parametrize("body", [
    '<w:p><w:r><w:t xml:space="preserve">{{ x|exposant }}</w:t></w:r></w:p>',
    '<w:p><w:r><w:rPr><w:b/></w:rPr><w:t>{{ x|exposant }}</w:t></w:r></w:p>',
    '<w:p><w:ins w:id="1" w:author="a" w:date="2023-01-01T00:00:00Z"><w:r><w:t>{{ x|exposant }}</w:t></w:r></w:ins></w:p>',
    '<w:p><w:hyperlink w:anchor="a"><w:r><w:t>{{ x|exposant }}</w:t></w:r></w:hyperlink></w:p>',
])
def test_run_made_of_marks_only_leaves_an_empty_parent(tmp_path: Path, body: str) -> None:
    """``exposant`` of an empty value prints the two marks alone: the run disappears and
    its parent is left empty, ``<w:p/>`` for lxml, ``<w:p></w:p>`` in the text path."""
    expected, actual = both(template(tmp_path, body), {"x": ""})
    assert actual == expected


@pytest.mark.parametrize("declaration", [
    'xmlns:v="urn:schemas-microsoft-com:vml"',
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"',
])
def test_redundant_namespace_declaration_in_the_body(tmp_path: Path, declaration: str) -> None:
    """A declaration the document element already makes, repeated inside the body:
    docxtpl's rendering drops it, the compiled renderer keeps it."""
    body = f'<w:p><w:r {declaration}><w:t>{{{{ x }}}}</w:t></w:r></w:p>'
    expected, actual = both(template(tmp_path, body), {"x": "a"})
    assert actual == expected


@pytest.mark.parametrize("code", [
    '[{{ 1|pluriel(1, "x") }}][{{ 1|pluriel(True, "x") }}]',
    '[{{ 1|pluriel(True, "x") }}][{{ 1|pluriel(1, "x") }}]',
    '[{{ 2|quantite("x", 1) }}][{{ 2|quantite("x", 1.0) }}]',
    '[{{ 1|pluriel("a&amp;amp;b"|safe, "p") }}][{{ 1|pluriel("a&amp;amp;b", "p") }}]',
])
def test_filter_arguments_equal_but_of_other_types_are_not_confused(tmp_path: Path, code: str) -> None:
    """The filters' memo keyed their arguments by equality: True and 1, 1 and 1.0, a
    Markup string and a plain one shared a result (the plain argument then came out
    unescaped)."""
    path = template(tmp_path, f'<w:p><w:r><w:t xml:space="preserve">{code}</w:t></w:r></w:p>')
    reference, fast = both(path, {})
    assert fast == reference
