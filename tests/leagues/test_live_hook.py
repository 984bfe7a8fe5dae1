"""live.notify_event: one "leaderboard.changed" message to the group "event.<id>", sent only once the
change commits, and never an error for the change when the channel layer is down."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer

from webapp.leagues import live

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.mark.django_db
def test_viewers_of_the_event_hear_of_a_committed_change(settings, django_capture_on_commit_callbacks):
    settings.CHANNEL_LAYERS = IN_MEMORY
    channel_layers.backends.clear()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("event.7", channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        live.notify_event(7)
    assert len(callbacks) == 1  # nothing is sent before the commit
    callbacks[0]()
    message = async_to_sync(layer.receive)(channel)
    assert (message["type"], message["event_id"]) == ("leaderboard.changed", 7)


@pytest.mark.django_db
def test_a_broken_channel_layer_never_breaks_the_change(monkeypatch, django_capture_on_commit_callbacks):
    class Broken:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(live, "get_channel_layer", lambda: Broken())
    with django_capture_on_commit_callbacks(execute=True):
        live.notify_event(3)  # logs a warning, raises nothing
