"""PSC's userinfo claims, built from a directory ``Professional`` (reference §4.1–4.2, §10).

Pure functions: no database writes, no Flask; the caller passes the professional (with its
practices loaded) and the facts of the authentication.

Choices, each what a relying party written against the real PSC expects:

- Two shapes (``fidelity.userinfo_shape``, per client ``userinfo_shape``):

  ``2024`` (the default), PSC's current userinfo as in the sandbox sample of a BAS identity created
  2023-11-22 (``ad2ien/prosante-connect-synapse-module:tests/test_mapping.py``): top-level
  ``codeCivilite`` and ``codeGenreActivite``, ``SubjectRefPro`` holding only ``exercices``, no
  ``authMode``. The keys come in the sample's order, which is the iteration order of the Java
  ``HashMap`` Keycloak's UserInfoEndpoint fills (32 buckets; computed from ``String.hashCode``,
  it reproduces the sample exactly). Top-level ``codeGenreActivite`` is the genre of the same
  first active activity that gives ``SubjectOrganization`` (inferred: the sample has one
  activity, whose own ``codeGenreActivite`` is kept and equal).

  ``2023``: the Feb-2023 BAS capture (§4.2): ``SubjectRefPro.codeCivilite``, ``authMode``, keys
  in the capture's order.
- ``scope_all`` is the scope that makes PSC return the sector identity (reference §3). With it
  the document has exactly the keys of the chosen shape's sample. Without it psc-idp returns a
  minimal identity: ``sub``, ``SubjectNameID``, ``preferred_username``, ``given_name`` and
  ``family_name`` (what PSC's Keycloak sends for its default ``profile``-like scopes; RPs that
  forget ``scope_all`` see at once that exercices are missing).
- ``email_verified`` is not sent. The 2023 capture has no such claim; only an older published
  sample had ``false``. PSC gives no reliable e-mail, and the professional's contact data
  (``contact_email``, ``contact_mobile``) are never published, in any scope.
- ``SubjectOrganization``/``SubjectOrganizationID`` and ``Secteur_Activite`` describe the first
  active activity of the first practice that has one, in directory order; ``""`` when there is
  none. ``SubjectRole`` lists the professions of practices with an active activity,
  deduplicated, in directory order.
- Ended activities are not published, as the Annuaire Santé drops ended situations. A practice
  whose activities have all ended is still listed with ``"activities": []``: the exercice is the
  professional's registration (profession, title, specialty), which remains while they are
  registered, and an RP iterating exercices/activities simply finds no situation to pick
  (behaviour of the real PSC for this case is unverified).
- Absent values are ``""``, never null (verified in the capture).
- Structure staff (CPE, CPA, CDE holders: no RPPS, national id ``3``+FINESS or ``5``+SIRET,
  ``/``, card id) get the same documents: ``SubjectNameID``/``preferred_username`` their
  national id, their one ``exercice`` with ``codeProfession: ""`` (verified: PSC shows a CPE
  holder so, reference §10) and their structure as the activity, ``SubjectOrganization`` and
  ``SubjectOrganizationID``. Inferred, unverified: ``SubjectRole`` lists no entry for an empty
  profession (``[]`` for staff: a ``"^1.2.250.1.213.1.1.5.5"`` entry would name no
  profession); ``otherIds`` names the identifier type as ``origine`` (``FINESS`` as in
  psc-ps-api's alternative ids, ``SIRET`` by analogy); ``codeCategorieProfessionnelle`` is ``""``.
- ADELI holders (``0`` + ADELI) and EDIT test identities (``ANS…``) get the same documents with
  their national id as ``SubjectNameID``/``preferred_username`` and ``otherIds`` origine
  ``ADELI``/``EDIT``; a person with stored identifiers gets them all (``other_ids``).
- Several situations come in directory order: practices by registration, then their activities;
  ``codeRole`` and ``codeGenreActivite`` are each activity's own (the top-level 2024
  ``codeGenreActivite`` is the first active activity's). RPs must pick a situation themselves:
  the demo persona ``810099900325`` has an ``exercices[0]`` that is not the one they want.
- RPPS+ "professions" (312–330, 353) are TRE_R85 codes; ``SubjectRole`` still writes them with
  PSC's profession OID (``<code>^1.2.250.1.213.1.1.5.5``) like any ``codeProfession``: how PSC
  shows them is unverified (docs/psc-compatibility.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..directory.national_id import identifier_origin
from ..directory.nomenclature import (
    PALIER_AUTHENTIFICATION,
    PSI_LOCALE,
    sector_claim,
    subject_role,
)

if TYPE_CHECKING:
    from ..directory.models import Activity, Practice, Professional

SCOPE_ALL = "scope_all"
RPPS_ORIGIN = "RPPS"
SHAPE_2024 = "2024"
SHAPE_2023 = "2023"
SHAPES = (SHAPE_2024, SHAPE_2023)

KEY_ORDER_2024 = (
    "Secteur_Activite", "sub", "codeGenreActivite", "SubjectOrganization", "Mode_Acces_Raison",
    "preferred_username", "codeCivilite", "given_name", "Acces_Regulation_Medicale",
    "UITVersion", "Palier_Authentification", "SubjectRefPro", "SubjectOrganizationID",
    "SubjectRole", "PSI_Locale", "otherIds", "SubjectNameID", "family_name",
)
"""The 2024 sample's key order: Keycloak's claims ``HashMap`` iterated (see the module doc).
Without ``scope_all`` the five identity claims fit a 16-bucket map, whose order is the one
``minimal_identity`` already uses."""


def subject(professional: Professional, federation_id: str) -> str:
    """Keycloak's federated ``sub``: ``f:<federation id>:<national id>``.

    In Keycloak the middle part is the id of the user-storage provider, so it is the same for
    every professional of a deployment (``oidc.federation_id`` in the settings).
    """
    return f"f:{federation_id}:{professional.national_id}"


def other_ids(professional: Professional) -> list[dict[str, Any]]:
    """``otherIds``: ``{identifiant, origine, qualite}``, ``qualite`` an integer (capture).

    A person's stored identifiers (``professional.other_ids``: RPPS, ADELI, FINESS, PSI with
    quality 2, EDIT…, as psc-ps-api's ``alternativeIds``), in their stored order. A person with
    none stored gets one derived from the national id, as before issue 14: its origin is the
    identity's source (``RPPS`` for ``8…``, ``ADELI`` for ``0…``, ``EDIT`` for the ``ANS…`` test
    identities as in the 2024 sample, ``FINESS``/``SIRET`` for structure staff — the last two
    unverified for PSC)."""
    stored = professional.other_ids
    if stored:
        return [{"identifiant": o.identifier, "origine": o.origin, "qualite": int(o.quality)}
                for o in stored]
    origin = identifier_origin(professional.national_id)
    return [{"identifiant": professional.national_id, "origine": origin, "qualite": 1}]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _activity_claims(activity: Activity) -> dict[str, str]:
    structure = activity.structure
    return {
        "codeModeExercice": _text(activity.mode_code),
        "codeSecteurDactivite": _text(activity.sector_code or structure.sector_code),
        "codeSectionPharmacien": _text(activity.pharmacist_section_code),
        "codeRole": _text(activity.role_code),
        "codeGenreActivite": _text(activity.activity_kind_code),
        "numeroSiretSite": _text(structure.siret),
        "numeroSirenSite": _text(structure.siren),
        "numeroFinessSite": _text(structure.finess_site),
        "numeroFinessetablissementJuridique": _text(structure.finess_legal),
        "identifiantTechniqueDeLaStructure": _text(structure.technical_id),
        "raisonSocialeSite": _text(structure.name),
        "enseigneCommercialeSite": _text(structure.trade_name),
        "complementDestinataire": _text(structure.addressee_complement),
        "complementPointGeographique": _text(structure.geo_complement),
        "numeroVoie": _text(structure.street_number),
        "indiceRepetitionVoie": _text(structure.street_repeat),
        "codeTypeDeVoie": _text(structure.street_type),
        "libelleVoie": _text(structure.street_name),
        "mentionDistribution": _text(structure.distribution),
        "bureauCedex": _text(structure.cedex_office),
        "codePostal": _text(structure.postal_code),
        "codeCommune": _text(structure.commune_code),
        "codePays": _text(structure.country_code),
        "telephone": _text(structure.phone),
        "telephone2": _text(structure.phone2),
        "telecopie": _text(structure.fax),
        "adresseEMail": _text(structure.email),
        "codeDepartement": _text(structure.department_code),
        "ancienIdentifiantDeLaStructure": _text(structure.former_id),
        "autoriteDenregistrement": _text(structure.registration_authority),
    }


def _practice_claims(professional: Professional, practice: Practice) -> dict[str, Any]:
    return {
        "codeProfession": _text(practice.profession_code),
        "codeCategorieProfessionnelle": _text(practice.category_code),
        "codeCiviliteDexercice": _text(practice.practice_civility_code),
        # The exercise name is always filled in the RPPS; fall back on the civil name.
        "nomDexercice": _text(practice.practice_family_name or professional.family_name),
        "prenomDexercice": _text(practice.practice_given_name or professional.given_name),
        "codeTypeSavoirFaire": _text(practice.expertise_type_code),
        "codeSavoirFaire": _text(practice.expertise_code),
        "activities": [_activity_claims(a) for a in practice.active_activities],
    }


def _first_active_activity(professional: Professional) -> Activity | None:
    for practice in professional.practices:
        for activity in practice.active_activities:
            return activity
    return None


def _subject_roles(professional: Professional) -> list[str]:
    roles: list[str] = []
    for practice in professional.practices:
        # staff practise no profession (codeProfession ""): nothing to name
        if practice.active_activities and practice.profession_code:
            role = subject_role(practice.profession_code)
            if role not in roles:
                roles.append(role)
    return roles


def minimal_identity(professional: Professional, *, sub: str) -> dict[str, Any]:
    """The identity every scope gets: sub, national id and civil names."""
    return {
        "sub": sub,
        "SubjectNameID": professional.national_id,
        "preferred_username": professional.national_id,
        "given_name": _text(professional.given_name),
        "family_name": _text(professional.family_name),
    }


def build_userinfo(professional: Professional, *, sub: str, auth_mode: str,
                   scopes: Iterable[str], shape: str = SHAPE_2024) -> dict[str, Any]:
    """PSC's userinfo document for ``professional`` in ``shape`` (``2024`` or ``2023``).

    ``scopes`` is the granted scope set; a space-separated scope string is split, so passing a
    token's ``scope`` claim as is cannot silently drop ``scope_all``. ``auth_mode`` is only
    published by the 2023 shape.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown userinfo shape {shape!r}")
    userinfo = minimal_identity(professional, sub=sub)
    granted = set(scopes.split()) if isinstance(scopes, str) else set(scopes)
    if SCOPE_ALL not in granted:
        return userinfo
    first = _first_active_activity(professional)
    if first is not None:
        sector = first.sector_code or first.structure.sector_code
        organization = _text(first.structure.name)
        organization_id = _text(first.structure.technical_id)
        genre = _text(first.activity_kind_code)
    else:
        sector = organization = organization_id = genre = ""
    exercices = [_practice_claims(professional, p) for p in professional.practices]
    # the sector claims both shapes share, in the 2023 capture's order
    userinfo.update({
        "Secteur_Activite": sector_claim(_text(sector)),
        "SubjectOrganization": organization,
        "SubjectOrganizationID": organization_id,
        "SubjectRole": _subject_roles(professional),
        "Mode_Acces_Raison": "",
        "Acces_Regulation_Medicale": "FAUX",
        "UITVersion": "1.0",
    })
    if shape == SHAPE_2024:
        userinfo.update({
            "Palier_Authentification": PALIER_AUTHENTIFICATION, "PSI_Locale": PSI_LOCALE,
            "otherIds": other_ids(professional),
            "codeCivilite": _text(professional.civility_code), "codeGenreActivite": genre,
            "SubjectRefPro": {"exercices": exercices},
        })
        return {key: userinfo[key] for key in KEY_ORDER_2024}
    userinfo.update({
        "authMode": auth_mode,
        "Palier_Authentification": PALIER_AUTHENTIFICATION, "PSI_Locale": PSI_LOCALE,
        "otherIds": other_ids(professional),
        "SubjectRefPro": {"codeCivilite": _text(professional.civility_code),
                          "exercices": exercices},
    })
    return userinfo
