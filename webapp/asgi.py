"""ASGI entry point: HTTP through Django, websockets through Channels (authenticated, origin-checked)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from webapp.accounts.socket_auth import SocketAuthMiddlewareStack  # noqa: E402
from webapp.core.microcache import MicroCache  # noqa: E402
from webapp.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Event pages of spectators without cookies: at most 1 s old (the live board follows the socket).
        "http": MicroCache(django_asgi_app, [r"^/leagues/[^/]+/events/\d+/$"]),
        "websocket": AllowedHostsOriginValidator(SocketAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
