"""Work done once per run: templates compiled once for the check and the renderer, the
renderer's printing shortcut, per-document context shared by every part."""

from __future__ import annotations

import jinja2
import pytest
from markupsafe import Markup

from dotation_docs import fastdocx, rendering
from dotation_docs.documents import specs
from dotation_docs.exceptions import TemplateError
from dotation_docs.templateset import prepare_templates


def test_compile_source_compiles_once_per_environment_and_source():
    env = rendering.build_environment()
    fast, text = fastdocx.environments(env)
    assert fastdocx.environments(env) == (fast, text)
    first = rendering.compile_source(fast, "<w:t>{{ a }}</w:t>")
    assert rendering.compile_source(fast, "<w:t>{{ a }}</w:t>") is first
    assert fast.from_string("<w:t>{{ a }}</w:t>") is first
    assert rendering.compile_source(text, "<w:t>{{ a }}</w:t>") is not first
    assert rendering.compiled_sources(fast) is not rendering.compiled_sources(text)
    assert rendering.compiled_sources(env) is not rendering.compiled_sources(fast)
    assert first.render(a="R&D") == "<w:t>R&amp;D</w:t>"
    assert rendering.compile_source(text, "<w:t>{{ a }}</w:t>").render(a="R&D") == "<w:t>R&D</w:t>"


def test_compiled_templates_go_with_their_environment():
    import gc
    import weakref

    env = rendering.build_environment()
    env.from_string("<p>{{ a }}</p>")
    gone = weakref.ref(env)
    del env
    gc.collect()
    assert gone() is None


def test_a_source_that_does_not_compile_fails_the_same_way_each_time():
    env = rendering.build_environment()
    for _ in range(2):
        with pytest.raises(jinja2.TemplateSyntaxError, match="unexpected"):
            env.from_string("{{ a ) }}")
        with pytest.raises(rendering._UnsupportedTagError):
            env.from_string("{% include 'x.html' %}")


def test_the_check_compiles_the_parts_the_renderer_uses(monkeypatch):
    from dotation_docs import templateset

    monkeypatch.setattr(templateset, "_CACHE", {})  # checked afresh (the result is kept per process)
    env = rendering.build_environment()
    templates, _ = prepare_templates(specs(), env=env)
    fast, _text = fastdocx.environments(env)
    compiled_by_check = dict(rendering.compiled_sources(fast))
    assert compiled_by_check
    word = templates.word("convention-don.docx", env)
    body = word._body.template
    assert compiled_by_check[body.source_text] is body


@pytest.mark.parametrize("value", [
    "a < b & « c » 'd' \"e\"", "", None, 0, 12, True, 1.5, Markup("<w:br/>"), ["x"], {"k": "v"},
])
def test_printing_shortcut_prints_what_jinja_prints(value):
    env = rendering.build_environment()
    fast, text = fastdocx.environments(env)
    source = "<w:t>{{ v }}|{{ v if v is not none else 'vide' }}</w:t>{% set s %}[{{ v }}]{% endset %}{{ s }}"
    assert fast.from_string(source).render(v=value) == env.from_string(source).render(v=value)
    plain = env.overlay(autoescape=False)
    assert text.from_string(source).render(v=value) == plain.from_string(source).render(v=value)


def test_printing_a_function_is_refused_by_the_shortcut_too():
    env = rendering.build_environment()
    fast, _ = fastdocx.environments(env)
    with pytest.raises(rendering._RenderFailure) as caught:
        fast.from_string("{{ v.upper }}").render(v="x")
    assert isinstance(caught.value.original, rendering.PrintedFunctionError)


def test_parts_rendered_with_one_scope_per_document_report_errors_the_same_way(tmp_path):
    env = rendering.build_environment()
    fast, _ = fastdocx.environments(env)
    part = fastdocx._Part(fast, "<w:p>\n<w:t>{{ a }}</w:t>\n<w:t>{{ b.c }}</w:t>\n<w:t>{{ 1 / z }}</w:t></w:p>")
    context = {"a": "x", "b": {"c": "y"}, "z": 0}
    scope = fastdocx._scope(part.globals, context)
    with pytest.raises(rendering._RenderFailure) as fast_error:
        part.render(context, scope)
    with pytest.raises(rendering._RenderFailure) as plain_error:
        part.render(context)
    assert fast_error.value.lineno == plain_error.value.lineno == 4
    assert type(fast_error.value.original) is type(plain_error.value.original) is ZeroDivisionError
    assert fastdocx._scope(part.globals, {1: "not a name"}) is None
    assert fastdocx._scope(part.globals, context)[1]["range"] is rendering._safe_range


def test_typeset_keeps_an_item_without_apostrophes():
    import dataclasses

    from dotation_docs.context import PROSE_FIELDS, typeset
    from dotation_docs.synthetic import synthetic_dotation

    device = synthetic_dotation(True).devices[0]
    names = [n for n in PROSE_FIELDS[type(device)] if isinstance(getattr(device, n), str)]
    plain = dataclasses.replace(device, **{n: "Latitude 5420" for n in names})
    assert typeset(plain) is plain
    quoted = dataclasses.replace(plain, **{names[0]: "l'unité"})
    assert getattr(typeset(quoted), names[0]) == "l’unité"
    assert getattr(quoted, names[0]) == "l'unité"


def test_next_mark_finds_each_typography_mark_and_nothing_else():
    import random
    import re

    from dotation_docs.formatting import MARKS

    alphabet = ["a", "é", "\ue000", "\ue001", "\ue002", "\ue003", "\ue0ff", "\uee80", "\u2019", "<w:t>"]
    expected_pattern = re.compile("[" + "".join(MARKS) + "]".encode().decode())
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        data = text.encode("utf-8")
        expected = [m.start() for m in re.finditer("|".join(re.escape(m.encode()) .decode("latin-1")
                                                             for m in MARKS), data.decode("latin-1"))]
        found, start = [], 0
        while (position := fastdocx._next_mark(data, start)) >= 0:
            found.append(position)
            start = position + 1
        assert found == expected, text
        assert bool(found) == bool(expected_pattern.search(text))


@pytest.mark.parametrize("value", ["C#", "Oui !", "Quoi ?", "l'équipe « #1 »", "a\u00bfb", "x_y {_{ z }_}"])
def test_rare_characters_in_values_give_the_reference_bytes(tmp_path, value):
    from datetime import datetime

    from docx import Document

    document = Document()
    document.add_paragraph("{{ v }}")
    document.add_paragraph("{{ v|insecable }} et {{ w }}")
    path = tmp_path / "modele.docx"
    document.save(path)
    loaded = rendering.load_template(path)
    env = rendering.build_environment()
    context = {"v": value, "w": "10-12"}
    stamp = datetime(2024, 5, 2)
    fast = fastdocx.compile_docx(loaded, env).render(context, title="T", timestamp=stamp)
    assert fast == rendering.render(loaded, context, title="T", timestamp=stamp, env=env)
    text = [p.text for p in Document(__import__("io").BytesIO(fast)).paragraphs]
    assert text[0] == value.replace("{_{", "{{").replace("}_}", "}}")  # docxtpl's own unescaping


@pytest.mark.parametrize("source", [
    "Modèle dotation-docs : R&D <b>", "ligne\nligne\n", "a\r\nb", "{{ 1 }}", "{# c #}x", "{% if 1 %}x{% endif %}", "",
    "accolade { seule }",
])
def test_a_part_without_jinja_is_not_rendered_but_gives_the_same_text(source):
    env = rendering.build_environment()
    for part_env in (env, env.overlay(autoescape=False), env.overlay(keep_trailing_newline=False)):
        part = fastdocx._Part(part_env, source)
        expected = part_env.from_string(source).render()
        assert part.render({}) == expected
        assert (part.constant is None) == ("{" in source and source != "accolade { seule }" or "\r" in source
                                           or source.endswith("\n") and not part_env.keep_trailing_newline)
