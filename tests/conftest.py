"""The shared test world: users in each role and one account per provider, all against
a real simulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from jobs.models import Account
from jobs.roles import OPERATORS, VIEWERS
from jobs.services import account_create
from jobs.simulator.core import Simulator
from tests.receiver import Receiver


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


def _logged_in(user_fixture: str) -> Callable[..., Client]:
    """A fixture: a CSRF-checking client logged in as the user of `user_fixture`."""

    @pytest.fixture
    def client(request: pytest.FixtureRequest) -> Client:
        """A CSRF-checking client, logged in."""
        return _client_for(request.getfixturevalue(user_fixture))

    return client


operator_client = _logged_in("operator")
viewer_client = _logged_in("viewer")
outsider_client = _logged_in("outsider")
staff_client = _logged_in("staff_admin")


@pytest.fixture
def child_env(db) -> dict[str, str]:
    """The environment of a `manage.py` child process that shares the test database
    (the ORM broker, no Redis, DEBUG settings)."""
    from tests.clusters import child_env as environment

    return environment()


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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 for the alert tests, shut down afterwards."""
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
