"""NotificationService: chat and webhook channels (secrets masked on read) and test deliveries."""

from __future__ import annotations

import asyncio

from google.protobuf import empty_pb2

from candlewire.api.convert import timestamp
from candlewire.api.v1 import notification_pb2, notification_pb2_grpc
from candlewire.errors import InvalidArgument, require, with_field_prefix
from candlewire.notifications.delivery import send

_TYPES = {
    "telegram": notification_pb2.NOTIFICATION_CHANNEL_TYPE_TELEGRAM,
    "discord": notification_pb2.NOTIFICATION_CHANNEL_TYPE_DISCORD,
    "slack": notification_pb2.NOTIFICATION_CHANNEL_TYPE_SLACK,
    "webhook": notification_pb2.NOTIFICATION_CHANNEL_TYPE_WEBHOOK,
}
_TYPE_NAMES = {number: name for name, number in _TYPES.items()}
# Violations name the domain's `config.<field>`; in the API those fields sit on the channel itself.
_API_FIELD = {"config.bot_token": "bot_token", "config.chat_id": "chat_id", "config.url": "url"}


def _channel(channel) -> notification_pb2.NotificationChannel:
    return notification_pb2.NotificationChannel(
        id=channel.id,
        name=channel.name,
        type=_TYPES[channel.type],
        bot_token=channel.config.get("bot_token", ""),
        chat_id=channel.config.get("chat_id", ""),
        url=channel.config.get("url", ""),
        events=channel.settings.get("events", []),
        create_time=timestamp(channel.created_at),
    )


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, app):
        self.app = app

    async def ListNotificationChannels(self, request, context):
        channels = await asyncio.to_thread(self.app.notification_channels.list)
        return notification_pb2.ListNotificationChannelsResponse(channels=[_channel(c) for c in channels])

    async def CreateNotificationChannel(self, request, context):
        if not request.HasField("channel"):
            raise InvalidArgument("channel is required", {"channel": "must be set"})
        message = request.channel
        channel_type = _TYPE_NAMES.get(message.type)
        require({"channel.type": f"must be one of {', '.join(t.upper() for t in _TYPES)}"} if channel_type is None else {})
        config = {
            field: getattr(message, field)
            for field in ("bot_token", "chat_id", "url")
            if getattr(message, field)
        }
        try:
            channel = await asyncio.to_thread(
                self.app.notification_channels.create,
                message.name,
                channel_type,
                config,
                {"events": list(message.events)},
            )
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: f"channel.{_API_FIELD.get(field, field)}") from None
        return _channel(channel)

    async def DeleteNotificationChannel(self, request, context):
        require({"id": "must not be empty"} if not request.id else {})
        await asyncio.to_thread(self.app.notification_channels.delete, request.id)
        return empty_pb2.Empty()

    async def TestNotificationChannel(self, request, context):
        require({"id": "must not be empty"} if not request.id else {})
        channel = await asyncio.to_thread(self.app.notification_channels.get, request.id)
        result = await asyncio.to_thread(send, channel, "candlewire test notification: this channel works.", "test")
        return notification_pb2.TestNotificationChannelResponse(
            delivered=result.delivered, http_status=result.http_status, detail=result.detail
        )
