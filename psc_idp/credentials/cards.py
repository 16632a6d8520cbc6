"""The card issuer: CPx cards (CPS, CPF, CPE, CPA, CDE) and their lifecycle.

Why here, beside the e-CPS: a card is the other means of identification of a professional,
issued for a holder of the directory. The issuer writes the card's row (what the provider
checks at login), has the emulated IGC-Santé certify the chip's two keys (authentication and
signature, ``pki/igc_sante.py``), registers the certificates (revocation holds for every
process: ``pki/register.py``), and writes the virtual card's folder (``card_chip.py``).

Lifecycle (seeds: validity 3 years; renewal keeps the codes; a lost or stolen card is revoked
at once and replaced with new codes)::

    issue ─▶ active ──lost──▶ revoked (certificates revoked key_compromise)
                      ──renew──▶ replaced (replaced_by; certificates superseded; same codes)
                      ──replace─▶ revoked + replaced_by (new codes)

Each function commits its own transaction and audits what it did; a status change is one
conditional UPDATE (``… WHERE status = 'active'``), so two administrators acting on one card at
once cannot both succeed (a lost card is never "renewed" back to life). See docs/cards.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from sqlalchemy import or_, select, update

from ..audit import record
from ..db import db
from ..directory.models import Professional, Structure
from ..directory.nomenclature import profession_label
from . import card_chip
from .models import Card

log = logging.getLogger(__name__)

CARD_TYPES = ("CPS", "CPF", "CPE", "CPA", "CDE")
STAFF_TYPES = ("CPE", "CPA", "CDE")
"""Cards of a structure: their holder is identified by the structure's id and a card id."""
DEMO_PIN, DEMO_PUK = "1234", "12345678"
RSA_BITS = 2048
"""CPS3/CPS4 chips hold RSA-2048 keys (IAS-ECC)."""



class CardError(Exception):
    """A card operation refused; the message (French) says why and what to do."""


@dataclass
class IssuedCard:
    card: Card
    folder: Path
    pin: str | None = None
    """Set only when the issuer generated the codes (the holder's letter)."""
    puk: str | None = None


# ----------------------------------------------------------------------------- helpers
def _provider() -> Any:
    return current_app.extensions["psc_idp"]


def _now() -> dt.datetime:
    """Naive UTC on the provider's clock (the emulated clock moves card validity too)."""
    return _provider().clock.now()


def _refuse(operation: str, message: str, **fields: Any) -> CardError:
    """Audit a refused operation (committed on its own) and build the error."""
    db.session.rollback()
    record("card.operation_refused", "failure", subject=str(fields.get("national_id", "")),
           operation=operation, reason=message[:200], **fields)
    db.session.commit()
    return CardError(message)


def new_serial() -> str:
    """A card number: 10 digits, not starting with 0, unused."""
    for _ in range(20):
        serial = str(1_000_000_000 + secrets.randbelow(9_000_000_000))
        if db.session.get(Card, serial) is None:
            return serial
    raise CardError("no free card serial number found")  # pragma: no cover - 1e-10 odds


def generate_pin() -> str:
    return f"{secrets.randbelow(10 ** 4):04d}"


def generate_puk() -> str:
    return f"{secrets.randbelow(10 ** 8):08d}"


def _codes(pin: str | None, puk: str | None) -> tuple[str, str, bool, bool]:
    try:
        chosen_pin = card_chip.check_pin_format(pin) if pin is not None else generate_pin()
        chosen_puk = card_chip.check_puk_format(puk) if puk is not None else generate_puk()
    except card_chip.BadCode as exc:
        raise CardError(exc.message) from None
    return chosen_pin, chosen_puk, pin is None, puk is None


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def cards_dir(settings: Any | None = None) -> Path:
    """``[cards] cards_dir``, else ``<home>/cards``."""
    from ..config import default_home

    settings = settings or _provider().settings
    if settings.cards.cards_dir:
        return Path(settings.cards.cards_dir).expanduser().absolute()
    home = Path(settings.home) if settings.home else default_home()
    return home.expanduser().absolute() / "cards"


def default_folder(national_id: str, card_type: str) -> Path:
    """``<cards_dir>/<national id>-<type>`` (``/`` of staff ids as ``_``), then ``-2``, ``-3``…
    while taken."""
    stem = "".join(c if c.isalnum() else "_" for c in national_id.strip()) + \
        f"-{card_type.lower()}"
    base = cards_dir()
    folder, n = base / stem, 1
    while folder.exists() and any(folder.iterdir()):
        n += 1
        folder = base / f"{stem}-{n}"
    return folder


def prepare_folder(out: Path, *, own_serials: tuple[str, ...] = ()) -> Path:
    """``out`` made absolute; refused when it is a file, or a non-empty folder that is not the
    folder of one of ``own_serials`` (never overwrite someone's files or another card)."""
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise CardError(f"{out} existe et n'est pas un dossier.")
    if out.is_dir() and any(out.iterdir()):
        serial = ""
        if card_chip.is_card_folder(out):
            try:
                serial = str(card_chip.read_meta(out).get("serial", ""))
            except card_chip.ChipError:
                serial = ""
        if not serial or serial not in own_serials:
            what = f"la carte n° {serial}" if serial else "des fichiers"
            raise CardError(f"Le dossier {out} n'est pas vide (il contient {what}) : "
                            "choisissez un dossier vide ou absent.")
    return out


# ----------------------------------------------------------------------------- rules
def _holder(national_id: str) -> Professional:
    found = db.session.scalars(select(Professional).filter_by(national_id=national_id)).first()
    if found is None:
        raise CardError(f"Aucun titulaire {national_id!r} dans l'annuaire : une carte CPx est "
                        "émise pour une identité de l'annuaire (identifiant national exact, "
                        "par exemple 8 + RPPS, ou 3…/CPET… pour un personnel d'établissement).")
    return found


def _is_staff_id(national_id: str) -> bool:
    return "/" in national_id and national_id[:1] in ("3", "5")


def _check_rules(professional: Professional, card_type: str, structure: str | None
                 ) -> Structure | None:
    """What each card type requires of its holder (docs/cards.md, « Types de cartes »)."""
    if card_type not in CARD_TYPES:
        raise CardError(f"Type de carte inconnu {card_type!r} : CPS, CPF, CPE, CPA ou CDE.")
    national_id = professional.national_id
    if professional.rpps_plus:
        raise CardError(f"{national_id} est enregistré au RPPS+ : ces professionnels n'ont pas "
                        "de carte CPx (e-CPS seulement).")
    if card_type in STAFF_TYPES:
        if not structure:
            raise CardError(f"Une carte {card_type} appartient à une structure : indiquez "
                            "--structure (identifiant technique de la structure, ex. F0B0750017).")
        if not _is_staff_id(national_id):
            raise CardError(f"Une carte {card_type} est émise pour un personnel de structure "
                            "(identifiant 3+FINESS/… ou 5+SIRET/…, ex. 30B0168811/CPET00001), "
                            f"pas pour {national_id} : un professionnel de santé reçoit une CPS.")
    elif _is_staff_id(national_id) or national_id[:1] not in ("8", "0"):
        raise CardError(f"Une carte {card_type} est émise pour un professionnel identifié par "
                        f"8+RPPS ou 0+ADELI, pas pour {national_id} (personnel de structure : "
                        "CPE ou CPA avec --structure).")
    if card_type == "CPF" and not any(p.category_code == "E" for p in professional.practices):
        raise CardError(f"La CPF est la carte des étudiants et internes (catégorie "
                        f"professionnelle E) : {national_id} n'en a pas ; émettez une CPS.")
    if card_type == "CPS" and professional.practices and all(
            p.category_code == "E" for p in professional.practices):
        raise CardError(f"{national_id} est étudiant ou interne (catégorie E) : sa carte est "
                        "une CPF.")
    if not structure:
        return None
    found = db.session.scalars(select(Structure).filter_by(technical_id=structure)).first()
    if found is None:
        raise CardError(f"Aucune structure {structure!r} dans l'annuaire (identifiant "
                        "technique : F+FINESS, R+n° ou 3+SIRET).")
    places = {a.structure.technical_id for p in professional.practices for a in p.activities}
    if places and structure not in places:
        raise CardError(f"{national_id} n'a pas d'activité dans la structure {structure} "
                        f"(ses structures : {', '.join(sorted(places))}) : une carte "
                        f"{card_type} est celle d'une structure où son titulaire exerce.")
    return found


# ----------------------------------------------------------------------------- issuing
@dataclass
class _Made:
    card: Card
    meta: dict[str, Any]
    auth_chain: list[x509.Certificate]
    sign_chain: list[x509.Certificate]
    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey


def _make_card(professional: Professional, card_type: str, structure: Structure | None,
               folder: Path, *, not_after: dt.datetime | None = None,
               not_before: dt.datetime | None = None) -> _Made:
    """Keys, certificates (registered), the card row (added, not committed) and card.json."""
    from ..pki.igc_sante import PERSONNES, CardHolder, IgcSante
    from ..pki.register import register_certificate, serial_hex

    settings = _provider().settings
    now = _now()
    # an hour back, as the local authority does: a relying host whose clock is a little late
    # accepts a new card at once
    not_before = not_before or now - dt.timedelta(hours=1)
    not_after = not_after or now + dt.timedelta(days=settings.cards.lifetime_days)
    serial = new_serial()
    auth_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    sign_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    practice = professional.practices[0] if professional.practices else None
    holder = CardHolder(
        national_id=professional.national_id, family_name=professional.family_name,
        given_name=professional.given_name,
        profession_label=profession_label(practice.profession_code) if practice else "",
        structure_id=structure.technical_id if structure else "",
        structure_name=structure.name if structure else "")
    igc = IgcSante.from_settings(settings)
    made = igc.issue_card_certificates(
        holder, card_serial=serial, card_type=card_type, auth_public_key=auth_key.public_key(),
        sign_public_key=sign_key.public_key(), not_after=not_after.replace(tzinfo=dt.UTC),
        not_before=not_before.replace(tzinfo=dt.UTC))
    register_certificate(made.auth, authority=PERSONNES, kind="card_auth", card_serial=serial)
    register_certificate(made.sign, authority=PERSONNES, kind="card_sign", card_serial=serial)
    card = Card(serial=serial, card_type=card_type, professional_id=professional.id,
                national_id=professional.national_id,
                structure_technical_id=structure.technical_id if structure else "",
                status="active", not_before=_naive(made.auth.not_valid_before_utc),
                not_after=_naive(made.auth.not_valid_after_utc),
                auth_cert_serial=serial_hex(made.auth), sign_cert_serial=serial_hex(made.sign),
                folder=str(folder), created_at=now)
    db.session.add(card)
    db.session.flush()
    chain = list(made.chain)
    return _Made(card, _meta(card, professional, structure, settings), [made.auth, *chain],
                 [made.sign, *chain], auth_key, sign_key)


def _meta(card: Card, professional: Professional, structure: Structure | None,
          settings: Any) -> dict[str, Any]:
    """card.json: what anyone may read on the card, and how a reader trusts the provider."""
    from ..pki import LocalPki

    provider_ca = LocalPki.in_keys_dir(settings.keys_dir).root_cert_path
    return {"serial": card.serial, "type": card.card_type, "national_id": card.national_id,
            "holder": {"family_name": professional.family_name,
                       "given_name": professional.given_name},
            "structure": card.structure_technical_id,
            "structure_name": structure.name if structure else "",
            "not_before": _iso(card.not_before), "not_after": _iso(card.not_after),
            "issuer": settings.issuer, "mtls_base": settings.mtls_base,
            "provider_trust_anchor": str(provider_ca.resolve()) if provider_ca.exists() else "",
            "auth_certificate_serial": card.auth_cert_serial,
            "sign_certificate_serial": card.sign_cert_serial}


def _rolled_back_on_error(make: Callable[[], _Made]) -> _Made:
    """Keys, certificates and rows, or nothing (the authority's files unreadable...)."""
    try:
        return make()
    except BaseException:
        db.session.rollback()
        raise


def _write_new(made: _Made, folder: Path, pin: str, puk: str) -> None:
    card_chip.write_chip(folder, meta=made.meta, auth_chain=made.auth_chain,
                         sign_chain=made.sign_chain, auth_key=made.auth_key,
                         sign_key=made.sign_key, pin=pin, puk=puk)


def _rewrite(made: _Made, folder: Path) -> None:
    card_chip.rewrite_certificates(folder, meta=made.meta, auth_chain=made.auth_chain,
                                   sign_chain=made.sign_chain, auth_key=made.auth_key,
                                   sign_key=made.sign_key)


def _committed_or_undone(write: Callable[[], None], undo: Callable[[], None]) -> None:
    """The chip written and the rows committed, or neither: ``undo`` removes what the call
    wrote to disk when the write or the commit fails."""
    try:
        write()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        undo()
        raise


def _remove_new_folder(folder: Path, existed: bool) -> None:
    """Undo a folder this call created (the database refused the card)."""
    if existed:
        for name in (*card_chip.CARD_FILES, card_chip.LOCK):
            (folder / name).unlink(missing_ok=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)


def issue_card(*, national_id: str, card_type: str = "CPS", structure: str | None = None,
               pin: str | None = None, puk: str | None = None, out: Path,
               not_after: dt.datetime | None = None,
               not_before: dt.datetime | None = None) -> IssuedCard:
    """A new card for a holder of the directory, written to ``out`` (empty or absent).
    ``not_after``/``not_before`` (naive UTC) are for tests: an expired card, one not yet
    valid."""
    card_type = (card_type or "CPS").upper()
    try:
        folder = prepare_folder(out)
        chosen_pin, chosen_puk, gen_pin, gen_puk = _codes(pin, puk)
        professional = _holder(national_id)
        found_structure = _check_rules(professional, card_type, structure)
    except CardError as exc:
        raise _refuse("issue", str(exc), national_id=national_id, card_type=card_type) from None
    existed = folder.exists()
    made = _rolled_back_on_error(lambda: _make_card(
        professional, card_type, found_structure, folder, not_after=not_after,
        not_before=not_before))
    record("card.issued", subject=national_id, card_serial=made.card.serial,
           card_type=card_type, structure=made.card.structure_technical_id,
           not_after=_iso(made.card.not_after), folder=str(folder),
           codes="generated" if gen_pin or gen_puk else "chosen")
    _committed_or_undone(lambda: _write_new(made, folder, chosen_pin, chosen_puk),
                         lambda: _remove_new_folder(folder, existed))
    return IssuedCard(made.card, folder, chosen_pin if gen_pin else None,
                      chosen_puk if gen_puk else None)


# ----------------------------------------------------------------------------- reading
def get_card(serial: str) -> Card | None:
    return db.session.get(Card, (serial or "").strip())


def list_cards(national_id: str | None = None) -> list[Card]:
    query = select(Card).order_by(Card.national_id, Card.created_at, Card.serial)
    if national_id:
        query = query.filter_by(national_id=national_id)
    return list(db.session.scalars(query))


def status_of(card: Card, at: dt.datetime | None = None) -> str:
    """active, revoked, replaced or expired (an active card past its ``not_after``)."""
    if card.status == "active" and card.not_after <= (at or _now()):
        return "expired"
    return card.status


def card_json(card: Card, *, chip: bool = False) -> dict[str, Any]:
    """The CLI's JSON for one card (stable: docs/cards.md)."""
    holder = db.session.get(Professional, card.professional_id)
    data: dict[str, Any] = {
        "serial": card.serial, "type": card.card_type, "national_id": card.national_id,
        "holder": {"family_name": holder.family_name if holder else "",
                   "given_name": holder.given_name if holder else ""},
        "structure": card.structure_technical_id, "status": status_of(card),
        "not_before": _iso(card.not_before), "not_after": _iso(card.not_after),
        "folder": card.folder, "replaced_by": card.replaced_by,
        "revoked_at": _iso(card.revoked_at),
        "auth_certificate_serial": card.auth_cert_serial,
        "sign_certificate_serial": card.sign_cert_serial}
    if chip:
        data["chip"] = _chip_state(card)
    return data


def _chip_state(card: Card) -> dict[str, Any] | None:
    """The chip's counters when its folder is readable and still holds this card."""
    if not card.folder:
        return None
    try:
        info = card_chip.Chip.open(Path(card.folder)).info()
    except (card_chip.ChipError, OSError, KeyError, ValueError):
        return None
    if info.get("serial") != card.serial:
        return {"readable": False, "reason": f"le dossier contient la carte n° {info['serial']}"}
    return {"readable": True, "pin_tries_left": info["pin_tries_left"],
            "puk_tries_left": info["puk_tries_left"], "blocked": info["blocked"],
            "puk_blocked": info["puk_blocked"]}


# ----------------------------------------------------------------------------- lifecycle
def _transition(serial: str, values: dict[str, Any], *where: Any) -> bool:
    """One conditional UPDATE: True if this call changed the card (and nobody else did)."""
    result = db.session.execute(update(Card).where(Card.serial == serial, *where)
                                .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _revoke_certificates(card: Card, reason: x509.ReasonFlags) -> list[str]:
    from ..pki.register import revoke_certificate

    done = []
    for cert_serial in (card.auth_cert_serial, card.sign_cert_serial):
        if cert_serial and revoke_certificate(cert_serial, reason):
            done.append(cert_serial)
    return done


def _existing(serial: str, operation: str) -> Card:
    card = get_card(serial)
    if card is None:
        raise _refuse(operation, f"Aucune carte n° {serial!r}.", card_serial=serial)
    return card


def _why_not_active(card: Card) -> str:
    if card.status == "revoked":
        return (f"La carte n° {card.serial} a déjà été déclarée perdue ou volée"
                + (f" (remplacée par la carte n° {card.replaced_by})." if card.replaced_by
                   else "."))
    if card.status == "replaced":
        return (f"La carte n° {card.serial} a déjà été remplacée par la carte "
                f"n° {card.replaced_by}.")
    return f"La carte n° {card.serial} a changé d'état pendant l'opération : réessayez."


def _lost_the_race(serial: str, operation: str) -> CardError:
    """The conditional UPDATE changed nothing: the refusal says the card's state now."""
    db.session.rollback()
    card = _existing(serial, operation)
    return _refuse(operation, _why_not_active(card), card_serial=serial,
                   national_id=card.national_id)


@contextmanager
def _refused_for(operation: str, card: Card) -> Iterator[None]:
    """A check that fails (CardError) is refused and audited for this card."""
    try:
        yield
    except CardError as exc:
        raise _refuse(operation, str(exc), card_serial=card.serial,
                      national_id=card.national_id) from None


def _successor(card: Card, operation: str, folder: Path) -> _Made:
    """The new card's keys, certificates and rows: same holder, type and structure, checked
    again against the rules (the holder may have left the structure since)."""
    with _refused_for(operation, card):
        professional = _holder(card.national_id)
        structure = _check_rules(professional, card.card_type,
                                 card.structure_technical_id or None)
    return _rolled_back_on_error(lambda: _make_card(professional, card.card_type, structure,
                                                    folder))


def _hand_over(card: Card, operation: str, made: _Made, values: dict[str, Any],
               where: tuple[Any, ...], reason: x509.ReasonFlags, event: str,
               **audited: Any) -> None:
    """The old card points to its successor (one conditional UPDATE: refused if someone
    changed it meanwhile), its certificates are revoked for ``reason``, the event audited."""
    if not _transition(card.serial, {**values, "replaced_by": made.card.serial}, *where):
        raise _lost_the_race(card.serial, operation)
    revoked = _revoke_certificates(card, reason)
    record(event, subject=card.national_id, card_serial=card.serial,
           new_card_serial=made.card.serial, certificates_revoked=revoked, **audited)


def declare_lost(serial: str) -> Card:
    """Lost or stolen: revoked at once with both certificates (key_compromise), in one
    transaction; refused unless the card is active (the UPDATE decides, not a read)."""
    card = _existing(serial, "lost")
    now = _now()
    if not _transition(serial, {"status": "revoked", "revoked_at": now},
                       Card.status == "active"):
        raise _lost_the_race(serial, "lost")
    revoked = _revoke_certificates(card, x509.ReasonFlags.key_compromise)
    record("card.lost", subject=card.national_id, card_serial=serial,
           card_type=card.card_type, certificates_revoked=revoked)
    db.session.commit()
    db.session.refresh(card)
    return card


def _readable_chip(card: Card) -> Path:
    folder = Path(card.folder) if card.folder else None
    try:
        if folder is None:
            raise card_chip.ChipError("aucun dossier connu")
        info = card_chip.Chip.open(folder).info()
        if info["serial"] != card.serial:
            raise card_chip.ChipError(f"{folder} contient la carte n° {info['serial']}")
    except (card_chip.ChipError, OSError, KeyError, ValueError) as exc:
        reason = exc.message if isinstance(exc, card_chip.ChipError) else str(exc)
        raise CardError(
            f"Le renouvellement garde les codes de la carte, donc lit sa puce ; la carte "
            f"n° {card.serial} est illisible ({reason}). Utilisez `psc-idp card replace "
            f"{card.serial} --out DOSSIER` : une nouvelle carte avec de nouveaux codes."
        ) from None
    return folder


def renew_card(serial: str, out: Path | None = None) -> IssuedCard:
    """A new card (new serial, new keys and certificates, full validity) with the SAME codes:
    the old chip's state is copied (``out``) or the old folder rewritten in place (no ``out``).
    The old card becomes ``replaced`` and its certificates are revoked ``superseded``."""
    card = _existing(serial, "renew")
    with _refused_for("renew", card):
        if card.status != "active":
            raise CardError(_why_not_active(card))
        old_folder = _readable_chip(card)
        in_place = out is None or Path(out).expanduser().absolute() == old_folder.absolute()
        target = old_folder if in_place else prepare_folder(Path(out))  # type: ignore[arg-type]
    made = _successor(card, "renew", target)
    _hand_over(card, "renew", made, {"status": "replaced"}, (Card.status == "active",),
               x509.ReasonFlags.superseded, "card.renewed", folder=str(target), in_place=in_place)
    existed = target.exists()

    def write() -> None:
        if not in_place:
            card_chip.copy_chip(old_folder, target)
        _rewrite(made, target)

    def undo() -> None:
        if not in_place:
            _remove_new_folder(target, existed)

    _committed_or_undone(write, undo)
    db.session.refresh(made.card)
    return IssuedCard(made.card, target)


def replace_card(serial: str, out: Path, *, pin: str | None = None,
                 puk: str | None = None) -> IssuedCard:
    """Lost, stolen or damaged: a new card with NEW codes (generated unless given). The old
    card is revoked (its certificates key_compromise) unless it already was; a card already
    replaced is refused."""
    card = _existing(serial, "replace")
    with _refused_for("replace", card):
        if card.status == "replaced" or card.replaced_by:
            raise CardError(_why_not_active(card))
        own = (card.serial,) if card.status == "revoked" else ()
        folder = prepare_folder(Path(out), own_serials=own)
        chosen_pin, chosen_puk, gen_pin, gen_puk = _codes(pin, puk)
    was_active = card.status == "active"
    made = _successor(card, "replace", folder)
    _hand_over(card, "replace", made,
               {"status": "revoked", "revoked_at": db.func.coalesce(Card.revoked_at, _now())},
               (or_(Card.status == "active", Card.status == "revoked"), Card.replaced_by == ""),
               x509.ReasonFlags.key_compromise, "card.replaced", folder=str(folder),
               was_active=was_active)
    existed = folder.exists()

    def write() -> None:
        if existed and card_chip.is_card_folder(folder):
            _remove_new_folder(folder, True)  # the revoked card's own folder: a new chip
        _write_new(made, folder, chosen_pin, chosen_puk)

    _committed_or_undone(write, lambda: _remove_new_folder(folder, existed))
    db.session.refresh(made.card)
    return IssuedCard(made.card, folder, chosen_pin if gen_pin else None,
                      chosen_puk if gen_puk else None)


# ----------------------------------------------------------------------------- demo
@dataclass(frozen=True)
class _DemoCard:
    slug: str
    national_id: str
    card_type: str
    structure: str = ""


def _demo_specs() -> list[_DemoCard]:
    """The demo cards: the GP and the two-situation doctor (CPS), the blocked persona (to see
    a refusal), then the structure staff and students of the directory if present."""
    from ..directory import demo_data
    from ..directory.national_id import national_id_from_rpps

    specs = [
        _DemoCard("cps-leroy", national_id_from_rpps(demo_data.GP_RPPS), "CPS"),
        _DemoCard("cps-marchand", national_id_from_rpps(demo_data.TWO_SITUATIONS_RPPS), "CPS"),
        _DemoCard("cps-mercier", national_id_from_rpps(demo_data.BLOCKED_RPPS), "CPS"),
    ]
    for professional in db.session.scalars(select(Professional).order_by(Professional.id)):
        nid = professional.national_id
        if _is_staff_id(nid):
            card_id = nid.split("/", 1)[1].upper()
            card_type = next((t for t in STAFF_TYPES if card_id.startswith(t)), "CPE")
            structure = _structure_of(professional)
            if structure:
                specs.append(_DemoCard(f"{card_type.lower()}-{_slug(professional)}", nid,
                                       card_type, structure))
        elif professional.practices and all(p.category_code == "E"
                                             for p in professional.practices):
            specs.append(_DemoCard(f"cpf-{_slug(professional)}", nid, "CPF"))
    return specs


def _slug(professional: Professional) -> str:
    text = "".join(c if c.isalnum() else "-" for c in professional.family_name.lower())
    return text.strip("-") or str(professional.id)


def _structure_of(professional: Professional) -> str:
    for practice in professional.practices:
        for activity in practice.activities:
            return activity.structure.technical_id
    return ""


def issue_demo_cards(cards_dir: Path) -> list[IssuedCard]:
    """The demo cards (PIN 1234, PUK 12345678) in ``cards_dir/<type>-<name>``: idempotent (a
    card already issued there with a readable chip is kept; a stale folder whose card the
    database no longer knows is reissued). Holders absent from the directory are skipped.
    The returned ``pin``/``puk`` are the demo codes, for the demo to print."""
    cards_dir = Path(cards_dir).expanduser().absolute()
    cards_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    out: list[IssuedCard] = []
    for spec in _demo_specs():
        if db.session.scalars(select(Professional).filter_by(
                national_id=spec.national_id)).first() is None:
            continue
        folder = cards_dir / spec.slug
        existing = _demo_card_in(folder)
        if existing is not None:
            out.append(IssuedCard(existing, folder, DEMO_PIN, DEMO_PUK))
            continue
        if folder.exists():
            _remove_new_folder(folder, True)
        try:
            issued = issue_card(national_id=spec.national_id, card_type=spec.card_type,
                                structure=spec.structure or None, pin=DEMO_PIN, puk=DEMO_PUK,
                                out=folder)
        except CardError as exc:
            log.warning("demo card %s not issued: %s", spec.slug, exc)
            continue
        out.append(IssuedCard(issued.card, folder, DEMO_PIN, DEMO_PUK))
    return out


def _demo_card_in(folder: Path) -> Card | None:
    """The active card whose chip is in ``folder``, if the database knows it."""
    if not card_chip.is_card_folder(folder):
        return None
    try:
        serial = str(card_chip.read_meta(folder).get("serial", ""))
        card_chip.Chip.open(folder)
    except card_chip.ChipError:
        return None
    card = get_card(serial)
    if card is None or status_of(card) != "active":
        return None
    return card
