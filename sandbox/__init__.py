"""A local stand-in for meetergo's v4 calendar-connections API and the providers' consent screens.

The service never imports this package and this package never imports the service. Build an app
with :func:`sandbox.app.create_sandbox_app`, or run one with ``python -m sandbox``.
"""
