"""The nomenclature data files: what they hold, how a broken one is reported, the CLI.

``load_tables`` is what the module runs once at import (application start); a broken file is a
``NomenclatureError`` naming the file and the fault, raised there rather than in a request.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from psc_idp.directory import nomenclature as nom
from psc_idp.directory.nomenclature import NomenclatureError, UnknownCode, check_code, load_tables
from psc_idp.directory.nomenclature_cli import nomenclature_command

TRE = {"profession_sante": ("TRE_G15_ProfessionSante", "1.2.250.1.71.1.2.7"),
       "role_prise_charge": ("TRE_R85_RolePriseCharge", "1.2.250.1.213.1.6.1.107"),
       "profession_rpps_plus": ("TRE_R85_RolePriseCharge", "1.2.250.1.213.1.6.1.107"),
       "categorie": ("TRE_R09_CategorieProfessionnelle", "1.2.250.1.213.1.6.1.10"),
       "type_savoir_faire": ("TRE_R04_TypeSavoirFaire", "1.2.250.1.213.1.6.1.16"),
       "savoir_faire": ("TRE_R38_SpecialiteOrdinale", "1.2.250.1.213.2.28"),
       "mode_exercice": ("TRE_R23_ModeExercice", "1.2.250.1.213.1.6.1.18"),
       "secteur": ("TRE_R02_SecteurActivite", "1.2.250.1.71.4.2.4"),
       "role": ("TRE_R21_Fonction", "1.2.250.1.213.1.6.1.17"),
       "genre_activite": ("TRE_R22_GenreActivite", "1.2.250.1.213.1.6.1.19"),
       "role_rpps_plus": ("TRE_R22_GenreActivite", "1.2.250.1.213.1.6.1.19")}


def test_every_table_has_its_terminology_oid_version_and_source() -> None:
    tables = load_tables()
    assert set(tables) == set(nom.EXPECTED_FILES)
    for name, (terminology, oid) in TRE.items():
        table = tables[name]
        assert (table.terminology, table.oid) == (terminology, oid), name
        assert len(table.version) == 14 and table.version.isdigit(), name
        assert table.date and table.source.strip() and table.codes, name
    for table in tables.values():
        assert table.source.strip() and table.file.endswith(".json")


def test_the_public_api_is_built_from_the_files() -> None:
    assert nom.TABLES["profession"] is nom.PROFESSIONS
    assert set(nom.TABLES) >= {"profession", "categorie", "type_savoir_faire", "savoir_faire",
                               "mode_exercice", "secteur", "role", "genre_activite",
                               "role_rpps_plus", "section_pharmacien", "civilite",
                               "civilite_exercice"}
    assert nom.PROFESSIONS == {**nom.HEALTH_PROFESSIONS, **nom.RPPS_PLUS_PROFESSIONS,
                               **nom.OTHER_PROFESSIONS}  # 71–73, 93, 41, 99
    assert "35" not in nom.HEALTH_PROFESSIONS and "93" not in nom.HEALTH_PROFESSIONS  # deprecated
    assert nom.PROFESSIONAL_CATEGORIES == {"C": "Civil", "E": "Etudiant", "M": "Agent public"}
    assert nom.ROLES["FON-22"] == "Remplaçant, intérimaire, intermittent"
    assert "GENR05" not in nom.ACTIVITY_KINDS and nom.ACTIVITY_KINDS["GENR13"]
    assert nom.table_versions()["profession_sante"] == "TRE_G15_ProfessionSante 20250328120000"


def test_rpps_plus_professions_are_tre_r85_not_tre_g15() -> None:
    for code in nom.RPPS_PLUS_PROFESSIONS:
        assert nom.profession_oid(code) == nom.TRE_R85_OID
    assert nom.profession_oid("10") == nom.TRE_G15_OID == "1.2.250.1.71.1.2.7"
    assert nom.profession_oid("35") == nom.TRE_G15_OID  # deprecated, still TRE_G15
    assert nom.profession_oid("999") == ""
    assert not set(nom.RPPS_PLUS_PROFESSIONS) & set(nom.HEALTH_PROFESSIONS)


def test_check_code_refuses_deprecated_codes_unless_asked() -> None:
    with pytest.raises(UnknownCode, match="code inconnu dans la nomenclature profession : « 35 »"):
        check_code("profession", "35")
    assert check_code("profession", "35", allow_deprecated=True) == "Aide-soignant"
    assert check_code("genre_activite", "GENR07", allow_deprecated=True)
    assert check_code("role", "") == ""
    with pytest.raises(UnknownCode):
        check_code("role", "", may_be_empty=False)
    with pytest.raises(UnknownCode) as unknown:
        check_code("secteur", "SA99", allow_deprecated=True)
    assert (unknown.value.table, unknown.value.code) == ("secteur", "SA99")


def test_unverified_and_deprecated_codes_are_listed() -> None:
    rows = {row["code"]: row for row in nom.table_codes("profession_rpps_plus")}
    assert rows["313"]["verified"] is True and rows["330"]["verified"] is True
    assert rows["312"]["verified"] is False  # TRE_R85 says « Autre professionnel »
    assert rows["317"]["verified"] is False  # TRE_R85 says « Préparateur en pharmacie »
    statuses = {row["code"]: row["status"] for row in nom.table_codes("profession_sante")}
    assert statuses["10"] == "active" and statuses["93"] == "deprecated"


# --------------------------------------------------------------------- broken data files


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "nomenclatures"
    shutil.copytree(nom.DATA_DIR, copy)
    return copy


def _edit(path: Path, change) -> None:  # noqa: ANN001
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def test_a_copy_of_the_files_loads(data_dir: Path) -> None:
    assert load_tables(data_dir)["role"].codes == nom.ROLES


@pytest.mark.parametrize(("breakage", "message"), [
    (lambda p: p.write_text('{"table": "role",', encoding="utf-8"),
     r"tre_r21_fonction.json : JSON invalide ligne 1"),
    (lambda p: p.write_bytes(b"\xff\xfe{}"),
     r"tre_r21_fonction.json : ce n'est pas du texte UTF-8"),
    (lambda p: p.write_text("[]", encoding="utf-8"), r"un objet JSON est attendu"),
    (lambda p: _edit(p, lambda d: d.pop("version")), r"champ\(s\) manquant\(s\) version"),
    (lambda p: _edit(p, lambda d: d.update(codes=[])), r"« codes » doit être une liste non vide"),
    (lambda p: _edit(p, lambda d: d["codes"].append({"code": "FON-01", "label": "x"})),
     r"code « FON-01 » en double"),
    (lambda p: _edit(p, lambda d: d["codes"].append({"code": "FON-99", "label": " "})),
     r"libellé manquant pour le code « FON-99 »"),
    (lambda p: _edit(p, lambda d: d["codes"].append({"code": " X", "label": "x"})),
     r"« code » manquant ou mal formé"),
    (lambda p: _edit(p, lambda d: d["codes"].append({"code": "X", "label": "x",
                                                     "status": "retired"})),
     r"statut « retired » inconnu"),
    (lambda p: _edit(p, lambda d: d.update(table="secteur")),
     r"la table « secteur » est déjà définie par tre_r02_secteur_activite.json"),
    (lambda p: p.unlink(), r"nomenclature\(s\) manquante\(s\) .*: role$"),
])
def test_a_broken_file_is_a_clear_error(data_dir: Path, breakage, message: str) -> None:  # noqa: ANN001
    breakage(data_dir / "tre_r21_fonction.json")
    with pytest.raises(NomenclatureError, match=message):
        load_tables(data_dir)


def test_rpps_plus_roles_must_keep_tre_r22_labels(data_dir: Path) -> None:
    def rename(doc: dict) -> None:
        doc["codes"][0]["label"] = "Coordination"
    _edit(data_dir / "rpps_plus_roles.json", rename)
    with pytest.raises(NomenclatureError, match=r"le rôle « GENR08 » n'a pas le libellé"):
        load_tables(data_dir)


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NomenclatureError, match="dossier des nomenclatures introuvable"):
        load_tables(tmp_path / "absent")


# --------------------------------------------------------------------------------- CLI


def test_cli_lists_the_tables_with_their_versions() -> None:
    shown = CliRunner().invoke(nomenclature_command, [])
    assert shown.exit_code == 0, shown.output
    assert "TRE_G15_ProfessionSante" in shown.output and "20250328120000" in shown.output
    assert len(shown.output.splitlines()) == len(nom.TABLE_INFO)
    as_json = CliRunner().invoke(nomenclature_command, ["--json"])
    assert json.loads(as_json.output)["role_prise_charge"]["oid"] == nom.TRE_R85_OID


def test_cli_shows_one_table() -> None:
    shown = CliRunner().invoke(nomenclature_command, ["genre_activite"])
    assert shown.exit_code == 0
    assert "GENR08   Coordination et orientation" in shown.output
    assert "GENR05   Activité non médicale  [obsolète]" in shown.output
    as_json = json.loads(CliRunner().invoke(nomenclature_command, ["role", "--json"]).output)
    assert as_json["terminology"] == "TRE_R21_Fonction"
    assert {"code": "FON-48", "label": "Interne", "status": "active",
            "verified": True} in as_json["codes"]
    both = json.loads(CliRunner().invoke(nomenclature_command, ["profession", "--json"]).output)
    assert [t["table"] for t in both["tables"]] == ["profession_sante", "profession_rpps_plus"]


def test_cli_refuses_an_unknown_table_in_one_line() -> None:
    refused = CliRunner().invoke(nomenclature_command, ["professions"])
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: table inconnue « professions » ; tables : ")
    assert len(refused.output.strip().splitlines()) == 1
