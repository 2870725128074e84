"""Parallel retries with one client_msg_id store exactly one row (threads, real transactions)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from messaging.models import Conversation, Message
from messaging.services import message_send

pytestmark = pytest.mark.django_db(transaction=True)


def _parallel(n, func):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(func())
        except Exception as exc:  # collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


def test_parallel_retries_store_exactly_one_message(make_user):
    alice, bob = make_user(username="alice"), make_user(username="bob")
    results, errors = _parallel(
        8, lambda: message_send(sender=alice, receiver_id=bob.pk, body="once", client_msg_id="retry-1")
    )
    assert errors == []
    assert Message.objects.filter(client_msg_id="retry-1").count() == 1
    assert len({r.message.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Conversation.objects.filter(kind="direct").count() == 1


def test_parallel_first_messages_share_one_direct_conversation(make_user):
    alice, bob = make_user(username="alice"), make_user(username="bob")
    results, errors = _parallel(6, lambda: message_send(sender=alice, receiver_id=bob.pk, body="hi"))
    assert errors == []
    assert Conversation.objects.filter(kind="direct").count() == 1
    assert Message.objects.count() == 6
