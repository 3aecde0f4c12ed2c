"""`liaison rooms import / list / bookings`: a YAML file of rooms, all or none; the demo rooms file."""

from __future__ import annotations

import json

from tests.cli.test_cli import liaison
from tests.conftest import add_people


def test_rooms_import_list_and_a_bad_file_saves_nothing(database_url, sessions, tmp_path):
    from cli.rooms import DEMO_ROOMS

    add_people(sessions, "li")
    out = liaison("rooms", "import", DEMO_ROOMS, url=database_url).stdout
    assert out.startswith("5 rooms saved: focus-a, focus-b, meeting-5, board, training")
    listed = json.loads(liaison("rooms", "list", "--json", url=database_url).stdout)
    assert [r["key"] for r in listed] == ["board", "focus-a", "focus-b", "meeting-5", "training"]
    bad = tmp_path / "rooms.yaml"
    bad.write_text("- {key: new-room, name: 新会议室, capacity: 8}\n- {key: focus-a, name: A, capacity: lots}\n",
                   encoding="utf-8")
    refused = liaison("rooms", "import", bad, url=database_url, expect=1)
    assert "room capacity must be a whole number" in refused.stderr
    assert "new-room" not in liaison("rooms", "list", url=database_url).stdout  # all or none
    assert liaison("rooms", "bookings", "board", "--day", "2030-01-07", url=database_url).stdout.strip() == "no bookings"
