"""The renderer's output is stable bytes, whatever the clock and the template's zip."""

from __future__ import annotations

import io
import warnings
import zipfile

from dotation_docs.rendering import ZIP_EPOCH, normalize_zip


def test_zip_entries_are_dated_once_and_written_once() -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate, as it should
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("docProps/core.xml", "<first/>")
        z.writestr("docProps/core.xml", "<second/>")  # as LibreOffice's OOXML filter may write
    normalized = zipfile.ZipFile(io.BytesIO(normalize_zip(buffer.getvalue())))
    assert [i.filename for i in normalized.infolist()] == ["[Content_Types].xml", "docProps/core.xml"]
    assert {i.date_time for i in normalized.infolist()} == {ZIP_EPOCH}
    assert normalize_zip(buffer.getvalue()) == normalize_zip(buffer.getvalue())


# --- render(), directly -----------------------------------------------------------------------

from datetime import datetime  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402

import docx  # noqa: E402
import pytest  # noqa: E402
from conftest import docx_text  # noqa: E402

from dotation_docs.exceptions import TemplateError  # noqa: E402
from dotation_docs.rendering import LoadedTemplate, load_template, render  # noqa: E402

STAMP = datetime(2023, 2, 3, 10, 30)
CONTEXT = {"nom": "R&D <Sud>", "montant": Decimal("1234.5"), "liste": ["a", "b"]}


def word_template(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Bénéficiaire : {{ nom }} ; montant : {{ montant | montant }}")
    document.add_paragraph("{% for x in liste %}[{{ x }}]{% endfor %}")
    document.core_properties.subject = "Sujet – {{ nom }}"
    document.save(str(path))
    return path


def test_render_fills_a_word_template_with_its_properties(tmp_path: Path) -> None:
    data = render(word_template(tmp_path / "modele.docx"), CONTEXT, title="Titre – R&D", timestamp=STAMP)
    text = docx_text(data)
    assert "Bénéficiaire : R&D <Sud> ; montant : 1\u202f234,50\xa0€" in text
    assert "[a][b]" in text
    props = docx.Document(io.BytesIO(data)).core_properties
    assert (props.title, props.subject) == ("Titre – R&D", "Sujet – R&D <Sud>")
    assert props.created.replace(tzinfo=None) == STAMP
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {ZIP_EPOCH}


def test_render_escapes_html_and_gives_the_same_bytes_from_a_path_or_loaded_once(tmp_path: Path) -> None:
    path = tmp_path / "modele.html"
    path.write_text("<p>{{ nom }} : {{ montant | montant }}</p>", encoding="utf-8")
    loaded = load_template(path)
    assert isinstance(loaded, LoadedTemplate) and not loaded.is_docx
    data = render(loaded, CONTEXT, title="t", timestamp=STAMP)
    assert data.decode("utf-8") == "<p>R&amp;D &lt;Sud&gt; : 1\u202f234,50\xa0€</p>"
    path.write_text("changé sur le disque", encoding="utf-8")  # the loaded template is not read again
    assert render(loaded, CONTEXT, title="t", timestamp=STAMP) == data
    word = load_template(word_template(tmp_path / "modele.docx"))
    assert render(word, CONTEXT, title="t", timestamp=STAMP) == render(word, CONTEXT, title="t", timestamp=STAMP)


def test_render_errors_name_the_template(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as err:
        render(tmp_path / "absent.docx", CONTEXT, title="t", timestamp=STAMP)
    assert err.value.message == f"modèle « absent.docx » introuvable dans le dossier « {tmp_path} »."
    broken = LoadedTemplate("lettre.html", tmp_path / "lettre.html", b"{{ inconnu }}")
    with pytest.raises(TemplateError) as err:
        render(broken, CONTEXT, title="t", timestamp=STAMP)
    assert err.value.message == ("le modèle « lettre.html » ne peut pas être rempli : la variable « inconnu » "
                                 "n'existe pas (voir docs/modeles.md pour la liste des variables).")
