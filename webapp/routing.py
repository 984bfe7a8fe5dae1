from django.urls import path

from webapp.jobs.consumers import JobUpdatesConsumer
from webapp.leagues.consumers import EventBoardConsumer

websocket_urlpatterns = [
    path("ws/jobs/", JobUpdatesConsumer.as_asgi()),
    path("ws/events/<int:event_id>/", EventBoardConsumer.as_asgi()),
]
