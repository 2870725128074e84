"""Introductions (seed 000): a requester asks a common contact (the via user) to introduce them to a target.

State machine (docs/walks.md, "Introductions")::

    pending --forward (via)--> forwarded --accept (target)--> accepted (a direct conversation opens)
    pending --decline (via)--> declined (declined_by "via")
    forwarded --decline (target)--> declined (declined_by "target")
    pending / forwarded --block between any two of the three--> cancelled

The target does not learn of a request before it is forwarded (404 until
then, like a stranger). A stranger gets 404 ``not_found`` for everything;
acting out of turn is 403 ``not_your_turn``; the wrong state 409
``invalid_transition``. Nobody learns anybody's position.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Block, User
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ratelimit import rate_limit_hit
from realtime.publish import publish, user_group

from . import events
from .models import INTRODUCTION_OPEN_STATES, IntroductionRequest, IntroductionStatus

ROLES = ("requester", "via", "target")


def _not_available() -> NotFound:
    return NotFound("This introduction is not possible.", code="not_available")


def _name(user) -> str:
    return user.full_name or user.username


def _base() -> QuerySet[IntroductionRequest]:
    return IntroductionRequest.objects.select_related("from_user", "via_user", "to_user")


def _visible_q(user_id) -> Q:
    return Q(from_user_id=user_id) | Q(via_user_id=user_id) | Q(to_user_id=user_id, forwarded_at__isnull=False)


def introduction_get_for(user, intro_id) -> IntroductionRequest:
    """The introduction if ``user`` is its requester, via user, or its target after forwarding; else 404."""
    try:
        pk = int(str(intro_id))
    except (TypeError, ValueError):
        raise NotFound("No such introduction.") from None
    item = _base().filter(_visible_q(user.pk), pk=pk).first() if 0 < pk < 2**63 else None
    if item is None:
        raise NotFound("No such introduction.")
    return item


def introduction_list(user, role: str | None = None) -> QuerySet[IntroductionRequest]:
    """``user``'s introductions, newest first, as ``requester``, ``via``, ``target`` (forwarded only) or any."""
    if role == "requester":
        return _base().filter(from_user_id=user.pk)
    if role == "via":
        return _base().filter(via_user_id=user.pk)
    if role == "target":
        return _base().filter(to_user_id=user.pk, forwarded_at__isnull=False)
    return _base().filter(_visible_q(user.pk))


def _audience(item) -> list:
    ids = [item.from_user_id, item.via_user_id]
    if item.forwarded_at is not None:
        ids.append(item.to_user_id)
    return ids


def _publish_updated(item) -> None:
    for uid in _audience(item):
        publish(user_group(uid), "introduction:updated", events.introduction_updated(item, viewer_id=uid))


def _notify(user_id, item, content: str, action: str) -> None:
    from notifications.services import notification_send

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        notification_send(
            user=user,
            type="introduction_request",
            content=content,
            related_kind="introduction",
            related_id=item.pk,
            data={"introduction_id": item.pk, "action": action, "status": item.status},
        )


def _any_block(ids) -> bool:
    ids = list(ids)
    return Block.objects.filter(blocker_id__in=ids, blocked_id__in=ids).exists()


def introduction_request(*, user: User, target_user_id, via_user_id, message: str = "") -> IntroductionRequest:
    """``user`` asks ``via_user_id`` to introduce them to ``target_user_id``; returns the ``pending`` request.

    The via user must be a contact of both (``geo.selectors.contact_ids_for``:
    a completed walk, a shared meetup, direct messages both ways, ...).
    Sends ``introduction:request`` and an ``introduction_request``
    notification to the via user, ``introduction:updated`` to the requester.
    Raises ``InvalidInput`` (400) when two of the three are the same person,
    ``RateLimited`` (429) past ``INTRODUCTION_RATE``, ``NotFound`` (404
    ``not_available``, one answer) when the target or via user is unknown or
    inactive, a block exists between any two of the three, or the via user
    is not a contact of both (the requester cannot learn the via user's
    contacts), ``Conflict`` (409 ``request_pending``) while an introduction
    between requester and target is open (either direction).
    """
    from geo.selectors import contact_ids_for

    me, target, via = str(user.pk), str(target_user_id), str(via_user_id)
    if me == target:
        raise InvalidInput("Not to yourself.", fields={"target_user_id": ["Not yourself."]})
    if via in (me, target):
        raise InvalidInput("The via user is a third person.", fields={"via_user_id": ["A third person."]})
    rate_limit_hit("introduction", me, settings.INTRODUCTION_RATE)
    people = {str(u.pk): u for u in User.objects.filter(pk__in=[target_user_id, via_user_id], is_active=True)}
    if len(people) != 2 or _any_block([user.pk, target_user_id, via_user_id]):
        raise _not_available()
    via_user, target_user = people[via], people[target]
    if via_user.pk not in contact_ids_for(user.pk) or via_user.pk not in contact_ids_for(target_user.pk):
        raise _not_available()
    try:
        with transaction.atomic():
            item = IntroductionRequest.objects.create(
                from_user=user, via_user=via_user, to_user=target_user, message=message
            )
            publish(
                user_group(via_user.pk),
                "introduction:request",
                events.introduction_request(item, viewer_id=via_user.pk),
            )
            publish(user_group(user.pk), "introduction:updated", events.introduction_updated(item, viewer_id=user.pk))
            _notify(
                via_user.pk,
                item,
                f"{_name(user)} asks you to introduce them to {_name(target_user)}"
                + (f": {message}" if message else "."),
                "requested",
            )
    except IntegrityError:
        raise Conflict("An introduction between you two is already open.", code="request_pending") from None
    return item


def _locked(user, intro_id) -> IntroductionRequest:
    item = introduction_get_for(user, intro_id)
    locked = _base().select_for_update(of=("self",)).get(pk=item.pk)
    return locked


def _invalid(item, action: str) -> Conflict:
    return Conflict(
        f"A {item.status} introduction cannot be {action}.", code="invalid_transition", fields={"status": [item.status]}
    )


def introduction_forward(*, user: User, intro_id) -> IntroductionRequest:
    """The via user forwards a ``pending`` introduction to the target: ``forwarded``.

    The target gets ``introduction:request`` and a notification; requester
    and via get ``introduction:updated``. Raises 404 for a stranger (and the
    target, who cannot see it yet), 403 ``not_your_turn`` for the requester,
    409 ``invalid_transition`` when not pending.
    """
    now = timezone.now()
    with transaction.atomic():
        item = _locked(user, intro_id)
        if str(item.via_user_id) != str(user.pk):
            raise Forbidden("Only the via user can forward an introduction.", code="not_your_turn")
        if item.status != IntroductionStatus.PENDING:
            raise _invalid(item, "forwarded")
        item.status, item.forwarded_at = IntroductionStatus.FORWARDED, now
        item.save(update_fields=["status", "forwarded_at", "updated_at"])
        publish(
            user_group(item.to_user_id),
            "introduction:request",
            events.introduction_request(item, viewer_id=item.to_user_id),
        )
        _publish_updated(item)
        _notify(
            item.to_user_id,
            item,
            f"{_name(user)} would like to introduce {_name(item.from_user)} to you"
            + (f": {item.message}" if item.message else "."),
            "forwarded",
        )
        _notify(item.from_user_id, item, f"{_name(user)} forwarded your introduction.", "forwarded")
    return item


def introduction_decline(*, user: User, intro_id) -> IntroductionRequest:
    """The via user declines a ``pending`` one, or the target a ``forwarded`` one: ``declined``.

    The requester (and the via user when the target declines) is notified.
    Raises 404 for a stranger, 403 ``not_your_turn`` for the requester, 409
    ``invalid_transition`` from any other state (e.g. the via user after
    forwarding).
    """
    now = timezone.now()
    with transaction.atomic():
        item = _locked(user, intro_id)
        uid = str(user.pk)
        if uid == str(item.via_user_id):
            if item.status != IntroductionStatus.PENDING:
                raise _invalid(item, "declined by the via user")
            role = "via"
        elif uid == str(item.to_user_id):
            if item.status != IntroductionStatus.FORWARDED:
                raise _invalid(item, "declined")
            role = "target"
        else:
            raise Forbidden("Only the via user or the target can decline.", code="not_your_turn")
        item.status, item.declined_by, item.responded_at = IntroductionStatus.DECLINED, role, now
        item.save(update_fields=["status", "declined_by", "responded_at", "updated_at"])
        _publish_updated(item)
        _notify(item.from_user_id, item, f"{_name(user)} declined your introduction.", "declined")
        if role == "target":
            _notify(item.via_user_id, item, f"{_name(user)} declined the introduction.", "declined")
    return item


def introduction_accept(*, user: User, intro_id) -> IntroductionRequest:
    """The target accepts a ``forwarded`` introduction: ``accepted``; a direct conversation with the requester opens.

    All three get ``introduction:updated`` (``conversation_id`` for the
    pair) and the requester and via user a notification. Raises 404 for a
    stranger, 403 ``not_your_turn`` for the requester or via user, 409
    ``invalid_transition`` when not forwarded.
    """
    from messaging.services import conversation_get_or_create_direct

    now = timezone.now()
    with transaction.atomic():
        item = _locked(user, intro_id)
        if str(item.to_user_id) != str(user.pk):
            raise Forbidden("Only the target can accept an introduction.", code="not_your_turn")
        if item.status != IntroductionStatus.FORWARDED:
            raise _invalid(item, "accepted")
        conversation = conversation_get_or_create_direct(user=user, other_id=item.from_user_id)
        item.status, item.responded_at, item.conversation = IntroductionStatus.ACCEPTED, now, conversation
        item.save(update_fields=["status", "responded_at", "conversation", "updated_at"])
        _publish_updated(item)
        _notify(item.from_user_id, item, f"{_name(user)} accepted your introduction: say hello!", "accepted")
        _notify(
            item.via_user_id, item, f"{_name(user)} accepted the introduction to {_name(item.from_user)}.", "accepted"
        )
    return item


def introductions_cancel_for_block(*, blocker_id, blocked_id) -> int:
    """A block between any two of the three cancels open introductions (no notification); returns how many."""
    pair = {blocker_id, blocked_id}
    names = {str(blocker_id), str(blocked_id)}
    involved = Q(from_user_id__in=pair) | Q(via_user_id__in=pair) | Q(to_user_id__in=pair)
    count = 0
    with transaction.atomic():
        for item in _base().select_for_update(of=("self",)).filter(involved, status__in=INTRODUCTION_OPEN_STATES):
            if len({str(item.from_user_id), str(item.via_user_id), str(item.to_user_id)} & names) < 2:
                continue
            item.status = IntroductionStatus.CANCELLED
            item.save(update_fields=["status", "updated_at"])
            _publish_updated(item)
            count += 1
    return count
