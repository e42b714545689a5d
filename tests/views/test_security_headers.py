from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse


@pytest.mark.django_db
def test_every_page_sends_a_csp_without_unsafe_inline(viewer_client):
    for response in (viewer_client.get(reverse("job-list")), Client().get(reverse("login"))):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_pages_carry_no_inline_script(viewer_client):
    html = viewer_client.get(reverse("job-list")).content.decode()
    assert "<script>" not in html and " onclick=" not in html and "javascript:" not in html
