from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from jobs.crypto import EncryptionError
from jobs.models import Account
from jobs.services import account_create

SECRET = "sk-planted-4f8b2c1d9e7a"


def _stored_token(account: Account) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM jobs_account WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def _account(name: str = "vod") -> Account:
    return account_create(
        name=name,
        provider="tencent_vod",
        credentials={"secret_id": "AKIDexample0001", "secret_key": SECRET},
    )


@pytest.mark.django_db
def test_credentials_round_trip_and_are_ciphertext_in_the_database():
    account = _account()
    token = _stored_token(account)
    assert SECRET not in token and "AKIDexample0001" not in token
    assert Account.objects.get(pk=account.pk).credentials["secret_key"] == SECRET


@pytest.mark.django_db
def test_wrong_key_raises_a_clear_error_instead_of_returning_ciphertext(settings):
    account = _account()
    settings.CLAPBOARD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(EncryptionError, match="cannot be decrypted"):
        Account.objects.get(pk=account.pk)


@pytest.mark.django_db
def test_missing_key_raises_a_clear_error(settings):
    account = _account()
    settings.CLAPBOARD_ENCRYPTION_KEYS = []
    with pytest.raises(EncryptionError, match="CLAPBOARD_ENCRYPTION_KEYS is not set"):
        Account.objects.get(pk=account.pk)


@pytest.mark.django_db
def test_malformed_key_is_reported(settings):
    settings.CLAPBOARD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(EncryptionError, match="not a Fernet key"):
        _account()


@pytest.mark.django_db
def test_rotatekeys_moves_every_row_to_the_newest_key(settings):
    old_key = settings.CLAPBOARD_ENCRYPTION_KEYS[0]
    first, second = _account("one"), _account("two")
    new_key = Fernet.generate_key().decode()
    settings.CLAPBOARD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotatekeys", stdout=open("/dev/null", "w"))

    settings.CLAPBOARD_ENCRYPTION_KEYS = [new_key]  # the old key is gone now
    for account in (first, second):
        assert Account.objects.get(pk=account.pk).credentials["secret_key"] == SECRET
        Fernet(new_key.encode()).decrypt(_stored_token(account).encode())


@pytest.mark.django_db
def test_rotatekeys_fails_loudly_when_a_needed_key_was_removed(settings):
    _account()
    settings.CLAPBOARD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotatekeys")


def test_encryption_key_check_reports_a_bad_key(settings):
    from jobs.checks import check_encryption_keys

    settings.CLAPBOARD_ENCRYPTION_KEYS = ["nope"]
    assert [m.id for m in check_encryption_keys()] == ["clapboard.E001"]


@pytest.mark.django_db
def test_rotatekeys_moves_alert_targets_and_secrets_to_the_newest_key(settings, django_user_model):
    from jobs.models import AlertRule

    owner = django_user_model.objects.create_user("owner")
    target = "https://oapi.dingtalk.com/robot/send?access_token=rotated-token-0001"
    rule = AlertRule.objects.create(
        owner=owner,
        name="ding",
        channel="dingtalk",
        target=target,
        events=["failed"],
        secrets={"secret": SECRET},
    )
    old_key = settings.CLAPBOARD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.CLAPBOARD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotatekeys", stdout=open("/dev/null", "w"))

    settings.CLAPBOARD_ENCRYPTION_KEYS = [new_key]  # the old key is gone now
    rule = AlertRule.objects.get(pk=rule.pk)
    assert (rule.target, rule.secrets) == (target, {"secret": SECRET})
    with connection.cursor() as cursor:
        cursor.execute("SELECT target, secrets FROM jobs_alertrule WHERE id = %s", [rule.pk])
        for token in cursor.fetchone():
            assert "rotated-token-0001" not in token and SECRET not in token
            Fernet(new_key.encode()).decrypt(token.encode())
