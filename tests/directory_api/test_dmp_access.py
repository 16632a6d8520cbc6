"""Seed 004's matrix as data: the five roles, their document types word for word, codes."""

from __future__ import annotations

import pytest

from psc_idp.directory import dmp_access
from psc_idp.directory.dmp_access import (
    UnknownDocumentType,
    UnknownRole,
    can_read,
    documents_for,
    matrix,
)
from psc_idp.directory.nomenclature import RPPS_PLUS_ROLES

COUNTS = {"GENR08": 64, "GENR09": 5, "GENR10": 10, "GENR11": 28, "GENR12": 15}
"""The number of document types in each role's cell of the seed's two tables."""


def test_five_roles_their_counts_and_the_tre_r22_codes():
    assert {code: len(documents_for(code)) for code in matrix().roles} == COUNTS
    assert set(matrix().roles) == set(RPPS_PLUS_ROLES)
    assert matrix().roles["GENR11"].label == (
        "Activité de professionnel du médico-social exerçant des fonctions "
        "d'accompagnement au soin")


def test_labels_are_the_seed_word_for_word():
    labels = [t.label for t in documents_for("GENR09")]
    assert labels == [
        "Lettre de liaison à la sortie d'une structure sociale ou médico-sociale.",
        "Lettre de liaison d'entrée en structure sociale ou médico-sociale.",
        "Projet personnalisé d'accompagnement", "Attestation de sortie",
        "Document médico-administratif"]
    first = [t.label for t in documents_for("GENR08")]
    assert first[0] == "CR ou fiche de consultation ou de visite"
    assert first[-1] == "Bilan de santé et de prévention"
    assert "Demande d'acte de télémedecine" in first  # the seed's spelling is kept


def test_codes_are_stable_and_say_where_they_come_from():
    types = matrix().document_types
    assert types["11488-4"].system == "LOINC"
    assert types["PRESC-INF"].system == "TRE_A05"
    slugs = [t for t in types.values() if t.system == "slug"]
    assert {t.label for t in slugs} == {
        "Document médico-administratif",
        "Nom de la procédure à l'origine d'objets d'imagerie accessibles en format DICOM (c)"}
    assert all(t.code.startswith("dmp-") and t.match == "none" for t in slugs)
    assert all(t.match in ("exact", "spelling", "close", "inferred", "none")
               for t in types.values())


@pytest.mark.parametrize(("role", "document_type", "allowed"), [
    ("GENR08", "11488-4", True),
    ("GENR08", "CR ou fiche de consultation ou de visite", True),
    ("GENR09", "CR ou fiche de consultation ou de visite", False),
    ("GENR10", "Grille d'évaluation médico-sociale", True),
    ("GENR10", "Grille d'évaluation médico-social", True),  # ANS's label works too
    ("GENR09", "Grille d'évaluation médico-sociale", False),
    ("GENR11", "Prescription de soins kinésithérapie", True),
    ("GENR12", "Prescription de soins kinésithérapie", False),
    ("GENR12", "Attestation d'hébergement", True),
    ("GENR08", "Attestation d'hébergement", False),  # as the seed's table has it
    ("genr11", " DOCPAT02 ", True),
])
def test_can_read(role, document_type, allowed):
    assert can_read(role, document_type) is allowed


def test_unknown_names_are_errors_in_french():
    with pytest.raises(UnknownRole, match="rôle RPPS\\+ inconnu"):
        can_read("GENR01", "11488-4")
    with pytest.raises(UnknownDocumentType, match="type de document DMP inconnu"):
        can_read("GENR08", "cr ou fiche de consultation ou de visite")  # exact labels only


def test_loaded_once():
    assert dmp_access.matrix() is dmp_access.matrix()
