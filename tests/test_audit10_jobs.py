"""Audit of issue #10: a worker's error reaches the user as the same French message as
with one process, also when several documents fail.

workers.run_parallel starts the "heavy" documents (HTML, the expense statement, the
pages) first, and every process stops at the first failure it meets: when one of them
fails too, the first failing Word document may never be reached. The error said must
still be the first in plan order's, as with ``-j 1`` (found by the audit: ``-j 2`` said
the HTML press release's error while ``-j 1`` said the convention's).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLE

from dotation_docs import pipeline
from dotation_docs.documents import Renderer
from dotation_docs.exceptions import TemplateError
from dotation_docs.pipeline import generate_batch


def test_the_first_failing_document_in_plan_order_is_reported_when_a_heavy_one_fails_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pipeline._DocumentRenderer.render
    first_word: dict[str, int] = {}

    def failing(self, index: int) -> bytes:  # type: ignore[no-untyped-def]
        doc = self.docs[index]
        words = [i for i, d in enumerate(self.docs) if d.kind is Renderer.WORD]
        heavy = [i for i, d in enumerate(self.docs) if d.kind is not Renderer.WORD]
        assert words and heavy and words[0] < min(heavy)  # the Word document comes first in plan order
        first_word["index"] = words[0]
        if index == words[0] or doc.kind is not Renderer.WORD:
            raise TemplateError(f"échec du document {index}")
        return real(self, index)

    monkeypatch.setattr(pipeline._DocumentRenderer, "render", failing)
    messages = {}
    for jobs in (1, 2):
        with pytest.raises(TemplateError) as caught:
            generate_batch(SAMPLE, tmp_path / f"sortie{jobs}", jobs=jobs)
        messages[jobs] = str(caught.value)
    assert messages[1] == f"échec du document {first_word['index']}"
    assert messages[2] == messages[1]
