"""The OpenAPI 3.1 description of the mobile API, served at ``/api/mobile/v1/openapi.json``.

Kept next to the views and checked against them by the tests (every route described, every
described response shape validated).
"""

from __future__ import annotations

from typing import Any

_ERROR = {"type": "object", "required": ["error", "error_description"],
          "properties": {"error": {"type": "string"}, "error_description": {"type": "string"},
                         "attempts_left": {
                             "type": "integer", "minimum": 0,
                             "description": "403 invalid_pin only: wrong PINs still allowed "
                                            "before the e-CPS is blocked (0: it is now "
                                            "blocked)"}}}
_TS = {"type": ["string", "null"], "format": "date-time"}
_DEVICE = {
    "type": "object",
    "required": ["device_id", "name", "status", "activated_at", "usable_from", "expires_at"],
    "properties": {
        "device_id": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
        "status": {"enum": ["usable", "waiting", "expired", "revoked", "blocked"]},
        "activated_at": _TS, "usable_from": _TS, "expires_at": _TS, "revoked_at": _TS,
        "blocked_at": _TS, "pin_failures": {"type": "integer"},
        "device_token": {"type": "string"}, "otp_secret": {"type": "string"},
        "push_webhook": {"type": ["string", "null"], "format": "uri"},
    },
}
_CHALLENGE = {
    "type": "object",
    "required": ["challenge_id", "service_name", "binding_code", "status", "expires_at"],
    "properties": {
        "challenge_id": {"type": "string", "format": "uuid"},
        "service_name": {"type": "string"}, "client_id": {"type": "string"},
        "binding_code": {"type": "string", "pattern": "^[0-9]{2}$"},
        "origin": {"enum": ["browser", "ciba"]},
        "status": {"enum": ["pending", "approved", "denied", "expired"]},
        "created_at": _TS, "expires_at": _TS,
        "signing_input": {"type": "string",
                          "description": "The device signs '<challenge_id>.<binding_code>."
                                         "<decision>' with ECDSA P-256 / SHA-256 (DER, base64url)"},
    },
}

_SSE_EVENT = {
    "type": "object", "description": "One event of the stream (each `data` is JSON).",
    "properties": {
        "event": {"enum": ["challenges", "end", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"}, "retry": {"type": "integer"},
    },
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """Every operation may answer 400 (malformed input, e.g. a NUL character in a path)."""
    return {str(code): _json(_ERROR, "Error") for code in sorted({400, *codes})}


def _body(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required, "properties": properties}}}}


def openapi_document(server_url: str) -> dict[str, Any]:
    bearer = [{"device": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "psc-idp e-CPS mobile API", "version": "1.0.0",
                 "description": "Backend of the e-CPS app: activation, devices, login "
                                "challenges (approve/deny with PIN and device signature)."},
        "servers": [{"url": server_url.rstrip("/") + "/api/mobile/v1"}],
        "components": {"securitySchemes": {"device": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/activations": {"post": {
                "operationId": "startActivation",
                "description": "429 too_many_requests (with Retry-After, in seconds) beyond "
                               "the abuse limits: activations per professional (contact "
                               "codes) and per client address ([rate_limits]).",
                "requestBody": _body(["national_id"], {
                    "national_id": {"type": "string", "maxLength": 40},
                    "method": {"enum": ["contact", "card"],
                               "description": "contact (default): one code by e-mail and one "
                                              "by SMS. card: a CPx card of the emulated "
                                              "IGC-Santé signs card_challenge (400 "
                                              "unsupported_method if the deployment removed "
                                              "the card verifier)."}}),
                "responses": {"201": _json({"type": "object",
                                            "required": ["activation_id", "expires_in",
                                                         "method"],
                                            "properties": {
                                                "activation_id": {"type": "string"},
                                                "method": {"enum": ["contact", "card"]},
                                                "expires_in": {"type": "integer"},
                                                "sent_to": {"type": "object"},
                                                "card_challenge": {
                                                    "type": "string",
                                                    "description": "card: the card signs "
                                                                   "these UTF-8 bytes"}}},
                                           "Created"),
                              **_errors(400, 403, 404, 409, 429)}}},
            "/activations/{activation_id}/verify": {"post": {
                "operationId": "verifyActivation",
                "parameters": [{"name": "activation_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": _body(["email_code", "sms_code"], {
                    "email_code": {"type": "string"}, "sms_code": {"type": "string"}}),
                "responses": {"200": _json({"type": "object", "required": ["activation_token"],
                                            "properties": {"activation_token":
                                                           {"type": "string"}}}),
                              **_errors(400, 404, 409)}}},
            "/activations/{activation_id}/card": {"post": {
                "operationId": "verifyCardProof",
                "description": "Card activation: the card's X.509 certificate (PEM) and its "
                               "signature (base64url) over card_challenge. 403 "
                               "invalid_card_proof when the installed verifier refuses it.",
                "parameters": [{"name": "activation_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": _body(["certificate", "signature"], {
                    "certificate": {"type": "string", "maxLength": 8000},
                    "signature": {"type": "string", "maxLength": 2000}}),
                "responses": {"200": _json({"type": "object", "required": ["activation_token"],
                                            "properties": {"activation_token":
                                                           {"type": "string"}}}),
                              **_errors(400, 403, 404, 409, 413)}}},
            "/activations/{activation_id}/complete": {"post": {
                "operationId": "completeActivation",
                "parameters": [{"name": "activation_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": _body(["activation_token", "pin", "device_public_key"], {
                    "activation_token": {"type": "string"},
                    "pin": {"type": "string", "pattern": "^[0-9]{4,8}$"},
                    "device_public_key": {"type": "string",
                                          "description": "PEM SubjectPublicKeyInfo, P-256"},
                    "device_name": {"type": "string", "maxLength": 100}}),
                "responses": {"201": _json(_DEVICE, "Created"), **_errors(400, 403, 404, 409)}}},
            "/device": {"get": {"operationId": "currentDevice", "security": bearer,
                                "responses": {"200": _json(_DEVICE), **_errors(401)}}},
            "/device/renew": {"post": {"operationId": "renewDevice", "security": bearer,
                                       "responses": {"200": _json(_DEVICE),
                                                     **_errors(401, 409)}}},
            "/device/push-webhook": {
                "put": {"operationId": "setPushWebhook", "security": bearer,
                        "description": "Register this device's push gateway: at each login "
                                       "waiting for it, the provider POSTs (timeout "
                                       "ecps.webhook_timeout, no redirects, after the commit) "
                                       "the JSON {type: 'ecps.challenge', challenge_id, "
                                       "service_name, binding_code, expires_at, origin, "
                                       "device_id}; never the PIN or a secret. Failures are "
                                       "logged and audited (ecps.webhook_failed), the login "
                                       "goes on. http(s) only (https in production), at most "
                                       "500 characters, no credentials or fragment.",
                        "requestBody": _body(["url"], {"url": {
                            "type": "string", "format": "uri", "minLength": 1, "maxLength": 500}}),
                        "responses": {"200": _json(_DEVICE), **_errors(400, 401)}},
                "delete": {"operationId": "removePushWebhook", "security": bearer,
                           "responses": {"200": _json(_DEVICE), **_errors(401)}}},
            "/devices": {"get": {"operationId": "listDevices", "security": bearer,
                                 "responses": {"200": _json({"type": "object", "properties": {
                                     "devices": {"type": "array", "items": _DEVICE}}}),
                                     **_errors(401)}}},
            "/devices/{device_id}": {
                "parameters": [{"name": "device_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "patch": {"operationId": "renameDevice", "security": bearer,
                          "requestBody": _body(["name"], {"name": {"type": "string",
                                                                   "maxLength": 100}}),
                          "responses": {"200": _json(_DEVICE), **_errors(400, 401, 404)}},
                "delete": {"operationId": "revokeDevice", "security": bearer,
                           "responses": {"200": _json(_DEVICE), **_errors(401, 404)}}},
            "/challenges": {"get": {
                "operationId": "pendingChallenges", "security": bearer,
                "parameters": [{"name": "wait", "in": "query", "required": False,
                                "schema": {"type": "number", "minimum": 0, "maximum": 25}}],
                "responses": {"200": _json({"type": "object", "properties": {
                    "device_status": {"type": "string"},
                    "challenges": {"type": "array", "items": _CHALLENGE}}}),
                    **_errors(400, 401)}}},
            "/challenges/stream": {"get": {
                "operationId": "challengeStream", "security": bearer,
                "description": "Server-Sent Events (text/event-stream). `retry: 2000` first; "
                               "then `event: challenges` with the body of GET /challenges, at "
                               "once and whenever the pending logins or the device status "
                               "change; `: heartbeat` comments every ecps.stream_heartbeat "
                               "seconds (15); finally `event: end` with data "
                               "`{\"reason\": \"max_duration\"}` after "
                               "ecps.stream_max_duration seconds (60: reconnect) or "
                               "`{\"reason\": \"device_revoked\"}` (`closing`: the server "
                               "stops). An `event: error` ends "
                               "a stream that failed on the server.",
                "responses": {"200": {"description": "An event stream",
                                      "content": {"text/event-stream": {
                                          "schema": _SSE_EVENT}}},
                              **_errors(401)}}},
            "/challenges/{challenge_id}/answer": {"post": {
                "operationId": "answerChallenge", "security": bearer,
                "parameters": [{"name": "challenge_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "description": "The PIN is required to approve, not to deny (a denial only "
                               "ends a login; the device signature still proves the phone). "
                               "A wrong PIN: 403 invalid_pin with attempts_left; none left: "
                               "the e-CPS is blocked (403 device_blocked afterwards).",
                "requestBody": _body(["decision", "signature"], {
                    "decision": {"enum": ["approve", "deny"]},
                    "pin": {"type": "string"}, "signature": {"type": "string"}}),
                "responses": {"200": _json(_CHALLENGE), **_errors(400, 401, 403, 404, 409)}}},
            "/me/card": {"get": {"operationId": "visualCard", "security": bearer,
                                 "responses": {"200": _json({"type": "object", "required": [
                                     "national_id", "rpps", "given_name", "family_name",
                                     "valid_until", "qr_svg_base64"]}), **_errors(401)}}},
            "/me/authentications": {"get": {"operationId": "recentAuthentications",
                                             "security": bearer,
                                             "responses": {"200": _json({"type": "object"}),
                                                           **_errors(401)}}},
            "/me/sessions": {"get": {"operationId": "activeSessions", "security": bearer,
                                     "responses": {"200": _json({"type": "object"}),
                                                   **_errors(401)}}},
            "/me/sessions/{sid}": {"delete": {
                "operationId": "endSession", "security": bearer,
                "description": "Log out of one of the professional's sessions: every service "
                               "of the session is told (back-channel logout), its tokens are "
                               "revoked (offline_access ones excepted).",
                "parameters": [{"name": "sid", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object", "required": ["sid", "ended"],
                                            "properties": {"sid": {"type": "string"},
                                                           "ended": {"const": True}}}),
                              **_errors(401, 404)}}},
        },
    }
