"""The shared CSRF-checked POST (tests/csrf.py) keeps the page tests honest: the token it
sends is what gets a POST through, and it refuses a client that would not check."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db


def test_the_token_is_what_gets_a_post_through(operator_client):
    url = reverse("saved-view-save")
    assert (
        csrf_post(operator_client, url, {"query": "", "name": "x"}, token=False).status_code == 403
    )
    assert csrf_post(operator_client, url, {"query": "", "name": "x"}).status_code != 403


def test_a_client_that_does_not_check_csrf_is_refused(operator):
    lax = Client()
    lax.force_login(operator)
    with pytest.raises(AssertionError, match="CSRF-checking client"):
        csrf_post(lax, reverse("saved-view-save"), {"query": "", "name": "x"})
