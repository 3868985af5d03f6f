# A draft cancelled before issue is kept, as cancelled, with no date and no number.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0003_billing_run_autopay_retries'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='invoice',
            name='invoice_issued_has_number',
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'draft'), models.Q(('issue_date__isnull', True), ('number', ''), ('proforma_number', ''), ('sequence__isnull', True), ('status', 'cancelled')), models.Q(('issue_date__isnull', False), models.Q(models.Q(('number', ''), _negated=True), models.Q(('proforma_number', ''), _negated=True), _connector='OR')), _connector='OR'), name='invoice_issued_has_number'),
        ),
    ]
