"""Rendering: turns a template and a context into the bytes of one document.

The only module that imports docxtpl. One Jinja environment (autoescape on,
``StrictUndefined``, ``None`` printed as empty, the French filters) serves Word and HTML
templates alike; :func:`render` is the single entry point. Output is deterministic:
zip entries and document properties carry a fixed date.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate

from dotation_docs.exceptions import TemplateError
from dotation_docs.formatting import NNBSP, make_filters

# Zip entries get this timestamp so that two runs give the same bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_UNDEFINED = re.compile(r"'(?:[^']*)' (?:object )?has no attribute '([^']+)'|'([^']+)' is undefined")
_NO_FILTER = re.compile(r"No filter named '([^']+)'")
_TEXT_PROPERTIES = ("author", "comments", "identifier", "language", "subject")


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def build_environment(thousands_separator: str = NNBSP) -> jinja2.Environment:
    """Return the Jinja environment every template is rendered with."""
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.filters.update(make_filters(thousands_separator))
    return env


def render(
    template: Path,
    context: Mapping[str, Any],
    *,
    title: str,
    timestamp: datetime,
    env: jinja2.Environment | None = None,
) -> bytes:
    """Return the rendered document for ``template`` (.docx → Word, .html → HTML text
    in UTF-8). ``title`` becomes the Word document's title property, ``timestamp`` its
    creation and modification dates.

    Raises :class:`TemplateError` when the template is missing, is not a valid .docx,
    or uses an unknown variable or filter.
    """
    env = env or build_environment()
    if not template.is_file():
        raise TemplateError(
            f"modèle « {template.name} » introuvable dans le dossier « {template.parent} »."
        )
    try:
        if template.suffix.lower() == ".docx":
            return _render_docx(template, context, env, title, timestamp)
        text = env.from_string(template.read_text(encoding="utf-8")).render(context)
        return text.encode("utf-8")
    except jinja2.TemplateSyntaxError as err:
        # A .docx template's line numbers count lines of its XML: meaningless to the agent.
        line = f" (ligne {err.lineno})" if template.suffix.lower() != ".docx" and err.lineno else ""
        raise TemplateError(
            f"le modèle « {template.name} » contient une balise mal formée"
            f"{line} : {_translate(err)}. Vérifiez les accolades {{{{ … }}}} et {{% … %}}."
        ) from err
    except jinja2.TemplateError as err:
        raise TemplateError(f"le modèle « {template.name} » ne peut pas être rempli : {_translate(err)}.") from err
    except UnicodeDecodeError as err:
        raise TemplateError(
            f"le modèle « {template.name} » n'est pas un texte UTF-8 ; enregistrez-le en UTF-8."
        ) from err
    except (zipfile.BadZipFile, KeyError) as err:
        raise TemplateError(
            f"le modèle « {template.name} » n'est pas un document Word (.docx) valide ; "
            "enregistrez-le depuis Word ou LibreOffice au format « Word 2007-365 (.docx) »."
        ) from err


def _render_docx(
    template: Path, context: Mapping[str, Any], env: jinja2.Environment, title: str, timestamp: datetime
) -> bytes:
    doc = DocxTemplate(template)
    doc.init_docx()
    # docxtpl renders the document properties with the escaping meant for the body's XML,
    # which would show "R&amp;D": they are rendered again from the template as plain text
    # (python-docx escapes them itself), and the title is set from plain text.
    sources = {name: getattr(doc.docx.core_properties, name) or "" for name in _TEXT_PROPERTIES}
    doc.render(dict(context), jinja_env=env, autoescape=True)
    props = doc.docx.core_properties
    text_env = env.overlay(autoescape=False)
    for name, source in sources.items():
        setattr(props, name, text_env.from_string(source).render(context))
    props.title = title
    props.created = props.modified = timestamp
    props.revision = 1
    props.last_modified_by = "dotation-docs"
    buffer = io.BytesIO()
    doc.save(buffer)
    return normalize_zip(buffer.getvalue())


def normalize_zip(data: bytes) -> bytes:
    """Return the same zip archive with every entry dated :data:`ZIP_EPOCH`, so that
    identical content gives identical bytes."""
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
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def _translate(err: jinja2.TemplateError) -> str:
    """Return Jinja's English message in French for the common cases."""
    message = str(err.message or err)
    match = _UNDEFINED.search(message)
    if match:
        name = match.group(1) or match.group(2)
        return f"la variable « {name} » n'existe pas (voir docs/modeles.md pour la liste des variables)"
    match = _NO_FILTER.search(message)
    if match:
        return f"le filtre « {match.group(1)} » n'existe pas (voir docs/modeles.md pour la liste des filtres)"
    return message
