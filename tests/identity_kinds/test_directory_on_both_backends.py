"""The directory writes of issue 14 on both backends: stored otherIds replaced by a newer file
(delete then insert under the unique (person, origin, identifier) constraint) and ended people
kept, with the same claims afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from psc_idp.claims import other_ids
from psc_idp.db import db
from psc_idp.directory import demo_data
from psc_idp.directory.loader import load_demo_directory, load_directory_file
from psc_idp.directory.lookup import find_by_identifier, is_ended

MULTI = "8" + demo_data.MULTI_IDS_RPPS
PSI = "5d2b1c9e-0f6a-4c1b-9a77-2e5f3b4c6d8e"


def test_other_ids_replaced_and_ended_people_kept(make_app: Callable[..., Flask],
                                                  tmp_path: Path) -> None:
    app = make_app()
    with app.app_context():
        load_demo_directory(db.session, include_staff=True)
        doc = demo_data.as_directory_document(include_staff=True)
        [person] = [p for p in doc["professionals"] if p.get("rpps") == MULTI[1:]]
        # the same identifiers in another order, one replaced: a newer file is the truth
        person["other_ids"] = [
            {"identifier": PSI, "origin": "PSI", "quality": 2},
            {"identifier": MULTI, "origin": "RPPS", "quality": 1},
            {"identifier": demo_data.MULTI_IDS_ADELI, "origin": "ADELI", "quality": 1},
        ]
        path = tmp_path / "directory.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        counts = load_directory_file(db.session, path)
        assert counts["professionals_updated"] == 1, counts
        db.session.expire_all()
        assert other_ids(find_by_identifier(MULTI)) == [
            {"identifiant": PSI, "origine": "PSI", "qualite": 2},
            {"identifiant": MULTI, "origine": "RPPS", "qualite": 1},
            {"identifiant": demo_data.MULTI_IDS_ADELI, "origine": "ADELI", "qualite": 1}]
        again = load_directory_file(db.session, path)
        assert again["professionals_updated"] == again["professionals_created"] == 0
        ended = find_by_identifier("8" + demo_data.ENDED_RPPS)
        assert ended is not None and is_ended(ended)
