"""(being written) The directory admin API."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("directory_api", __name__, url_prefix="/api/admin/directory")
