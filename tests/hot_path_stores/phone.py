"""An activated virtual e-CPS phone for a live server (the single-use tests' e-CPS side)."""

from __future__ import annotations

from typing import Any

from clients.ecps_app.phone import EcpsPhone

GP = "810099900010"
PIN = "1234"


def activated_phone(live: Any, home: Any, national_id: str = GP) -> EcpsPhone:
    phone = EcpsPhone(live.base_url, home, national_id)
    phone.activate(PIN)
    return phone
