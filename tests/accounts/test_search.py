"""GET /api/search: matching, role filter, exclusions (self, blocks both ways, visible_roles), shape."""

from __future__ import annotations

import pytest

from accounts.models import Block
from geo.models import LocationFix
from tests.conftest import assert_error

from .conftest import SEARCH

pytestmark = pytest.mark.django_db

FORBIDDEN_KEYS = {"lat", "lng", "location", "distance_m", "email", "birth_date", "precision_m", "password"}


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


@pytest.fixture
def people(make_user):
    """A small population with distinctive names, bios and roles."""
    return {
        "marie": make_user(username="mcurie", full_name="Marie Curie", bio="radium enthusiast", roles=["walker"]),
        "pierre": make_user(username="pcurie", full_name="Pierre Curie", bio="magnetism", roles=["driver"]),
        "ada": make_user(username="countess", full_name="Ada Lovelace", bio="likes engines", roles=["runner"]),
        "alan": make_user(username="turing", full_name="Alan Turing", bio="marathon runner", roles=[]),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Curie", {"marie", "pierre"}),  # full name, case-insensitive
        ("curie", {"marie", "pierre"}),
        ("count", {"ada"}),  # username substring
        ("RADIUM", {"marie"}),  # bio
        ("engines", {"ada"}),
        ("runner", {"ada", "alan"}),  # role keyword (ada) and bio (alan)
        ("driver", {"pierre"}),  # role keyword only
        ("marie curie", {"marie"}),  # every word must match
        ("zzzz", set()),
    ],
)
def test_search_matches_name_username_bio_and_role(client_for, make_user, people, query, expected):
    viewer = make_user(username="viewer", full_name="Viewer")
    response = client_for(viewer).get(SEARCH, {"query": query})
    assert ids(response) == {str(people[name].pk) for name in expected}


@pytest.mark.parametrize(
    "params", [{}, {"query": ""}, {"query": " "}, {"query": "a"}, {"query": " a ", "role": "walker"}]
)
def test_query_shorter_than_two_characters_is_400(client_for, make_user, people, params):
    """Issue 7 item 12: ``?query=`` used to list every user."""
    viewer = make_user(username="viewer")
    error = assert_error(client_for(viewer).get(SEARCH, params), 400, "invalid")
    assert "query" in error["fields"]


def test_two_character_query_is_enough(client_for, make_user, people):
    viewer = make_user(username="viewer")
    assert client_for(viewer).get(SEARCH, {"query": "ad"}).status_code == 200


@pytest.mark.parametrize("slash", ["", "/"])
def test_role_filter(client_for, make_user, people, slash):
    viewer = make_user(username="viewer")
    api = client_for(viewer)
    assert ids(api.get(SEARCH + slash, {"role": "walker"})) == {str(people["marie"].pk)}
    assert ids(api.get(SEARCH, {"role": "runner", "query": "Lovelace"})) == {str(people["ada"].pk)}
    assert ids(api.get(SEARCH, {"role": "runner", "query": "Turing"})) == set()
    assert ids(api.get(SEARCH, {"role": "organizer"})) == set()


@pytest.mark.parametrize("role", ["wizard", "WALKER", "walker,runner"])
def test_unknown_role_is_400(api, role):
    error = assert_error(api.get(SEARCH, {"role": role}), 400, "unknown_role")
    assert "role" in error["fields"]


@pytest.mark.parametrize("params", [{"query": "q" * 201}, {"role": "r" * 33}])
def test_oversized_parameters_are_400(api, params):
    assert_error(api.get(SEARCH, params), 400, "invalid")


def test_search_excludes_the_caller(client_for, make_user):
    me = make_user(username="narcissus", full_name="Narcissus")
    twin = make_user(username="narcissus2", full_name="Narcissus Two")
    assert ids(client_for(me).get(SEARCH, {"query": "narcissus"})) == {str(twin.pk)}


def test_search_excludes_inactive_users(client_for, make_user):
    me = make_user()
    make_user(full_name="Gone Ghost", is_active=False)
    assert ids(client_for(me).get(SEARCH, {"query": "Ghost"})) == set()


def test_search_excludes_blocks_both_ways(client_for, make_user):
    me = make_user()
    i_blocked = make_user(full_name="Findme One")
    blocked_me = make_user(full_name="Findme Two")
    bystander = make_user(full_name="Findme Three")
    Block.objects.create(blocker=me, blocked=i_blocked)
    Block.objects.create(blocker=blocked_me, blocked=me)
    # A block between two other people does not hide anyone from me.
    Block.objects.create(blocker=bystander, blocked=i_blocked)

    assert ids(client_for(me).get(SEARCH, {"query": "Findme"})) == {str(bystander.pk)}
    # And the blocked people do not find me either.
    me_id = str(me.pk)
    assert me_id not in ids(client_for(i_blocked).get(SEARCH, {"query": me.username}))
    assert me_id not in ids(client_for(blocked_me).get(SEARCH, {"query": me.username}))
    assert me_id in ids(client_for(bystander).get(SEARCH, {"query": me.username}))


def test_unblocking_makes_them_findable_again(client_for, make_user):
    me = make_user()
    target = make_user(full_name="Findme Again")
    api = client_for(me)
    api.post(f"/api/users/{target.pk}/block")
    assert ids(api.get(SEARCH, {"query": "Findme"})) == set()
    api.delete(f"/api/users/{target.pk}/block")
    assert ids(api.get(SEARCH, {"query": "Findme"})) == {str(target.pk)}


@pytest.mark.parametrize(
    ("viewer_roles", "visible"),
    [
        ([], False),
        (["walker"], False),
        (["driver"], True),
        (["walker", "rider"], True),
        (["rider"], True),
    ],
)
def test_search_respects_the_targets_visible_roles(client_for, make_user, viewer_roles, visible):
    target = make_user(full_name="Selective Person", visible_roles=["driver", "rider"])
    open_person = make_user(full_name="Open Person", visible_roles=[])
    viewer = make_user(roles=viewer_roles)

    found = ids(client_for(viewer).get(SEARCH, {"query": "Person"}))

    assert str(open_person.pk) in found
    assert (str(target.pk) in found) is visible


def test_visible_roles_also_apply_to_role_keyword_search(client_for, make_user):
    make_user(full_name="Hidden Driver", roles=["driver"], visible_roles=["organizer"])
    viewer = make_user(roles=["walker"])
    assert ids(client_for(viewer).get(SEARCH, {"query": "driver"})) == set()
    assert ids(client_for(viewer).get(SEARCH, {"role": "driver"})) == set()


def test_results_never_expose_a_position_or_private_fields(client_for, make_user, place):
    target = make_user(full_name="Located Person", sharing=True, birth_date="1980-01-02")
    place(target, 48.858370, 2.294481)
    assert LocationFix.objects.filter(user=target).exists()
    viewer = make_user()

    response = client_for(viewer).get(SEARCH, {"query": "Located"})

    assert ids(response) == {str(target.pk)}
    item = response.json()["results"][0]
    assert not FORBIDDEN_KEYS & set(item)
    assert {"id", "username", "name", "roles"} <= set(item)
    assert item["name"] == "Located Person"
    raw = response.content.decode()
    assert "48.85" not in raw and "2.294" not in raw
    assert target.email not in raw and "1980-01-02" not in raw


def test_search_is_paginated(client_for, make_user):
    crowd = [make_user(username=f"crowd{n:02d}", full_name="Crowd Member") for n in range(23)]
    make_user(username="outsider", full_name="Someone Else")
    api = client_for(make_user(username="viewer"))

    first = api.get(SEARCH, {"query": "crowd"})
    assert first.status_code == 200
    page1 = first.json()
    assert set(page1) == {"count", "next", "previous", "results"}
    assert page1["count"] == 23
    assert len(page1["results"]) == 20
    assert page1["previous"] is None
    assert "page=2" in page1["next"] and "query=crowd" in page1["next"]

    page2 = api.get(SEARCH, {"query": "crowd", "page": 2}).json()
    assert len(page2["results"]) == 3
    assert page2["next"] is None and page2["previous"] is not None
    got = [item["id"] for item in page1["results"] + page2["results"]]
    assert len(got) == len(set(got))
    assert set(got) == {str(u.pk) for u in crowd}


@pytest.mark.parametrize("page", ["99", "0", "abc"])
def test_bad_page_is_404(client_for, make_user, page):
    make_user(full_name="Only One")
    assert_error(client_for(make_user()).get(SEARCH, {"query": "Only", "page": page}), 404, "not_found")


def test_search_unauthenticated_is_401(anon, make_user):
    make_user(full_name="Someone")
    assert_error(anon.get(SEARCH, {"query": "Someone"}), 401, "not_authenticated")
