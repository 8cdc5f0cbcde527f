"""The fast paths of the end of a batch give what the general code gives (issue #10): the
manifest's bytes, the path checks, the survey of the output folder, the folders made, the
overview's files per beneficiary. Each test keeps the plain implementation as reference."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

import pytest
from conftest import SAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from dotation_docs import outputdir, overview
from dotation_docs.documents import DocumentType
from dotation_docs.manifest import dump_manifest, is_safe_relative
from dotation_docs.pipeline import check_workbook

# --- manifeste.json -------------------------------------------------------------------------


def reference_dump(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), TEXT, st.floats(allow_nan=False))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)
ENTRY = st.dictionaries(TEXT, st.one_of(st.none(), TEXT), max_size=6)


@settings(max_examples=300, deadline=None)
@given(header=st.dictionaries(TEXT, JSON, max_size=4),
       documents=st.one_of(st.lists(ENTRY, max_size=5), st.lists(st.dictionaries(TEXT, JSON, max_size=3), max_size=3),
                           JSON))
def test_the_manifest_has_the_bytes_of_json_dumps(header: dict, documents: object) -> None:
    manifest = {**header, "documents": documents}
    assert dump_manifest(manifest) == reference_dump(manifest)
    assert dump_manifest(header) == reference_dump(header)


def test_a_real_manifest_has_the_bytes_of_json_dumps() -> None:
    manifest = {
        "outil": {"nom": "dotation-docs", "version": "1"}, "classeur": {"fichier": "é\u2028\"x\\.xlsx", "sha256": "0"},
        "totaux": {"nombre_materiels": 3, "par_categorie": {"portable": 2, "tablette": 1}, "ht": "10.00"},
        "documents": [{"type": "convention", "beneficiaire": "B01", "fichier": "conventions/B01-é.docx",
                       "sha256": "ab", "empreinte_donnees": "cd"},
                      {"type": "apercu", "beneficiaire": None, "fichier": "index.html", "sha256": "ef"}],
    }
    assert dump_manifest(manifest) == reference_dump(manifest)


# --- Paths read from a manifest ---------------------------------------------------------------


def reference_is_safe_relative(path: object) -> bool:
    if not isinstance(path, str) or "\\" in path or "\0" in path:
        return False
    rel = PurePosixPath(path)
    return bool(rel.parts) and not rel.is_absolute() and ".." not in rel.parts and "." not in path.split("/")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="a./\\\0é \n", max_size=10))
def test_the_path_check_agrees_with_the_general_one(path: str) -> None:
    assert is_safe_relative(path) == reference_is_safe_relative(path)


@pytest.mark.parametrize("path", ["..", "../a", "a/..", "./a", "a/.", "a/./b", "/a", "a//b", "a/", "", ".", "...",
                                  "..a", "a/..b", ".a/b", "conventions/B01.docx"])
def test_the_path_check_on_edge_cases(path: str) -> None:
    assert is_safe_relative(path) == reference_is_safe_relative(path)


# --- The survey of the output folder ----------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Folders, files, links (to a folder, to a file, dangling), a file where a folder
    would be, a named pipe."""
    out = tmp_path / "sortie"
    (out / "a" / "b").mkdir(parents=True)
    (out / "a" / "f.docx").write_bytes(b"x")
    (out / "a" / "b" / "g.docx").write_bytes(b"y")
    (out / "plain").write_bytes(b"z")
    (tmp_path / "dehors").mkdir()
    (out / "lien").symlink_to(tmp_path / "dehors")
    (out / "a" / "lien.docx").symlink_to(out / "plain")
    (out / "a" / "casse").symlink_to(tmp_path / "absent")
    os.mkfifo(out / "a" / "tube")
    return out


RELS = ["a/f.docx", "a/b/g.docx", "a/b", "a", "plain", "plain/x", "plain/x/y", "lien", "lien/x", "lien/x/y",
        "a/lien.docx", "a/casse", "a/casse/x", "a/tube", "absent", "absent/x", "a/absent/x", "a/b/absent",
        "a//f.docx", "./a/f.docx", "a/./f.docx", "a/../plain", "/a", "a/", "",
        "n" * 300 + "/x", "a/" + "n" * 300, "a/" + "n" * 300 + "/x"]  # a name too long: the error said


def test_the_survey_finds_what_examine_finds(folder: Path) -> None:
    survey = outputdir.Survey(folder)
    for _round in range(2):  # the second round answers from what the first looked at
        for rel in RELS:
            assert survey.examine(rel) == outputdir._examine(folder, rel), rel
            assert survey.problem(rel) == outputdir.target_problem(folder, rel), rel


ROOT = Path(__file__).resolve().parent.parent
_CLOSED_FOLDER = """
import os, sys
from pathlib import Path
from dotation_docs import outputdir
folder = Path(sys.argv[1])
(folder / "a" / "b").mkdir(parents=True)
(folder / "a" / "f.docx").write_bytes(b"x")
os.chmod(folder / "a", 0)
survey = outputdir.Survey(folder)
for rel in ["a/f.docx", "a/b/g.docx", "a/b/c/d"]:
    found = survey.examine(rel)
    assert found == outputdir._examine(folder, rel), (rel, found)
    assert survey.problem(rel) == outputdir.target_problem(folder, rel), rel
    assert found is not None, rel
os.chmod(folder / "a", 0o755)
print("ok")
"""


def test_the_survey_says_when_a_folder_cannot_be_entered() -> None:
    """Run by an unprivileged user (root enters every folder): as ``nobody`` when the
    tests run as root."""
    command = [sys.executable, "-c", _CLOSED_FOLDER]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to run as an unprivileged user")
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    public = Path(tempfile.mkdtemp(prefix="dotation-survey-"))
    public.chmod(0o777)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(public)}
    try:
        probe = subprocess.run([*command[:-2], "-c", "import dotation_docs"], cwd=public, env=env,
                               capture_output=True, text=True, timeout=60)
        if probe.returncode != 0:
            pytest.skip(f"the unprivileged user cannot run this Python: {probe.stderr[-200:]}")
        done = subprocess.run([*command, str(public / "sortie")], cwd=public, capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.stdout == "ok\n", done.stderr[-2000:]
    finally:
        shutil.rmtree(public, ignore_errors=True)


def reference_make_parents(output: Path, rel: str) -> list[str]:
    created = []
    parts = PurePosixPath(rel).parts[:-1]
    for depth in range(1, len(parts) + 1):
        sub = PurePosixPath(*parts[:depth])
        path = output / sub
        if not path.is_dir():
            path.mkdir()
            created.append(sub.as_posix())
    return created


def test_folders_are_made_as_one_at_a_time_would(tmp_path: Path) -> None:
    rels = ["a/b/c.docx", "a/b/d.docx", "a/e.docx", "x.docx", "f/g/h/i.docx", "a/b/j/k.docx", "f/l.docx", "m/n"]
    (tmp_path / "one").mkdir()
    (tmp_path / "all").mkdir()
    (tmp_path / "one" / "f").mkdir()
    (tmp_path / "all" / "f").mkdir()
    expected = [d for rel in rels for d in reference_make_parents(tmp_path / "one", rel)]
    assert outputdir._make_parents(tmp_path / "all", rels) == expected
    assert sorted(p.relative_to(tmp_path / "all").as_posix() for p in (tmp_path / "all").rglob("*")) == sorted(
        p.relative_to(tmp_path / "one").as_posix() for p in (tmp_path / "one").rglob("*"))


# --- The overview's files per beneficiary -----------------------------------------------------


def reference_rows(dotation, found):
    """The files of each beneficiary as the page sorted them before: a scan per beneficiary."""
    rows = []
    for b in dotation.beneficiaries:
        mine = [f for f in found if f.beneficiary == b.identifier]
        conventions = [f for f in mine if overview._base_type(f.type) == DocumentType.CONVENTION]
        handovers = [f for f in mine if overview._base_type(f.type) == DocumentType.HANDOVER]
        others = [f for f in mine if f not in conventions and f not in handovers]
        rows.append((conventions, handovers, others))
    return rows


SAMPLE_MODEL = check_workbook(SAMPLE).dotation
IDS = [b.identifier for b in SAMPLE_MODEL.beneficiaries]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([*IDS, None, "B99"]),
                          st.sampled_from(["convention", "convention_pdf", "proces_verbal", "proces_verbal_pdf",
                                           "communique", "inconnu"]),
                          st.booleans()), max_size=40))
def test_the_overview_sorts_out_each_beneficiarys_files_as_a_scan_would(files) -> None:
    found = sorted({f"d/{i:03d}-{owner}.{kind}": overview.Listed(f"d/{i:03d}-{owner}.{kind}", kind, owner, present)
                    for i, (owner, kind, present) in enumerate(files)}.values(), key=lambda f: f.path)
    rows = overview._beneficiaries(overview._people(SAMPLE_MODEL), found)
    assert [(r.convention, r.handover, r.others) for r in rows] == reference_rows(SAMPLE_MODEL, found)
