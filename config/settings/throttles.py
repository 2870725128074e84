"""Rate limits ("N/period", period s|min|hour|day), shared by REST and the socket."""

from .base import env

THROTTLE_LOGIN = env("THROTTLE_LOGIN", default="10/min")
THROTTLE_REGISTER = env("THROTTLE_REGISTER", default="20/hour")
THROTTLE_LOCATION = env("THROTTLE_LOCATION", default="120/min")
THROTTLE_USER = env("THROTTLE_USER", default="1000/min")
