from django.db import migrations


def forwards(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps)  # ML staff may start and watch base-model imports (training.BaseModelImport)


class Migration(migrations.Migration):
    dependencies = [("core", "0005_roles_playground"), ("training", "0008_base_model_import_job")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
