from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # The database cache (rate limits shared by every web process) needs its table;
    # createcachetable is idempotent and does nothing for other cache backends.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_verbose_names")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
