"""Introductions: contacts of both, refusals, forward/decline/accept, who sees what, wrong users, blocks, events."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import Block
from core.signals import block_created
from messaging.models import Conversation
from notifications.models import Notification
from tests.conftest import assert_error
from walks.models import IntroductionRequest, Walk

pytestmark = pytest.mark.django_db

URL = "/api/introductions"


@pytest.fixture
def four(make_user):
    """req(uester), via, tgt (target), eve (a stranger); via walked with req and with tgt (contacts)."""
    req, via, tgt, eve = (make_user(username=n, full_name=n.title()) for n in ("req", "via", "tgt", "eve"))
    Walk.objects.create(initiator=req, partner=via, status="completed")
    Walk.objects.create(initiator=tgt, partner=via, status="completed")
    return req, via, tgt, eve


def ask(client, target, via, **extra):
    body = {"target_user_id": str(target.pk), "via_user_id": str(via.pk), **extra}
    return client.post("/api/request_introduction", body, format="json")


@pytest.fixture
def intro(four, client_for):
    req, via, tgt, _ = four
    r = ask(client_for(req), tgt, via, message="We both like chess")
    assert r.status_code == 201, r.content
    return IntroductionRequest.objects.get(pk=r.json()["id"])


def test_request_reaches_the_via_user_only(intro, four, client_for):
    req, via, tgt, _ = four
    assert intro.status == "pending" and intro.message == "We both like chess"
    note = Notification.objects.get(user=via)
    assert note.type == "introduction_request" and note.related_id == str(intro.pk)
    assert not Notification.objects.filter(user=tgt).exists()
    # the target does not know yet
    assert client_for(tgt).get(URL).json()["count"] == 0
    assert_error(client_for(tgt).post(f"{URL}/{intro.pk}/accept"), 404, "not_found")
    assert client_for(via).get(URL, {"role": "via"}).json()["results"][0]["id"] == intro.pk
    assert client_for(req).get(URL, {"role": "requester"}).json()["count"] == 1
    body = client_for(req).get(URL).json()["results"][0]
    assert not {"lat", "lng", "location", "position"} & set(body)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"target_user_id": "TGT"},
        {"via_user_id": "VIA"},
        {"target_user_id": "x", "via_user_id": "VIA"},
        {"target_user_id": "TGT", "via_user_id": 3},
        {"target_user_id": "TGT", "via_user_id": "VIA", "message": "x" * 501},
        {"target_user_id": "SELF", "via_user_id": "VIA"},
        {"target_user_id": "TGT", "via_user_id": "SELF"},
        {"target_user_id": "TGT", "via_user_id": "TGT"},
    ],
)
def test_bad_input(four, client_for, body):
    req, via, tgt, _ = four
    names = {"TGT": str(tgt.pk), "VIA": str(via.pk), "SELF": str(req.pk)}
    body = {k: names.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    assert_error(client_for(req).post("/api/request_introduction", body, format="json"), 400, "invalid")
    assert not IntroductionRequest.objects.exists()


def test_needs_auth(anon):
    assert anon.get(URL).status_code == 401
    assert anon.post("/api/request_introduction", {}, format="json").status_code == 401


def test_refusals_do_not_say_why(four, client_for, make_user):
    req, via, tgt, eve = four
    api = client_for(req)
    nobody = "00000000-0000-0000-0000-000000000000"
    answers = [
        ask(api, eve, via),  # via is no contact of eve
        ask(api, tgt, eve),  # eve is no contact of either
        api.post("/api/request_introduction", {"target_user_id": nobody, "via_user_id": str(via.pk)}, format="json"),
    ]
    Block.objects.create(blocker=tgt, blocked=req)
    answers.append(ask(api, tgt, via))  # target blocked requester
    Block.objects.all().delete()
    Block.objects.create(blocker=via, blocked=tgt)
    answers.append(ask(api, tgt, via))  # via and target in a block
    bodies = [assert_error(r, 404, "not_available") for r in answers]
    assert len({b["message"] for b in bodies}) == 1
    assert not IntroductionRequest.objects.exists()


def test_one_open_per_pair_and_rate(intro, four, client_for):
    req, via, tgt, _ = four
    assert_error(ask(client_for(req), tgt, via), 409, "request_pending")
    assert_error(ask(client_for(tgt), req, via), 409, "request_pending")
    with override_settings(INTRODUCTION_RATE="1/min"):
        client_for(via).post(f"{URL}/{intro.pk}/decline")
        assert ask(client_for(req), tgt, via).status_code == 201
        assert_error(ask(client_for(req), tgt, via), 429, "rate_limited")


def test_forward_then_accept_opens_a_direct_conversation(intro, four, client_for):
    req, via, tgt, eve = four
    assert_error(client_for(req).post(f"{URL}/{intro.pk}/forward"), 403, "not_your_turn")
    assert_error(client_for(via).post(f"{URL}/{intro.pk}/accept"), 403, "not_your_turn")
    r = client_for(via).post(f"{URL}/{intro.pk}/forward")
    assert r.status_code == 200 and r.json()["status"] == "forwarded" and r.json()["forwarded_at"]
    assert Notification.objects.filter(user=tgt, type="introduction_request").exists()
    assert_error(client_for(via).post(f"{URL}/{intro.pk}/forward"), 409, "invalid_transition")
    assert_error(client_for(via).post(f"{URL}/{intro.pk}/decline"), 409, "invalid_transition")
    assert client_for(tgt).get(URL, {"role": "target"}).json()["results"][0]["id"] == intro.pk
    assert_error(client_for(req).post(f"{URL}/{intro.pk}/accept"), 403, "not_your_turn")
    r = client_for(tgt).post(f"{URL}/{intro.pk}/accept")
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    conv = Conversation.objects.get(pk=r.json()["conversation_id"])
    assert conv.kind == "direct" and set(conv.members.values_list("user_id", flat=True)) == {req.pk, tgt.pk}
    assert client_for(via).get(URL).json()["results"][0]["conversation_id"] is None
    assert client_for(req).get(URL).json()["results"][0]["conversation_id"] == conv.pk
    for user in (req, via):
        assert Notification.objects.filter(user=user, type="introduction_request", data__action="accepted").exists()
    assert_error(client_for(tgt).post(f"{URL}/{intro.pk}/decline"), 409, "invalid_transition")


def test_declines(intro, four, client_for):
    req, via, tgt, _ = four
    assert_error(client_for(req).post(f"{URL}/{intro.pk}/decline"), 403, "not_your_turn")
    r = client_for(via).post(f"{URL}/{intro.pk}/decline")
    assert r.json()["status"] == "declined" and r.json()["declined_by"] == "via"
    assert client_for(tgt).get(URL).json()["count"] == 0  # never forwarded: the target never learns of it
    r = ask(client_for(tgt), req, via)
    assert r.status_code == 201
    client_for(via).post(f"{URL}/{r.json()['id']}/forward")
    r = client_for(req).post(f"{URL}/{r.json()['id']}/decline")
    assert r.json()["status"] == "declined" and r.json()["declined_by"] == "target"
    assert Notification.objects.filter(user=tgt, data__action="declined").exists()


def test_stranger_on_every_action(intro, four, client_for):
    eve = four[3]
    api = client_for(eve)
    for action in ("forward", "decline", "accept"):
        assert_error(api.post(f"{URL}/{intro.pk}/{action}"), 404, "not_found")
        assert_error(api.post(f"{URL}/nope/{action}"), 404, "not_found")
    assert api.get(URL).json()["count"] == 0
    assert_error(api.get(URL, {"role": "boss"}), 400, "invalid")


def test_block_cancels(intro, four, client_for):
    req, via, tgt, _ = four
    Block.objects.create(blocker=via, blocked=req)
    block_created.send(sender=None, blocker_id=via.pk, blocked_id=req.pk)
    intro.refresh_from_db()
    assert intro.status == "cancelled"
    assert_error(client_for(via).post(f"{URL}/{intro.pk}/forward"), 409, "invalid_transition")
