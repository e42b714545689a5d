from django.urls import path

from dashboard.hooks import views

# The code is checked by the view: a 404 would be logged with the secret in its path.
urlpatterns = [path("<str:code>/<str:secret>/", views.receive, name="hook")]
