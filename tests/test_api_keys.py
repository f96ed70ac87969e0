"""API-key vault over a real SQLite database; secrets must never sit in the table in plaintext."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from candlewire.crypto import SECRET_KEY_ENV, SecretBox, mask
from candlewire.data.api_keys import ApiKeyVault
from candlewire.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from candlewire.storage.db import create_engine, migrate

SECRET = "s3cr3t-Abcdefghijklmnopqrstuvwxyz-0123456789"
KEY = "AKIAkeyMaterial-1234567890"


@pytest.fixture
def engine(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'candlewire.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretBox:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    return SecretBox.from_environment(tmp_path)


@pytest.fixture
def vault(engine, box) -> ApiKeyVault:
    return ApiKeyVault(engine, box)


def test_secret_key_file_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    token = SecretBox.from_environment(tmp_path / "data").encrypt({"a": 1})
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert SecretBox.from_environment(tmp_path / "data").decrypt(token) == {"a": 1}
    assert [path.name for path in key_file.parent.iterdir()] == ["secret.key"]


def test_secret_key_from_environment_wins(tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv(SECRET_KEY_ENV, key)
    token = SecretBox.from_environment(tmp_path).encrypt({"x": "y"})
    assert not (tmp_path / "secret.key").exists()
    assert SecretBox(key).decrypt(token) == {"x": "y"}
    with pytest.raises(FailedPrecondition):
        SecretBox(Fernet.generate_key()).decrypt(token)
    monkeypatch.setenv(SECRET_KEY_ENV, "not-a-key")
    with pytest.raises(FailedPrecondition):
        SecretBox.from_environment(tmp_path)


def test_mask():
    assert mask("abcdefghijklmnop") == "abcd…mnop"
    assert mask("short") == "………"
    assert "short" not in mask("short")
    assert mask("") == ""


def test_create_stores_only_ciphertext_and_lists_masked(vault, engine):
    created = vault.create("main_binance", "binance-spot", KEY, SECRET, passphrase="pass-phrase-123", extra={"sub": 1})
    assert created.api_secret == mask(SECRET) and created.api_key == mask(KEY)

    with engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT * FROM api_keys")).one()._asdict()
    stored_bytes = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in raw.values())
    for plaintext in (SECRET, KEY, "pass-phrase-123"):
        assert plaintext.encode() not in stored_bytes

    [listed] = vault.list()
    assert listed.name == "main_binance" and listed.exchange == "binance-spot"
    assert listed.api_secret == mask(SECRET) and listed.passphrase == mask("pass-phrase-123")
    assert vault.get(listed.id).api_secret == SECRET


def test_create_validates(vault):
    with pytest.raises(InvalidArgument) as caught:
        vault.create("has space", "mtgox", " ", "")
    assert set(caught.value.violations) == {"name", "exchange", "api_key", "api_secret"}
    vault.create("k1", "binance-spot", KEY, SECRET)
    with pytest.raises(AlreadyExists):
        vault.create("k1", "bybit-spot", KEY, SECRET)


def test_delete(vault):
    record = vault.create("k1", "binance-spot", KEY, SECRET)
    vault.delete(record.id)
    assert vault.list() == []
    with pytest.raises(NotFound):
        vault.delete(record.id)


def test_export_import_roundtrip_into_another_server(vault, tmp_path, monkeypatch):
    vault.create("a", "binance-spot", KEY, SECRET)
    vault.create("b", "bybit-usdt-perpetual", "key-b", "secret-b", extra={"testnet": True})
    exported = vault.export()
    assert {record["api_secret"] for record in exported} == {SECRET, "secret-b"}

    other_engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(other_engine)
    other = ApiKeyVault(other_engine, SecretBox.from_environment(tmp_path / "other"))
    assert other.import_(exported) == 2
    assert [(r["name"], r["exchange"], r["api_key"], r["api_secret"], r["extra"]) for r in other.export()] == [
        (r["name"], r["exchange"], r["api_key"], r["api_secret"], r["extra"]) for r in exported
    ]
    other_engine.dispose()


def test_import_stores_nothing_when_any_record_is_invalid(vault):
    vault.create("taken", "binance-spot", KEY, SECRET)
    fresh = {"name": "fresh", "exchange": "binance-spot", "api_key": "k", "api_secret": "s"}
    with pytest.raises(InvalidArgument) as caught:
        vault.import_([fresh, {**fresh, "name": "other", "api_secret": ""}])
    assert set(caught.value.violations) == {"records[1].api_secret"}
    with pytest.raises(InvalidArgument):
        vault.import_([fresh, fresh])
    assert [record.name for record in vault.list()] == ["taken"]


def test_import_skips_names_already_stored(vault):
    vault.create("taken", "binance-spot", KEY, SECRET)
    fresh = {"name": "fresh", "exchange": "binance-spot", "api_key": "k", "api_secret": "s"}
    assert vault.import_([fresh, {**fresh, "name": "taken", "api_secret": "other"}]) == 1
    assert {record["name"]: record["api_secret"] for record in vault.export()} == {"fresh": "s", "taken": SECRET}
