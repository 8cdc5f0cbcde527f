"""Template context: the one place that defines the variables templates may use.

Each ``*_context`` function returns a plain ``dict`` for one document. Values stay raw
(``Decimal`` amounts, ``date`` dates): templates format them with the filters of
:mod:`dotation_docs.formatting`. ``docs/modeles.md`` documents these names and a test
checks that every variable the templates use exists here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dotation_docs.formatting import amount_in_words, format_list, format_quantity
from dotation_docs.funding import DeviceTotals, Funding, device_totals, invoice_eligible
from dotation_docs.model import Beneficiary, Contact, ConventionKind, Device, Dotation, Invoice

Context = dict[str, Any]

def convention_number(dotation: Dotation, beneficiary: Beneficiary) -> str | None:
    """Return the convention number of ``beneficiary`` (prefix + identifier), or None
    for the authority's own service, which signs no convention."""
    if not beneficiary.signs_convention:
        return None
    return f"{dotation.operation.convention_prefix}{beneficiary.identifier}"


def _contact(contact: Contact) -> Context:
    return {"nom": contact.name, "telephone": contact.phone, "courriel": contact.email}


def _quantities(totals: DeviceTotals) -> Context:
    categories = [
        {
            "libelle_singulier": c.category.singular,
            "libelle_pluriel": c.category.plural,
            "nombre": c.count,
            "texte": format_quantity(c.count, c.category.singular, c.category.plural),
        }
        for c in totals.by_category
        if c.count
    ]
    return {
        "nombre": totals.count,
        "categories": categories,
        "quantites": format_list(c["texte"] for c in categories),
        "ht": totals.ht,
        "tva": totals.vat,
        "ttc": totals.ttc,
    }


def _beneficiary(dotation: Dotation, b: Beneficiary) -> Context:
    return {
        "identifiant": b.identifier,
        "nom": b.name,
        "type": b.kind.value,
        "est_association": b.signs_convention,
        "siret": b.siret,
        "rna": b.rna,
        "adresse": b.address,
        "code_postal": b.postcode,
        "ville": b.town,
        "civilite": b.representative_civility,
        "representant": b.representative_name,
        "qualite": b.representative_title,
        "courriel": b.email,
        "telephone": b.phone,
        "qpv_nom": b.qpv_name,
        "qpv_code": b.qpv_code,
        "lieu_utilisation": b.place_of_use,
        "numero_convention": convention_number(dotation, b),
        "nombre_materiels": len(dotation.devices_of(b)),
    }


def _device(number: int, d: Device) -> Context:
    return {
        "numero": number,
        "categorie": d.category.singular,
        "marque": d.brand,
        "modele": d.model,
        "designation": f"{d.brand} {d.model}",
        "numero_serie": d.serial_number,
        "imei": d.imei,
        "numero_inventaire": d.inventory_number,
        "accessoires": d.accessories,
        "etat": d.condition,
        "prix_ht": d.unit_price_ht,
        "taux_tva": d.vat_rate,
        "prix_ttc": d.unit_price_ttc,
        "facture": d.invoice,
    }


def _invoice(number: int, i: Invoice, funding: Funding) -> Context:
    return {
        "numero": number,
        "reference": i.reference,
        "fournisseur": i.supplier,
        "siret_fournisseur": i.supplier_siret,
        "date": i.date,
        "objet": i.description,
        "ht": i.amount_ht,
        "tva": i.vat,
        "ttc": i.amount_ttc,
        "eligible": invoice_eligible(i, funding.rate_base),
        "mandat": i.mandate_number,
        "date_paiement": i.payment_date,
    }


def common_context(dotation: Dotation, funding: Funding) -> Context:
    """Return the variables every document may use: ``operation``, ``collectivite``,
    ``etat``, ``totaux``, ``beneficiaires`` and ``associations``."""
    op = dotation.operation
    totals = _quantities(device_totals(dotation.devices))
    totals.update(
        {
            # Invoices are the source of truth for money; device sums are checked
            # against them by the validation.
            "ht": funding.ht,
            "tva": funding.vat,
            "ttc": funding.ttc,
            "eligible": funding.eligible,
            "taux_etat": funding.rate,
            "taux_collectivite": 1 - funding.rate,
            "part_etat_sur_ttc": funding.state_share_of_ttc,
            "part_collectivite_sur_ttc": 1 - funding.state_share_of_ttc if funding.ttc else Decimal(0),
            "assiette": funding.rate_base.value,
            "part_etat_calculee": funding.computed_state_share,
            "part_etat": funding.state_share,
            "part_collectivite": funding.authority_share,
            "plafond": funding.cap,
            "est_plafonne": funding.is_capped,
            "acomptes": funding.advances,
            "montant_demande": funding.claimed,
            "part_etat_euros": funding.state_share_euros,
            "part_collectivite_euros": funding.authority_share_euros,
            "ttc_euros": funding.ttc_euros,
        }
    )
    return {
        "operation": {
            "titre": op.title,
            "programme": op.programme,
            "date_remise": op.handover_date,
            "heure_remise": op.handover_time,
            "lieu_remise": op.handover_place,
            "lieu_signature": op.signature_town,
            "decision_reference": op.decision_reference,
            "decision_date": op.decision_date,
            "deliberation_reference": op.deliberation_reference,
            "deliberation_date": op.deliberation_date,
            "duree_mois": op.duration_months,
            "type_convention": op.convention_kind.value,
            "est_don": op.convention_kind is ConventionKind.GIFT,
            "tribunal": op.court,
            "iban": op.iban,
            "bic": op.bic,
            "titulaire_compte": op.account_holder,
        },
        "collectivite": {
            "nom": op.authority_name,
            "siret": op.authority_siret,
            "adresse": op.authority_address,
            "representant_civilite": op.authority_representative_civility,
            "representant": op.authority_representative,
            "representant_qualite": op.authority_representative_title,
            "elu_delegue": op.delegate,
            "elu_delegue_qualite": op.delegate_title,
            # Who hands the devices over: the delegate when there is one.
            "signataire_remise": op.delegate or op.authority_representative,
            "signataire_remise_qualite": (
                op.delegate_title if op.delegate else op.authority_representative_title
            ),
            "contact_presse": _contact(op.authority_press),
        },
        "etat": {
            "prefecture": op.prefecture,
            "adresse": op.prefecture_address,
            "destinataire": op.claim_addressee,
            "formule_appel": op.salutation,
            "representant": op.state_representative,
            "representant_qualite": op.state_representative_title,
            "contact_presse": _contact(op.prefecture_press),
        },
        "totaux": totals,
        # Beneficiaries without devices get no document and are named nowhere.
        "beneficiaires": [_beneficiary(dotation, b) for b in dotation.beneficiaries if dotation.devices_of(b)],
        "associations": [_beneficiary(dotation, b) for b in dotation.associations if dotation.devices_of(b)],
    }


def _document(title: str) -> Context:
    return {"document": {"titre": title}}


def beneficiary_context(
    dotation: Dotation, funding: Funding, beneficiary: Beneficiary, title: str,
    common: Context | None = None,
) -> Context:
    """Return the context of a document about one beneficiary (convention or handover
    record): the common variables (``common`` when already built for this job) plus
    ``beneficiaire``, ``materiels`` and ``totaux_beneficiaire``."""
    devices = dotation.devices_of(beneficiary)
    return {
        **(common or common_context(dotation, funding)),
        **_document(title),
        "beneficiaire": _beneficiary(dotation, beneficiary),
        "materiels": [_device(n, d) for n, d in enumerate(devices, start=1)],
        "totaux_beneficiaire": _quantities(device_totals(devices)),
    }


def convention_title(dotation: Dotation, beneficiary: Beneficiary) -> str:
    """Return the document title of the convention of ``beneficiary``."""
    kind = dotation.operation.convention_kind.value
    return f"Convention de {kind} n° {convention_number(dotation, beneficiary)} – {beneficiary.name}"


def handover_title(beneficiary: Beneficiary) -> str:
    """Return the document title of the handover record of ``beneficiary``."""
    return f"Procès-verbal de remise de matériel – {beneficiary.name}"


def press_context(dotation: Dotation, funding: Funding, common: Context | None = None) -> Context:
    """Return the context of the press release (common variables only)."""
    return {
        **(common or common_context(dotation, funding)),
        **_document(f"Communiqué de presse – {dotation.operation.title}"),
    }


def claim_context(
    dotation: Dotation, funding: Funding, title: str, handover_files: dict[str, str],
    common: Context | None = None,
) -> Context:
    """Return the context of a subsidy-claim document: the common variables plus
    ``demande``, ``factures`` and ``proces_verbaux`` (``handover_files`` maps a
    beneficiary identifier to its handover record's file name)."""
    op = dotation.operation
    return {
        **(common or common_context(dotation, funding)),
        **_document(title),
        "demande": {
            "date": op.claim_date,
            "montant": funding.claimed,
            "montant_lettres": amount_in_words(funding.claimed),
            "eligible": funding.eligible,
            "taux": funding.rate,
            "assiette": funding.rate_base.value,
            "part_calculee": funding.computed_state_share,
            "part_etat": funding.state_share,
            "plafond": funding.cap,
            "est_plafonne": funding.is_capped,
            "acomptes": funding.advances,
        },
        "factures": [_invoice(n, i, funding) for n, i in enumerate(dotation.invoices, start=1)],
        "proces_verbaux": [
            {
                **_beneficiary(dotation, b),
                "fichier": handover_files[b.identifier],
            }
            for b in dotation.beneficiaries
            if b.identifier in handover_files
        ],
    }
