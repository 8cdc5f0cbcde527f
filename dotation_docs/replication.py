"""A workbook replicated N times, for checks at scale (the national benchmark, the tests of
large batches): the tool itself never calls it.

Every beneficiary, device and invoice of a sample is repeated, the copies made unique the
way the validation requires (identifiers, names, invoice references, inventory and serial
numbers, IMEIs with their Luhn check digit), and the amounts the State granted scaled
alike, so that the copy is a valid workbook of the same operation N times larger.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet
from stdnum import luhn

from dotation_docs import schema

__all__ = ["columns", "replicate_workbook"]


def columns(ws: Worksheet, sheet: schema.Sheet) -> dict[str, int]:
    """Return field key → column index (0-based) of a table sheet, from the schema's labels."""
    header = [schema.normalize_label(str(c.value or "")) for c in ws[1]]
    return {f.key: header.index(schema.normalize_label(f.label)) for f in sheet.fields
            if schema.normalize_label(f.label) in header}


def replicate_workbook(sample: Path, copies: int) -> openpyxl.Workbook:
    """Return the workbook ``sample`` with its beneficiaries, devices and invoices repeated
    ``copies`` times in all (copy k: identifiers and references suffixed ``_000k`` /
    ``-000k``, names « … k »), and the amounts granted multiplied by ``copies``."""
    wb = openpyxl.load_workbook(sample)
    sheets = (schema.BENEFICIARIES, schema.DEVICES, schema.INVOICES)
    ben_ws, dev_ws, inv_ws = (wb[s.title] for s in sheets)
    ben, dev, inv = (columns(wb[s.title], s) for s in sheets)
    rows = {ws.title: [list(r) for r in ws.iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]
            for ws in (ben_ws, dev_ws, inv_ws)}
    serial = 0
    for k in range(1, copies):
        for row in rows[ben_ws.title]:
            new = list(row)
            new[ben["identifier"]] = f"{row[ben['identifier']]}_{k:04d}"
            new[ben["name"]] = f"{row[ben['name']]} {k}"
            ben_ws.append(new)
        for row in rows[inv_ws.title]:
            new = list(row)
            new[inv["reference"]] = f"{row[inv['reference']]}-{k:04d}"
            inv_ws.append(new)
        for row in rows[dev_ws.title]:
            serial += 1
            new = list(row)
            new[dev["inventory_number"]] = f"SYN-{serial:06d}"
            new[dev["serial_number"]] = f"SYN{serial:07d}"
            if "imei" in dev and row[dev["imei"]]:
                body = f"35{serial:012d}"
                new[dev["imei"]] = body + luhn.calc_check_digit(body)
            new[dev["invoice"]] = f"{row[dev['invoice']]}-{k:04d}"
            new[dev["beneficiary"]] = f"{row[dev['beneficiary']]}_{k:04d}"
            dev_ws.append(new)
    op_ws = wb[schema.OPERATION.title]
    for key in ("amount_granted", "forecast_eligible_expense", "other_funding"):
        label = schema.normalize_label(schema.OPERATION.field(key).label)
        for row in op_ws.iter_rows(min_row=2):
            if schema.normalize_label(str(row[0].value or "")) == label and row[1].value is not None:
                row[1].value = float(Decimal(str(row[1].value)) * copies)
    return wb
