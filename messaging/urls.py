"""Routes of messaging."""

urlpatterns = []
