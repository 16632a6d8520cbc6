"""The completed ANS terminologies: every code of TRE_R02, TRE_R21, TRE_R38, TRE_R85 and of the
other savoir-faire kinds (JDV_J107), so a real RPPS extraction's codes pass the import checks.

The counts are those of the CodeSystems read (``^count`` where the source gives it); a table
that loses or gains a code without a new version in its file fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psc_idp.directory import nomenclature as nom
from psc_idp.directory.nomenclature import (
    NomenclatureError,
    UnknownCode,
    check_code,
    check_expertise,
    load_tables,
)

KIND_SUFFIXES = tuple(f" ({kind})" for kind in ("SM", "SCD", "SI", "SP", "C", "CEX", "DNQ", "CAPA",
                                                "PAC", "FQ", "DEC"))

# table: (terminology, OID, version, active codes, deprecated codes)
COMPLETE = {
    "secteur": ("TRE_R02_SecteurActivite", "1.2.250.1.71.4.2.4", "20250523120000", 67, 2),
    "role": ("TRE_R21_Fonction", "1.2.250.1.213.1.6.1.17", "20260223120000", 43, 14),
    "savoir_faire": ("TRE_R38_SpecialiteOrdinale", "1.2.250.1.213.2.28", "20260928120000",
                     106, 4),
    "role_prise_charge": ("TRE_R85_RolePriseCharge", "1.2.250.1.213.1.6.1.107",
                          "20260505120000", 75, 5),
    "competence": ("TRE_R39_Competence", "1.2.250.1.213.2.29", "20240628120000", 43, 0),
    "competence_exclusive": ("TRE_R40_CompetenceExclusive", "1.2.250.1.213.2.30",
                             "20231215120000", 4, 0),
    "desc_non_qualifiant": ("TRE_R42_DESCnonQualifiant", "1.2.250.1.213.2.32",
                            "20240628120000", 41, 0),
    "capacite": ("TRE_R43_CapaciteSavoirFaire", "1.2.250.1.213.2.33", "20231215120000", 16, 0),
    "qualification_pac": ("TRE_R44_QualificationPAC", "1.2.250.1.213.2.34", "20231215120000",
                          1, 0),
    "fonction_qualifiee": ("TRE_R45_FonctionQualifiee", "1.2.250.1.213.2.35", "20231215120000",
                           5, 0),
    "droit_exercice_complementaire": ("TRE_R97_DroitExerciceCompl", "1.2.250.1.213.1.6.1.111",
                                      "20231215120000", 24, 0),
    "orientation_particuliere": ("TRE_G13_OrientationParticuliere", "1.2.250.1.213.2.31",
                                 "20200424120000", 2, 0),
    "surspecialite_transversale": ("TRE_R359_SurspecialiteTransversale", "1.2.250.1.213.2.76",
                                   "20251222120000", 27, 0),
    "competence_metier": ("TRE_R394_CompetenceMetier", "1.2.250.1.213.1.6.1.375",
                          "20250625120000", 1, 0),
}


@pytest.mark.parametrize("table", sorted(COMPLETE))
def test_each_completed_table_holds_the_whole_terminology(table: str) -> None:
    terminology, oid, version, active, deprecated = COMPLETE[table]
    loaded = load_tables()[table]
    assert (loaded.terminology, loaded.oid, loaded.version) == (terminology, oid, version)
    assert loaded.date == f"{version[:4]}-{version[4:6]}-{version[6:8]}"
    assert (len(loaded.codes), len(loaded.deprecated)) == (active, deprecated)
    assert loaded.complete is True and loaded.source.strip()
    assert nom.TABLE_INFO[table]["complete"] is True
    for code, label in {**loaded.codes, **loaded.deprecated}.items():
        assert code == code.strip() and label == label.strip() and label, (table, code)
        if loaded.savoir_faire_type:  # the display's kind suffix is not part of the label
            assert not label.endswith(KIND_SUFFIXES), (table, code, label)


def test_every_active_oid_is_a_dotted_number() -> None:
    for table in load_tables().values():
        if table.oid:
            assert all(part.isdigit() for part in table.oid.split(".")), table.file


def test_real_extraction_codes_are_known() -> None:
    # Codes of the public extraction that the former extracts rejected.
    assert check_code("secteur", "SA42") == "Appareillage médical"
    assert check_code("secteur", "SA43") == "Secteur non défini"
    assert check_code("secteur", "SA63") == "Structures de coordination et d'orientation"
    assert check_code("role", "FON-41") == "Biologiste médical"
    assert check_code("role", "FON-63") == "Coordonnateur en EHPAD"
    assert check_code("savoir_faire", "SM01") == "Anatomie et Cytologie pathologiques"
    assert check_code("savoir_faire", "SM26") == "Qualifié en Médecine générale"
    assert check_code("savoir_faire", "CAPA03") == "Allergologie"
    assert check_code("savoir_faire", "C33") == "Allergologie"
    assert check_code("savoir_faire", "DSM200") == "Addictologie"
    assert check_code("savoir_faire", "80") == "Homéopathie"
    assert check_code("savoir_faire", "PAC00") == "Qualification Praticien adjoint contractuel"
    assert check_code("role_prise_charge", "376") == "PADHUE - Médecin"


def test_deprecated_codes_pass_only_when_allowed() -> None:
    for table, code in (("secteur", "SA62"), ("role", "FON-44"), ("savoir_faire", "SP01"),
                        ("role_prise_charge", "350")):
        with pytest.raises(UnknownCode):
            check_code(table, code)
        assert check_code(table, code, allow_deprecated=True)


def test_savoir_faire_accepts_every_kind_and_check_expertise_each_kind() -> None:
    assert set(nom.EXPERTISE_TABLES) == set(nom.EXPERTISE_TYPES) - {"SH"}
    union = nom.TABLES["savoir_faire"]
    assert len(union) == sum(len(nom.TABLES[t]) for t in nom.EXPERTISE_TABLES.values()
                             if t != "savoir_faire") + len(nom.SPECIALTIES) == 270
    assert nom.SPECIALTIES["SM54"] == "Médecine générale" and "C33" not in nom.SPECIALTIES
    assert check_expertise("S", "SM54") == "Médecine générale"
    assert check_expertise("CAPA", "CAPA03") == "Allergologie"
    assert check_expertise("", "CAPA03") == "Allergologie"
    assert check_expertise("S", "") == ""
    with pytest.raises(UnknownCode) as wrong_kind:
        check_expertise("S", "CAPA03")
    assert (wrong_kind.value.table, wrong_kind.value.code) == ("specialite_ordinale", "CAPA03")
    with pytest.raises(UnknownCode) as no_table:
        check_expertise("SH", "SM54")
    assert no_table.value.table == "type_savoir_faire"
    assert check_expertise("S", "SP02", allow_deprecated=True) == "Hygiène"


def test_rpps_plus_professions_stay_the_portal_list() -> None:
    assert len(nom.RPPS_PLUS_PROFESSIONS) == 20
    assert set(nom.RPPS_PLUS_PROFESSIONS) == {str(c) for c in range(312, 331)} | {"353"}
    assert nom.RPPS_PLUS_PROFESSIONS["317"] == "Préparateur en pharmacie (officine)"
    assert nom.TABLES["role_prise_charge"]["317"] == "Préparateur en pharmacie"
    assert "331" in nom.TABLES["role_prise_charge"] and "331" not in nom.PROFESSIONS
    assert not nom.is_rpps_plus_profession("331") and nom.profession_oid("331") == ""
    assert check_code("profession", "318") == "Auxiliaire de vie sociale"  # portal, still active


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "nomenclatures"
    copy.mkdir()
    for path in nom.DATA_DIR.glob("*.json"):
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


def _edit(path: Path, change) -> None:  # noqa: ANN001
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def test_a_code_in_two_savoir_faire_tables_is_refused(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    _edit(data / "tre_r43_capacite.json",
          lambda d: d["codes"].append({"code": "SM54", "label": "Médecine générale"}))
    with pytest.raises(NomenclatureError, match=r"le code « SM54 » est aussi dans"):
        load_tables(data)


def test_a_savoir_faire_table_needs_a_known_distinct_kind(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    _edit(data / "tre_r43_capacite.json", lambda d: d.update(savoir_faire_type="ZZ"))
    with pytest.raises(NomenclatureError, match=r"« savoir_faire_type » doit être un code"):
        load_tables(data)
    _edit(data / "tre_r43_capacite.json", lambda d: d.update(savoir_faire_type="C"))
    with pytest.raises(NomenclatureError, match=r"le type « C » est déjà celui de"):
        load_tables(data)


def test_an_rpps_plus_profession_must_be_a_tre_r85_code(tmp_path: Path) -> None:
    data = _copy(tmp_path)
    _edit(data / "rpps_plus_professions.json",
          lambda d: d["codes"].append({"code": "999", "label": "Inconnu"}))
    with pytest.raises(NomenclatureError, match=r"la profession « 999 » n'est pas un code"):
        load_tables(data)


# JDV_J106_EnsembleProfession_RASS's professions outside TRE_G15 and TRE_R85: code → (label, OID)
JDV_J106_OTHERS = {
    "71": ("Ostéopathe", "1.2.250.1.213.1.6.1.109"),
    "72": ("Psychothérapeute", "1.2.250.1.213.1.6.1.109"),
    "73": ("Chiropracteur", "1.2.250.1.213.1.6.1.109"),
    "93": ("Psychologue", "1.2.250.1.213.1.6.1.109"),
    "41": ("Assistant de service social", "1.2.250.1.213.1.6.1.4"),
    "99": ("Acteur participant au système de santé caractérisé par rôle",
           "1.2.250.1.213.1.6.1.140"),
}


def test_jdv_j106_professions_of_other_tables() -> None:
    for code, (label, oid) in JDV_J106_OTHERS.items():
        assert check_code("profession", code) == label == nom.profession_label(code)
        assert nom.PROFESSIONS[code] == label and nom.profession_oid(code) == oid
        assert code not in nom.HEALTH_PROFESSIONS and not nom.is_rpps_plus_profession(code)
    assert set(nom.OTHER_PROFESSIONS) == set(JDV_J106_OTHERS)
    assert set(nom.PROFESSIONS) == (set(nom.HEALTH_PROFESSIONS) | set(nom.RPPS_PLUS_PROFESSIONS)
                                    | set(JDV_J106_OTHERS))
    assert nom.TABLES["profession"] is nom.PROFESSIONS
    assert "93" in load_tables()["profession_sante"].deprecated  # TRE_G15 unchanged
    with pytest.raises(UnknownCode):
        check_code("profession_sante", "93")
    tables = load_tables()
    assert [(tables[t].terminology, tables[t].version) for t in nom.OTHER_PROFESSION_FILES] == [
        ("TRE_R95", "20241213120000"), ("TRE_R94", "20241213120000"),
        ("TRE_R291", "20231215120000")]
    for name in nom.OTHER_PROFESSION_FILES:
        assert "JDV_J106" in tables[name].source and not tables[name].complete
        assert nom.TABLE_INFO[name]["oid"] == tables[name].oid
    assert nom.profession_oid("35") == nom.TRE_G15_OID  # a deprecated TRE_G15 code stays TRE_G15
