"""Routes of notifications and devices."""

urlpatterns = []
