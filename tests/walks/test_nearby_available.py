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


def test_fix_listeners_any_is_false_without_relationships_and_true_with_a_live_walk(trio, client_for):
    from walks.selectors import fix_listeners_any

    alice, bob, carol = trio
    assert fix_listeners_any(alice.pk) is False
    walk = client_for(alice).post("/api/walks/request", {"partner_id": str(bob.pk)}, format="json")
    assert walk.status_code == 201, walk.content
    assert fix_listeners_any(alice.pk) is False  # only requested: nothing listens yet
    assert client_for(bob).put(f"/api/walks/{walk.json()['id']}/accept").status_code == 200
    assert fix_listeners_any(alice.pk) is True and fix_listeners_any(bob.pk) is True
    assert fix_listeners_any(carol.pk) is False


def test_fix_listeners_any_agrees_with_the_orm_selectors(trio, client_for):
    """The raw gate and the ORM selectors of walks, meetups and alerts agree, before and after each starts."""
    from walks.meet import meetups_exact_for
    from walks.models import ProximityAlert, ProximityStatus
    from walks.selectors import fix_listeners_any, walks_live_for

    alice, bob, carol = trio

    def orm(user):
        alerts = ProximityAlert.objects.filter(status=ProximityStatus.ACTIVE).filter(
            from_user_id=user.pk
        ) | ProximityAlert.objects.filter(status=ProximityStatus.ACTIVE, to_user_id=user.pk)
        return walks_live_for(user.pk).exists() or meetups_exact_for(user.pk).exists() or alerts.exists()

    def agree():
        for user in (alice, bob, carol):
            assert fix_listeners_any(user.pk) == orm(user), user.username

    agree()
    meet = client_for(carol).post("/api/meet_now", {"target_user_id": str(bob.pk), "message": "hi"}, format="json")
    assert meet.status_code == 201, meet.content
    assert client_for(bob).post(f"/api/meet_now/{meet.json()['id']}/accept").status_code == 200
    agree()
    assert fix_listeners_any(carol.pk) is True
    alert = client_for(alice).post("/api/proximity_alerts", {"user_id": str(bob.pk), "distance_m": 500}, format="json")
    assert alert.status_code == 201, alert.content
    assert client_for(bob).post(f"/api/proximity_alerts/{alert.json()['id']}/accept").status_code == 200
    agree()
    assert fix_listeners_any(alice.pk) is True
