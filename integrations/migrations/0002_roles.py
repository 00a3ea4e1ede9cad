from django.db import migrations


def forwards(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps)  # ML staff and curators manage webhook subscriptions and replay deliveries


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("core", "0007_outbox_event"),
        ("catalog", "0002_initial"),
        ("training", "0009_merge_base_imports_and_override_reasons"),
        ("generation", "0002_job_vocabulary"),
        ("feedback", "0003_model_comparison"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
