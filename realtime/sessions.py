"""Closing the sockets of a session when it ends (logout), on every server process."""

from __future__ import annotations

from .publish import channel_message_send, user_group


def session_sockets_close(*, user_id, family: str | None, message: str = "Logged out.") -> None:
    """After commit, close every socket of ``user_id`` opened with an access token of session ``family``.

    ``family`` is the ``fam`` claim shared by a login's refresh and access
    tokens (``accounts.tokens``); ``None`` closes every socket of the user
    (e.g. account deactivated). Each socket receives ``error``
    ``session_ended`` and is closed with code 4403.
    """
    channel_message_send(user_group(user_id), {"type": "session.close", "fam": family, "message": message})
