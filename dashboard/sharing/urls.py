"""The share panel under a job's URL, and the public pages under /s/<token>/."""

from django.urls import path

from dashboard.downloads import subtitle_routes
from dashboard.sharing import views

urlpatterns = [
    path("jobs/<uuid:code>/share/", views.share_links, name="share-links"),
    path("jobs/<uuid:code>/share/<uuid:link>/revoke/", views.share_revoke, name="share-revoke"),
    path("s/<str:token>/", views.shared_job, name="shared-job"),
    *subtitle_routes("s/<str:token>/", "shared", views.shared_srt, views.shared_vtt),
]
