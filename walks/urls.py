"""Routes of walks, meet-now, introductions, meetups and proximity alerts."""

urlpatterns = []
