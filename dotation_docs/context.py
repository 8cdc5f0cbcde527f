"""Template context: the one place that defines the variables templates may use.

Each ``*_context`` function returns a plain ``dict`` for one document. Values stay raw
(``Decimal`` amounts, ``date`` dates): templates format them with the filters of
:mod:`dotation_docs.formatting`. ``docs/modeles.md`` documents these names and a test
checks that every variable the templates use exists here.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from decimal import Decimal
from typing import Any

from dotation_docs.formatting import (
    amount_in_words,
    format_amount,
    format_list,
    format_percent,
    format_quantity,
    format_whole_euros,
    of_place,
    typographic_apostrophes,
)
from dotation_docs.funding import (
    AUTHORITY_MIN_SHARE,
    DeviceTotals,
    Funding,
    batch_totals,
    beneficiary_totals,
    financing_plan,
    invoice_eligible,
    signed_on_claim_date,
    to_whole_euros,
    unpaid_invoices,
)
from dotation_docs.model import (
    Beneficiary,
    Contact,
    ConventionKind,
    Device,
    Dotation,
    Invoice,
    Operation,
    RateBase,
    TerritoryKind,
)

Context = dict[str, Any]
APOSTROPHE = "\u2019"  # typographic apostrophe, as in the templates
NBSP = "\u00a0"

# The French names of the operation's main funding amounts (``totaux.*`` in templates,
# ``totaux`` in the manifest), in their order: attribute of :class:`Funding` → name.
FUNDING_NAMES: dict[str, str] = {
    "ht": "ht",
    "vat": "tva",
    "ttc": "ttc",
    "eligible": "eligible",
    "state_share": "part_etat",
    "authority_share": "part_collectivite",
    "advances": "acomptes",
    "claimed": "montant_demande",
}

# Template variables renamed, old dotted name → new one. The old names still work (the
# context keeps them as aliases) so that an agent's own templates keep rendering;
# ``dotation modeles`` flags a template that uses them.
DEPRECATED_VARIABLES: dict[str, str] = {
    # ``totaux_beneficiaire.ttc`` (the value of a beneficiary's devices) read like
    # ``totaux.ttc`` (the operation's invoices): the devices' figures say what they are.
    "totaux_beneficiaire": "materiel_beneficiaire",
    "totaux_beneficiaire.nombre": "materiel_beneficiaire.nombre",
    "totaux_beneficiaire.categories": "materiel_beneficiaire.categories",
    "totaux_beneficiaire.quantites": "materiel_beneficiaire.quantites",
    "totaux_beneficiaire.ht": "materiel_beneficiaire.valeur_ht",
    "totaux_beneficiaire.tva": "materiel_beneficiaire.valeur_tva",
    "totaux_beneficiaire.ttc": "materiel_beneficiaire.valeur_ttc",
    "totaux_beneficiaire.avec_imei": "materiel_beneficiaire.avec_imei",
    # Issue #11: a beneficiary serves a territory of a kind (QPV, ZRR, FRR), no longer a
    # QPV only. Every beneficiary (``beneficiaires[]``, ``associations[]``… too) keeps the
    # old keys.
    "beneficiaire.qpv_nom": "beneficiaire.territoire.nom",
    "beneficiaire.qpv_code": "beneficiaire.territoire.code",
}
# The old keys of a beneficiary, kept inside each beneficiary: old key → key of ``territoire``.
_BENEFICIARY_OLD_KEYS = {"qpv_nom": "nom", "qpv_code": "code"}


def funding_amounts(funding: Funding) -> dict[str, Decimal]:
    """Return the operation's main funding amounts under their French names
    (:data:`FUNDING_NAMES`, in that order): the names of ``totaux`` in the templates
    and in the manifest."""
    return {name: getattr(funding, attribute) for attribute, name in FUNDING_NAMES.items()}

# Workbook text that reads as French prose (names, titles, addresses, places, free
# paragraphs) is printed with typographic apostrophes, like the templates' own words. The
# one list of those fields; every other text (identifiers, references of decisions,
# délibérations, invoices and delegations, e-mail addresses, phone numbers, IBAN/BIC,
# SIRET, RNA, serial, IMEI and inventory numbers, convention prefixes) stays as typed.
PROSE_FIELDS: dict[type, tuple[str, ...]] = {
    Operation: (
        "title", "programme", "authority_name", "authority_address", "authority_representative",
        "authority_representative_title", "delegate", "delegate_title", "prefecture",
        "prefecture_address", "claim_addressee", "salutation", "state_representative",
        "state_representative_title", "handover_place", "signature_town", "account_holder",
        "court", "signatory_function", "other_funders", "accounting_office", "accountant_title",
        "case_officer", "context", "objectives",
        "authority_press", "prefecture_press",  # contacts: their prose fields below
    ),
    Contact: ("name",),
    Beneficiary: (
        "name", "address", "town", "representative_name", "representative_title", "territory_name",
        "place_of_use", "gift_category",
    ),
    Device: ("brand", "model", "accessories", "condition"),
    Invoice: ("supplier", "description"),
}


# The gift categories of the workbook (short labels, schema.GIFT_CATEGORIES) in the words of
# CG3P art. L3212-2 3° (as amended by loi n° 2022-217, art. 178), for a contract to print.
GIFT_CATEGORY_WORDS: dict[str, str] = {
    "association de parents d'élèves": "association de parents d’élèves",
    "association de soutien scolaire": "association de soutien scolaire",
    "association reconnue d'utilité publique": "association reconnue d’utilité publique",
    "organisme de réemploi agréé ESUS": (
        "organisme de réutilisation et de réemploi agréé « entreprise solidaire d’utilité "
        "sociale » en application du II de l’article L. 3332-17-1 du code du travail"
    ),
    "association d'intérêt général (précarité)": (
        "association reconnue d’intérêt général dont l’objet statutaire est d’équiper, de former "
        "et d’accompagner des personnes en situation de précarité"
    ),
    "association d'étudiants": "association d’étudiants",
}
# The categories that may resell the devices to people in precarious situations at a
# solidarity price (L3212-2 3°, last sentence); every other body may not sell them at all.
SOLIDARITY_RESALE_CATEGORIES = frozenset({
    "association reconnue d'utilité publique",
    "association d'intérêt général (précarité)",
})


def gift_category_words(category: str | None) -> str | None:
    """Return the statute's words for the gift ``category`` (a short label of the workbook),
    with no-break spaces inside the guillemets; None when there is no category. An unknown
    label is returned as typed, apostrophes made typographic."""
    if category is None:
        return None
    words = GIFT_CATEGORY_WORDS.get(category, typographic_apostrophes(category))
    return words.replace("« ", "«\u00a0").replace(" »", "\u00a0»").replace("L. ", "L.\u00a0")


def typeset(item: Any) -> Any:
    """Return a copy of ``item`` (an :class:`Operation`, :class:`Contact`,
    :class:`Beneficiary`, :class:`Device` or :class:`Invoice`) whose prose fields
    (:data:`PROSE_FIELDS`) have typographic apostrophes; other fields are kept as typed."""
    changes = {}
    for name in PROSE_FIELDS[type(item)]:
        value = getattr(item, name)
        if isinstance(value, str):
            typeset_value = typographic_apostrophes(value)
        elif type(value) in PROSE_FIELDS:
            typeset_value = typeset(value)
        else:
            continue
        if typeset_value is not value:
            changes[name] = typeset_value
    # (Frozen, compared by value: the item itself when nothing changes, as a copy would be.)
    return dataclasses.replace(item, **changes) if changes else item

def convention_number(dotation: Dotation, beneficiary: Beneficiary) -> str | None:
    """Return the convention number of ``beneficiary`` (prefix + identifier), or None
    for the authority's own service, which signs no convention."""
    if not beneficiary.signs_convention:
        return None
    return f"{dotation.operation.convention_prefix}{beneficiary.identifier}"


def _contact(contact: Contact) -> Context:
    return {"nom": contact.name, "telephone": contact.phone, "courriel": contact.email}


@functools.lru_cache(maxsize=1024, typed=True)
def _quantity_text(count: int, singular: str, plural: str) -> str:
    """``57\u00a0ordinateurs portables``: remembered, a batch counting the same few
    categories for every beneficiary (Babel formats a number slowly)."""
    return format_quantity(count, singular, plural, space=NBSP)


def _quantities(totals: DeviceTotals) -> Context:
    """Return the counts of ``totals``: ``nombre``, ``categories``, ``quantites``."""
    categories = [
        {
            "libelle_singulier": c.category.singular,
            "libelle_pluriel": c.category.plural,
            "nombre": c.count,
            "texte": _quantity_text(c.count, c.category.singular, c.category.plural),
        }
        for c in totals.by_category
        if c.count
    ]
    return {
        "nombre": totals.count,
        "categories": categories,
        "quantites": format_list(c["texte"] for c in categories),
    }


def _devices_of(dotation: Dotation, beneficiary: Beneficiary) -> Context:
    """Return ``materiel_beneficiaire``: what the beneficiary receives, counted, and
    its value from the devices' unit prices (not from the invoices)."""
    devices = dotation.devices_of(beneficiary)
    totals = beneficiary_totals(dotation, beneficiary)
    return {
        **_quantities(totals),
        "valeur_ht": totals.ht,
        "valeur_tva": totals.vat,
        "valeur_ttc": totals.ttc,
        # the convention's annex has an IMEI column only when a device has an IMEI
        "avec_imei": any(d.imei for d in devices),
    }


def _deprecated_aliases(context: Context) -> Context:
    """Return the old names of :data:`DEPRECATED_VARIABLES` that ``context`` can fill:
    each old group holds the values of its new one under the old names."""
    groups: Context = {}
    for old, new in DEPRECATED_VARIABLES.items():
        old_group, _, old_name = old.partition(".")
        new_group, _, new_name = new.partition(".")
        # A key renamed inside its group (``beneficiaire.qpv_nom``) is kept by the group
        # itself (see _beneficiary); only renamed groups are built here.
        if old_name and old_group != new_group and new_group in context:
            groups.setdefault(old_group, {})[old_name] = context[new_group][new_name]
    return groups


def _beneficiary(dotation: Dotation, b: Beneficiary) -> Context:
    category = b.gift_category
    b = typeset(b)
    territory = territory_context(b.territory_kind, b.territory_name, b.territory_code)
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
        "territoire": territory,
        # Old names (DEPRECATED_VARIABLES), kept so that an agent's templates still render.
        **{old: territory[new] for old, new in _BENEFICIARY_OLD_KEYS.items()},
        "lieu_utilisation": b.place_of_use,
        "numero_convention": convention_number(dotation, b),
        "nombre_materiels": len(dotation.devices_of(b)),
        "categorie_don": b.gift_category,
        "categorie_don_texte": gift_category_words(category),
        "revente_solidaire": category in SOLIDARITY_RESALE_CATEGORIES,
    }


def _device(number: int, d: Device) -> Context:
    d = typeset(d)
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
    i = typeset(i)
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
        "payee": i.is_paid,
    }


def common_context(dotation: Dotation, funding: Funding) -> Context:
    """Return the variables every document may use: ``operation``, ``collectivite``,
    ``etat``, ``totaux``, ``beneficiaires`` and ``associations``."""
    op = typeset(dotation.operation)
    totals = _quantities(batch_totals(dotation))
    # Invoices are the source of truth for money; device sums are checked against them
    # by the validation.
    totals.update(funding_amounts(funding))
    totals.update(
        {
            "taux_etat": funding.rate,
            "taux_collectivite": 1 - funding.rate,
            "part_etat_sur_ttc": funding.state_share_of_ttc,
            "part_collectivite_sur_ttc": financing_plan(dotation, funding).authority_share_of_cost,
            "assiette": funding.rate_base.value,
            "part_etat_calculee": funding.computed_state_share,
            "plafond": funding.cap,
            "est_plafonne": funding.is_capped,
            "part_etat_euros": funding.state_share_euros,
            "part_collectivite_euros": funding.authority_share_euros,
            "ttc_euros": funding.ttc_euros,
        }
    )
    equipped = [b for b in dotation.beneficiaries if dotation.devices_of(b)]
    served = {b.identifier: _beneficiary(dotation, b) for b in equipped}
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
            "decision_reforme": op.reform_decision,
            "tribunal": op.court,
            "iban": op.iban,
            "bic": op.bic,
            "titulaire_compte": op.account_holder,
            "contexte": op.context,
            "objectifs": op.objectives,
        },
        "collectivite": {
            **authority_names(op.authority_name),
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
            "signataire_fonction": signatory_function(op),
            "delegation_reference": op.delegation_reference,
            "conventions_par_delegue": op.conventions_signed_by_delegate,
            "comptable_poste": op.accounting_office,
            "comptable_qualite": op.accountant_title,
            "affaire_suivie_par": {
                "nom": op.case_officer,
                "telephone": op.case_officer_phone,
                "courriel": op.case_officer_email,
            },
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
        # Beneficiaries without devices get no document and are named nowhere. An association
        # is the same dict in both lists (templates cannot change a dict: the sandbox).
        "beneficiaires": list(served.values()),
        "associations": [served[b.identifier] for b in dotation.associations if b.identifier in served],
        "services": [served[b.identifier] for b in dotation.authority_services if b.identifier in served],
        "territoires": territories_context([b.territory_kind for b in equipped],
                                          [(b.territory_kind, b.territory_code) for b in equipped]),
        "financement": financing_context(dotation, funding),
        "signatures": signatures_context(op),
        "officiels": officials_context(op),
    }


def _document(title: str) -> Context:
    """Return ``document.titre``: ``title`` as the footers print it, a no-break space
    after « n° » (the file's title property keeps the plain title)."""
    return {"document": {"titre": re.sub(r"\b([nN]°) ", rf"\1{NBSP}", title)}}


def beneficiary_context(
    dotation: Dotation, funding: Funding, beneficiary: Beneficiary, title: str,
    common: Context | None = None,
) -> Context:
    """Return the context of a document about one beneficiary (convention or handover
    record): the common variables (``common`` when already built for this job) plus
    ``beneficiaire``, ``materiels`` and ``materiel_beneficiaire`` (and its old name,
    see :data:`DEPRECATED_VARIABLES`)."""
    return {
        **(common or common_context(dotation, funding)),
        **_document(title),
        **_own_context(dotation, beneficiary),
    }


_LAST_OWN: list[tuple[Dotation, Beneficiary, Context]] = []


def _own_context(dotation: Dotation, beneficiary: Beneficiary) -> Context:
    """Return the variables about ``beneficiary`` alone (``beneficiaire``, ``materiels``,
    ``materiel_beneficiaire`` and their old names). The last result is remembered: a
    beneficiary's convention and handover record are planned one after the other, and
    share these variables (the same objects: the renderer prepares them once). The
    model is frozen, and contexts are never modified (the sandbox forbids templates to)."""
    if _LAST_OWN and _LAST_OWN[0][0] is dotation and _LAST_OWN[0][1] is beneficiary:
        return _LAST_OWN[0][2]
    devices = dotation.devices_of(beneficiary)
    own = {
        "beneficiaire": _beneficiary(dotation, beneficiary),
        "materiels": [_device(n, d) for n, d in enumerate(devices, start=1)],
        "materiel_beneficiaire": _devices_of(dotation, beneficiary),
    }
    own.update(_deprecated_aliases(own))
    _LAST_OWN[:] = [(dotation, beneficiary, own)]
    return own


def convention_title(dotation: Dotation, beneficiary: Beneficiary) -> str:
    """Return the document title of the convention of ``beneficiary``."""
    kind = dotation.operation.convention_kind.value
    name = typographic_apostrophes(beneficiary.name)
    return f"Convention de {kind} n° {convention_number(dotation, beneficiary)} – {name}"


def handover_title(beneficiary: Beneficiary) -> str:
    """Return the document title of the handover record of ``beneficiary``: the heading
    the record prints (an authority's own service receives by internal assignment)."""
    kind = "remise de matériel" if beneficiary.signs_convention else "remise et d'affectation interne de matériel"
    return typographic_apostrophes(f"Procès-verbal de {kind} – {beneficiary.name}")


def press_context(dotation: Dotation, funding: Funding, common: Context | None = None) -> Context:
    """Return the context of the press release (common variables only)."""
    return {
        **(common or common_context(dotation, funding)),
        **_document(f"Communiqué de presse – {typographic_apostrophes(dotation.operation.title)}"),
    }


def invitation_context(dotation: Dotation, funding: Funding, common: Context | None = None) -> Context:
    """Return the context of the press invitation (common variables only)."""
    return {
        **(common or common_context(dotation, funding)),
        **_document(f"Invitation presse – {typographic_apostrophes(dotation.operation.title)}"),
    }


def claim_context(
    dotation: Dotation, funding: Funding, title: str, handover_files: dict[str, str],
    common: Context | None = None,
) -> Context:
    """Return the context of a subsidy-claim document: the common variables plus
    ``demande``, ``factures`` and ``proces_verbaux`` (``handover_files`` maps a
    beneficiary identifier to its handover record's file name)."""
    op = dotation.operation
    # Never present an unsigned record as signed: the certificate marks those not signed on its date.
    records = [b for b in dotation.beneficiaries if b.identifier in handover_files]
    signed = {b.identifier: signed_on_claim_date(b.handover_signed_on, op.claim_date) for b in records}
    # ... and the conventions it cites by their number (a service signs none)
    conventions = {b.identifier: signed_on_claim_date(b.convention_signed_on, op.claim_date)
                   for b in records if b.signs_convention}
    return {
        **(common or common_context(dotation, funding)),
        **_document(typographic_apostrophes(title)),  # the titles of CLAIM_FILES, in words
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
            "acomptes_neant": not funding.advances,
            "montant_attribue": op.amount_granted,
            "depense_previsionnelle": op.forecast_eligible_expense,
            "montant_du": funding.claimed,
            "cout_final": funding.ttc,
            "cout_final_ht": funding.ht,
            "date_premier_achat": min((i.date for i in dotation.invoices), default=None),
            "date_achevement": op.handover_date,
            "factures_payees": not unpaid_invoices(dotation),
            "proces_verbaux_non_signes": sum(not s for s in signed.values()),
            "proces_verbaux_signes": sum(signed.values()),
            "nombre_conventions": len(conventions),
            "conventions_non_signees": sum(not s for s in conventions.values()),
        },
        "factures": [_invoice(n, i, funding) for n, i in enumerate(dotation.invoices, start=1)],
        "proces_verbaux": [
            {
                **_beneficiary(dotation, b),
                "date": op.handover_date,
                "fichier": handover_files[b.identifier],
                "signe": signed[b.identifier],
                "convention_signee": conventions.get(b.identifier),
            }
            for b in records
        ],
    }


# --- served territories (issue #11) ------------------------------------------------------

# Per kind: the label of the handover record's table, the collective noun phrase (plural, no
# article), the same with the acronym, its short form (headlines), and the phrase that
# qualifies a commune.
_TERRITORY_WORDS: dict[TerritoryKind, dict[str, str]] = {
    TerritoryKind.QPV: {
        "intitule": "Quartier prioritaire",
        "ensemble": "quartiers prioritaires de la politique de la ville",
        "ensemble_sigle": "quartiers prioritaires de la politique de la ville (QPV)",
        "court": "quartiers prioritaires",
    },
    TerritoryKind.ZRR: {
        "intitule": "Commune (ZRR)",
        "ensemble": "communes classées en zone de revitalisation rurale",
        "ensemble_sigle": "communes classées en zone de revitalisation rurale (ZRR)",
        "classement": "classée en zone de revitalisation rurale",
    },
    TerritoryKind.FRR: {
        "intitule": "Commune (FRR)",
        "ensemble": "communes classées en zone France Ruralités Revitalisation",
        "ensemble_sigle": "communes classées en zone France Ruralités Revitalisation (FRR)",
        "classement": "classée en zone France Ruralités Revitalisation",
    },
}


def territory_context(kind: TerritoryKind, name: str, code: str) -> Context:
    """Return ``beneficiaire.territoire``: the served territory's kind, label, name and code,
    and the phrases the documents print about it (« des habitants du quartier prioritaire
    Beaubreuil (QP087005) », « des habitants de la commune de Vasles (code INSEE 79340),
    classée en zone de revitalisation rurale »)."""
    words = _TERRITORY_WORDS[kind]
    if kind.is_rural:
        designation = f"{name} (code INSEE{NBSP}{code})"
        habitants = f"des habitants de la commune {of_place(designation)}, {words['classement']}"
        short = f"commune {of_place(name)}"
    else:
        designation = f"{name} ({code})"
        habitants = f"des habitants du quartier prioritaire {designation}"
        short = f"quartier {name}"
    return {
        "type": kind.value,
        "libelle": kind.label,
        "nom": name,
        "code": code,
        "est_qpv": not kind.is_rural,
        "est_rural": kind.is_rural,
        "intitule": words["intitule"],
        "designation": designation,
        "court": short,
        "habitants": habitants,
        "ensemble": f"des {words['ensemble']}",
    }


def territories_context(
    kinds: list[TerritoryKind], places: list[tuple[TerritoryKind, str]] | None = None,
) -> Context:
    """Return ``territoires``: the kinds of territory the operation serves, in the order
    QPV, ZRR, FRR, and the phrases that name them all, for one kind or a mix (« les quartiers
    prioritaires de la politique de la ville », « les communes classées en zone de
    revitalisation rurale », « les quartiers prioritaires et les communes rurales (ZRR) »);
    with ``places`` (each served beneficiary's territory kind and code), how many distinct
    quartiers and communes are served (the press release counts them in a large batch)."""
    places = places or []
    present = [k for k in TerritoryKind if k in kinds] or [TerritoryKind.QPV]
    rural = [k for k in present if k.is_rural]
    parts: list[tuple[str, str, str]] = []  # (noun phrase, with acronyms, short)
    if TerritoryKind.QPV in present:
        w = _TERRITORY_WORDS[TerritoryKind.QPV]
        parts.append((w["ensemble"], w["ensemble_sigle"], w["court"]))
    if rural:
        acronyms = " et ".join(k.value for k in rural)
        parts.append((
            "communes classées en " + " ou en ".join(
                _TERRITORY_WORDS[k]["ensemble"].removeprefix("communes classées en ") for k in rural),
            "communes classées en " + " ou en ".join(
                _TERRITORY_WORDS[k]["ensemble_sigle"].removeprefix("communes classées en ") for k in rural),
            f"communes rurales ({acronyms})",
        ))
    return {
        "types": [k.value for k in present],
        "est_mixte": len(parts) > 1,
        "a_qpv": TerritoryKind.QPV in present,
        "a_rural": bool(rural),
        "formule": " et ".join(f"les {p[0]}" for p in parts),
        "formule_sigle": " et ".join(f"les {p[1]}" for p in parts),
        "des": " et ".join(f"des {p[0]}" for p in parts),
        "des_court": " et ".join(f"des {p[2]}" for p in parts),
        "formule_courte": " et ".join(f"les {p[2]}" for p in parts),
        "nombre_quartiers": len({code for kind, code in places if not kind.is_rural}),
        "nombre_communes": len({code for kind, code in places if kind.is_rural}),
    }


# --- the authority's name in a sentence ---------------------------------------------------

# First words of an authority's name that call for an article: « la Communauté de communes
# du … », « le Syndicat mixte … ». A name such as « Limoges Métropole » takes none.
_FEMININE_HEADS = ("communauté", "métropole", "eurométropole", "commune", "ville", "région",
                   "collectivité", "agglomération")
_MASCULINE_HEADS = ("syndicat", "département", "conseil", "pôle", "établissement", "centre", "pays")
_TYPED_ARTICLES = ("la ", "le ", "les ", "l'", "l\u2019")


def authority_names(name: str) -> Context:
    """Return the authority's name as sentences need it: ``nom`` (as headings print it),
    ``article``, ``le_nom`` (« la Communauté de communes du … », « Limoges Métropole »),
    ``du_nom`` (« de la Communauté … », « du Syndicat … », « de Limoges Métropole ») and
    ``au_nom`` (« à la Communauté … », « au Syndicat … »). The article comes from the first
    word (« Communauté », « Syndicat »…), or from a lower-case article typed before the name
    (« le Grand Poitiers »)."""
    article = ""
    for typed in _TYPED_ARTICLES:
        if name.startswith(typed):  # lower case only: « La Rochelle … » is a proper name
            article, name = typed.replace("'", APOSTROPHE), name[len(typed):].lstrip()
            name = name[:1].upper() + name[1:]
            break
    else:
        head = name.split(" ", 1)[0].casefold()
        if head in _FEMININE_HEADS or head in _MASCULINE_HEADS:
            if _starts_with_vowel(name):
                article = f"l{APOSTROPHE}"
            else:
                article = "la " if head in _FEMININE_HEADS else "le "
    noun = f"{article}{name}"
    folded = noun.casefold()
    if folded.startswith("le "):  # « au Syndicat … », « au Mans Métropole »
        to = f"au {noun[3:]}"
    elif folded.startswith("les "):
        to = f"aux {noun[4:]}"
    else:
        to = f"à {noun}"
    return {"nom": name, "article": article, "le_nom": noun, "du_nom": of_place(noun), "au_nom": to}


# --- signatories ---------------------------------------------------------------------------

_ARTICLES = ("le ", "la ", "les ", "l'", "l\u2019")


def _starts_with_vowel(text: str) -> bool:
    first = unicodedata.normalize("NFD", text[:1])[:1].casefold()
    return first in "aeiouy" and first != ""


def with_article(function: str, civility: str | None) -> str:
    """Return ``function`` headed by its definite article: « L’ » before a vowel, else
    « La » for Madame and « Le » for Monsieur (no article when the civility is unknown);
    a function typed with its article keeps it (straight apostrophe made typographic)."""
    text = function.strip()
    folded = text.casefold()
    for article in _ARTICLES:
        if folded.startswith(article):
            head = text[: len(article)].replace("'", APOSTROPHE)
            return head[:1].upper() + head[1:] + text[len(article):]
    if _starts_with_vowel(text):
        return f"L{APOSTROPHE}{text}"
    if civility == "Madame":
        return f"La {text}"
    if civility == "Monsieur":
        return f"Le {text}"
    return text[:1].upper() + text[1:]


def signatory_function(op: Operation) -> str:
    """Return the function that heads the representative's signature, with its article:
    « Le Président de Limoges Métropole » (from « Fonction du signataire », else the
    representative's title)."""
    return with_article(op.signatory_function or op.authority_representative_title,
                        op.authority_representative_civility)


def delegation_mention(op: Operation) -> str:
    """Return « Pour le Président et par délégation » (the head word of the signatory's
    function, with the article of :func:`with_article`)."""
    headed = signatory_function(op)
    if headed.startswith(f"L{APOSTROPHE}"):
        article, rest = f"l{APOSTROPHE}", headed[2:]
    elif headed[:3] in ("Le ", "La "):
        article, rest = headed[:3].lower(), headed[3:]
    else:
        article, rest = "", headed
    head = rest.split()[0] if rest.split() else rest
    return f"Pour {article}{head} et par délégation"


def _signature(heading: str | None, name: str, title: str, delegated: bool, act: str | None) -> Context:
    if delegated:
        formula = f"{heading}, {name}, {title}"
    elif heading:
        formula = f"{heading}, {name}"
    else:
        formula = f"{name}, {title}"
    return {
        "entete": heading,
        "nom": name,
        "qualite": title,
        "par_delegation": delegated,
        "acte": act if delegated else None,
        "formule": formula,
    }


def signatures_context(op: Operation) -> Context:
    """Return who signs each document for the authority: ``convention``,
    ``proces_verbal`` and ``demande`` (see :func:`_signature` for the keys)."""
    representative = _signature(signatory_function(op), op.authority_representative,
                                op.authority_representative_title, False, None)
    delegated = bool(op.delegate and op.delegation_reference)
    if delegated:
        by_delegation = _signature(delegation_mention(op), op.delegate or "", op.delegate_title or "",
                                   True, op.delegation_reference)
    else:
        by_delegation = None
    if by_delegation is not None:
        handover = by_delegation
    elif op.delegate:  # as before delegations were recorded: the delegate signs, no mention
        handover = _signature(None, op.delegate, op.delegate_title or "", False, None)
    else:
        handover = representative
    convention = by_delegation if by_delegation is not None and op.conventions_signed_by_delegate else representative
    return {"convention": convention, "proces_verbal": handover, "demande": representative}


def officials_context(op: Operation) -> list[Context]:
    """Return the officials the workbook says attend the handover, in protocol order: the
    State's representative, then the delegate, or the authority's representative when
    there is no delegate (the person who hands the devices over). The invitation and the
    press release name the same people; the authority's representative is not said to
    attend when a delegate hands the devices over."""
    officials = [
        {"nom": op.state_representative, "qualite": op.state_representative_title,
         "institution": op.prefecture, "est_etat": True},
    ]
    if op.delegate:
        officials.append({"nom": op.delegate, "qualite": op.delegate_title or "",
                          "institution": op.authority_name, "est_etat": False})
    else:
        officials.append({"nom": op.authority_representative, "qualite": op.authority_representative_title,
                          "institution": op.authority_name, "est_etat": False})
    return officials


# --- financing ----------------------------------------------------------------------------


def _base_words(base: RateBase) -> str:
    return f"du montant {base.value}"


def _rest_description(funding: Funding, has_others: bool = False) -> str:
    """Return what the authority pays, in words, when it pays all that the State does not:
    the part of the base the State leaves plus the VAT when the base is HT (e.g. « 20 % du
    montant HT et la TVA »); empty when other funders pay part of it (the rest is then no
    simple part of the base)."""
    if has_others:
        return ""
    vat = funding.rate_base is RateBase.HT and funding.vat > 0
    if funding.is_capped:
        part = f"la part {_base_words(funding.rate_base)} que l{APOSTROPHE}État ne finance pas"
    elif funding.rate < 1:
        part = f"{format_percent(1 - funding.rate)} {_base_words(funding.rate_base)}"
    else:
        part = ""
    if part and vat:
        return f"{part} et la TVA"
    return part or ("la TVA" if vat else "")


def _rate_and_base(funding: Funding, amount: str, granted: str) -> str:
    # « (36 151,25 € HT) »: a line never starts with « HT ».
    text = f"{format_percent(funding.rate)} {_base_words(funding.rate_base)} ({amount}{NBSP}{funding.rate_base.value})"
    if funding.is_capped:
        text += f", dans la limite de la subvention attribuée ({granted})"
    return text


def _rest_phrase(description: str, amount: str) -> str:
    return f"le reste, soit {description}, {amount}" if description else f"le reste, soit {amount}"


def others_designation(names: str | None) -> str:
    """Return the other funders of the operation as prose names them, without guessing
    their article: « l’autre financeur de l’opération (Région Nouvelle-Aquitaine) », or
    « les autres financeurs de l’opération (…) » when ``names`` lists several (a comma, a
    semicolon, « et » or « / »)."""
    if not names:
        return f"les autres financeurs de l{APOSTROPHE}opération"
    plural = re.search(r"[,;/]| et ", names) is not None
    head = "les autres financeurs" if plural else f"l{APOSTROPHE}autre financeur"
    return f"{head} de l{APOSTROPHE}opération ({names})"


def financing_context(dotation: Dotation, funding: Funding) -> Context:
    """Return the ``financement`` variables: the final financing plan (forecast beside
    actual), the amount due, and ready-made French phrases built from the workbook's rate,
    base and amount granted (never a hard-coded rate)."""
    op = typeset(dotation.operation)
    plan = financing_plan(dotation, funding)
    has_others = op.other_funding is not None
    # What the authority pays: TTC − State − other funders (funding.py's rules); in whole
    # euros, the truncated TTC minus the truncated shares, so that the printed parts add
    # up to the printed total.
    rest = funding.authority_share
    rest_euros = funding.authority_share_euros
    description = _rest_description(funding, has_others)
    return {
        "cout_total": funding.ttc,
        "cout_total_ht": funding.ht,
        "tva": funding.vat,
        "depense_eligible": funding.eligible,
        "depense_previsionnelle": op.forecast_eligible_expense,
        "a_previsionnel": op.forecast_eligible_expense is not None,
        "montant_attribue": op.amount_granted,
        "taux_etat": funding.rate,
        "assiette": funding.rate_base.value,
        "part_etat_calculee": funding.computed_state_share,
        "part_etat": funding.state_share,
        "est_plafonne": funding.is_capped,
        "part_etat_pourcentage": plan.state_share_of_cost,
        "autres_financeurs": op.other_funders,
        "autres_financements": op.other_funding,
        "autres_financements_euros": to_whole_euros(op.other_funding) if has_others else None,
        "autres_designation": others_designation(op.other_funders) if has_others else None,
        "autres_neant": not has_others,
        "autres_pourcentage": plan.other_funding_of_cost if has_others else None,
        "part_collectivite": plan.authority_share,
        "part_collectivite_pourcentage": plan.authority_share_of_cost,
        "part_collectivite_suffisante": plan.authority_share_of_cost >= AUTHORITY_MIN_SHARE,
        "acomptes": funding.advances,
        "acomptes_neant": not funding.advances,
        "montant_du": funding.claimed,
        "reste": rest,
        "reste_euros": rest_euros,
        "reste_description": description,
        "texte_taux_assiette": _rate_and_base(funding, format_amount(funding.eligible),
                                              format_amount(op.amount_granted)),
        "texte_taux_assiette_euros": _rate_and_base(funding, format_whole_euros(funding.eligible),
                                                    format_whole_euros(op.amount_granted)),
        "texte_reste": _rest_phrase(description, format_amount(rest)),
        "texte_reste_euros": _rest_phrase(description, format_whole_euros(rest_euros)),
    }
