"""Account leases: the compare-and-set every poller (loop, "Refresh now", discovery) uses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Account
from jobs.refresh.leases import (
    account_lease_keep,
    account_lease_take,
    account_leases_release,
    account_leases_renew,
    owner_id,
)

pytestmark = pytest.mark.django_db


def test_owner_ids_name_their_purpose_and_fit_the_column():
    first, second = owner_id("refresh-loop"), owner_id("refresh-loop")
    assert first != second and first.startswith("refresh-loop:")
    assert len(owner_id("x" * 30)) <= Account._meta.get_field("lease_owner").max_length


def test_one_holder_at_a_time_until_the_lease_runs_out(accounts):
    account = accounts["tencent_ivh"]
    now = timezone.now()
    assert account_lease_take(account_id=account.pk, owner="a", now=now)
    assert not account_lease_take(account_id=account.pk, owner="b", now=now)
    assert account_lease_take(account_id=account.pk, owner="a", now=now)  # a renewal
    later = now + timedelta(seconds=3600)
    assert account_lease_take(account_id=account.pk, owner="b", now=later)  # "a" died
    assert account_leases_renew(account_ids=[account.pk], owner="a") == set()
    assert not account_lease_keep(account_id=account.pk, owner="a", discovered_at=now)
    assert Account.objects.get(pk=account.pk).discovered_at is None  # a loser writes nothing
    assert account_leases_renew(account_ids=[account.pk], owner="b") == {account.pk}


def test_ready_leases_skip_disabled_and_backing_off_accounts(accounts):
    paused, disabled = accounts["tencent_vod"], accounts["aliyun_ice"]
    now = timezone.now()
    Account.objects.filter(pk=paused.pk).update(retry_at=now + timedelta(minutes=5))
    Account.objects.filter(pk=disabled.pk).update(enabled=False)
    for account in (paused, disabled):
        assert not account_lease_take(account_id=account.pk, owner="now", ready=True)
        assert account_lease_take(account_id=account.pk, owner="loop")


def test_release_gives_back_only_the_holders_own_leases(accounts):
    ivh, ci = accounts["tencent_ivh"], accounts["tencent_ci"]
    assert account_lease_take(account_id=ivh.pk, owner="a")
    assert account_lease_take(account_id=ci.pk, owner="b")
    account_leases_release(owner="a", account_id=ci.pk)  # not a's: untouched
    account_leases_release(owner="a")
    held = dict(Account.objects.values_list("pk", "lease_owner"))
    assert (held[ivh.pk], held[ci.pk]) == ("", "b")
