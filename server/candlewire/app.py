"""The composition root: one object owning storage, auth, config and the job runtime."""

from __future__ import annotations

import asyncio
import logging

from candlewire.auth.passwords import load_or_create
from candlewire.auth.throttle import LoginThrottle
from candlewire.auth.tokens import IssuedToken, TokenStore
from candlewire.config import ConfigStore
from candlewire.crypto import SecretBox
from candlewire.data.api_keys import ApiKeyVault
from candlewire.notifications.channels import ChannelRepository
from candlewire.errors import ResourceExhausted, Unauthenticated
from candlewire.jobs.runtime import JobRuntime
from candlewire.settings import Settings
from candlewire.storage.db import create_engine, migrate

log = logging.getLogger("candlewire")


class App:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(settings.database_url)
        migrate(self.engine)
        self._password, self.generated_password = load_or_create(settings.data_dir, settings.password)
        self.tokens = TokenStore(self.engine, settings.token_ttl_seconds)
        self._throttle = LoginThrottle()
        self.config = ConfigStore(self.engine, settings.max_concurrent_jobs)
        self.runtime = JobRuntime(self.engine, settings)
        secrets = SecretBox.from_environment(settings.data_dir)
        self.api_keys = ApiKeyVault(self.engine, secrets)
        self.notification_channels = ChannelRepository(self.engine, secrets)
        # Set by SystemService.Shutdown; the serve loop waits on it.
        self.shutdown_requested = asyncio.Event()

    async def start(self) -> None:
        await self.runtime.start()
        config = await asyncio.to_thread(self.config.get)
        self.runtime.set_max_concurrent(config["jobs"]["max_concurrent_jobs"])

    async def stop(self) -> None:
        await self.runtime.shutdown()
        self.engine.dispose()

    async def verify_token(self, token: str) -> bool:
        return self.tokens.is_known_valid(token) or await asyncio.to_thread(self.tokens.is_valid, token)

    def check_password(self, password: str, client: str) -> None:
        """Raise unless the password is right; repeated failures from one client are throttled."""
        wait = self._throttle.retry_after(client)
        if wait > 0:
            raise ResourceExhausted(f"too many failed logins; retry in {wait:.0f} s", retry_after=wait)
        if not self._password.matches(password):
            self._throttle.failed(client)
            raise Unauthenticated("wrong password")
        self._throttle.succeeded(client)

    def login(self, password: str, client: str) -> IssuedToken:
        self.check_password(password, client)
        return self.tokens.issue()
