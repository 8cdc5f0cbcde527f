"""Bundled templates: the committed templates are what scripts/build_templates.py builds from
the text files of templates/textes/, and a broken text file stops the build with a French
message."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from xml.etree.ElementTree import canonicalize

import docx
import pytest
from conftest import ROOT, TEMPLATES, docx_text

REGENERATE = "{name} is not what the text files give: run python scripts/build_templates.py"


@pytest.fixture(scope="module")
def build_templates() -> ModuleType:
    """The template script, imported from its file."""
    spec = importlib.util.spec_from_file_location("build_templates", ROOT / "scripts" / "build_templates.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_templates"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rebuilt(build_templates: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("templates")
    build_templates.build_all(output)
    return output


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    """A private copy of the text files, to break."""
    return Path(shutil.copytree(TEMPLATES / "textes", tmp_path / "textes"))


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def same_content(name: str, expected: bytes, produced: bytes) -> bool:
    """Whether two parts of a .docx say the same: XML parts compared canonicalised (content,
    not serialisation), when their bytes differ."""
    if expected == produced:
        return True
    return name.endswith((".xml", ".rels")) and canonicalize(expected) == canonicalize(produced)


def committed_templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.iterdir() if p.suffix in (".docx", ".html"))


def test_every_template_is_built(rebuilt: Path) -> None:
    assert sorted(p.name for p in rebuilt.iterdir()) == [p.name for p in committed_templates()]


@pytest.mark.parametrize("template", committed_templates(), ids=lambda p: p.name)
def test_committed_template_is_what_the_texts_give(template: Path, rebuilt: Path) -> None:
    built = rebuilt / template.name
    if template.suffix == ".html":
        assert built.read_text(encoding="utf-8") == template.read_text(encoding="utf-8"), REGENERATE.format(name=template.name)
        return
    expected, produced = parts(template), parts(built)
    assert sorted(produced) == sorted(expected), REGENERATE.format(name=template.name)
    for name, data in expected.items():
        assert same_content(name, data, produced[name]), REGENERATE.format(name=f"{template.name} ({name})")


def test_the_words_come_from_the_text_files(build_templates: ModuleType, texts: Path, tmp_path: Path) -> None:
    articles = texts / "convention-articles.md"
    text = articles.read_text(encoding="utf-8")
    articles.write_text(text.replace("### Article [[controle]] – Contrôle", "### Article [[controle]] – Vérifications"), encoding="utf-8")
    for name in ("convention-mise-a-disposition.docx", "convention-don.docx"):
        build_templates.DOCX_TEMPLATES[name](texts).save(tmp_path / name)
        words = docx_text(tmp_path / name)
        assert "Article\u00a010 – Vérifications" in words
        assert "Contrôle" not in words


def test_markup(build_templates: ModuleType) -> None:
    text = (
        "%% a comment\n# TITRE\n# n° {{ x }}\n\n## Intertitre {: centré avant=0}\n\n"
        "### Article [[a]] – Un\n\nVoir l'article [[b]] et\nla suite.\n\n"
        "::: don\n### Article [[b]] – Deux\n:::\n::: mise-à-disposition\n### Article [[b]] – Autre\n:::\n"
        "- premier\n  élément\n- second {: gauche lié}\n{%p if y %}\n[[bloc]]\n[[espace 6]]\n"
    )
    elements = build_templates.number_articles(build_templates.parse_text(text, "essai.md", "don"))
    assert [(e.kind, e.text) for e in elements] == [
        ("title", "TITRE"),
        ("subtitle", "n° {{ x }}"),
        ("heading1", "Intertitre"),
        ("heading2", "Article\u00a01 – Un"),
        ("paragraph", "Voir l'article 2 et la suite."),
        ("heading2", "Article\u00a02 – Deux"),
        ("bullet", "premier élément"),
        ("bullet", "second"),
        ("control", "if y"),
        ("block", "bloc"),
        ("block", "espace"),
    ]
    assert elements[2].attrs == {"align": "center", "before": 0.0}
    assert elements[7].attrs == {"align": "left", "keep_next": True}
    assert elements[-1].arg == "6"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("proces-verbal.md", "[[tableau-materiels]]", "[[tableau-materiel]]",
         "textes/proces-verbal.md, ligne 34 : bloc [[tableau-materiel]] inconnu ; blocs de ce document : "),
        ("attestation.md", "[[signature]]", "",
         "textes/attestation.md : il manque [[signature]]"),
        ("convention-articles.md", "l'article [[engagement]]", "l'article [[engagé]]",
         "renvoi [[engagé]] : aucun article ne porte ce repère"),
        ("convention-annexe.md", "::: don\n", "::: dons\n",
         "textes/convention-annexe.md, ligne 11 : variante « dons » inconnue"),
        ("demande-lettre.md", "{: gauche après=0}", "{: à-gauche après=0}",
         "textes/demande-lettre.md, ligne 3 : mise en page « à-gauche » inconnue"),
        ("communique.md", "[[contacts]]", "",
         "textes/communique.md : il manque [[contacts]]"),
        ("communique.md", "territoires.des }}. {: chapeau}", "territoires.des }}. {: chapeau gras}",
         "le communiqué n'accepte que {: lieu-et-date} ou {: chapeau}"),
    ],
)
def test_broken_text_is_refused(
    build_templates: ModuleType, texts: Path, tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    path = texts / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    template = {
        "proces-verbal.md": "proces-verbal-remise.docx",
        "attestation.md": "attestation-achevement.docx",
        "convention-articles.md": "convention-mise-a-disposition.docx",
        "convention-annexe.md": "convention-don.docx",
        "demande-lettre.md": "demande-lettre.docx",
        "communique.md": "communique-de-presse.docx",
    }[file]
    with pytest.raises(build_templates.TextError) as caught:
        build_templates.DOCX_TEMPLATES[template](texts)
    assert message in str(caught.value)


def test_nothing_is_written_when_a_text_is_broken(build_templates: ModuleType, texts: Path, tmp_path: Path) -> None:
    path = texts / "attestation.md"  # the last template built
    path.write_text(path.read_text(encoding="utf-8").replace("[[signature]]", "[[signatures]]"), encoding="utf-8")
    with pytest.raises(build_templates.TextError, match=r"bloc \[\[signatures\]\] inconnu"):
        build_templates.build_all(tmp_path / "out", texts)
    assert not (tmp_path / "out").exists()


def test_script_reports_a_broken_text_in_french(texts: Path, tmp_path: Path) -> None:
    (texts / "plan-de-financement.md").unlink()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_templates.py"), "--textes", str(texts), "--output", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Erreur : ")
    assert "plan-de-financement.md : fichier de texte introuvable" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_text_files_are_not_templates() -> None:
    """The runtime takes templates by name: none of them is a text file of textes/."""
    from dotation_docs.documents import TEMPLATES as NAMES

    assert all(not str(name).endswith(".md") for name in NAMES.values())
    assert all((TEMPLATES / name).is_file() for name in NAMES.values())
    docx.Document(str(TEMPLATES / "convention-don.docx"))  # the committed templates open


# Parts of python-docx's default package that the templates (hence every generated document)
# must not carry: Word 2010's copy of the styles, the default document's thumbnail (shown by a
# file manager as the preview of our documents), its custom XML item, its web settings.
DROPPED_PARTS = ("word/stylesWithEffects.xml", "docProps/thumbnail.jpeg", "customXml/", "word/webSettings.xml")
STYLE_REFERENCE_TAGS = ("pStyle", "rStyle", "tblStyle", "numStyleLink", "styleLink", "basedOn", "link", "next")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_templates() -> list[Path]:
    return [p for p in committed_templates() if p.suffix == ".docx"]


@pytest.mark.parametrize("template", docx_templates(), ids=lambda p: p.name)
def test_templates_carry_no_leftover_of_the_default_package(template: Path) -> None:
    content = parts(template)
    assert sorted(content) == [
        "[Content_Types].xml", "_rels/.rels", "docProps/app.xml", "docProps/core.xml",
        "word/_rels/document.xml.rels", "word/document.xml", "word/fontTable.xml", "word/footer1.xml",
        "word/numbering.xml", "word/settings.xml", "word/styles.xml", "word/theme/theme1.xml",
    ]
    for name in ("[Content_Types].xml", "_rels/.rels", "word/_rels/document.xml.rels"):
        text = content[name].decode("utf-8")
        for dropped in ("stylesWithEffects", "thumbnail", "customXml", "webSettings", "jpeg"):
            assert dropped not in text, f"{template.name}: {name} still names {dropped}"
    assert b"latentStyles" not in content["word/styles.xml"]
    assert len(content["word/styles.xml"]) < 20_000
    assert sum(len(data) for data in content.values()) < 100_000


@pytest.mark.parametrize("template", docx_templates(), ids=lambda p: p.name)
def test_every_style_a_template_names_exists(template: Path) -> None:
    """styles.xml is trimmed, but every style id that a part names (the document, its footer,
    numbering.xml, the styles' own basedOn/link/next) is still defined, with the defaults and
    the house styles."""
    from lxml import etree

    content = parts(template)
    styles = etree.fromstring(content["word/styles.xml"])
    defined = {style.get(f"{W}styleId") for style in styles.iter(f"{W}style")}
    for name, data in content.items():
        if not name.endswith(".xml") or not name.startswith("word/"):
            continue
        for tag in STYLE_REFERENCE_TAGS:
            for ref in etree.fromstring(data).iter(f"{W}{tag}"):
                assert ref.get(f"{W}val") in defined, f"{template.name}: {name} names the missing style {ref.get(f'{W}val')}"
    assert {"Normal", "DefaultParagraphFont", "TableNormal", "NoList"} <= defined  # the defaults
    assert styles.find(f"{W}docDefaults") is not None
    document = docx.Document(str(template))
    house = ("Title", "Subtitle", "Heading 1", "Heading 2", "Heading 3", "List Bullet", "Footer", "Table Grid",
             "Texte de tableau", "En-tête de tableau", "Petit texte de tableau", "Petit en-tête de tableau",
             "Signature", "Balise")
    assert all(name in document.styles for name in house)
    assert len(document.styles) < 40  # python-docx's default package defines 164


def test_a_generated_document_resolves_its_styles(tmp_path: Path) -> None:
    """python-docx finds the style of every paragraph and table of a generated convention and
    its footer (python-docx falls back to « Normal » for an unknown style id: compared here)."""
    from conftest import SAMPLE

    from dotation_docs.pipeline import generate_batch

    generate_batch(SAMPLE, tmp_path / "out", TEMPLATES)
    generated = sorted((tmp_path / "out").rglob("*.docx"))
    assert len(generated) == 24
    for path in generated:
        assert sorted(parts(path)) == sorted(parts(TEMPLATES / "convention-don.docx")), path.name
        document = docx.Document(str(path))
        paragraphs = list(document.paragraphs) + list(document.sections[0].footer.paragraphs)
        for table in document.tables:
            tbl_style = table._tbl.tblPr.find(f"{W}tblStyle")
            if tbl_style is not None:
                assert table.style.style_id == tbl_style.get(f"{W}val"), path.name
            for row in table.rows:
                for cell in row.cells:
                    paragraphs.extend(cell.paragraphs)
        for paragraph in paragraphs:
            p_style = paragraph._p.pPr.find(f"{W}pStyle") if paragraph._p.pPr is not None else None
            expected = p_style.get(f"{W}val") if p_style is not None else "Normal"
            assert paragraph.style.style_id == expected, f"{path.name}: « {paragraph.text[:40]} »"
        assert document.styles["Normal"].font.name == "Arial"
