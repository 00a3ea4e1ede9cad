from django.db import migrations


def forwards(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_roles_promotion_candidates"), ("feedback", "0003_model_comparison")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
