"""``GET /api/users/nearby?available=true`` through geo's nearby-filter registry and the walks filter."""

from __future__ import annotations


def test_only_available_walkers_are_listed_and_it_follows_their_flag(trio, client_for):
    alice, bob, carol = trio
    everyone = {n["user_id"] for n in client_for(alice).get("/api/users/nearby").json()["results"]}
    assert everyone == {str(bob.pk), str(carol.pk)}  # positive control: both visible
    assert client_for(alice).get("/api/users/nearby?available=true").json()["results"] == []

    assert client_for(bob).put("/api/walks/availability", {"available": True}, format="json").status_code == 200
    listed = client_for(alice).get("/api/users/nearby?available=true").json()["results"]
    assert [n["user_id"] for n in listed] == [str(bob.pk)]
    assert listed[0]["precision_m"] > 0  # still the snapped node, never exact

    assert client_for(bob).put("/api/walks/availability", {"available": False}, format="json").status_code == 200
    assert client_for(alice).get("/api/users/nearby?available=true").json()["results"] == []
