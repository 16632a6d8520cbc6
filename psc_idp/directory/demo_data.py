"""The demo directory: fake structures and personas covering what relying parties must handle.

Plain data only (no database code); ``loader.load_demo_directory`` writes it. Field names are the
column names of ``models.py`` so the same shape serves as the JSON file format operators load
with ``psc-idp`` (see ``as_directory_document``); an activity names its structure by technical id.

Everything here is invented: RPPS numbers are built with ``make_rpps`` from bodies starting with
``100999`` (stable across runs), FINESS numbers use ANS's test style with a ``B`` in second place
(``0B…``/``1B…``, no real département), e-mail addresses use the reserved ``.test`` domain, phone
numbers the ARCEP ranges reserved for fiction (01 99 00 xx xx) and unallocated mobiles
(+33 6 00 00 00 xx). Registration authorities (``autoriteDenregistrement``) of structures other
than the capture's two are plausible values, unverified.

Card holders beyond the CPS: ``DEMO_PROFESSIONALS`` are RPPS identities (CPS, and the CPF of an
intern); ``DEMO_STAFF`` are structure staff without RPPS (CPE, CPA, CDE holders), identified by
``3``+FINESS or ``5``+SIRET, ``/`` and a card id, with an empty profession (``codeProfession:
""`` as PSC shows them, reference §10). ``DEMO_CARD_HOLDERS`` names the card type each demo
holder gets. The staff are kept apart so the RPPS personas' invariants (valid ``100999…``
numbers, a profession from TRE_G15) keep holding; ``ALL_DEMO_PERSONAS`` has everyone.

Other identity kinds (issue 14), kept apart for the same reason in ``DEMO_OTHER_IDENTITIES``:
an ADELI holder (``0`` + ADELI) and an EDIT test identity (``ANS…``, as the 2024 sandbox
sample). ``DEMO_PROFESSIONALS`` also gained a student (category E), a person with several
``otherIds`` (RPPS, ADELI, PSI), a three-situation persona whose ``exercices[0]`` is not the
one an RP wants, an RPPS+ professional and a person who left the directory (``ended_on``).
``IDENTITY_KINDS`` names one persona per kind, for tests and docs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from .national_id import make_rpps, national_id_from_rpps


@dataclass(frozen=True)
class StructureData:
    """One ``Structure`` row; see the column docs in ``models.py``."""

    technical_id: str
    name: str
    trade_name: str = ""
    finess_site: str = ""
    finess_legal: str = ""
    siret: str = ""
    siren: str = ""
    sector_code: str = ""
    addressee_complement: str = ""
    geo_complement: str = ""
    street_number: str = ""
    street_repeat: str = ""
    street_type: str = ""
    street_name: str = ""
    distribution: str = ""
    cedex_office: str = ""
    postal_code: str = ""
    commune_code: str = ""
    country_code: str = "99000"
    department_code: str = ""
    phone: str = ""
    phone2: str = ""
    fax: str = ""
    email: str = ""
    former_id: str = ""
    registration_authority: str = ""


@dataclass(frozen=True)
class ActivityData:
    """A practice situation; ``structure`` is the structure's technical id."""

    structure: str
    mode_code: str = ""
    sector_code: str = ""
    pharmacist_section_code: str = ""
    role_code: str = ""
    activity_kind_code: str = ""
    started_on: date | None = None
    ended_on: date | None = None


@dataclass(frozen=True)
class OtherIdData:
    """One ``otherIds`` entry: identifier, origin (RPPS, ADELI, FINESS, SIRET, PSI, EDIT…) and
    quality (1, or 2 for a PSI UUID)."""

    identifier: str
    origin: str
    quality: int = 1


@dataclass(frozen=True)
class PracticeData:
    """An ``exercice``: a profession, its specialty and the situations where it is practised."""

    profession_code: str
    category_code: str = "C"
    practice_civility_code: str = ""
    practice_family_name: str = ""
    practice_given_name: str = ""
    expertise_type_code: str = ""
    expertise_code: str = ""
    activities: tuple[ActivityData, ...] = ()


@dataclass(frozen=True)
class ProfessionalData:
    """A persona: civil status, contact data (never in claims) and practices.

    ``rpps`` is None for structure staff (CPE/CPA/CDE holders), who are identified by
    ``staff_national_id`` instead (``30B0168811/CPET00001``); their practice has
    ``profession_code=""``.
    """

    rpps: str | None
    civility_code: str
    family_name: str
    given_name: str
    persona_label: str = ""
    birth_date: date | None = None
    birth_place_code: str = ""
    contact_email: str = ""
    contact_mobile: str = ""
    means_blocked: bool = False
    rpps_plus: bool = False
    practices: tuple[PracticeData, ...] = field(default_factory=tuple)
    staff_national_id: str = ""
    """Identities without RPPS only (``rpps`` None): structure staff (``3``+FINESS or
    ``5``+SIRET, ``/``, holder id), ADELI holders (``0``+ADELI), EDIT test identities
    (``ANS…``). The name is historical: staff came first."""
    other_ids: tuple[OtherIdData, ...] = ()
    """Stored ``otherIds``; empty: the claims derive one from the national id."""
    ended_on: date | None = None
    """The person left the directory on that day: no login succeeds from then on."""

    @property
    def national_id(self) -> str:
        if self.rpps is None:
            return self.staff_national_id
        return national_id_from_rpps(self.rpps)

    @property
    def is_staff(self) -> bool:
        """Structure staff (CPE, CPA, CDE holders): a national id with ``/``."""
        return self.rpps is None and "/" in self.staff_national_id


DEMO_SERIAL_BASE = 1_009_990_000
"""Demo RPPS bodies are ``100999xxxx``: persona n gets ``make_rpps(DEMO_SERIAL_BASE + n)``."""


def demo_rpps(n: int) -> str:
    """The RPPS of demo persona number ``n`` (stable: the number is written next to each one)."""
    return make_rpps(DEMO_SERIAL_BASE + n)


def _contact(slug: str, n: int) -> dict[str, str]:
    return {"contact_email": f"{slug}@demo.psc-idp.test", "contact_mobile": f"+336000000{n:02d}"}


# Named personas other code and tests can refer to.
GP_RPPS = demo_rpps(1)
"""Camille LEROY, médecin généraliste (SM26) libéral in Paris."""
TWO_SITUATIONS_RPPS = demo_rpps(2)
"""Théo MARCHAND: mirrors the reference capture (§4.2), cabinet (L, SA07) + hospital (S, SA01)."""
BLOCKED_RPPS = demo_rpps(15)
"""Isabelle MERCIER: every means of identification blocked."""
NO_SITUATION_RPPS = demo_rpps(16)
"""Jean-Pierre BLANC: retired, his only activity ended in 2022."""
RPPS_PLUS_COORDINATION_RPPS = demo_rpps(17)
"""Amina DIALLO: RPPS+ coordonnatrice de parcours, role GENR08, in a DAC."""
CPF_INTERN_RPPS = demo_rpps(24)
"""Maxime DUBOIS: interne en médecine générale (category E, role FON-48), CHU de Lyon: a CPF."""

STUDENT_RPPS = demo_rpps(30)
"""Inès MARTIN: étudiante sage-femme (category E) at the Paris hospital: a CPF holder."""
MULTI_IDS_RPPS = demo_rpps(31)
"""Romain LEFEBVRE: kinésithérapeute with three otherIds (RPPS, his former ADELI, a PSI)."""
THREE_SITUATIONS_RPPS = demo_rpps(32)
"""Nadia BERTRAND: three situations in three structures, with different codeRole and
codeGenreActivite; ``exercices[0]`` is her old nursing registration (volunteer), not the
physician practice an RP wants (see the persona's comment)."""
RPPS_PLUS_ROLE_RPPS = demo_rpps(33)
"""Fatou CISSE: RPPS+ accompagnante éducative et sociale (TRE_R85 328), role GENR11, EHPAD."""
ENDED_RPPS = demo_rpps(34)
"""Bernard VIDAL: left the directory (``ended_on`` 2025-06-30): every login is refused."""
MULTI_IDS_ADELI = "0679500418"
"""Romain LEFEBVRE's former ADELI identifier (an ``otherIds`` entry, origine ADELI)."""
MULTI_IDS_PSI = "a426c722-6c9e-5cf1-8e31-786932f32a3c"
"""Romain LEFEBVRE's PSI identifier (a UUID, qualite 2, as psc-ps-api's alternative ids)."""

# Identities without RPPS beyond staff (reference §10).
ADELI_ID = "0339400127"
"""Élodie MASSON: ergothérapeute identified by ``0`` + ADELI ``339400127`` (origine ADELI)."""
EDIT_ID = "ANS20240312101500"
"""Kevin ROUSSEAU: an EDIT test identity (``ANS`` + timestamp, origine EDIT), pédicure-podologue,
shaped as the 2024 sandbox sample (reference §10)."""

# Structure staff: no RPPS, national id = structure id + "/" + card id (reference §10).
CPE_STAFF_ID = "30B0168811/CPET00001"
"""Claire NGUYEN: secrétaire médicale at the hospital F0B0168811 (the id PSC showed for a CPE
holder in a third-party capture, reference §10)."""
CPA_STAFF_ID = "500000001815646/CPAT00045"
"""Paulo FERNANDES: agent d'accueil at the health centre C00000001815646 (ANS's CIBA sample
login_hint, reference §6)."""
CDE_DIRECTOR_ID = "30B0168811/CDET00001"
"""Martine ROCHE: directrice of the hospital F0B0168811, holder of its CDE (seed 002: the card
of the legal representative who signs the ANS contract). The id's form is psc-idp's choice
(same FINESS as her staff, card id CDET…): no real CDE holder's id was found (unverified)."""

_DEMO_START = date(2015, 9, 1)

# ---------------------------------------------------------------------------- structures

CABINET_MARCHAND = "R100042"
HOSPITAL_PARIS = "F0B0750017"
HOSPITAL_LYON = "F0B0690013"
CABINET_LEROY = "R100101"
CABINET_GIRARD = "R100102"
CABINET_CAPUCINS = "R100103"
CABINET_CHEVALIER = "R100104"
CABINET_FAURE = "R100105"
CABINET_BLANC = "R100106"
OFFICINE_MARCHE = "C90099001100018"
"""``C`` + SIRET, the technical id of a SIRET structure; until issue 14 the demo used the
*former* id ``390099001100018`` (``3`` + SIRET) here, now in ``former_id``."""
EHPAD_TILLEULS = "F0B0330019"
IME_PETITS_PONTS = "F0B0590015"
SAAD_MEDITERRANEE = "F0B0130010"
DAC_44 = "F0B0440016"
MECS_BOUSSOLE = "F0B0590023"
HOSPITAL_TOURS = "F0B0168811"
"""The FINESS of the CPE holder's id in reference §10; the rest of the structure is invented."""
CENTRE_ACACIAS = "C00000001815646"
"""``C`` + the SIRET of ANS's CIBA sample login_hint (``5``+SIRET ``/CPAT00045``)."""
CABINET_MASSON = "R100107"
CABINET_ROUSSEAU = "R100108"
CABINET_LEFEBVRE = "R100109"
ASSOCIATION_SOLIDARITE = "C90099002200015"
"""A SIRET association (sector SA28) where a nurse volunteers."""

DEMO_STRUCTURES: tuple[StructureData, ...] = (
    StructureData(
        # Mirrors the capture's cabinet: empty commune/department, CEDEX office line, former id
        # "4" + RPPS + "006", registration authority CNOM/CNOM/CNOM.
        technical_id=CABINET_MARCHAND, name="CABINET M MARCHAND", sector_code="SA07",
        addressee_complement="CABINET M MARCHAND", street_number="8", street_type="R",
        street_name="DE PROVENCE", cedex_office="75009 PARIS", postal_code="75009",
        former_id=f"4{TWO_SITUATIONS_RPPS}006", registration_authority="CNOM/CNOM/CNOM",
    ),
    StructureData(
        technical_id=HOSPITAL_PARIS, name="CENTRE HOSPITALIER DE PARIS-MONTMARTRE",
        finess_site="0B0750017", finess_legal="1B0750009", sector_code="SA01",
        street_number="17", street_type="R", street_name="CAULAINCOURT",
        cedex_office="75018 PARIS", postal_code="75018", commune_code="75118",
        department_code="75", phone="0199000001", registration_authority="CNOM/CNOM/ARS",
    ),
    StructureData(
        technical_id=HOSPITAL_LYON, name="CENTRE HOSPITALIER UNIVERSITAIRE LYON-CONFLUENCE",
        finess_site="0B0690013", finess_legal="1B0690005", sector_code="SA01",
        street_number="3", street_type="QUAI", street_name="PERRACHE",
        cedex_office="69002 LYON", postal_code="69002", commune_code="69382",
        department_code="69", phone="0199000002", registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        technical_id=CABINET_LEROY, name="CABINET DU DR CAMILLE LEROY", sector_code="SA07",
        street_number="24", street_type="BD", street_name="VOLTAIRE",
        cedex_office="75011 PARIS", postal_code="75011", commune_code="75111",
        department_code="75", phone="0199000003", registration_authority="CNOM/CNOM/CNOM",
    ),
    StructureData(
        technical_id=CABINET_GIRARD, name="CABINET DE CARDIOLOGIE DU DR GIRARD",
        sector_code="SA07", street_number="15", street_repeat="B", street_type="R",
        street_name="GARIBALDI", cedex_office="69006 LYON", postal_code="69006",
        commune_code="69386", department_code="69", phone="0199000004",
        registration_authority="CNOM/CNOM/CNOM",
    ),
    StructureData(
        technical_id=CABINET_CAPUCINS, name="CABINET DE GROUPE DES CAPUCINS", sector_code="SA08",
        geo_complement="BATIMENT C", street_number="5", street_type="PL",
        street_name="DES CAPUCINS", cedex_office="49100 ANGERS", postal_code="49100",
        commune_code="49007", department_code="49", phone="0199000005",
        registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        technical_id=CABINET_CHEVALIER, name="CABINET DE SAGE-FEMME LEA CHEVALIER",
        sector_code="SA07", street_number="9", street_type="R", street_name="DE STRASBOURG",
        cedex_office="44000 NANTES", postal_code="44000", commune_code="44109",
        department_code="44", phone="0199000006", registration_authority="CNOSF/CNOSF/CNOSF",
    ),
    StructureData(
        technical_id=CABINET_FAURE, name="CABINET D'ORTHODONTIE DU DR FAURE", sector_code="SA07",
        street_number="31", street_type="CRS", street_name="DE L INTENDANCE",
        cedex_office="33000 BORDEAUX", postal_code="33000", commune_code="33063",
        department_code="33", phone="0199000007", registration_authority="CNOCD/CNOCD/CNOCD",
    ),
    StructureData(
        technical_id=CABINET_BLANC, name="CABINET DU DR JEAN-PIERRE BLANC", sector_code="SA07",
        street_number="2", street_type="R", street_name="LE BASTARD",
        cedex_office="35000 RENNES", postal_code="35000", commune_code="35238",
        department_code="35", registration_authority="CNOM/CNOM/CNOM",
    ),
    StructureData(
        technical_id=OFFICINE_MARCHE, name="SELARL PHARMACIE DU MARCHE",
        trade_name="PHARMACIE DU MARCHE", siret="90099001100018", siren="900990011",
        sector_code="SA33", street_number="4", street_type="PL", street_name="BROGLIE",
        cedex_office="67000 STRASBOURG", postal_code="67000", commune_code="67482",
        department_code="67", phone="0199000008", fax="0199000009",
        former_id="390099001100018", registration_authority="CNOP/CNOP/CNOP",
    ),
    StructureData(
        technical_id=EHPAD_TILLEULS, name="EHPAD LES TILLEULS", finess_site="0B0330019",
        finess_legal="1B0330001", sector_code="SA17", street_number="18", street_type="AV",
        street_name="CHARLES DE GAULLE", cedex_office="33700 MERIGNAC", postal_code="33700",
        commune_code="33281", department_code="33", phone="0199000010",
        registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        technical_id=IME_PETITS_PONTS, name="IME LES PETITS PONTS", finess_site="0B0590015",
        finess_legal="1B0590007", sector_code="SA16", street_number="7", street_type="R",
        street_name="DE CAMBRAI", cedex_office="59000 LILLE", postal_code="59000",
        commune_code="59350", department_code="59", phone="0199000011",
        registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        technical_id=SAAD_MEDITERRANEE, name="SAAD AIDE ET DOMICILE MEDITERRANEE",
        finess_site="0B0130010", finess_legal="1B0130002", sector_code="SA41",
        street_number="25", street_type="BD", street_name="BAILLE",
        cedex_office="13005 MARSEILLE", postal_code="13005", commune_code="13205",
        department_code="13", phone="0199000012", registration_authority="DREETS/DREETS/DREETS",
    ),
    StructureData(
        technical_id=DAC_44, name="DAC 44 DISPOSITIF D'APPUI A LA COORDINATION",
        finess_site="0B0440016", finess_legal="1B0440008", sector_code="SA63",
        street_number="1", street_type="R", street_name="EUGENE VARLIN",
        cedex_office="44100 NANTES", postal_code="44100", commune_code="44109",
        department_code="44", phone="0199000013", registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        technical_id=MECS_BOUSSOLE, name="MECS LA BOUSSOLE", finess_site="0B0590023",
        finess_legal="1B0590007", sector_code="SA20", street_number="40", street_type="R",
        street_name="DE LANNOY", cedex_office="59100 ROUBAIX", postal_code="59100",
        commune_code="59512", department_code="59", phone="0199000014",
        registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        technical_id=HOSPITAL_TOURS, name="CENTRE HOSPITALIER DES BORDS DE LOIRE",
        finess_site="0B0168811", finess_legal="1B0168803", sector_code="SA01",
        street_number="2", street_type="BD", street_name="TONNELLE",
        cedex_office="37000 TOURS", postal_code="37000", commune_code="37261",
        department_code="37", phone="0199000015", registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        # A SIRET structure (technical id "C" + SIRET, reference §10); the registration
        # authority of such a centre is unverified.
        technical_id=CENTRE_ACACIAS, name="CENTRE DE SANTE LES ACACIAS",
        siret="00000001815646", siren="000000018", sector_code="SA05",
        street_number="12", street_type="R", street_name="BANNIER",
        cedex_office="45000 ORLEANS", postal_code="45000", commune_code="45234",
        department_code="45", phone="0199000016", registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        technical_id=CABINET_MASSON, name="CABINET D'ERGOTHERAPIE ELODIE MASSON",
        sector_code="SA07", street_number="11", street_type="R", street_name="SAINTE CATHERINE",
        cedex_office="33000 BORDEAUX", postal_code="33000", commune_code="33063",
        department_code="33", phone="0199000017", registration_authority="ARS/ARS/ARS",
    ),
    StructureData(
        # Shaped as the 2024 sample's cabinet: CEDEX line, no commune, a former id 4+RPPS+nnn.
        technical_id=CABINET_ROUSSEAU, name="CABINET INDIVIDUEL PEDI PODO ROUSSEAU",
        sector_code="SA07", addressee_complement="CABINET INDIVIDUEL PEDI PODO",
        street_number="6", street_type="R", street_name="DE LA CONVENTION",
        cedex_office="75015 PARIS", postal_code="75015", former_id="499700237045007",
        registration_authority="CNOPP/CNOPP/CNOPP",
    ),
    StructureData(
        technical_id=CABINET_LEFEBVRE, name="CABINET DE KINESITHERAPIE LEFEBVRE",
        sector_code="SA07", street_number="3", street_type="R", street_name="NATIONALE",
        cedex_office="59000 LILLE", postal_code="59000", commune_code="59350",
        department_code="59", phone="0199000018", registration_authority="CNOMK/CNOMK/CNOMK",
    ),
    StructureData(
        technical_id=ASSOCIATION_SOLIDARITE, name="ASSOCIATION SOINS SOLIDAIRES PARIS",
        siret="90099002200015", siren="900990022", sector_code="SA28", street_number="40",
        street_type="R", street_name="DE LA CHAPELLE", cedex_office="75018 PARIS",
        postal_code="75018", commune_code="75118", department_code="75", phone="0199000019",
        registration_authority="ARS/ARS/ARS",
    ),
)

# ---------------------------------------------------------------------------- personas


def _health(structure: str, mode: str, sector: str, **extra: Any) -> ActivityData:
    """An ordinary health-professional activity (genre GENR01, soin et pharmacie)."""
    values: dict[str, Any] = {"activity_kind_code": "GENR01", "started_on": _DEMO_START}
    values.update(extra)
    return ActivityData(structure=structure, mode_code=mode, sector_code=sector, **values)


def _rpps_plus(structure: str, sector: str, role: str, started_on: date) -> ActivityData:
    """An RPPS+ salaried situation: the role is the genre d'activité (GENR08–GENR12)."""
    return ActivityData(structure=structure, mode_code="S", sector_code=sector,
                        activity_kind_code=role, started_on=started_on)


DEMO_PROFESSIONALS: tuple[ProfessionalData, ...] = (
    ProfessionalData(
        rpps=GP_RPPS, civility_code="MME", family_name="LEROY", given_name="Camille",
        persona_label="Médecin généraliste libérale, Paris", birth_date=date(1978, 3, 14),
        birth_place_code="75056", **_contact("camille.leroy", 1),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="LEROY",
            practice_given_name="Camille", expertise_type_code="S", expertise_code="SM26",
            activities=(_health(CABINET_LEROY, "L", "SA07"),)),),
    ),
    ProfessionalData(
        # Mirrors the reference capture (KIT DOC0042788): same codes, same empty fields, the
        # cabinet as first activity and the hospital (CNOM/CNOM/ARS) as second; genre left "".
        rpps=TWO_SITUATIONS_RPPS, civility_code="M", family_name="MARCHAND", given_name="Théo",
        persona_label="Médecin généraliste, libéral en cabinet et salarié à l'hôpital, Paris "
                      "(comme la capture PSC de référence)",
        birth_date=date(1981, 11, 2), birth_place_code="75056", **_contact("theo.marchand", 2),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="MARCHAND",
            practice_given_name="Théo", expertise_type_code="S", expertise_code="SM26",
            activities=(
                ActivityData(structure=CABINET_MARCHAND, mode_code="L", sector_code="SA07",
                             started_on=date(2012, 1, 2)),
                ActivityData(structure=HOSPITAL_PARIS, mode_code="S", sector_code="SA01",
                             started_on=date(2019, 5, 1)),
            )),),
    ),
    ProfessionalData(
        rpps=demo_rpps(3), civility_code="M", family_name="GIRARD", given_name="Antoine",
        persona_label="Cardiologue libéral, Lyon", birth_date=date(1970, 6, 21),
        birth_place_code="69123", **_contact("antoine.girard", 3),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="GIRARD",
            practice_given_name="Antoine", expertise_type_code="S", expertise_code="SM04",
            activities=(_health(CABINET_GIRARD, "L", "SA07"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(4), civility_code="MME", family_name="MOREAU", given_name="Sophie",
        persona_label="Pédiatre hospitalière, CHU de Lyon", birth_date=date(1984, 1, 30),
        birth_place_code="69123", **_contact("sophie.moreau", 4),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="MOREAU",
            practice_given_name="Sophie", expertise_type_code="S", expertise_code="SM40",
            activities=(_health(HOSPITAL_LYON, "S", "SA01"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(5), civility_code="M", family_name="BENALI", given_name="Karim",
        persona_label="Psychiatre salarié, centre hospitalier, Paris",
        birth_date=date(1976, 9, 5), birth_place_code="13055", **_contact("karim.benali", 5),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="BENALI",
            practice_given_name="Karim", expertise_type_code="S", expertise_code="SM42",
            activities=(_health(HOSPITAL_PARIS, "S", "SA01"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(6), civility_code="MME", family_name="FONTAINE", given_name="Julie",
        persona_label="Professeure d'anesthésie-réanimation, CHU de Lyon",
        birth_date=date(1968, 4, 17), birth_place_code="38185", **_contact("julie.fontaine", 6),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="PR", practice_family_name="FONTAINE",
            practice_given_name="Julie", expertise_type_code="S", expertise_code="SM02",
            activities=(_health(HOSPITAL_LYON, "S", "SA01"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(7), civility_code="MME", family_name="ROUSSEL", given_name="Nathalie",
        persona_label="Gynécologue-obstétricienne libérale, cabinet de groupe, Angers",
        birth_date=date(1973, 12, 8), birth_place_code="49007",
        **_contact("nathalie.roussel", 7),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="ROUSSEL",
            practice_given_name="Nathalie", expertise_type_code="S", expertise_code="SM20",
            activities=(_health(CABINET_CAPUCINS, "L", "SA08"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(8), civility_code="M", family_name="LAMBERT", given_name="Pierre",
        persona_label="Pharmacien titulaire d'officine, Strasbourg",
        birth_date=date(1975, 2, 11), birth_place_code="67482", **_contact("pierre.lambert", 8),
        practices=(PracticeData(
            profession_code="21", practice_civility_code="DR", practice_family_name="LAMBERT",
            practice_given_name="Pierre",
            activities=(_health(OFFICINE_MARCHE, "L", "SA33", pharmacist_section_code="A"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(9), civility_code="MME", family_name="CARON", given_name="Hélène",
        persona_label="Pharmacienne hospitalière, CHU de Lyon", birth_date=date(1986, 7, 23),
        birth_place_code="59350", **_contact("helene.caron", 9),
        practices=(PracticeData(
            profession_code="21", practice_civility_code="DR", practice_family_name="CARON",
            practice_given_name="Hélène",
            activities=(_health(HOSPITAL_LYON, "S", "SA01", pharmacist_section_code="H"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(10), civility_code="MME", family_name="GARNIER", given_name="Émilie",
        persona_label="Infirmière libérale, cabinet de groupe, Angers",
        birth_date=date(1990, 5, 19), birth_place_code="49007", **_contact("emilie.garnier", 10),
        practices=(PracticeData(
            profession_code="60", practice_family_name="GARNIER", practice_given_name="Émilie",
            activities=(_health(CABINET_CAPUCINS, "L", "SA08"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(11), civility_code="M", family_name="PERRIN", given_name="Lucas",
        persona_label="Infirmier salarié, centre hospitalier, Paris",
        birth_date=date(1993, 10, 3), birth_place_code="93066", **_contact("lucas.perrin", 11),
        practices=(PracticeData(
            profession_code="60", practice_family_name="PERRIN", practice_given_name="Lucas",
            activities=(_health(HOSPITAL_PARIS, "S", "SA01"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(12), civility_code="M", family_name="ROBIN", given_name="Hugo",
        persona_label="Masseur-kinésithérapeute libéral, cabinet de groupe, Angers",
        birth_date=date(1988, 8, 27), birth_place_code="72181", **_contact("hugo.robin", 12),
        practices=(PracticeData(
            profession_code="70", practice_family_name="ROBIN", practice_given_name="Hugo",
            activities=(_health(CABINET_CAPUCINS, "L", "SA08"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(13), civility_code="MME", family_name="CHEVALIER", given_name="Léa",
        persona_label="Sage-femme libérale, Nantes", birth_date=date(1987, 3, 9),
        birth_place_code="44109", **_contact("lea.chevalier", 13),
        practices=(PracticeData(
            profession_code="50", practice_family_name="CHEVALIER", practice_given_name="Léa",
            activities=(_health(CABINET_CHEVALIER, "L", "SA07"),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(14), civility_code="M", family_name="FAURE", given_name="Thomas",
        persona_label="Chirurgien-dentiste spécialiste en orthopédie dento-faciale, Bordeaux",
        birth_date=date(1979, 1, 25), birth_place_code="33063", **_contact("thomas.faure", 14),
        practices=(PracticeData(
            profession_code="40", practice_civility_code="DR", practice_family_name="FAURE",
            practice_given_name="Thomas", expertise_type_code="S", expertise_code="SCD01",
            activities=(_health(CABINET_FAURE, "L", "SA07"),)),),
    ),
    ProfessionalData(
        rpps=BLOCKED_RPPS, civility_code="MME", family_name="MERCIER", given_name="Isabelle",
        persona_label="Médecin urgentiste, Paris : moyens d'identification bloqués "
                      "(connexion refusée)",
        birth_date=date(1982, 6, 12), birth_place_code="75056",
        **_contact("isabelle.mercier", 15), means_blocked=True,
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="MERCIER",
            practice_given_name="Isabelle", expertise_type_code="S", expertise_code="SM59",
            activities=(_health(HOSPITAL_PARIS, "S", "SA01"),)),),
    ),
    ProfessionalData(
        rpps=NO_SITUATION_RPPS, civility_code="M", family_name="BLANC",
        given_name="Jean-Pierre",
        persona_label="Médecin généraliste retraité, Rennes : aucune situation d'exercice active",
        birth_date=date(1955, 2, 28), birth_place_code="35238",
        **_contact("jean-pierre.blanc", 16),
        practices=(PracticeData(
            profession_code="10", practice_civility_code="DR", practice_family_name="BLANC",
            practice_given_name="Jean-Pierre", expertise_type_code="S", expertise_code="SM54",
            activities=(_health(CABINET_BLANC, "L", "SA07", started_on=date(1985, 9, 1),
                                ended_on=date(2022, 12, 31)),)),),
    ),
    # RPPS+ professionals: medico-social roles, e-CPS only, registered by their employer (ESMS).
    ProfessionalData(
        rpps=RPPS_PLUS_COORDINATION_RPPS, civility_code="MME", family_name="DIALLO",
        given_name="Amina", rpps_plus=True,
        persona_label="RPPS+ : coordonnatrice de parcours, rôle coordination et orientation, "
                      "DAC, Nantes",
        birth_date=date(1985, 4, 4), birth_place_code="44109", **_contact("amina.diallo", 17),
        practices=(PracticeData(
            profession_code="330", practice_family_name="DIALLO", practice_given_name="Amina",
            activities=(_rpps_plus(DAC_44, "SA63", "GENR08", date(2023, 3, 1)),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(18), civility_code="M", family_name="ROUX", given_name="Nicolas",
        rpps_plus=True,
        persona_label="RPPS+ : secrétaire d'accueil, rôle administratif, EHPAD, Mérignac",
        birth_date=date(1991, 12, 1), birth_place_code="33281", **_contact("nicolas.roux", 18),
        practices=(PracticeData(
            profession_code="312", practice_family_name="ROUX", practice_given_name="Nicolas",
            activities=(_rpps_plus(EHPAD_TILLEULS, "SA17", "GENR09", date(2023, 6, 15)),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(19), civility_code="MME", family_name="LEGRAND", given_name="Chloé",
        rpps_plus=True,
        persona_label="RPPS+ : éducatrice spécialisée, rôle accompagnement à la vie sociale, "
                      "IME, Lille",
        birth_date=date(1989, 9, 16), birth_place_code="59350", **_contact("chloe.legrand", 19),
        practices=(PracticeData(
            profession_code="326", practice_family_name="LEGRAND", practice_given_name="Chloé",
            activities=(_rpps_plus(IME_PETITS_PONTS, "SA16", "GENR10", date(2022, 9, 1)),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(20), civility_code="MME", family_name="BOUCHER", given_name="Sandrine",
        rpps_plus=True,
        persona_label="RPPS+ : aide-soignante, rôle accompagnement au soin, EHPAD, Mérignac",
        birth_date=date(1983, 5, 7), birth_place_code="33063",
        **_contact("sandrine.boucher", 20),
        practices=(PracticeData(
            profession_code="313", practice_family_name="BOUCHER",
            practice_given_name="Sandrine",
            activities=(_rpps_plus(EHPAD_TILLEULS, "SA17", "GENR11", date(2021, 1, 4)),)),),
    ),
    ProfessionalData(
        rpps=demo_rpps(21), civility_code="M", family_name="GAUTHIER", given_name="Olivier",
        rpps_plus=True,
        persona_label="RPPS+ : responsable de secteur, rôle encadrement, service d'aide à "
                      "domicile, Marseille",
        birth_date=date(1977, 8, 30), birth_place_code="13055",
        **_contact("olivier.gauthier", 21),
        practices=(PracticeData(
            profession_code="312", practice_family_name="GAUTHIER",
            practice_given_name="Olivier",
            activities=(_rpps_plus(SAAD_MEDITERRANEE, "SA41", "GENR12", date(2020, 2, 3)),)),),
    ),
    ProfessionalData(
        # Seed 004: one profession may carry different roles in different structures.
        rpps=demo_rpps(22), civility_code="M", family_name="HAMIDI", given_name="Yanis",
        rpps_plus=True,
        persona_label="RPPS+ : éducateur spécialisé dans deux structures (IME et MECS), "
                      "deux rôles, Nord",
        birth_date=date(1990, 2, 14), birth_place_code="59512", **_contact("yanis.hamidi", 22),
        practices=(PracticeData(
            profession_code="326", practice_family_name="HAMIDI", practice_given_name="Yanis",
            activities=(
                _rpps_plus(IME_PETITS_PONTS, "SA16", "GENR10", date(2022, 9, 1)),
                _rpps_plus(MECS_BOUSSOLE, "SA20", "GENR08", date(2024, 1, 8)),
            )),),
    ),
    ProfessionalData(
        rpps=demo_rpps(23), civility_code="MME", family_name="PETIT", given_name="Manon",
        rpps_plus=True,
        persona_label="RPPS+ : membre de l'équipe de soins, rôle accompagnement au soin, IME, "
                      "Lille",
        birth_date=date(1995, 11, 11), birth_place_code="59350", **_contact("manon.petit", 23),
        practices=(PracticeData(
            profession_code="353", practice_family_name="PETIT", practice_given_name="Manon",
            activities=(_rpps_plus(IME_PETITS_PONTS, "SA16", "GENR11", date(2024, 4, 2)),)),),
    ),
    ProfessionalData(
        # CPF: a student's card. Interns have an RPPS; category E (étudiant), no title and no
        # specialty yet, role FON-48 "Interne" (TRE_R21).
        rpps=CPF_INTERN_RPPS, civility_code="M", family_name="DUBOIS", given_name="Maxime",
        persona_label="Interne en médecine générale, CHU de Lyon (carte CPF)",
        birth_date=date(1999, 4, 12), birth_place_code="69123", **_contact("maxime.dubois", 24),
        practices=(PracticeData(
            profession_code="10", category_code="E", practice_family_name="DUBOIS",
            practice_given_name="Maxime",
            activities=(_health(HOSPITAL_LYON, "S", "SA01", role_code="FON-48",
                                started_on=date(2024, 11, 4)),)),),
    ),
    # --- issue 14: one persona per identity kind an RP must have seen ---
    ProfessionalData(
        # A student (category E, TRE_R09) outside medicine: a CPF holder with no role code.
        rpps=STUDENT_RPPS, civility_code="MME", family_name="MARTIN", given_name="Inès",
        persona_label="Étudiante sage-femme (catégorie E, carte CPF), centre hospitalier, Paris",
        birth_date=date(2002, 5, 3), birth_place_code="92050", **_contact("ines.martin", 30),
        practices=(PracticeData(
            profession_code="50", category_code="E", practice_family_name="MARTIN",
            practice_given_name="Inès",
            activities=(_health(HOSPITAL_PARIS, "S", "SA01", started_on=date(2025, 9, 1)),)),),
    ),
    ProfessionalData(
        # psc-ps-api keeps several alternativeIds per person (reference §10): his RPPS, the ADELI
        # number he had before the profession moved to the RPPS, and a PSI UUID (quality 2).
        rpps=MULTI_IDS_RPPS, civility_code="M", family_name="LEFEBVRE", given_name="Romain",
        persona_label="Masseur-kinésithérapeute libéral, Lille : trois otherIds (RPPS, ancien "
                      "ADELI, PSI)",
        birth_date=date(1980, 10, 9), birth_place_code="59350", **_contact("romain.lefebvre", 31),
        other_ids=(OtherIdData(national_id_from_rpps(MULTI_IDS_RPPS), "RPPS"),
                   OtherIdData(MULTI_IDS_ADELI, "ADELI"),
                   OtherIdData(MULTI_IDS_PSI, "PSI", 2)),
        practices=(PracticeData(
            profession_code="70", practice_family_name="LEFEBVRE", practice_given_name="Romain",
            activities=(_health(CABINET_LEFEBVRE, "L", "SA07", role_code="FON-01"),)),),
    ),
    ProfessionalData(
        # Three situations, three structures, three codeRole/codeGenreActivite pairs. The trap:
        # exercices[0] is her former nursing registration, still active as a volunteer in an
        # association (the directory lists practices in registration order), so an RP that takes
        # exercices[0].activities[0] (or SubjectOrganization, which PSC fills from that same
        # first activity) sees an "Infirmier" volunteering in an association. She signs in as a
        # physician: exercices[1] (profession 10) holds her hospital post (FON-33, GENR01) and
        # a replacement in Dr LEROY's cabinet (FON-22, GENR03).
        rpps=THREE_SITUATIONS_RPPS, civility_code="MME", family_name="BERTRAND",
        given_name="Nadia",
        persona_label="Médecin hospitalière et remplaçante, ancienne infirmière bénévole en "
                      "association : trois situations, exercices[0] n'est pas la bonne, Paris",
        birth_date=date(1983, 8, 19), birth_place_code="75056", **_contact("nadia.bertrand", 32),
        practices=(
            PracticeData(
                profession_code="60", practice_family_name="BERTRAND",
                practice_given_name="Nadia",
                activities=(ActivityData(structure=ASSOCIATION_SOLIDARITE, mode_code="B",
                                         sector_code="SA28", role_code="FON-AU",
                                         activity_kind_code="GENR01",
                                         started_on=date(2006, 9, 1)),)),
            PracticeData(
                profession_code="10", practice_civility_code="DR",
                practice_family_name="BERTRAND", practice_given_name="Nadia",
                expertise_type_code="S", expertise_code="SM53",
                activities=(
                    ActivityData(structure=HOSPITAL_PARIS, mode_code="S", sector_code="SA01",
                                 role_code="FON-33", activity_kind_code="GENR01",
                                 started_on=date(2018, 11, 1)),
                    ActivityData(structure=CABINET_LEROY, mode_code="L", sector_code="SA07",
                                 role_code="FON-22", activity_kind_code="GENR03",
                                 started_on=date(2023, 7, 1)),
                )),
        ),
    ),
    ProfessionalData(
        # RPPS+: a TRE_R85 "profession" (328) with its role as codeGenreActivite (GENR11).
        rpps=RPPS_PLUS_ROLE_RPPS, civility_code="MME", family_name="CISSE", given_name="Fatou",
        rpps_plus=True,
        persona_label="RPPS+ : accompagnante éducative et sociale, rôle accompagnement au soin, "
                      "EHPAD, Mérignac",
        birth_date=date(1994, 3, 22), birth_place_code="33281", **_contact("fatou.cisse", 33),
        practices=(PracticeData(
            profession_code="328", practice_family_name="CISSE", practice_given_name="Fatou",
            activities=(_rpps_plus(EHPAD_TILLEULS, "SA17", "GENR11", date(2025, 2, 3)),)),),
    ),
    ProfessionalData(
        # Absent from a newer extraction: ended, never deleted (issue 14); logins are refused.
        rpps=ENDED_RPPS, civility_code="M", family_name="VIDAL", given_name="Bernard",
        persona_label="Chirurgien-dentiste sorti de l'annuaire le 30/06/2025 (connexion refusée)",
        birth_date=date(1958, 12, 2), birth_place_code="33063", **_contact("bernard.vidal", 34),
        ended_on=date(2025, 6, 30),
        practices=(PracticeData(
            profession_code="40", practice_civility_code="DR", practice_family_name="VIDAL",
            practice_given_name="Bernard",
            activities=(_health(CABINET_FAURE, "L", "SA07"),)),),
    ),
)


def _staff(structure: str, sector: str, role: str, started_on: date) -> ActivityData:
    """A structure staff situation: salaried, non-care activity (GENR04), role in TRE_R21.

    What PSC puts in these fields for a CPE/CPA/CDE holder is unverified (only
    ``codeProfession: ""`` is seen, reference §10); these are the directory's nearest codes."""
    return ActivityData(structure=structure, mode_code="S", sector_code=sector, role_code=role,
                        activity_kind_code="GENR04", started_on=started_on)


def _staff_practice(family_name: str, given_name: str,
                    activity: ActivityData) -> tuple[PracticeData, ...]:
    """The one ``exercice`` of a staff identity: empty profession and category (no RPPS
    registration), the names as the card carries them."""
    return (PracticeData(profession_code="", category_code="", practice_family_name=family_name,
                         practice_given_name=given_name, activities=(activity,)),)


DEMO_STAFF: tuple[ProfessionalData, ...] = (
    ProfessionalData(
        rpps=None, staff_national_id=CPE_STAFF_ID, civility_code="MME", family_name="NGUYEN",
        given_name="Claire",
        persona_label="Secrétaire médicale, personnel d'établissement (carte CPE), centre "
                      "hospitalier, Tours",
        birth_date=date(1986, 10, 21), birth_place_code="37261", **_contact("claire.nguyen", 25),
        practices=_staff_practice("NGUYEN", "Claire",
                                  _staff(HOSPITAL_TOURS, "SA01", "FON-AU", date(2019, 3, 4))),
    ),
    ProfessionalData(
        rpps=None, staff_national_id=CPA_STAFF_ID, civility_code="M", family_name="FERNANDES",
        given_name="Paulo",
        persona_label="Agent d'accueil, personnel autorisé (carte CPA), centre de santé, Orléans",
        birth_date=date(1992, 7, 8), birth_place_code="45234",
        **_contact("paulo.fernandes", 26),
        practices=_staff_practice("FERNANDES", "Paulo",
                                  _staff(CENTRE_ACACIAS, "SA05", "FON-AU", date(2021, 9, 1))),
    ),
    ProfessionalData(
        rpps=None, staff_national_id=CDE_DIRECTOR_ID, civility_code="MME", family_name="ROCHE",
        given_name="Martine",
        persona_label="Directrice d'établissement (carte CDE, signataire du contrat ANS), "
                      "centre hospitalier, Tours",
        birth_date=date(1969, 1, 17), birth_place_code="37261", **_contact("martine.roche", 27),
        practices=_staff_practice("ROCHE", "Martine",
                                  _staff(HOSPITAL_TOURS, "SA01", "FON-09", date(2017, 1, 2))),
    ),
)
"""Structure staff (CPE, CPA, CDE holders): loaded with ``load_demo_directory(...,
include_staff=True)``."""

DEMO_OTHER_IDENTITIES: tuple[ProfessionalData, ...] = (
    ProfessionalData(
        # An ADELI holder: national id "0" + ADELI, otherIds origine ADELI. ADELI still lists
        # professions not (yet) in the RPPS; the number's key rule is not published.
        rpps=None, staff_national_id=ADELI_ID, civility_code="MME", family_name="MASSON",
        given_name="Élodie",
        persona_label="Ergothérapeute libérale identifiée par son numéro ADELI (0 + ADELI), "
                      "Bordeaux",
        birth_date=date(1991, 6, 6), birth_place_code="33063", **_contact("elodie.masson", 35),
        other_ids=(OtherIdData(ADELI_ID, "ADELI"),),
        practices=(PracticeData(
            profession_code="94", practice_family_name="MASSON", practice_given_name="Élodie",
            activities=(_health(CABINET_MASSON, "L", "SA07", started_on=date(2016, 4, 1)),)),),
    ),
    ProfessionalData(
        # An EDIT test identity, shaped as the 2024 sandbox sample (reference §10): ANS +
        # timestamp, otherIds origine EDIT, a pédicure-podologue in a cabinet, GENR01.
        rpps=None, staff_national_id=EDIT_ID, civility_code="M", family_name="ROUSSEAU",
        given_name="Kevin",
        persona_label="Identité de test EDIT (ANS…) : pédicure-podologue libéral, Paris",
        birth_date=date(1990, 1, 15), birth_place_code="75056", **_contact("kevin.rousseau", 36),
        other_ids=(OtherIdData(EDIT_ID, "EDIT"),),
        practices=(PracticeData(
            profession_code="80", practice_family_name="ROUSSEAU", practice_given_name="Kevin",
            activities=(_health(CABINET_ROUSSEAU, "L", "SA07", started_on=date(2023, 11, 22)),)),),
    ),
)
"""Identities without RPPS that are not structure staff: an ADELI holder and an EDIT test
identity; loaded with the staff (``load_demo_directory(..., include_staff=True)``)."""

ALL_DEMO_PERSONAS: tuple[ProfessionalData, ...] = (
    DEMO_PROFESSIONALS + DEMO_STAFF + DEMO_OTHER_IDENTITIES)

IDENTITY_KINDS: dict[str, str] = {
    "rpps": national_id_from_rpps(GP_RPPS),
    "adeli": ADELI_ID,
    "edit": EDIT_ID,
    "staff_finess": CPE_STAFF_ID,
    "staff_siret": CPA_STAFF_ID,
    "student": national_id_from_rpps(STUDENT_RPPS),
    "intern": national_id_from_rpps(CPF_INTERN_RPPS),
    "several_other_ids": national_id_from_rpps(MULTI_IDS_RPPS),
    "two_situations": national_id_from_rpps(TWO_SITUATIONS_RPPS),
    "three_situations": national_id_from_rpps(THREE_SITUATIONS_RPPS),
    "rpps_plus": national_id_from_rpps(RPPS_PLUS_ROLE_RPPS),
}
"""One demo persona per identity kind (national ids), for tests and docs."""

DEMO_CARD_HOLDERS: dict[str, str] = {
    national_id_from_rpps(GP_RPPS): "CPS",
    national_id_from_rpps(CPF_INTERN_RPPS): "CPF",
    CPE_STAFF_ID: "CPE",
    CPA_STAFF_ID: "CPA",
    CDE_DIRECTOR_ID: "CDE",
}
"""One demo holder per card type: national id → the card type to issue them."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _persona_document(persona: ProfessionalData) -> dict[str, Any]:
    doc = _jsonable(asdict(persona))
    if persona.rpps is not None:
        del doc["staff_national_id"]  # RPPS personas: the national id is "8" + rpps
    if not persona.other_ids:
        del doc["other_ids"]  # derived from the national id in the claims
    if persona.ended_on is None:
        del doc["ended_on"]
    return doc


def as_directory_document(*, include_staff: bool = False) -> dict[str, Any]:
    """The demo directory in the JSON shape ``loader.load_directory_file`` reads.

    Operators can dump it as a template for their own personas; ``include_staff`` adds the
    structure staff (``"rpps": null`` and ``"staff_national_id"``).
    """
    personas = ALL_DEMO_PERSONAS if include_staff else DEMO_PROFESSIONALS
    return {
        "structures": [_jsonable(asdict(s)) for s in DEMO_STRUCTURES],
        "professionals": [_persona_document(p) for p in personas],
    }
