"""Domain signals: how a lower app tells the others that something changed, without importing them.

``accounts`` sends these after the transaction commits; ``geo`` (and later
``messaging``, ``parties``, ``walks``) connect receivers in their
``AppConfig.ready()``. Every signal is sent with ``sender`` = the sending
app's label and keyword arguments as documented below (ids are UUIDs).
"""

from django.dispatch import Signal

#: Something the visibility rule reads changed for ``user_id``: roles,
#: ``location_sharing``, ``visible_roles`` or ``filters``. Kwargs: ``user_id``.
visibility_changed = Signal()

#: ``blocker_id`` blocked ``blocked_id``. Kwargs: ``blocker_id``, ``blocked_id``.
block_created = Signal()

#: ``blocker_id`` removed the block on ``blocked_id``. Kwargs: ``blocker_id``, ``blocked_id``.
block_deleted = Signal()

#: ``user_id`` was deactivated or deleted; memberships end. Kwargs: ``user_id``.
user_deactivated = Signal()

#: geo stored a fix of ``user_id`` (sent after commit, for every stored fix, sharing or not).
#: Kwargs: ``user_id``, ``lat``, ``lng`` (WGS84 degrees), ``recorded_at`` (aware UTC datetime),
#: ``accuracy_m``, ``speed_mps``, ``heading_deg`` (floats or ``None``). Receivers (walks, meetups,
#: parties, proximity alerts) must be quick: they run in the request or socket thread.
#: Sent only when it has receivers; receivers that query per fix should use ``fixes_stored``.
fix_stored = Signal()

#: geo stored a batch of fixes (one group commit; sent after commit, once per batch). Kwargs:
#: ``fixes``, a list of dicts with the keyword arguments of ``fix_stored``. A receiver asks the
#: database once for the whole batch (which of these users concern it?), then handles those.
fixes_stored = Signal()
