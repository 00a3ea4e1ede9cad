from django.db import migrations


def forwards(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps)  # Curators and ML staff may request designs (the admin's playground)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_roles_model_comparison")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
