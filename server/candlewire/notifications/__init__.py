"""Notification channels (Telegram, Discord, Slack, generic webhook): stored encrypted, delivered over HTTPS."""
