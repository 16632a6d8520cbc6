"""Optional push-gateway webhooks: a real e-CPS app is woken by a push notification, so a device
may register a URL (its push gateway) that the provider POSTs to when a login waits for it.

The notification is small and holds nothing secret: the challenge id, the service name, the
binding code, the expiry, the origin and the device id. The phone still fetches the challenge
over the mobile API and answers with the PIN and its signature, as without a webhook.

Delivery never delays or fails a login: notifications are queued on the database session and
handed to a small thread pool only once the transaction that created the challenge commits
(dropped on rollback); each POST has a strict timeout (``ecps.webhook_timeout``), no redirects,
and a failure is logged and audited (``ecps.webhook_failed``), nothing more.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from .. import outbound
from ..audit import record
from ..db import db
from ..pki.outgoing import verify_setting
from .models import EcpsChallenge, EcpsDevice

log = logging.getLogger("psc_idp.webhooks")

MAX_URL_LENGTH = 500
"""The column's size (``EcpsDevice.push_webhook``)."""
_QUEUE_KEY = "psc_idp.ecps_webhooks"
_executor: ThreadPoolExecutor | None = None
_executor_pid = 0
_futures: set[Future[None]] = set()
_futures_lock = threading.Lock()


class WebhookError(ValueError):
    """The URL is not acceptable; the message says why."""


def validate_url(url: Any, *, https_only: bool) -> str:
    """An absolute http(s) URL with a host, at most 500 characters, no credentials, no
    fragment, no spaces or control characters (``https`` only in production)."""
    if not isinstance(url, str) or not url:
        raise WebhookError("url must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"url is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url) or not url.isascii():
        raise WebhookError("url must be ASCII without spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise WebhookError(f"url is malformed: {exc}") from None
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes:
        raise WebhookError(f"url scheme must be {' or '.join(schemes)}")
    if not parts.hostname:
        raise WebhookError("url must name a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("url must not carry credentials")
    if parts.fragment or url.endswith("#"):
        raise WebhookError("url must not have a fragment")
    _check_destination(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return url


def _check_destination(host: str, port: int) -> None:
    """With the outbound guard on (production), a URL whose host is or resolves to an
    internal address is refused now, with a reason; sending re-checks it (``outbound.py``)."""
    if not has_app_context():
        return  # a bare syntax check (no deployment to ask): sending still checks
    settings = current_app.extensions["psc_idp"].settings
    if not outbound.guard_enabled(settings):
        return
    try:
        outbound.resolve_checked(host, port, outbound.parse_networks(
            settings.outbound.allowed_networks))
    except outbound.DestinationRefused as exc:
        raise WebhookError(f"url is not reachable from the provider: {exc}") from None


def notification(challenge: EcpsChallenge, device: EcpsDevice) -> dict[str, Any]:
    """What the gateway receives: enough to wake the app and show the request, no secret."""
    return {"type": "ecps.challenge", "challenge_id": challenge.id,
            "service_name": challenge.service_name, "binding_code": challenge.binding_code,
            "expires_at": challenge.expires_at.isoformat() + "Z", "origin": challenge.origin,
            "device_id": device.id}


def queue_for(challenge: EcpsChallenge, devices: list[EcpsDevice], national_id: str) -> None:
    """Queue one notification per device with a webhook; sent once the session commits."""
    targets = [d for d in devices if d.push_webhook]
    if not targets:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    queue = db.session.info.setdefault(_QUEUE_KEY, [])
    for device in targets:
        queue.append((app, device.push_webhook, notification(challenge, device), national_id,
                      challenge.client_id))


@event.listens_for(Session, "after_commit")
def _send_queued(session: Session) -> None:
    queued = session.info.pop(_QUEUE_KEY, None)
    for item in queued or ():
        _submit(*item)


@event.listens_for(Session, "after_rollback")
def _drop_queued(session: Session) -> None:
    session.info.pop(_QUEUE_KEY, None)


def _pool() -> ThreadPoolExecutor:
    global _executor, _executor_pid
    if _executor is None or _executor_pid != os.getpid():  # a forked worker: its own pool
        _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ecps-webhook")
        _executor_pid = os.getpid()
    return _executor


def _submit(app: Flask, url: str, payload: dict[str, Any], national_id: str,
            client_id: str) -> None:
    future = _pool().submit(_deliver, app, url, payload, national_id, client_id)
    with _futures_lock:
        _futures.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _futures_lock:
        _futures.discard(future)


def wait_idle(timeout: float) -> bool:
    """Wait for the notifications under way in this process (tests; an orderly stop)."""
    with _futures_lock:
        pending = set(_futures)
    done, not_done = wait(pending, timeout=timeout)
    return not not_done


def _deliver(app: Flask, url: str, payload: dict[str, Any], national_id: str,
             client_id: str) -> None:
    timeout = app.extensions["psc_idp"].settings.ecps.webhook_timeout
    try:
        answer = outbound.post(app.extensions["psc_idp"].settings, url, json=payload,
                               timeout=timeout, verify=verify_setting(app),
                               headers={"User-Agent": "psc-idp e-CPS webhook"})
        if 200 <= answer.status_code < 300:
            log.info("webhook for challenge %s delivered (HTTP %s)", payload["challenge_id"],
                     answer.status_code)
            return
        error = f"HTTP {answer.status_code}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - a notification must never break anything
        error = f"unexpected {type(exc).__name__}"
    log.warning("webhook for challenge %s to %s failed: %s", payload["challenge_id"],
                urlsplit(url).hostname, error)
    try:
        with app.app_context():
            record("ecps.webhook_failed", "failure", subject=national_id, client_id=client_id,
                   device_id=payload["device_id"], challenge_id=payload["challenge_id"],
                   error=error)
            db.session.commit()
    except Exception:  # noqa: BLE001 - the database may be gone (shutdown): logged above
        log.exception("could not audit a failed webhook")
