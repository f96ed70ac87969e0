"""NotificationService end to end: channels stored and listed masked, test deliveries to a local receiver."""

from __future__ import annotations

import uuid

import grpc
import pytest

from candlewire.net import free_port
from candlewire_client.v1 import notification_pb2
from e2e_data_helpers import rest_violations, rpc_fails

TELEGRAM = notification_pb2.NOTIFICATION_CHANNEL_TYPE_TELEGRAM
DISCORD = notification_pb2.NOTIFICATION_CHANNEL_TYPE_DISCORD
SLACK = notification_pb2.NOTIFICATION_CHANNEL_TYPE_SLACK
WEBHOOK = notification_pb2.NOTIFICATION_CHANNEL_TYPE_WEBHOOK


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def bot_token() -> str:
    return f"123456789:AAH{uuid.uuid4().hex}"


def create(client, **fields) -> notification_pb2.NotificationChannel:
    fields.setdefault("name", unique("channel"))
    return client.notifications.CreateNotificationChannel(
        notification_pb2.CreateNotificationChannelRequest(channel=notification_pb2.NotificationChannel(**fields))
    )


def send_test(client, channel_id: str) -> notification_pb2.TestNotificationChannelResponse:
    return client.notifications.TestNotificationChannel(notification_pb2.TestNotificationChannelRequest(id=channel_id), timeout=30)


def listed(client) -> dict[str, notification_pb2.NotificationChannel]:
    response = client.notifications.ListNotificationChannels(notification_pb2.ListNotificationChannelsRequest())
    return {channel.id: channel for channel in response.channels}


def posts_to(fake_webhooks, path: str) -> list:
    return [post for post in fake_webhooks.posts if post.path == path]


@pytest.fixture
def failing_receiver(fake_webhooks):
    fake_webhooks.fail_with(500, '{"error": "receiver broke"}')
    yield fake_webhooks
    fake_webhooks.succeed()


# --- creating and listing ------------------------------------------------------------------------


def test_create_each_channel_type_returns_it_masked(client, fake_webhooks):
    token = bot_token()
    discord_path = f"/api/webhooks/{unique('d')}/secret-token-part"

    telegram = create(client, type=TELEGRAM, bot_token=token, chat_id="-100123")
    discord = create(client, type=DISCORD, url=fake_webhooks.base_url + discord_path)
    slack = create(client, type=SLACK, url=fake_webhooks.base_url + f"/services/{unique('s')}")
    webhook = create(client, type=WEBHOOK, url=fake_webhooks.base_url + f"/hooks/{unique('w')}",
                     events=[notification_pb2.NOTIFICATION_EVENT_TYPE_SESSION_FAILED])

    assert [c.type for c in (telegram, discord, slack, webhook)] == [TELEGRAM, DISCORD, SLACK, WEBHOOK]
    assert all(len(c.id) == 32 and c.create_time.seconds > 0 for c in (telegram, discord, slack, webhook))
    assert telegram.chat_id == "-100123"
    assert token not in telegram.bot_token and telegram.bot_token.startswith(token[:4])
    assert discord_path not in discord.url and discord.url.startswith(fake_webhooks.base_url)
    assert list(webhook.events) == [notification_pb2.NOTIFICATION_EVENT_TYPE_SESSION_FAILED]


def test_list_shows_channels_with_bot_token_and_url_path_masked(client, rest, fake_webhooks):
    token = bot_token()
    path = f"/api/webhooks/{unique('d')}/very-secret-webhook-token"
    telegram = create(client, type=TELEGRAM, bot_token=token, chat_id="42")
    discord = create(client, type=DISCORD, url=fake_webhooks.base_url + path)

    channels = listed(client)
    raw_rest = rest.get("/v1/notificationChannels").text

    assert {telegram.id, discord.id} <= set(channels)
    assert channels[telegram.id].chat_id == "42"
    assert channels[discord.id].url.startswith(fake_webhooks.base_url)
    for secret in (token, path, "very-secret-webhook-token"):
        assert secret not in str(channels[telegram.id]) + str(channels[discord.id])
        assert secret not in raw_rest


def test_create_channel_with_a_taken_name_is_already_exists(client):
    name = unique("taken")
    create(client, name=name, type=SLACK, url="https://hooks.slack.com/services/T/B/x")

    with rpc_fails(grpc.StatusCode.ALREADY_EXISTS):
        create(client, name=name, type=SLACK, url="https://hooks.slack.com/services/T/B/y")


@pytest.mark.parametrize(
    ("fields", "violated"),
    [
        ({"url": "https://example.com/hook"}, "channel.type"),
        ({"type": WEBHOOK, "url": "ftp://example.com/hook"}, "channel.url"),
        ({"type": DISCORD}, "channel.url"),
        ({"type": TELEGRAM, "bot_token": "123:abc"}, "channel.chat_id"),
        ({"type": TELEGRAM, "chat_id": "42"}, "channel.bot_token"),
        ({"type": WEBHOOK, "url": "https://example.com/hook", "name": "  "}, "channel.name"),
    ],
)
def test_create_channel_with_bad_input_is_invalid_argument_and_stores_nothing(client, fields, violated):
    before = set(listed(client))

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        create(client, **fields)

    assert violated in failure["violations"]
    assert set(listed(client)) == before


def test_create_channel_with_bad_input_over_rest_is_400_with_field_violations(rest):
    response = rest.post("/v1/notificationChannels", json={"name": unique("rest"), "type": "NOTIFICATION_CHANNEL_TYPE_WEBHOOK",
                                                           "url": "ftp://example.com/hook"})

    assert response.status_code == 400
    assert "channel.url" in rest_violations(response)


# --- test deliveries -----------------------------------------------------------------------------


def test_telegram_test_message_is_posted_to_the_bot_api_with_chat_id_and_text(client, fake_webhooks):
    token = bot_token()
    channel = create(client, type=TELEGRAM, bot_token=token, chat_id="-100777")

    outcome = send_test(client, channel.id)

    assert outcome.delivered and outcome.http_status == 200
    (post,) = posts_to(fake_webhooks, f"/bot{token}/sendMessage")
    assert post.headers["content-type"].startswith("application/json")
    assert post.body["chat_id"] == "-100777"
    assert "test" in post.body["text"]


def test_discord_test_message_is_posted_as_content(client, fake_webhooks):
    path = f"/api/webhooks/{unique('d')}/token"
    channel = create(client, type=DISCORD, url=fake_webhooks.base_url + path)

    outcome = send_test(client, channel.id)

    assert outcome.delivered and outcome.http_status == 204
    (post,) = posts_to(fake_webhooks, path)
    assert set(post.body) == {"content"} and post.body["content"]


def test_slack_test_message_is_posted_as_text(client, fake_webhooks):
    path = f"/services/{unique('s')}/B000/xyz"
    channel = create(client, type=SLACK, url=fake_webhooks.base_url + path)

    outcome = send_test(client, channel.id)

    assert outcome.delivered and outcome.http_status == 200
    (post,) = posts_to(fake_webhooks, path)
    assert set(post.body) == {"text"} and post.body["text"]


def test_webhook_test_message_is_posted_as_json_with_text(client, rest, fake_webhooks):
    path = f"/hooks/{unique('w')}"
    channel = create(client, type=WEBHOOK, url=fake_webhooks.base_url + path)

    response = rest.post(f"/v1/notificationChannels/{channel.id}:test", json={})

    assert response.status_code == 200
    assert response.json()["delivered"] is True and response.json()["httpStatus"] == 200
    (post,) = posts_to(fake_webhooks, path)
    assert post.body["text"] and post.body["event"] == "test" and post.body["time"].endswith("Z")


def test_receiver_answering_500_is_reported_undelivered_with_its_status(client, failing_receiver):
    path = f"/hooks/{unique('w')}"
    channel = create(client, type=WEBHOOK, url=failing_receiver.base_url + path)

    outcome = send_test(client, channel.id)

    assert not outcome.delivered
    assert outcome.http_status == 500
    assert "receiver broke" in outcome.detail
    assert len(posts_to(failing_receiver, path)) == 1


def test_telegram_refusal_is_reported_undelivered(client, failing_receiver):
    channel = create(client, type=TELEGRAM, bot_token=bot_token(), chat_id="1")

    outcome = send_test(client, channel.id)

    assert not outcome.delivered and outcome.http_status == 500


def test_unreachable_receiver_is_reported_undelivered_without_status(client):
    channel = create(client, type=WEBHOOK, url=f"http://127.0.0.1:{free_port()}/hook")

    outcome = send_test(client, channel.id)

    assert not outcome.delivered
    assert outcome.http_status == 0
    assert outcome.detail


def test_testing_an_unknown_channel_is_not_found(client, rest):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        send_test(client, "0" * 32)
    assert rest.post(f"/v1/notificationChannels/{'0' * 32}:test", json={}).status_code == 404


# --- deleting ------------------------------------------------------------------------------------


def test_delete_channel_removes_it(client, rest):
    first = create(client, type=SLACK, url="https://hooks.slack.com/services/T/B/1")
    second = create(client, type=SLACK, url="https://hooks.slack.com/services/T/B/2")

    client.notifications.DeleteNotificationChannel(notification_pb2.DeleteNotificationChannelRequest(id=first.id))
    response = rest.delete(f"/v1/notificationChannels/{second.id}")

    assert response.status_code == 200
    assert not {first.id, second.id} & set(listed(client))


def test_delete_unknown_channel_is_not_found(client, rest):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        client.notifications.DeleteNotificationChannel(notification_pb2.DeleteNotificationChannelRequest(id="0" * 32))
    assert rest.delete(f"/v1/notificationChannels/{'0' * 32}").status_code == 404
