"""The compiled Word renderer's shortcuts of session 19 give rendering.render's bytes at
the edge of each guard: the paragraph joining done once in the compiled code (a value
ending with a line break before a paragraph, a constant starting with ``<w:p``, a string
of an expression holding ``<w:p``, markup in the context), the drawing search skipped for
templates without drawings, the split of runs carrying marks remembered, and the
context preparer forgetting its older half."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import markupsafe
import pytest

from dotation_docs import fastdocx
from dotation_docs.fastdocx import compile_docx
from dotation_docs.rendering import _without_marks, build_environment, render
from tests.test_hostile_fast import template

ENV = build_environment()
STAMP = datetime(2023, 2, 3)
PARAGRAPH = '<w:p><w:r><w:t xml:space="preserve">{}</w:t></w:r></w:p>'


def check(path: Path, contexts: list[dict]) -> fastdocx.CompiledDocxTemplate:
    """Render each context both ways with one compiled template; assert the same bytes."""
    compiled = compile_docx(path, ENV)
    for context in contexts:
        expected = render(path, context, title="T", timestamp=STAMP, env=ENV)
        assert compiled.render(context, title="T", timestamp=STAMP) == expected, context
    return compiled


VALUES = ["a", "a\n", "\n", "a\n\n", "a\t", "<w:p>", "\n<w:p>", "\n<w:p ", "&", "{_{", "é\U0001f600\n"]


def test_value_ending_with_a_line_break_before_a_paragraph(tmp_path: Path) -> None:
    """A value printed between two paragraphs, ending with a line break: docxtpl joins
    the next paragraph's line break only; the joined code has none left to join."""
    body = PARAGRAPH.format("a") + "{{ x }}" + PARAGRAPH.format("{{ y }}")
    compiled = check(template(tmp_path, body), [{"x": v, "y": w} for v in VALUES for w in ("b", "b\n")])
    assert compiled._body.joined is not None  # the shortcut was taken


def test_constant_starting_with_a_paragraph_is_not_joined(tmp_path: Path) -> None:
    """``-}}`` strips the line break docxtpl put before the next paragraph: the constant
    then starts with ``<w:p`` and a value's last line break is joined to it by docxtpl."""
    body = PARAGRAPH.format("a") + "{{ x -}}" + PARAGRAPH.format("b")
    compiled = check(template(tmp_path, body), [{"x": v} for v in VALUES])
    assert compiled._body.joined is None


def test_expression_string_holding_a_paragraph_is_not_joined(tmp_path: Path) -> None:
    """docxtpl unescapes the Jinja code and puts a line break before ``<w:p`` in it too:
    such a string is not printed as it is, and must keep its line break."""
    body = PARAGRAPH.format('{{ x|replace("&lt;w:p&gt;", "P") }}')
    compiled = check(template(tmp_path, body), [{"x": v} for v in ("a\n<w:p>b", "<w:p>", "a")])
    assert compiled._body.joined is None


@pytest.mark.parametrize("constant", ["abc\n", "abc\n<", "x\n<w", "\n<w:", "\n<w:p", "<w:p>", "<w:p ", "<w", "<"])
def test_constant_cut_inside_a_paragraph_join_is_refused(constant: str) -> None:
    assert fastdocx._joined_constant(constant, frozenset()) is fastdocx._NOT_JOINED
    assert fastdocx._joined_constant((constant,), frozenset()) is fastdocx._NOT_JOINED


def test_joined_constant() -> None:
    assert fastdocx._joined_constant("a\n<w:p>b\n<w:p c\n<w:pPr\n\n<w:p>", frozenset()) == "a<w:p>b<w:p c\n<w:pPr\n<w:p>"
    assert fastdocx._joined_constant("a\n<w:p>b", frozenset({"a\n<w:p>b"})) is fastdocx._NOT_JOINED
    assert fastdocx._joined_constant("<x/>", frozenset()) == "<x/>"


def test_markup_in_the_context_takes_the_unjoined_code(tmp_path: Path) -> None:
    """Markup printed as it is can hold ``\\n<w:p``: joined by docxtpl in the whole text."""
    body = PARAGRAPH.format("{{ x }}")
    markup = markupsafe.Markup('a</w:t></w:r></w:p>\n<w:p><w:r><w:t xml:space="preserve">b')
    compiled = check(template(tmp_path, body), [{"x": "a"}, {"x": markup}, {"x": "c\n"}])
    assert compiled._body.joined is not None


def test_drawing_name_in_a_value_without_drawings(tmp_path: Path) -> None:
    """``docPr`` in a value is text: searched only when the template has drawings."""
    body = PARAGRAPH.format("{{ x }}")
    compiled = check(template(tmp_path, body), [{"x": v} for v in ('docPr', '<wp:docPr id="7"/>', "a")])
    assert not compiled._text.drawings


def test_drawing_name_in_the_template(tmp_path: Path) -> None:
    compiled = check(template(tmp_path, PARAGRAPH.format("docPr {{ x }}")), [{"x": "a"}])
    assert compiled._text.drawings


def test_split_runs_remembered(tmp_path: Path) -> None:
    """The same run carrying marks in several documents, then others: each document's own
    split (the remembered one is looked up by the whole run)."""
    body = PARAGRAPH.format("{{ x|exposant }} {{ y|insecable }}") + '<w:p><w:r><w:rPr><w:b/></w:rPr><w:t>{{ x|exposant }}</w:t></w:r></w:p>'
    values = ["1er", "1er", "a-b", "", "2e & <3>", "1er", "x" * 3000, "x" * 3000]
    contexts = [{"x": v, "y": w} for v in values for w in ("12-34", "12-34", "a")]
    compiled = check(template(tmp_path, body), contexts)
    assert compiled._text._splits


def test_preparer_forgets_its_older_half() -> None:
    """A small preparer over many containers (shared and new ones, some with marks):
    each result equals rendering's own copy without marks."""
    preparer = fastdocx._ContextPreparer(size=4)
    shared = [{"a": "x\ue000y", "b": [1, "z"]}, ["\ue001", {"c": "d"}]]
    for number in range(40):
        context = {"s": shared[number % 2], "n": [{"v": f"{number}\ue002"}, [number, "w"]], "t": "\ue000t"}
        prepared, flags = preparer.prepare(context)
        assert prepared == {key: _without_marks(value) for key, value in context.items()}
        assert flags == 0
        assert len(preparer._memo) <= 4


def test_drawings_in_the_template_are_renumbered(tmp_path: Path) -> None:
    """A template with drawings: their ids are renumbered from 1001 (the parsed path)."""
    drawing = '<w:r><w:drawing><wp:inline><wp:extent cx="1" cy="1"/><wp:docPr id="5" name="a"/></wp:inline></w:drawing></w:r>'
    body = f"<w:p>{drawing}<w:r><w:t>{{{{ x }}}}</w:t></w:r></w:p><w:p>{drawing}</w:p>"
    compiled = check(template(tmp_path, body), [{"x": "a"}, {"x": "docPr"}])
    assert compiled._text is None or compiled._text.drawings
