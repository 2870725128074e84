"""ASGI entry point: HTTP (Django's WSGI handler on a thread pool) and WebSocket (``/ws/``), plus the lifespan.

The lifespan starts the map publisher tick (``geo.fanout.map_ticker``) in each
server process when ``MAP_TICKER_ENABLED``; ticks coordinate through Redis.
Run with ``uvicorn config.asgi:application --lifespan on``.
"""

import asyncio
import gc
import logging
import os
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup(set_prefix=False)

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.urls import re_path  # noqa: E402

from core.middleware import BodySizeLimitASGIMiddleware  # noqa: E402
from realtime.auth import JWTAuthMiddleware, TokenSocketOriginValidator  # noqa: E402
from realtime.consumer import RendezvousConsumer, load_realtime_modules  # noqa: E402

logger = logging.getLogger(__name__)

#: HTTP runs Django's WSGI handler on a thread pool (one hop per request), not Django's ASGI
#: handler, whose per-middleware sync/async hops cost ~5x more per request (docs/bench.md).
django_http_app = WSGIMiddleware(WSGIHandler(), workers=settings.HTTP_THREADS)

load_realtime_modules()

websocket_urlpatterns = [re_path(r"^ws/?$", RendezvousConsumer.as_asgi())]

router = ProtocolTypeRouter(
    {
        # Bodies are refused on Content-Length before Django reads them, and chunked ones are counted.
        "http": BodySizeLimitASGIMiddleware(django_http_app),
        "websocket": TokenSocketOriginValidator(JWTAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)


def gc_tune() -> None:
    """Freeze the objects of startup out of the collector and apply ``GC_THRESHOLD`` (server processes only).

    ``gc.freeze()`` after a full collection moves everything imported and
    built at startup (Django, URL patterns, the app registry: ~125 000
    objects) to a permanent generation that collections never traverse;
    a larger generation-0 threshold keeps short-lived frames and change
    dicts from being promoted and triggering full collections. Measured in
    the 1 000-socket city (docs/bench.md, fifth pass).
    """
    if not settings.GC_THRESHOLD:  # empty: Python's collector as it comes (validated in settings)
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*settings.GC_THRESHOLD)


async def application(scope, receive, send):
    """Route ``lifespan`` here (start/stop the map ticker), everything else to Channels."""
    if scope["type"] != "lifespan":
        return await router(scope, receive, send)
    ticker = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            gc_tune()
            # Socket handlers run ORM/Redis calls on the loop's default executor
            # (realtime.publish.run_sync); size it so I/O waits overlap.
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(max_workers=settings.ASGI_THREADS, thread_name_prefix="rdv-sync")
            )
            if settings.MAP_TICKER_ENABLED:
                from geo.fanout import map_ticker

                ticker = asyncio.ensure_future(map_ticker())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if ticker:
                ticker.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return
