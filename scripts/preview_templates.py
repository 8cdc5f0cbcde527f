#!/usr/bin/env python3
"""Preview the templates: render each one with a small operation built in code, check the
variables they use, convert the results to PDF and the PDF pages to PNG.

Usage::

    python scripts/preview_templates.py OUT_DIR [--templates DIR] [--no-pdf] [--rendu-outil]

OUT_DIR receives the rendered .docx/.html, ``pdf/`` and ``png/`` (60 dpi, one image per
page). The operation mirrors the reference case (Limoges Métropole, 3 February 2023: 121
devices, 36 151,25 € HT) with a hostile association name, an address on two lines and an
internal service; a second operation (« variante ») covers the other branches: gift,
capped subsidy, advances, no claim date, no delegate, no prefecture address.

Exits with status 1 when a template uses a variable its context does not provide, a
rendering fails, the hostile name is not printed literally or a PDF is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from docx import Document
from docxtpl import DocxTemplate
from jinja2 import meta
from slugify import slugify

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dotation_docs.context import (  # noqa: E402
    beneficiary_context,
    claim_context,
    convention_title,
    handover_title,
    press_context,
)
from dotation_docs.formatting import make_filters  # noqa: E402
from dotation_docs.funding import batch_funding, price_ttc  # noqa: E402
from dotation_docs.model import (  # noqa: E402
    Beneficiary,
    BeneficiaryKind,
    Category,
    Contact,
    ConventionKind,
    Device,
    Dotation,
    Invoice,
    Operation,
    RateBase,
)

HOSTILE_NAME = 'R&D <Quartiers> "Nord" {{ 7*7 }}'
TIMESTAMP = datetime(2023, 2, 3, 12, 0, tzinfo=timezone.utc)
SOFFICE_TIMEOUT = 300  # seconds

# Which context each template is rendered with.
BENEFICIARY, PRESS, CLAIM = "bénéficiaire", "communiqué", "demande"
TEMPLATE_KINDS = {
    "convention-mise-a-disposition.docx": BENEFICIARY,
    "convention-don.docx": BENEFICIARY,
    "proces-verbal-remise.docx": BENEFICIARY,
    "communique-de-presse.docx": PRESS,
    "communique-de-presse.html": PRESS,
    "demande-lettre.docx": CLAIM,
    "plan-de-financement.docx": CLAIM,
    "attestation-achevement.docx": CLAIM,
}


# --- the sample operation ------------------------------------------------------------------


def sample_operation() -> Operation:
    return Operation(
        title="Remise de matériel informatique reconditionné aux associations des quartiers prioritaires",
        programme=(
            "Programme de l'ANCT d'équipement en matériel informatique reconditionné pour la "
            "médiation numérique"
        ),
        authority_name="Limoges Métropole",
        authority_siret="24871931200017",
        authority_address="19 rue Bernard Palissy, 87031 Limoges Cedex 1",
        authority_representative_civility="Monsieur", authority_representative="Guillaume Guérin",
        authority_representative_title="Président de Limoges Métropole",
        delegate="Ibrahima Dia",
        delegate_title="conseiller communautaire délégué à la politique de la ville",
        prefecture="Préfecture de la Haute-Vienne",
        prefecture_address="1 rue de la Préfecture, 87031 Limoges Cedex 1",
        claim_addressee="Monsieur le Préfet de la Haute-Vienne",
        salutation="Monsieur le Préfet",
        state_representative="Olivier du Cray",
        state_representative_title="administrateur de l'État",
        handover_date=date(2023, 2, 3),
        handover_time=time(10, 30),
        handover_place="Mission Locale de l'Agglomération de Limoges",
        signature_town="Limoges",
        decision_reference="Arrêté préfectoral n° 87-2022-12-14-00012",
        decision_date=date(2022, 12, 14),
        deliberation_reference="n° 2022-11-24-15 du conseil communautaire",
        deliberation_date=date(2022, 11, 24),
        state_rate=Decimal("0.8"),
        rate_base=RateBase.HT,
        cap=None,
        advances=Decimal("0.00"),
        claim_date=date(2023, 3, 1),
        iban="FR7630001007941234567890185",
        bic="BDFEFRPPCCT",
        account_holder="Service de gestion comptable de Limoges Métropole",
        duration_months=36,
        convention_kind=ConventionKind.LOAN,
        convention_prefix="LM-2023-",
        court="tribunal administratif de Limoges",
        authority_press=Contact("Claire Martin", "05 55 45 79 00", "presse@limoges-metropole.fr"),
        prefecture_press=Contact(
            "Bureau de la communication interministérielle", "05 55 44 18 00",
            "pref-communication@haute-vienne.gouv.fr",
        ),
    )


def sample_beneficiaries() -> tuple[Beneficiary, ...]:
    def association(identifier, name, rna, siret, address, postcode, civility, person, title,
                    qpv_name, qpv_code, place):
        return Beneficiary(
            identifier=identifier, name=name, kind=BeneficiaryKind.ASSOCIATION, siret=siret,
            rna=rna, address=address, postcode=postcode, town="Limoges",
            representative_civility=civility, representative_name=person,
            representative_title=title, email=None, phone=None, qpv_name=qpv_name,
            qpv_code=qpv_code, place_of_use=place,
        )

    return (
        association("B01", HOSTILE_NAME, "W872001234", "81234567800015",
                    "Centre social du Val\n12 rue des Lilas", "87280", "Madame", "Awa Diallo",
                    "Présidente", "Beaubreuil", "QP087005",
                    "Centre social du Val, salle numérique, 12 rue des Lilas, 87280 Limoges"),
        association("B02", "Association Les Amis du Numérique", None, "80987654300021",
                    "4 place de la Bastide", "87000", "Monsieur", "Jean Dupont", "Président",
                    "Val de l'Aurence Sud", "QP087003", "Maison de quartier de l'Aurence"),
        association("B03", "Emmaüs Connect", "W751234567", "79876543200018",
                    "8 avenue du Général Leclerc", "87100", "Madame", "Sophie Bernard",
                    "Déléguée territoriale", "La Bastide", "QP087002", "Espace Emmaüs Connect"),
        association("B04", "Sport & Loisirs de l'Aurence", "W872009876", "82345678900012",
                    "21 rue de l'Aurence", "87100", "Monsieur", "Karim Benali", "Trésorier",
                    "Les Portes Ferrées", "QP087006", "Gymnase de l'Aurence, salle annexe"),
        Beneficiary(
            identifier="SRV", name="Direction de la cohésion sociale et de la politique de la ville",
            kind=BeneficiaryKind.AUTHORITY_SERVICE, siret=None, rna=None,
            address="19 rue Bernard Palissy", postcode="87031", town="Limoges Cedex 1",
            representative_civility="Monsieur", representative_name="Paul Martin",
            representative_title="Directeur", email=None, phone=None, qpv_name="Le Sablard",
            qpv_code="QP087001", place_of_use="Point numérique du Sablard",
        ),
    )


# category → (brand, model, unit HT, VAT rate, accessories, invoice), and per-beneficiary counts
DEVICE_SPECS = {
    Category.LAPTOP: ("Lenovo", "ThinkPad T480", Decimal("380.00"), "chargeur, housse", "F2023-0012"),
    Category.DESKTOP: ("Dell", "OptiPlex 7060", Decimal("350.00"),
                       "écran, clavier, souris, câble d'alimentation", "F2023-0012"),
    Category.TABLET: ("Samsung", "Galaxy Tab A7", Decimal("210.00"), "chargeur, coque", "F2023-0013"),
    Category.SMARTPHONE: ("Apple", "iPhone 8 64 Go", Decimal("227.55"), None, "F2023-0013"),
}
COUNTS = {  # 57 laptops, 5 desktops, 39 tablets, 20 smartphones: 36 151,25 € HT
    "B01": (16, 2, 14, 8),
    "B02": (12, 1, 8, 4),
    "B03": (12, 1, 8, 4),
    "B04": (10, 1, 6, 4),
    "SRV": (7, 0, 3, 0),
}
VAT = Decimal("0.20")


def _imei(n: int) -> str:
    body = f"35391508{n:06d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def sample_devices() -> tuple[Device, ...]:
    devices = []
    number = 0
    smartphones = 0
    for beneficiary, counts in COUNTS.items():
        for category, count in zip(Category, counts):
            brand, model, price, accessories, invoice = DEVICE_SPECS[category]
            for _ in range(count):
                number += 1
                imei = None
                if category is Category.SMARTPHONE:
                    smartphones += 1
                    imei = _imei(number)
                    if smartphones == 20:  # the last one is dearer: totals match the invoice
                        price = Decimal("227.80")
                condition = "reconditionné, bon état" if number % 9 else "reconditionné, rayure légère au dos"
                devices.append(Device(
                    inventory_number=f"LM-NUM-{number:04d}", category=category, brand=brand,
                    model=model, serial_number=f"{brand[:2].upper()}{202300000 + number * 7919}",
                    imei=imei, accessories=accessories if category is not Category.SMARTPHONE or number % 2
                    else "chargeur, coque", condition=condition, unit_price_ht=price, vat_rate=VAT,
                    unit_price_ttc=price_ttc(price, VAT), invoice=invoice, beneficiary=beneficiary,
                ))
    return tuple(devices)


def sample_invoices() -> tuple[Invoice, ...]:
    return (
        Invoice("F2023-0012", "Ateliers du Bocage", "85012345600027", date(2023, 1, 10),
                "Ordinateurs reconditionnés", Decimal("23410.00"), Decimal("4682.00"),
                Decimal("28092.00"), "M-2023-0154", date(2023, 1, 25)),
        Invoice("F2023-0013", "Reconnect Limousin", "88912345600019", date(2023, 1, 12),
                "Tablettes et smartphones reconditionnés", Decimal("12741.25"), Decimal("2548.25"),
                Decimal("15289.50"), None, None),
    )


def sample_dotation(variant: bool = False) -> Dotation:
    operation = sample_operation()
    if variant:
        operation = replace(
            operation, cap=Decimal("25000.00"), advances=Decimal("10000.00"), claim_date=None,
            delegate=None, delegate_title=None, prefecture_address=None, account_holder=None,
            convention_kind=ConventionKind.GIFT, handover_date=date(2023, 3, 1),
            handover_time=time(9, 0),
        )
    return Dotation(operation, sample_beneficiaries(), sample_devices(), sample_invoices())


# --- contexts ------------------------------------------------------------------------------


def documents(dotation: Dotation, suffix: str = "") -> list[tuple[str, str, dict[str, Any]]]:
    """Return (template, output name, context) for every document to preview."""
    funding = batch_funding(dotation)
    by_id = {b.identifier: b for b in dotation.beneficiaries}
    docs = []
    convention = (
        "convention-don.docx" if dotation.operation.convention_kind is ConventionKind.GIFT
        else "convention-mise-a-disposition.docx"
    )
    for identifier in ("B01", "B02"):
        b = by_id[identifier]
        ctx = beneficiary_context(dotation, funding, b, convention_title(dotation, b))
        docs.append((convention, f"{identifier}-{convention[:-5]}{suffix}", ctx))
    for identifier in ("B01", "SRV"):
        b = by_id[identifier]
        ctx = beneficiary_context(dotation, funding, b, handover_title(b))
        docs.append(("proces-verbal-remise.docx", f"{identifier}-proces-verbal-remise{suffix}", ctx))
    ctx = press_context(dotation, funding)
    docs.append(("communique-de-presse.docx", f"communique-de-presse{suffix}", ctx))
    docs.append(("communique-de-presse.html", f"communique-de-presse{suffix}", ctx))
    # file names shaped like the tool's (identifier, kind, slug of the name)
    files = {
        b.identifier: f"{b.identifier}-proces-verbal-{slugify(b.name, max_length=50, word_boundary=True)}.docx"
        for b in dotation.beneficiaries
    }
    for template, title in (
        ("demande-lettre.docx", "Demande de versement de la subvention"),
        ("plan-de-financement.docx", "Plan de financement définitif"),
        ("attestation-achevement.docx", "Attestation d'achèvement et de service fait"),
    ):
        ctx = claim_context(dotation, funding, title, files)
        docs.append((template, f"{template[:-5]}{suffix}", ctx))
    return docs


def allowed_variables() -> dict[str, set[str]]:
    """Return, per kind of context, the top-level variables it provides."""
    dotation = sample_dotation()
    funding = batch_funding(dotation)
    b = dotation.beneficiaries[0]
    return {
        BENEFICIARY: set(beneficiary_context(dotation, funding, b, "t")),
        PRESS: set(press_context(dotation, funding)),
        CLAIM: set(claim_context(dotation, funding, "t", {x.identifier: "f" for x in dotation.beneficiaries})),
    }


# --- rendering -----------------------------------------------------------------------------


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda v: "" if v is None else v,
    )
    env.filters.update(make_filters())
    return env


def render(template: Path, context: dict[str, Any], title: str, use_tool: bool) -> bytes:
    """Render the way the tool does: with ``dotation_docs.rendering.render`` when
    ``use_tool``, else with the same recipe written out here (docxtpl, autoescape,
    StrictUndefined, None printed empty, the French filters)."""
    if use_tool:
        from dotation_docs.rendering import render as tool_render

        return tool_render(template, context, title=title, timestamp=TIMESTAMP)
    env = environment()
    if template.suffix == ".html":
        return env.from_string(template.read_text(encoding="utf-8")).render(context).encode("utf-8")
    doc = DocxTemplate(template)
    doc.render(context, jinja_env=env, autoescape=True)
    doc.docx.core_properties.title = title
    out = tempfile.NamedTemporaryFile(suffix=".docx", delete=False)
    out.close()
    doc.save(out.name)
    data = Path(out.name).read_bytes()
    os.unlink(out.name)
    return data


def template_variables(template: Path) -> set[str]:
    env = environment()
    if template.suffix == ".html":
        return meta.find_undeclared_variables(env.parse(template.read_text(encoding="utf-8")))
    return DocxTemplate(template).get_undeclared_template_variables(env)


def docx_text(data: bytes) -> str:
    path = Path(tempfile.mkstemp(suffix=".docx")[1])
    try:
        path.write_bytes(data)
        doc = Document(path)
        parts = [p.text for p in doc.paragraphs]
        for table in doc.tables:
            for row in table.rows:
                parts.extend(cell.text for cell in row.cells)
        for section in doc.sections:
            parts.extend(p.text for p in section.footer.paragraphs)
        return "\n".join(parts)
    finally:
        path.unlink()


# --- conversion ----------------------------------------------------------------------------


def to_pdf(docx_files: list[Path], outdir: Path) -> None:
    """Convert every .docx to PDF in one LibreOffice call (own profile, own HOME)."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-home-") as home:
        env = {**os.environ, "HOME": home}
        command = [
            "soffice", "--headless", "-env:UserInstallation=file:///tmp/lo-profile-preview",
            "--convert-to", "pdf", "--outdir", str(outdir), *map(str, docx_files),
        ]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            _, stderr = process.communicate(timeout=SOFFICE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.communicate()
            raise SystemExit("soffice: délai dépassé")
        if stderr.strip():
            print(stderr.decode(errors="replace"), file=sys.stderr)


def to_png(pdf: Path, outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    prefix = outdir / pdf.stem
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(prefix)], check=True)
    return sorted(outdir.glob(f"{pdf.stem}-*.png"))


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="dossier de sortie")
    parser.add_argument("--templates", type=Path, default=ROOT / "templates")
    parser.add_argument("--no-pdf", action="store_true", help="ne pas convertir en PDF/PNG")
    parser.add_argument(
        "--rendu-outil", action="store_true",
        help="rendre avec dotation_docs.rendering.render plutôt qu'avec la recette locale",
    )
    args = parser.parse_args(argv)
    out: Path = args.output
    for sub in ("pdf", "png"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    allowed = allowed_variables()
    for name, kind in TEMPLATE_KINDS.items():
        path = args.templates / name
        used = template_variables(path)
        extra = used - allowed[kind]
        print(f"{name}: {', '.join(sorted(used))}")
        if extra:
            problems.append(f"{name}: variables inconnues pour un contexte « {kind} » : {sorted(extra)}")

    docx_files = []
    for variant, suffix in ((False, ""), (True, "-variante")):
        for template, stem, context in documents(sample_dotation(variant), suffix):
            path = args.templates / template
            target = out / f"{stem}{path.suffix}"
            try:
                data = render(path, context, context["document"]["titre"], args.rendu_outil)
            except Exception as err:  # report every failing template, then stop
                problems.append(f"{target.name}: {type(err).__name__}: {err}")
                continue
            target.write_bytes(data)
            text = data.decode("utf-8") if path.suffix == ".html" else docx_text(data)
            uses_hostile = "B01" in stem or "communique" in stem or "attestation" in stem
            literal = HOSTILE_NAME if path.suffix != ".html" else (
                'R&amp;D &lt;Quartiers&gt; &#34;Nord&#34; {{ 7*7 }}'
            )
            if uses_hostile and literal not in text:
                problems.append(f"{target.name}: le nom {HOSTILE_NAME!r} n'est pas imprimé tel quel")
            if path.suffix == ".docx":
                docx_files.append(target)

    if not args.no_pdf and docx_files:
        to_pdf(docx_files, out / "pdf")
        for docx_file in docx_files:
            pdf = out / "pdf" / f"{docx_file.stem}.pdf"
            if not pdf.is_file() or pdf.stat().st_size == 0:
                problems.append(f"{pdf.name}: PDF absent")
                continue
            pages = to_png(pdf, out / "png")
            print(f"{pdf.name}: {len(pages)} page(s)")

    for problem in problems:
        print(f"PROBLÈME – {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
