"""Reading the extraction layouts by header name, and the reasons a line is refused."""

from __future__ import annotations

import io

import pytest

from psc_idp.directory.importer.formats import (
    FormatError,
    Rejected,
    expertise_rank,
    parse_expertise,
    parse_line,
    read_expertise_layout,
    read_layout,
)
from psc_idp.directory.importer.generator import (
    LIBREACCES_HEADER_2024,
    LIBREACCES_HEADER_2025,
    PSC_HEADER,
    generate,
    person_lines,
)
from psc_idp.directory.importer.run import _decode
from psc_idp.directory.national_id import is_valid_rpps, make_rpps, national_id_problem

RPPS = make_rpps(1_010_000_042)
PSC_49 = PSC_HEADER.rsplit("Autres identifiants|", 1)[0]
"""psc-rass-loader's file: the 49 columns, without pscextract's last two."""


def _psc_line(**change: str) -> str:
    values = {name: "" for name in PSC_49.split("|")}
    values.update({
        "Type d'identifiant PP": "8", "Identifiant PP": RPPS,
        "Identification nationale PP": "8" + RPPS, "Nom de famille": "HIRE",
        "Prénoms": "BRICE'HENRY'ALAIN", "Date de naissance": "31/10/1992",
        "Code commune de naissance": "2B033", "Téléphone (coord. correspondance)": "+33 611",
        "Adresse e-mail (coord. correspondance)": "brice@exemple.fr", "Code civilité": "M",
        "Code profession": "70", "Code catégorie professionnelle": "C",
        "Nom d'exercice": "HIRE", "Prénom d'exercice": "BRICE", "Code mode exercice": "L",
        "Code secteur d'activité": "SA07",
        "Identifiant technique de la structure": "R10100000240453",
        "Raison sociale site": "ROULEAU ANGELE", "Code postal (coord. structure)": "20117",
        "Ancien identifiant de la structure": "410005929293016",
    })
    values.update(change)
    return "|".join(values[name] for name in PSC_49.split("|"))


def test_psc_49_columns_by_name() -> None:
    layout = read_layout(PSC_49, None)
    assert layout.format == "psc" and layout.column_count == 50 and layout.has_expertise
    line = parse_line(layout, _psc_line())
    assert line.national_id == "8" + RPPS
    assert line.person["given_name"] == "BRICE" and line.person["family_name"] == "HIRE"
    assert str(line.person["birth_date"]) == "1992-10-31"
    assert line.person["contact_email"] == "brice@exemple.fr"
    assert line.structure is not None and line.structure["technical_id"] == "R10100000240453"
    assert line.structure["former_id"] == "410005929293016"
    assert line.activity == {"mode_code": "L", "sector_code": "SA07",
                             "pharmacist_section_code": "", "role_code": "",
                             "activity_kind_code": ""}
    assert line.other_ids == [("8" + RPPS, "RPPS", 1)]


def test_psc_adeli_row_without_situation() -> None:
    """ADELI rows are type 0 (psc-rass-loader's sample): a practice, no structure."""
    layout = read_layout(PSC_49, "psc")
    line = parse_line(layout, _psc_line(**{
        "Type d'identifiant PP": "0", "Identifiant PP": "012800736",
        "Identification nationale PP": "0012800736", "Prénoms": "Bernadette''",
        "Code profession": "28", "Identifiant technique de la structure": ""}))
    assert line.person["rpps"] is None and line.person["given_name"] == "Bernadette"
    assert line.practice is not None and line.activity is None and line.structure is None
    assert line.other_ids == [("0012800736", "ADELI", 1)]


def test_pscextract_other_ids_and_genre() -> None:
    layout = read_layout(PSC_HEADER, None)
    values = _psc_line().split("|")[:-1] + [f"8{RPPS},RPPS,1;0759124159,ADELI,1", "GENR01", ""]
    line = parse_line(layout, "|".join(values))
    assert ("0759124159", "ADELI", 1) in line.other_ids
    assert line.activity is not None and line.activity["activity_kind_code"] == "GENR01"


@pytest.mark.parametrize("header", [LIBREACCES_HEADER_2024, LIBREACCES_HEADER_2025])
def test_libreacces_layouts_by_header_name(header: str) -> None:
    out = io.StringIO()
    sf = io.StringIO() if header == LIBREACCES_HEADER_2025 else None
    generate(out, rows=30, fmt="libreacces", seed=3, savoir_faire_out=sf)
    text = out.getvalue().splitlines()
    assert text[0] == header
    layout = read_layout(text[0], "libreacces")
    assert layout.has_expertise is (header == LIBREACCES_HEADER_2024)
    assert ("role" in layout.positions) is (header == LIBREACCES_HEADER_2025)
    lines = [parse_line(layout, t) for t in text[1:]]
    assert all(line.person.get("contact_email") is None for line in lines)  # no contact data


def test_columns_found_whatever_their_order_and_spelling() -> None:
    """Vintages spell headers differently (case, accents): names are compared loosely, and
    a reordered file reads the same."""
    names = PSC_49.split("|")
    order = list(reversed(range(len(names))))
    header = "|".join(names[i].upper() for i in order)
    line = _psc_line().split("|")
    layout = read_layout(header.replace("É", "E"), None)
    parsed = parse_line(layout, "|".join(line[i] for i in order))
    assert parsed.person["family_name"] == "HIRE" and parsed.practice is not None


def test_header_checks() -> None:
    with pytest.raises(FormatError, match="Identification nationale PP"):
        read_layout("a|b|c|", None)
    with pytest.raises(FormatError, match="format « psc »"):
        read_layout(PSC_49, "libreacces")
    with pytest.raises(FormatError, match="colonnes absentes"):
        read_layout(PSC_49.replace("Code mode exercice", "Autre chose"), None)


@pytest.mark.parametrize(("change", "reason"), [
    ({"Identification nationale PP": "8" + RPPS[:-1] + str((int(RPPS[-1]) + 1) % 10),
      "Identifiant PP": RPPS[:-1] + str((int(RPPS[-1]) + 1) % 10)}, "clé de contrôle"),
    ({"Identifiant PP": make_rpps(1_010_000_043)}, "ne donnent pas l'identification"),
    ({"Code profession": "999"}, "nomenclature profession : « 999 »"),
    ({"Code secteur d'activité": "SA99"}, "nomenclature secteur"),
    ({"Code mode exercice": "Z"}, "nomenclature mode_exercice"),
    ({"Code rôle": "FON-XX"}, "nomenclature role"),
    ({"Date de naissance": "1992-10-31"}, "date de naissance illisible"),
    ({"Nom de famille": ""}, "nom de famille vide"),
    ({"Raison sociale site": "X" * 201}, "Raison sociale site » trop long"),
    ({"Identification nationale PP": "", "Identifiant PP": ""}, "vide ou illisible"),
])
def test_rejection_reasons(change: dict[str, str], reason: str) -> None:
    layout = read_layout(PSC_49, None)
    with pytest.raises(Rejected, match=reason):
        parse_line(layout, _psc_line(**change))


@pytest.mark.parametrize("change", [
    {"Code profession": "71"},  # Ostéopathe, TRE_R95 (JDV_J106, not TRE_G15)
    {"Code profession": "93"},  # Psychologue: active in TRE_R95, deprecated in TRE_G15
    {"Code profession": "41"}, {"Code profession": "99"},
    {"Code secteur d'activité": "SA62"},  # deprecated: real extractions still carry it
    {"Code rôle": "FON-53"},  # deprecated TRE_R21 code
])
def test_jdv_j106_professions_and_deprecated_codes_accepted(change: dict[str, str]) -> None:
    layout = read_layout(PSC_49, None)
    assert parse_line(layout, _psc_line(**change)).national_id == "8" + RPPS


@pytest.mark.parametrize("change", [{"Code profession": "74"}, {"Code secteur d'activité": "SA98"},
                                    {"Code rôle": "FON-99"}])
def test_unknown_codes_still_rejected(change: dict[str, str]) -> None:
    layout = read_layout(PSC_49, None)
    with pytest.raises(Rejected, match="code inconnu dans la nomenclature"):
        parse_line(layout, _psc_line(**change))


EXPERTISE_HEADER = ("Identification nationale PP|Code profession|Code type savoir-faire|"
                    "Code savoir-faire")


def test_expertise_lines_take_deprecated_codes_checked_against_their_kind() -> None:
    layout = read_expertise_layout(EXPERTISE_HEADER)
    nid = "8" + RPPS
    assert parse_expertise(layout, f"{nid}|21|S|SP01") == (nid, "21", "S", "SP01")  # deprecated
    assert parse_expertise(layout, f"{nid}|71||") == (nid, "71", "", "")
    assert parse_expertise(layout, f"{nid}|10|S|SM54")[3] == "SM54"
    with pytest.raises(Rejected, match="nomenclature capacite : « SM54 »"):
        parse_expertise(layout, f"{nid}|10|CAPA|SM54")  # a specialty is not a capacity
    with pytest.raises(Rejected, match="nomenclature profession : « 74 »"):
        parse_expertise(layout, f"{nid}|74|S|SM54")
    with pytest.raises(Rejected, match="nomenclature specialite_ordinale : « SM99 »"):
        parse_expertise(layout, f"{nid}|10|S|SM99")


def test_column_count_checked() -> None:
    layout = read_layout(PSC_49, None)
    with pytest.raises(Rejected, match="nombre de colonnes incorrect : 49 au lieu de 50"):
        parse_line(layout, _psc_line().rsplit("|", 1)[0])


def test_latin1_lines_read() -> None:
    assert _decode("Hélène|".encode("cp1252"), None) == "Hélène|"
    assert _decode("Hélène|".encode(), None) == "Hélène|"
    assert _decode("Hélène|".encode("latin-1"), "latin-1") == "Hélène|"


def test_expertise_rank_prefers_the_ordinal_specialty() -> None:
    assert min([("C", "CAPA01"), ("S", "SM54"), ("", "")],
               key=lambda e: expertise_rank(*e)) == ("S", "SM54")


def test_generator_is_deterministic_and_realistic() -> None:
    def text(rows: int, **kw: int) -> str:
        out = io.StringIO()
        generate(out, rows=rows, fmt="psc", seed=11, **kw)
        return out.getvalue()

    small, big = text(200), text(300)
    assert big.startswith(small) and small == text(200)  # a newer file = this one + people
    layout = read_layout(big.splitlines()[0], None)
    lines = [parse_line(layout, t) for t in big.splitlines()[1:]]
    ids = [line.national_id for line in lines]
    assert all(national_id_problem(n) is None for n in ids)
    assert all(is_valid_rpps(n[1:]) for n in ids if n[0] == "8")
    assert any(n[0] == "0" for n in ids)  # ADELI holders
    assert len(set(ids)) < len(ids)  # several situations per person
    assert {line.structure["technical_id"][0] for line in lines if line.structure} == \
        {"F", "C", "R"}
    spoiled = text(300, malformed_every=25).splitlines()[1:]
    refused = 0
    for t in spoiled:
        try:
            parse_line(layout, t)
        except Rejected:
            refused += 1
    assert refused == 12
    assert person_lines(11, 5) == person_lines(11, 5)
