"""A test-only app that declares a room kind and a durable event, as a domain app would.

Installed only by ``config.settings.test``; membership lives in a Redis set so
end-to-end server processes and the test process share it.
"""
