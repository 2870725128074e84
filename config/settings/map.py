"""Location and map settings (units: seconds, metres)."""

from .base import env

LOCATION_TTL_S = env.int("LOCATION_TTL_S", default=300)
LOCATION_MIN_INTERVAL_S = env.float("LOCATION_MIN_INTERVAL_S", default=1.0)
LOCATION_MAX_FUTURE_S = env.int("LOCATION_MAX_FUTURE_S", default=60)
# Group commit of socket fixes (geo.ingest): at most this many fixes per SQL statement.
LOCATION_BATCH_MAX = env.int("LOCATION_BATCH_MAX", default=500)
LOCATION_HISTORY_RETENTION_DAYS = env.int("LOCATION_HISTORY_RETENTION_DAYS", default=30)
MAP_GRID_M = env.float("MAP_GRID_M", default=100.0)
MAP_PUBLISH_TICK_S = env.float("MAP_PUBLISH_TICK_S", default=2.0)
MAP_MAX_RADIUS_M = env.int("MAP_MAX_RADIUS_M", default=50_000)
MAP_DEFAULT_RADIUS_M = env.int("MAP_DEFAULT_RADIUS_M", default=1000)
MAP_MAX_RESULTS = env.int("MAP_MAX_RESULTS", default=200)
# Run the map publisher tick inside each ASGI server process (ticks coordinate
# through Redis, so several processes publish each change once).
MAP_TICKER_ENABLED = env.bool("MAP_TICKER_ENABLED", default=True)

# --- demo data (manage.py seed_users) --------------------------------------------
# Every demo user (User.is_demo) logs in with this password; demo data is public, so is this.
DEMO_USER_PASSWORD = env("DEMO_USER_PASSWORD", default="rendezvous-demo-password")

# --- privacy hardening (issue 7; docs/privacy.md) ---------------------------------
# A role a user gave themself gates visibility (someone's ``visible_roles``) only
# after it has been held this long (seconds; default 24 h).
ROLE_VISIBILITY_MIN_AGE_S = env.int("ROLE_VISIBILITY_MIN_AGE_S", default=24 * 3600)
# Changes of one's own ``roles`` per user (fixed window, core.ratelimit).
THROTTLE_ROLE_CHANGE = env("THROTTLE_ROLE_CHANGE", default="5/day")
# Changes of ``age_range_min``/``age_range_max``/``gender_preference`` per user.
THROTTLE_PREFERENCE_CHANGE = env("THROTTLE_PREFERENCE_CHANGE", default="5/day")
