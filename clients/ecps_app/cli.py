"""``ecps-app``: the virtual e-CPS app on the command line, over the provider's mobile API.

    ecps-app [--server URL] [--home DIR] [--json] COMMAND

    activate --national-id N --pin P [--device-name NAME]
        activation with the contact codes, both read from the provider's outbox (demo/test)
    approve  --national-id N --pin P [--wait SECONDS] [--binding-code NN]
    deny     --national-id N [--pin P] [--wait SECONDS] [--binding-code NN]
        wait for the next pending login of that professional (the newest, or the one with that
        binding code), answer it, print its binding code; denying needs no PIN
    otp      --national-id N            the current TOTP code (6 digits)
    card     --national-id N [--qr FILE]   the visual e-CPS card (and its QR code as SVG)
    devices  --national-id N            the professional's e-CPS devices
    revoke   --national-id N --device-id ID
    status   [--national-id N]          what this home holds, and each device's status

State (device key, device token, OTP seed) is one JSON file per national id in ``--home``
(default ``$ECPS_APP_HOME`` or ``~/.ecps-app``, the same default as the phone page, so both
see the same e-CPS); ``--national-id`` may be left out when the home holds a single
professional, and may be the bare RPPS (11 digits). The server is ``--server`` (default
``$ECPS_APP_SERVER`` or http://127.0.0.1:5000).

Exit status: 0 done; 1 refused (the provider's error on one line on stderr) or provider
unreachable; 2 usage error; 3 nothing to answer within ``--wait`` seconds.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import requests

from .phone import DEFAULT_HOME, EcpsPhone, PhoneError

DEFAULT_SERVER = "http://127.0.0.1:5000"
EXIT_REFUSED = 1
EXIT_NOTHING_PENDING = 3

F = TypeVar("F", bound=Callable[..., Any])


class AppError(click.ClickException):
    """One clear line on stderr, ``ecps-app: …``, and a non-zero exit; never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"ecps-app: {self.format_message()}", err=True)


@dataclass
class Context:
    server: str
    home: Path
    as_json: bool

    def phone(self, national_id: str | None, *, must_exist: bool = True) -> EcpsPhone:
        if not national_id:
            known = EcpsPhone.known(self.home)
            if len(known) != 1:
                raise click.UsageError(
                    "--national-id is required" + (
                        f" (this home holds {', '.join(known)})" if known else
                        f" (no e-CPS activated in {self.home} yet)"))
            national_id = known[0]
        phone = EcpsPhone(self.server, self.home, national_id)
        if must_exist and not phone.activated:
            raise AppError(f"no e-CPS activated for {phone.national_id} in {self.home} "
                           f"(run: ecps-app activate --national-id {phone.national_id} "
                           "--pin PIN)")
        return phone

    def output(self, data: Any, text: str) -> None:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False) if self.as_json else text)


def provider_errors(func: F) -> F:
    """Turn the provider's refusals and network failures into one line and an exit status."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Context)
        server = ctx.server if ctx else "the provider"
        try:
            return func(*args, **kwargs)
        except PhoneError as exc:
            if exc.code == "no_pending_request":
                raise AppError(exc.description, EXIT_NOTHING_PENDING) from None
            raise AppError(str(exc)) from None
        except requests.ConnectionError:
            raise AppError(f"cannot reach the provider at {server}") from None
        except requests.Timeout:
            raise AppError(f"the provider at {server} did not answer in time") from None
        except requests.RequestException as exc:
            raise AppError(f"request to {server} failed: {exc}") from None
        except OSError as exc:  # the home folder: permissions, disk full...
            raise AppError(f"local state: {exc}") from None
        except (ValueError, KeyError) as exc:  # a state file edited by hand or truncated
            raise AppError(f"unreadable state or answer: {exc!r}") from None
    return wrapper  # type: ignore[return-value]


national_id_option = click.option(
    "--national-id", "national_id", envvar="ECPS_APP_NATIONAL_ID", default=None,
    help="The professional's national id (may be left out when the home holds only one).")
pin_option = click.option("--pin", envvar="ECPS_APP_PIN", prompt="PIN", hide_input=True,
                          help="The e-CPS PIN (4 to 8 digits).")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--server", envvar="ECPS_APP_SERVER", default=DEFAULT_SERVER, show_default=True,
              help="The provider's base URL (env ECPS_APP_SERVER).")
@click.option("--home", envvar="ECPS_APP_HOME", default=DEFAULT_HOME, show_default=True,
              help="Folder of the phone's state: device keys, OTP seeds (env ECPS_APP_HOME).")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.pass_context
def main(ctx: click.Context, server: str, home: str, as_json: bool) -> None:
    """A virtual e-CPS app: activate, approve or deny logins, TOTP codes, devices."""
    if not server.startswith(("http://", "https://")):
        raise click.BadParameter(f"must be an http(s) URL, not {server!r}", param_hint="--server")
    ctx.obj = Context(server.rstrip("/"), Path(os.path.expanduser(home)), as_json)


# ----------------------------------------------------------------------------- activation
@main.command()
@click.option("--national-id", "national_id", required=True, envvar="ECPS_APP_NATIONAL_ID",
              help="The professional's national id.")
@pin_option
@click.option("--device-name", default="e-CPS virtuelle (ecps-app)", show_default=True)
@click.pass_obj
@provider_errors
def activate(obj: Context, national_id: str, pin: str, device_name: str) -> None:
    """Activate an e-CPS with the e-mail and SMS codes (read from the outbox, demo/test)."""
    phone = obj.phone(national_id, must_exist=False)  # a bare RPPS is accepted (8 + RPPS)
    device = phone.activate(pin, device_name=device_name)
    national_id = phone.national_id
    device.pop("device_token", None)
    device.pop("otp_secret", None)
    text = f"activated {national_id}: device {device['device_id']} ({device['status']})"
    if device["status"] == "waiting":
        text += f", usable from {device['usable_from']}"
    obj.output(device, text)


# ----------------------------------------------------------------------------- logins
def _answer(obj: Context, national_id: str | None, pin: str, wait: float,
            binding_code: str | None, decision: str) -> None:
    phone = obj.phone(national_id)
    challenge = phone.wait_for_pending(wait, binding_code)
    if challenge is None:
        which = f" with binding code {binding_code}" if binding_code else ""
        raise AppError(f"no login request{which} for {phone.national_id} within {wait:g} s",
                       EXIT_NOTHING_PENDING)
    try:
        answered = phone.answer(challenge, decision, pin)
    except PhoneError as exc:
        raise AppError(f"{exc} (binding code {challenge['binding_code']}, "
                       f"challenge {challenge['challenge_id']})") from None
    verb = "approved" if decision == "approve" else "denied"
    obj.output(answered, f"{verb}: {answered['service_name']} - binding code "
                         f"{answered['binding_code']} - challenge {answered['challenge_id']}")


def _answer_command(decision: str) -> Callable[..., None]:
    # a denial needs no PIN (the provider does not ask for one): --pin is still accepted
    pin = pin_option if decision == "approve" else click.option(
        "--pin", envvar="ECPS_APP_PIN", default="", help="Not needed to deny (ignored).")

    @national_id_option
    @pin
    @click.option("--wait", default=60.0, show_default=True, type=click.FloatRange(min=0),
                  help="Seconds to wait for a login request.")
    @click.option("--binding-code", default=None,
                  help="Only answer the request showing this binding code.")
    @click.pass_obj
    @provider_errors
    def command(obj: Context, national_id: str | None, pin: str, wait: float,
                binding_code: str | None) -> None:
        _answer(obj, national_id, pin, wait, binding_code, decision)

    command.__doc__ = (f"Wait for the next login request and {decision} it with the PIN "
                       "(prints its binding code).")
    return command


main.command("approve")(_answer_command("approve"))
main.command("deny")(_answer_command("deny"))


@main.command()
@national_id_option
@click.option("--wait", default=0.0, type=click.FloatRange(min=0, max=25),
              help="Long-poll up to this many seconds for a first request.")
@click.pass_obj
@provider_errors
def pending(obj: Context, national_id: str | None, wait: float) -> None:
    """List the pending login requests (service, binding code)."""
    challenges = obj.phone(national_id).pending(wait=wait)
    lines = [f"{c['binding_code']}  {c['service_name']}  ({c['client_id']}, {c['origin']})  "
             f"challenge {c['challenge_id']}  expires {c['expires_at']}" for c in challenges]
    obj.output(challenges, "\n".join(lines) if lines else "no pending login request")


@main.command()
@national_id_option
@click.pass_obj
@provider_errors
def otp(obj: Context, national_id: str | None) -> None:
    """Print the current TOTP code (6 digits, 30 s)."""
    phone = obj.phone(national_id)
    code = phone.otp()
    obj.output({"otp": code, "remaining_seconds": phone.otp_remaining()}, code)


# ----------------------------------------------------------------------------- card, devices
@main.command()
@national_id_option
@click.option("--qr", "qr_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write the card's QR code to this SVG file.")
@click.pass_obj
@provider_errors
def card(obj: Context, national_id: str | None, qr_path: str | None) -> None:
    """Show the visual e-CPS card: identity, professions, RPPS, validity."""
    data = obj.phone(national_id).card()
    if qr_path:
        Path(qr_path).write_bytes(base64.b64decode(data["qr_svg_base64"]))
    professions = ", ".join(f"{p['label']} ({p['code']})" for p in data["professions"]) or "-"
    text = "\n".join([
        f"e-CPS  {data['given_name']} {data['family_name']}",
        f"  national id  {data['national_id']}",
        f"  RPPS         {data['rpps'] or '-'}",
        f"  professions  {professions}",
        f"  valid until  {data['valid_until']}",
        f"  status       {data['status']}",
    ] + ([f"  QR code      {qr_path}"] if qr_path else []))
    shown = {k: v for k, v in data.items() if k != "qr_svg_base64" or obj.as_json}
    obj.output(shown, text)


def _device_line(device: dict[str, Any], own_id: str) -> str:
    mark = "*" if device["device_id"] == own_id else " "
    return (f"{mark} {device['device_id']}  {device['status']:8}  {device['name']}  "
            f"activated {device['activated_at']}  expires {device['expires_at']}")


@main.command()
@national_id_option
@click.pass_obj
@provider_errors
def devices(obj: Context, national_id: str | None) -> None:
    """List the professional's e-CPS devices (* marks this one)."""
    phone = obj.phone(national_id)
    found = phone.devices()
    own = phone.local_state()["device_id"]
    obj.output(found, "\n".join(_device_line(d, own) for d in found))


@main.command()
@national_id_option
@click.option("--device-id", required=True, help="The device to revoke (see 'devices').")
@click.pass_obj
@provider_errors
def revoke(obj: Context, national_id: str | None, device_id: str) -> None:
    """Revoke one of the professional's devices (this one included)."""
    revoked = obj.phone(national_id).revoke(device_id)
    obj.output(revoked, f"revoked {revoked['device_id']} ({revoked['name']})")


@main.command()
@national_id_option
@click.pass_obj
@provider_errors
def sessions(obj: Context, national_id: str | None) -> None:
    """The professional's open Pro Santé Connect sessions and the services in each."""
    found = obj.phone(national_id).sessions()
    obj.output(found, "\n".join(f"{s['sid']}  {s['auth_mode']:7} {s['created_at']}  "
                                f"{' '.join(s['clients'])}" for s in found) or "no open session")


@main.command("end-session")
@national_id_option
@click.option("--sid", required=True, help="The session to end (see 'sessions').")
@click.pass_obj
@provider_errors
def end_session(obj: Context, national_id: str | None, sid: str) -> None:
    """Log out of one session: every service of it is told."""
    ended = obj.phone(national_id).end_session(sid)
    obj.output(ended, f"ended {ended['sid']}")


@main.command()
@national_id_option
@click.pass_obj
@provider_errors
def status(obj: Context, national_id: str | None) -> None:
    """What this home holds and the status of each device at the provider."""
    ids = [national_id] if national_id else EcpsPhone.known(obj.home)
    rows: list[dict[str, Any]] = []
    for nid in ids:
        phone = obj.phone(nid)
        row = phone.local_state()
        try:
            row["status"] = phone.device()["status"]
        except PhoneError as exc:  # a revoked device no longer authenticates
            row["status"] = "revoked" if exc.status == 401 else f"error: {exc.code}"
        rows.append(row)
    lines = [f"{r['national_id']}  device {r['device_id']}  {r['status']}" for r in rows]
    obj.output({"server": obj.server, "home": str(obj.home), "phones": rows},
               "\n".join([f"server {obj.server}", f"home   {obj.home}"] +
                         (lines or ["no e-CPS activated here"])))


if __name__ == "__main__":
    main()
