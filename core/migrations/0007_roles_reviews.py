from django.db import migrations


def forwards(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps)  # curators review examples and keep the review queues (training.Review, ReviewPolicy)


class Migration(migrations.Migration):
    dependencies = [("core", "0006_roles_base_model_imports"), ("training", "0010_reviews_policies_claims")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
