from django.db import migrations


def forwards(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_roles"), ("feedback", "0002_promotion_candidate")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
