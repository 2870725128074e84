"""Data migration: the default role slugs."""

from django.db import migrations

ROLES = [
    ("walker", "Walker", "Walks and looks for walking buddies (seed 001)."),
    ("runner", "Runner", "Runs and looks for running partners."),
    ("driver", "Driver", "Drives in group rides (seed 002)."),
    ("rider", "Rider", "Rides a motorcycle or bicycle in group rides (seed 002)."),
    ("organizer", "Organizer", "Organises local events (seed 004)."),
    ("business", "Business", "Owns a local business with sponsored pins (seed 001)."),
]


def create_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for slug, name, description in ROLES:
        Role.objects.update_or_create(slug=slug, defaults={"name": name, "description": description})


def delete_roles(apps, schema_editor):
    apps.get_model("accounts", "Role").objects.filter(slug__in=[r[0] for r in ROLES]).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_roles, delete_roles)]
