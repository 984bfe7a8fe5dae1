from django.urls import path

from webapp.jobs.consumers import JobUpdatesConsumer

websocket_urlpatterns = [
    path("ws/jobs/", JobUpdatesConsumer.as_asgi()),
]
