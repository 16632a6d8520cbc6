"""A request body that arrives after its headers, over the client-certificate listener.

pyOpenSSL on a socket with a timeout raises ``WantReadError`` while a TLS record is still on
its way; cheroot retried it for header lines but not for the body, so a POST whose body came a
moment late (a loaded machine, a slow client) got a 500. Seen twice in CI under load.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from urllib.parse import urlsplit

import pytest


@pytest.mark.one_backend
def test_a_body_sent_after_a_pause_is_read(mtls_live):
    env = mtls_live()
    url = urlsplit(env.alias("token_endpoint"))
    body = b"grant_type=authorization_code&code=x&client_id=nobody"
    context = ssl.create_default_context(cafile=str(env.root_file))
    with socket.create_connection((url.hostname, url.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=url.hostname) as tls:
        tls.sendall(f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        time.sleep(0.5)  # the headers are read; the body is not there yet
        tls.sendall(body[:10])
        time.sleep(0.3)  # and half of it comes later still
        tls.sendall(body[10:])
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert status == 401, answer  # the unknown client refused, as with a prompt body
    assert json.loads(payload)["error"] == "invalid_client"
