"""Walks, meet-now, introductions, meetups, proximity alerts (units: seconds, metres; rates "N/period").

Every value is read from the environment variable of the same name (docs/walks.md, "Settings").
"""

from .base import env

#: Walk requests (REST and socket together) one user may send per window.
WALK_REQUEST_RATE = env("WALK_REQUEST_RATE", default="20/hour")
#: A ``requested`` walk nobody answered expires after this many seconds.
WALK_REQUEST_TTL_S = env.int("WALK_REQUEST_TTL_S", default=3600)
#: An accepted walk expires this long after acceptance if never started, a started one this long
#: after ``start_time`` (seed 001 ``walk:active`` TTL, 4 h); the exact-position share ends with it.
WALK_ACTIVE_TTL_S = env.int("WALK_ACTIVE_TTL_S", default=4 * 3600)
#: Period of the Celery beat sweep that expires walks (and meet-now requests).
WALK_EXPIRE_SWEEP_S = env.float("WALK_EXPIRE_SWEEP_S", default=60.0)
#: Default and largest radius of ``GET /api/walks/{id}/suggestions`` (metres).
WALK_SUGGESTION_RADIUS_M = env.int("WALK_SUGGESTION_RADIUS_M", default=500)
WALK_SUGGESTION_MAX_RADIUS_M = env.int("WALK_SUGGESTION_MAX_RADIUS_M", default=5000)
#: Places kept in ``route_data.points_of_interest`` (within this many metres of the track).
WALK_ROUTE_POI_RADIUS_M = env.int("WALK_ROUTE_POI_RADIUS_M", default=50)
WALK_ROUTE_POI_MAX = env.int("WALK_ROUTE_POI_MAX", default=20)
#: Most points kept in one walk's track (a 4 h walk at one fix per second per walker is 28 800).
WALK_TRACK_MAX_POINTS = env.int("WALK_TRACK_MAX_POINTS", default=20000)

#: Meet-now requests one user may send per window, and their lifetime while pending.
MEET_NOW_RATE = env("MEET_NOW_RATE", default="20/hour")
MEET_NOW_TTL_S = env.int("MEET_NOW_TTL_S", default=30 * 60)
#: Exact sharing in a meetup ends this long after its ``time``.
MEETUP_EXACT_TTL_S = env.int("MEETUP_EXACT_TTL_S", default=2 * 3600)
#: Introduction requests one user may send per window.
INTRODUCTION_RATE = env("INTRODUCTION_RATE", default="10/hour")
#: Period of the Celery beat sweep that expires meet-now requests (and ends meetups past their exact window).
MEET_NOW_EXPIRE_SWEEP_S = env.float("MEET_NOW_EXPIRE_SWEEP_S", default=60.0)
#: Proximity-alert requests one user may send per window.
PROXIMITY_ALERT_RATE = env("PROXIMITY_ALERT_RATE", default="20/hour")
#: Hysteresis of proximity alerts: ``near`` below ``distance_m``, ``far`` only above ``distance_m`` times this.
PROXIMITY_HYSTERESIS = env.float("PROXIMITY_HYSTERESIS", default=1.2)
