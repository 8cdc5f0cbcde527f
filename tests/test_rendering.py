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
