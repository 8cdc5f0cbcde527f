#!/usr/bin/env python3
"""A stand-in for LibreOffice's ``soffice --convert-to pdf`` (tests of the PDF wiring,
without LibreOffice): logs each call (its arguments, one JSON line, to
``$FAKE_SOFFICE_LOG``) and writes, for each input, a one-page A4 PDF whose text is
``FAKE <sha256 of the input> PDF|PDFA``. ``$FAKE_SOFFICE_FAIL``: ``all`` writes no PDF,
a number N skips the Nth input, ``hang`` sleeps after writing (to be interrupted)."""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

args = sys.argv[1:]
log = os.environ.get("FAKE_SOFFICE_LOG")
if log:
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(args) + "\n")
outdir = Path(args[args.index("--outdir") + 1])
pdf_filter = args[args.index("--convert-to") + 1]
inputs = args[args.index("--outdir") + 2:]
fail = os.environ.get("FAKE_SOFFICE_FAIL", "")
for number, name in enumerate(inputs, start=1):
    if fail == "all" or fail == str(number):
        continue
    digest = hashlib.sha256(Path(name).read_bytes()).hexdigest()
    text = f"FAKE {digest} {'PDFA' if 'SelectPdfVersion' in pdf_filter else 'PDF'}"
    content = f"BT /F1 10 Tf 40 800 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    (outdir / (Path(name).stem + ".pdf")).write_bytes(bytes(out))
if fail == "hang":
    time.sleep(600)
