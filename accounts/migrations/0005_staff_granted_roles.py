"""Data migration: ``organizer`` and ``business`` are granted by staff, not self-assigned (issue 7, item 3)."""

from django.db import migrations

STAFF_GRANTED = ["organizer", "business"]


def staff_granted(apps, schema_editor):
    apps.get_model("accounts", "Role").objects.filter(slug__in=STAFF_GRANTED).update(self_assignable=False)


def self_assignable_again(apps, schema_editor):
    apps.get_model("accounts", "Role").objects.filter(slug__in=STAFF_GRANTED).update(self_assignable=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_privacy_hardening")]
    operations = [migrations.RunPython(staff_granted, self_assignable_again)]
