"""The shared test world: users in each role and one account per provider, all against
a real simulator on 127.0.0.1."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from jobs.models import Account
from jobs.roles import OPERATORS, VIEWERS
from jobs.services import account_create
from jobs.simulator.core import Simulator


@pytest.fixture(scope="session")
def _simulator_server():
    sim = Simulator()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def simulator(_simulator_server: Simulator) -> Simulator:
    """A running simulator (real HTTP on 127.0.0.1) with the demo tenants, reset per test."""
    sim = _simulator_server
    sim.reset()
    sim.add_demo_tenants()
    return sim


def _user(django_user_model, username: str, group: str | None = None, **flags):
    user = django_user_model.objects.create_user(username, password="pw-" + username, **flags)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operator(django_user_model):
    return _user(django_user_model, "olivia", OPERATORS)


@pytest.fixture
def viewer(django_user_model):
    return _user(django_user_model, "victor", VIEWERS)


@pytest.fixture
def outsider(django_user_model):
    return _user(django_user_model, "oscar")


@pytest.fixture
def staff_admin(django_user_model):
    return _user(django_user_model, "ada", is_staff=True, is_superuser=True)


def _client_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def operator_client(operator) -> Client:
    return _client_for(operator)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)


@pytest.fixture
def staff_client(staff_admin) -> Client:
    return _client_for(staff_admin)


@pytest.fixture
def accounts(db, simulator: Simulator) -> dict[str, Account]:
    """One account per simulated provider, pointed at the simulator."""
    return {
        code: account_create(
            name=f"sim-{code}",
            provider=code,
            credentials=sim.demo_credentials,
            options=sim.demo_options,
            region=sim.demo_region,
            endpoint=simulator.url,
        )
        for code, sim in simulator.providers.items()
    }
