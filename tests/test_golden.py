"""Golden outputs: the text of every document generated from the sample workbook.

A change to a template, the context or the formatting shows up as a readable diff of
``tests/golden/``. After checking the diff, regenerate with::

    pytest tests/test_golden.py --update-golden
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from conftest import SAMPLE, TEMPLATES, docx_text

from dotation_docs.pipeline import generate_batch

GOLDEN = Path(__file__).parent / "golden"


def readable(path: Path) -> str:
    """The text of a generated file, stable across library versions."""
    if path.suffix == ".docx":
        return docx_text(path) + "\n"
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path).active
        rows = ["\t".join("" if v is None else str(v) for v in row) for row in ws.iter_rows(values_only=True)]
        return "\n".join(r.rstrip("\t") for r in rows) + "\n"
    if path.name == "manifeste.json":
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["classeur"]["sha256"] = "…"
        for d in manifest["documents"]:
            d["sha256"] = "…"  # bytes depend on library versions; the text is checked above
        return json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return path.read_text(encoding="utf-8")


def golden_name(relative: Path) -> str:
    return relative.as_posix().replace("/", "__") + ".txt"


def test_documents_match_the_golden_text(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    output = tmp_path / "output"
    generate_batch(SAMPLE, output, TEMPLATES)
    produced = {
        golden_name(p.relative_to(output)): readable(p) for p in sorted(output.rglob("*")) if p.is_file()
    }
    if request.config.getoption("--update-golden"):
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.glob("*.txt"):
            old.unlink()
        for name, text in produced.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in sorted(GOLDEN.glob("*.txt"))}
    assert sorted(produced) == sorted(expected), "regenerate: pytest tests/test_golden.py --update-golden"
    for name, text in produced.items():
        assert text == expected[name], f"{name} differs; check the diff, then --update-golden"
