"""The virtual card's chip (``card_chip``): PIN and PUK counters as on a CPS, the codes never
stored, the keys usable only after the PIN, and the counters holding when several readers
(threads, processes) use one card at once."""

from __future__ import annotations

import json
import multiprocessing
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from psc_idp.credentials import card_chip
from psc_idp.credentials.card_chip import Chip, ChipError
from psc_idp.pki.authority import TLS_SERVER, LocalPki, Usage, issue, name, new_key

PIN, PUK = "1234", "12345678"
CLIENT = Usage(digital_signature=True,
               ekus=(x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH,))


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> LocalPki:
    return LocalPki(tmp_path_factory.mktemp("pki")).ensure()


def make_chip(pki: LocalPki, folder: Path, pin: str = PIN, puk: str = PUK) -> Chip:
    ca = pki.issuing_ca("cards")
    auth_key, sign_key = new_key("rsa"), new_key("rsa")
    subject = name("810000000001", "card test")
    auth = issue(ca, subject, auth_key.public_key(), lifetime_days=30, usage=CLIENT)
    sign = issue(ca, subject, sign_key.public_key(), lifetime_days=30,
                 usage=Usage(digital_signature=False, content_commitment=True))
    chain = pki.chain("cards")
    card_chip.write_chip(folder, meta={"serial": "1000000001", "type": "CPS",
                                       "national_id": "810000000001"},
                         auth_chain=[auth, *chain], sign_chain=[sign, *chain],
                         auth_key=auth_key, sign_key=sign_key, pin=pin, puk=puk)
    return Chip.open(folder)


@pytest.fixture
def chip(pki, tmp_path) -> Chip:
    return make_chip(pki, tmp_path / "card")


def test_the_codes_are_never_stored(chip):
    text = (chip.folder / "chip.json").read_text()
    assert PIN not in text and PUK not in text
    state = json.loads(text)
    assert state["pin_tries_left"] == 3 and state["puk_tries_left"] == 10
    assert state["pin"]["alg"].startswith("scrypt")


def test_three_wrong_pins_block_and_a_right_one_resets(chip):
    with pytest.raises(card_chip.WrongPin) as first:
        chip.verify_pin("0000")
    assert first.value.tries_left == 2 and "2 essais" in first.value.message
    chip.verify_pin(PIN)
    assert chip.info()["pin_tries_left"] == 3
    for left in (2, 1):
        with pytest.raises(card_chip.WrongPin) as wrong:
            chip.verify_pin("0000")
        assert wrong.value.tries_left == left
    with pytest.raises(card_chip.ChipBlocked, match="bloquée"):
        chip.verify_pin("0000")
    info = chip.info()
    assert info["blocked"] and info["pin_tries_left"] == 0
    with pytest.raises(card_chip.ChipBlocked):  # even the right PIN: the chip is blocked
        chip.verify_pin(PIN)
    with pytest.raises(card_chip.ChipBlocked):
        chip.tls_credentials(PIN)
    with pytest.raises(card_chip.ChipBlocked):
        chip.sign(PIN, b"data")


def test_the_puk_unblocks_with_a_new_pin_and_wrong_puks_count(chip):
    for _ in range(3):
        with pytest.raises(ChipError):
            chip.verify_pin("0000")
    with pytest.raises(card_chip.WrongPuk) as wrong:
        chip.unblock("87654321", "5678")
    assert wrong.value.tries_left == 9
    assert chip.info()["puk_tries_left"] == 9
    chip.unblock(PUK, "5678")
    info = chip.info()
    assert not info["blocked"] and info["pin_tries_left"] == 3 and info["puk_tries_left"] == 10
    with pytest.raises(card_chip.WrongPin):
        chip.verify_pin(PIN)  # the old PIN no longer opens it
    chip.verify_pin("5678")


def test_ten_wrong_puks_block_the_card_for_good(chip):
    for left in range(9, 0, -1):
        with pytest.raises(card_chip.WrongPuk) as wrong:
            chip.unblock("00000000", "5678")
        assert wrong.value.tries_left == left
    with pytest.raises(card_chip.PukBlocked):
        chip.unblock("00000000", "5678")
    with pytest.raises(card_chip.PukBlocked):
        chip.unblock(PUK, "5678")
    with pytest.raises(card_chip.PukBlocked):
        chip.verify_pin(PIN)
    assert chip.info()["puk_blocked"]


def test_change_pin(chip):
    with pytest.raises(card_chip.WrongPin):
        chip.change_pin("0000", "2222")
    chip.change_pin(PIN, "2222")
    with pytest.raises(card_chip.WrongPin):
        chip.verify_pin(PIN)
    chip.verify_pin("2222")
    assert chip.info()["pin_tries_left"] == 3


@pytest.mark.parametrize("bad", ["123", "12345", "abcd", "١٢٣٤", ""])
def test_badly_shaped_codes_spend_no_try(chip, bad):
    with pytest.raises(card_chip.BadCode):
        chip.verify_pin(bad)
    with pytest.raises(card_chip.BadCode):
        chip.unblock("1234567", PIN)
    with pytest.raises(card_chip.BadCode):
        chip.change_pin(PIN, bad)
    assert chip.info()["pin_tries_left"] == 3 and chip.info()["puk_tries_left"] == 10


def test_sign_uses_the_authentication_key(chip):
    signature = chip.sign(PIN, b"challenge")
    assert card_chip.verify_signature(chip.certificate(), signature, b"challenge")
    assert not card_chip.verify_signature(chip.certificate(), signature, b"other")
    sign_cert = chip.certificate_chain("sign")[0]
    assert not card_chip.verify_signature(sign_cert, signature, b"challenge")
    with pytest.raises(card_chip.WrongPin):
        chip.sign("0000", b"challenge")


def test_tls_credentials_present_the_card_in_a_real_handshake(chip, pki, tmp_path):
    """What the reader does: load the card's chain and key into an SSL context, after the
    PIN; a TLS server asking for a client certificate receives the card's."""
    server_key = new_key()
    server_cert = issue(pki.issuing_ca("services"), name("127.0.0.1"),
                        server_key.public_key(), lifetime_days=2, usage=TLS_SERVER,
                        sans=["127.0.0.1"])
    from psc_idp.pki.authority import write_key, write_pem

    write_pem(tmp_path / "server.crt", [server_cert, *pki.chain("services")])
    write_key(tmp_path / "server.key", server_key)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(pki.root_cert_path)
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve():
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            seen.append(tls.getpeercert(binary_form=True))
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    certfile, keyfile, password = chip.tls_credentials(PIN)
    client_ctx = ssl.create_default_context(cafile=str(pki.root_cert_path))
    client_ctx.load_cert_chain(certfile, keyfile, password)
    with socket.create_connection(listener.getsockname()) as raw, \
            client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.recv(2) == b"ok"
    thread.join(10)
    listener.close()
    assert x509.load_der_x509_certificate(seen[0]) == chip.certificate()
    with pytest.raises(ssl.SSLError):  # the key file is useless without the chip's secret
        ssl.create_default_context().load_cert_chain(certfile, keyfile, b"wrong")


def test_rewrite_certificates_keeps_the_codes_and_counters(chip, pki):
    with pytest.raises(card_chip.WrongPin):
        chip.verify_pin("0000")
    other = make_chip(pki, chip.folder.parent / "other", pin="9999", puk="99999999")
    chain = other.certificate_chain()
    from cryptography.hazmat.primitives import serialization

    secret = json.loads((other.folder / "chip.json").read_text())["secret"].encode()
    key = serialization.load_pem_private_key((other.folder / "auth.key").read_bytes(), secret)
    card_chip.rewrite_certificates(chip.folder, meta={"serial": "1000000002"},
                                   auth_chain=chain, sign_chain=chain, auth_key=key,
                                   sign_key=key)
    assert chip.info()["serial"] == "1000000002" and chip.info()["pin_tries_left"] == 2
    assert chip.certificate() == other.certificate()
    signature = chip.sign(PIN, b"x")  # the old PIN, the new key
    assert card_chip.verify_signature(other.certificate(), signature, b"x")


def test_open_refuses_what_is_not_a_card(tmp_path):
    with pytest.raises(ChipError, match="Aucune carte"):
        Chip.open(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ChipError, match="n'est pas une carte"):
        Chip.open(tmp_path / "empty")


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "accepted"
    if isinstance(exc, card_chip.WrongPin):
        return "wrong"
    if isinstance(exc, card_chip.ChipBlocked):
        return "blocked_now" if "maintenant" in exc.message else "blocked"
    return type(exc).__name__


def _try_pin(folder: str, pin: str, barrier=None) -> str:
    if barrier is not None:
        barrier.wait()
    try:
        Chip.open(Path(folder)).verify_pin(pin)
    except ChipError as exc:
        return _outcome(exc)
    return _outcome(None)


def _assert_three_tries_at_most(outcomes: list[str], chip: Chip) -> None:
    # exactly three PINs were checked (two wrong, the third blocking); the others were
    # refused by a blocked chip without a check
    assert outcomes.count("wrong") == 2, outcomes
    assert outcomes.count("blocked_now") == 1, outcomes
    assert outcomes.count("blocked") == len(outcomes) - 3, outcomes
    assert chip.info()["pin_tries_left"] == 0
    with pytest.raises(card_chip.ChipBlocked):
        chip.verify_pin(PIN)


def test_parallel_wrong_pins_from_threads_get_three_tries(chip):
    barrier = threading.Barrier(10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run():
        result = _try_pin(str(chip.folder), "0000", barrier)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    _assert_three_tries_at_most(outcomes, chip)


def _process_try(folder: str, barrier, queue) -> None:
    queue.put(_try_pin(folder, "0000", barrier))


def test_parallel_wrong_pins_from_processes_get_three_tries(chip):
    context = multiprocessing.get_context("fork")  # fast: the child only uses the chip
    barrier, queue = context.Barrier(6), context.Queue()
    processes = [context.Process(target=_process_try, args=(str(chip.folder), barrier, queue))
                 for _ in range(6)]
    for p in processes:
        p.start()
    outcomes = [queue.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(30)
    _assert_three_tries_at_most(outcomes, chip)


def test_a_right_pin_racing_wrong_ones_never_gives_a_fourth_try(chip):
    """Five wrong and one right at once: whatever the order, no more than three wrong PINs
    are ever checked before the chip blocks."""
    barrier = threading.Barrier(6)
    outcomes: list[str] = []
    pins = ["0000"] * 5 + [PIN]
    threads = [threading.Thread(target=lambda p=p: outcomes.append(
        _try_pin(str(chip.folder), p, barrier))) for p in pins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    wrong_checked = outcomes.count("wrong") + outcomes.count("blocked_now")
    assert wrong_checked <= 5 and outcomes.count("accepted") <= 1
    # a right PIN resets the counter, so up to 2 wrong before it and 3 after may be checked,
    # but never 3 wrong in a row without a block
    assert outcomes.count("blocked_now") <= 1
