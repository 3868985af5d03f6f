"""The billing run's renewal invoices: figures, grouping, overage, cycle changes,
idempotency and partitions."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Sequence
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from sportello.accounts.models import Membership
from sportello.billing.models import (
    BilledPeriod,
    BillingPreference,
    BillingRun,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    ReminderSent,
    TaxRate,
)
from sportello.billing.run import Partition, billing_run
from sportello.catalog.models import Cycle
from sportello.catalog.tests.factories import Catalog, hosting_catalog
from sportello.conftest import make_member
from sportello.core.scheduler import periodic_jobs
from sportello.services.models import Service, ServiceStatus
from sportello.services.services import service_change_cycle, usage_record

from .run_helpers import DUE, RUN_DAY, START, documents, service_for, traffic_overage

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(billing_setup: None) -> Catalog:
    return hosting_catalog()


def eur(catalog: Catalog, plan: str = "basic", cycle: str = Cycle.MONTHLY):
    return catalog.prices[(plan, "EUR", cycle)]


def test_it_invoices_a_renewal_with_exact_figures(alice: Membership, catalog: Catalog) -> None:
    service = service_for(
        alice.account,
        eur(catalog),
        label="alice.example",
        options={"storage_gb": {"quantity": 100, "unit_price": "0.045000", "price_version": 1}},
    )
    assert billing_run(as_of=RUN_DAY - dt.timedelta(days=1)).invoices_issued == 0  # 1 Feb is 15 days away

    summary = billing_run(as_of=RUN_DAY)

    invoice = Invoice.objects.get()
    assert (summary.services_billed, summary.invoices_issued, summary.totals) == (1, 1, {"EUR": 1755})
    assert (invoice.number, invoice.status, invoice.source) == ("INV-2026-00001", InvoiceStatus.OPEN, "renewal")
    assert (invoice.issue_date, invoice.due_date, invoice.supply_date) == (RUN_DAY, DUE, DUE)
    # 10.00 + 100 x 0.045 = 14.50; IVA 21 % on the sum = 3.045 -> 3.05 (half-up); 17.55.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (1450, 305, 1755)
    assert list(invoice.lines.values_list("kind", "description", "quantity", "unit_price", "amount_minor")) == [
        ("plan", "Linux Hosting Basic (alice.example)", Decimal(1), Decimal(10), 1000),
        ("option", "Linux Hosting Basic (alice.example): storage_gb", Decimal(100), Decimal("0.045"), 450),
    ]
    assert set(invoice.lines.values_list("period_start", "period_end")) == {(DUE, dt.date(2026, 3, 1))}
    assert list(invoice.taxes.values_list("name", "taxable_minor", "tax_minor")) == [("IVA 21%", 1450, 305)]
    assert invoice.buyer["name"] == "Alice Servicios S.L." and invoice.seller["vat_id"] == "ESB12345674"
    assert list(BilledPeriod.objects.values_list("service_id", "period_start", "period_end", "invoice_id")) == [
        (service.pk, DUE, dt.date(2026, 3, 1), invoice.pk)
    ]
    assert list(InvoiceEvent.objects.values_list("transition", "from_status", "to_status")) == [
        ("issue", "draft", "open")
    ]
    service.refresh_from_db()
    assert (service.current_period_start, service.next_due_date) == (START, DUE)  # renewed only when paid


def test_services_of_one_account_due_the_same_day_share_an_invoice(alice: Membership, catalog: Catalog) -> None:
    first = service_for(alice.account, eur(catalog))
    second = service_for(alice.account, eur(catalog, "pro"))
    later = service_for(alice.account, eur(catalog), start=dt.date(2026, 1, 3))  # due 3 February

    billing_run(as_of=RUN_DAY + dt.timedelta(days=2))

    invoices = list(Invoice.objects.order_by("number"))
    assert [(i.number, i.due_date, i.total_minor) for i in invoices] == [
        ("INV-2026-00001", DUE, 4235),  # (10.00 + 25.00) x 1.21
        ("INV-2026-00002", dt.date(2026, 2, 3), 1210),
    ]
    assert list(invoices[0].lines.values_list("service_id", flat=True)) == [first.pk, second.pk]
    assert list(invoices[1].lines.values_list("service_id", flat=True)) == [later.pk]


def test_an_account_that_prefers_it_gets_one_invoice_per_service(alice: Membership, catalog: Catalog) -> None:
    BillingPreference.objects.create(account=alice.account, group_renewals=False)
    service_for(alice.account, eur(catalog))
    service_for(alice.account, eur(catalog, "pro"))

    billing_run(as_of=RUN_DAY)

    assert list(Invoice.objects.order_by("number").values_list("number", "total_minor")) == [
        ("INV-2026-00001", 1210),
        ("INV-2026-00002", 3025),
    ]


def test_it_bills_usage_above_the_quota_of_the_last_ended_period(alice: Membership, catalog: Catalog) -> None:
    traffic_overage(catalog, "0.10")
    service = service_for(alice.account, eur(catalog))

    def report(day: dt.date, quantity: str, key: str) -> None:
        at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        usage_record(service=service, metric="traffic_gb", quantity=Decimal(quantity), at=at, idempotency_key=key)

    # December (the ended period before the current one): 130.5 GB against 100 included.
    report(dt.date(2025, 11, 30), "500", "november")  # before the window
    report(dt.date(2025, 12, 1), "80", "dec-1")
    report(dt.date(2025, 12, 31), "50.5", "dec-31")
    report(dt.date(2026, 1, 1), "999", "january")  # the current period: billed with the next renewal

    billing_run(as_of=RUN_DAY)

    invoice = Invoice.objects.get()
    usage = invoice.lines.get(kind="usage")
    assert (usage.quantity, usage.unit_price, usage.amount_minor) == (Decimal("30.5"), Decimal("0.1"), 305)
    assert (usage.period_start, usage.period_end) == (dt.date(2025, 12, 1), START)
    assert usage.description == "Linux Hosting Basic: Traffic above the 100 GB included"
    # 10.00 + 3.05 = 13.05; 21 % = 2.7405 -> 2.74.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (1305, 274, 1579)


def test_usage_within_the_quota_adds_no_line(alice: Membership, catalog: Catalog) -> None:
    traffic_overage(catalog)
    service = service_for(alice.account, eur(catalog))
    at = dt.datetime(2025, 12, 10, tzinfo=dt.UTC)
    usage_record(service=service, metric="traffic_gb", quantity=Decimal("100"), at=at, idempotency_key="k")

    billing_run(as_of=RUN_DAY)

    assert list(Invoice.objects.get().lines.values_list("kind", flat=True)) == ["plan"]


def test_a_pending_cycle_change_is_billed_at_the_renewal(alice: Membership, catalog: Catalog) -> None:
    service = service_for(alice.account, eur(catalog))
    service_change_cycle(service=service, cycle=Cycle.QUARTERLY, as_of=dt.date(2026, 1, 10))

    billing_run(as_of=RUN_DAY)

    line = Invoice.objects.get().lines.get()
    assert (line.unit_price, line.period_start, line.period_end) == (Decimal(28), DUE, dt.date(2026, 5, 1))
    assert list(BilledPeriod.objects.values_list("period_start", "period_end")) == [(DUE, dt.date(2026, 5, 1))]


def test_it_skips_what_does_not_renew_by_itself(alice: Membership, catalog: Catalog) -> None:
    service_for(alice.account, eur(catalog), auto_renew=False)
    service_for(alice.account, eur(catalog), cancel_at_period_end=True)
    service_for(alice.account, eur(catalog), status=ServiceStatus.TERMINATED)
    suspended = service_for(alice.account, eur(catalog), status=ServiceStatus.SUSPENDED)

    billing_run(as_of=RUN_DAY)

    # A suspended service is invoiced: the services model lets a paid renewal extend it.
    assert list(BilledPeriod.objects.values_list("service_id", flat=True)) == [suspended.pk]


def test_running_again_changes_nothing(alice: Membership, bob: Membership, catalog: Catalog) -> None:
    traffic_overage(catalog)
    service_for(alice.account, eur(catalog))
    service_for(bob.account, catalog.prices[("basic", "BRL", Cycle.MONTHLY)])
    billing_run(as_of=RUN_DAY)
    first = documents()

    again = billing_run(as_of=RUN_DAY)
    later = billing_run(as_of=RUN_DAY + dt.timedelta(days=3))

    assert documents() == first
    assert (again.invoices_issued, later.invoices_issued) == (0, 0)
    assert [row[1] for row in first] == ["INV-2026-00001", "INV-2026-00002"]
    # Bob in Brazil: outside the scope of EU VAT.
    assert [(row[6], row[8]) for row in first] == [
        (1210, (("S", Decimal(21), 1000, 210),)),
        (5000, (("O", 0, 5000, 0),)),
    ]
    run = BillingRun.objects.get(as_of=RUN_DAY)
    assert (run.attempts, run.invoices_issued, run.services_billed, run.totals, run.status) == (
        2,
        2,
        2,
        {"EUR": 1210, "BRL": 5000},
        "done",
    )


def test_partitions_share_a_run(alice: Membership, bob: Membership, catalog: Catalog, settings) -> None:
    settings.BILLING_RUN_BATCH = 1
    service_for(alice.account, eur(catalog))
    service_for(bob.account, catalog.prices[("basic", "BRL", Cycle.MONTHLY)])
    ids = sorted([alice.account.pk, bob.account.pk])

    first = billing_run(as_of=RUN_DAY, partition=Partition(index=ids[1] % 2, count=2))
    second = billing_run(as_of=RUN_DAY, partition=Partition(index=ids[0] % 2, count=2))

    assert (first.invoices_issued, second.invoices_issued) == (1, 1)
    assert sorted(Invoice.objects.values_list("account_id", flat=True)) == ids
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2]
    assert sorted(BillingRun.objects.values_list("partition", flat=True)) == ["0/2", "1/2"]


def test_the_command_runs_one_partition_and_reports_the_whole_date(
    alice: Membership, bob: Membership, catalog: Catalog, capsys
) -> None:
    service_for(alice.account, eur(catalog))
    service_for(bob.account, catalog.prices[("basic", "BRL", Cycle.MONTHLY)])
    mine, other = f"{alice.account.pk % 2}/2", f"{bob.account.pk % 2}/2"
    assert mine != other

    call_command("billing_run", "--as-of", RUN_DAY.isoformat(), "--partition", mine, "--no-progress")
    out = capsys.readouterr().out
    assert f"Billing run 2026-01-18 ({mine})\n  services billed: 1\n" in out
    assert f"Billing run 2026-01-18 (combined): running, partitions {mine} done; not run yet: {other}\n" in out

    call_command("billing_run", "--as-of", RUN_DAY.isoformat(), "--partition", other, "--json", "--no-progress")
    data = json.loads(capsys.readouterr().out)
    assert (data["partition"], data["invoices_issued"], data["totals"]) == (other, 1, {"BRL": 5000})
    day = data["day"]
    assert (day["status"], day["missing"], day["invoices_issued"], day["totals"]) == (
        "done",
        [],
        2,
        {"BRL": 5000, "EUR": 1210},
    )

    call_command("billing_run", "--as-of", RUN_DAY.isoformat(), "--report")
    out = capsys.readouterr().out
    assert "Billing run 2026-01-18 (combined): done, partitions 0/2 done, 1/2 done\n" in out
    assert "  invoices issued: 2\n" in out and "  invoiced EUR: 1210 (minor units)\n" in out
    assert Invoice.objects.count() == 2
    with pytest.raises(CommandError, match="every partition"):
        call_command("billing_run", "--as-of", RUN_DAY.isoformat(), "--report", "--partition", mine)


def test_partitions_are_written_i_of_n() -> None:
    assert Partition.parse("3/4") == Partition(index=3, count=4)
    for wrong in ["4/4", "-1/4", "1", "a/b", "1/0"]:
        with pytest.raises(ValueError):
            Partition.parse(wrong)


def test_an_account_without_a_tax_rate_is_reported_and_the_others_billed(
    alice: Membership, catalog: Catalog, settings
) -> None:
    from sportello.conftest import make_member

    settings.BILLING_RUN_BATCH = 10
    TaxRate.objects.filter(country="IT").delete()
    italian = make_member("carla@example.org", "Carla S.r.l.", country="IT", currency="EUR", vat_id="")
    service_for(italian.account, eur(catalog))
    service_for(alice.account, eur(catalog))

    summary = billing_run(as_of=RUN_DAY)

    # Italy without a rate: the seller's own Spanish rate applies (below the OSS threshold), so
    # both are billed; a product whose tax class has no rate anywhere is refused and reported.
    assert summary.invoices_issued == 2
    catalog.product.tax_class = "luxury"
    catalog.product.save()
    service_for(alice.account, eur(catalog), start=dt.date(2026, 1, 2))
    summary = billing_run(as_of=RUN_DAY + dt.timedelta(days=1))
    assert summary.invoices_issued == 0
    assert [(e["step"], e["account"]) for e in summary.errors] == [("renewal", alice.account.pk)]
    assert "TaxRateMissing" in summary.errors[0]["error"]
    assert Invoice.objects.count() == 2


def test_the_daily_job_is_registered() -> None:
    assert ("billing.run", "daily") in [(job.name, job.every) for job in periodic_jobs()]


def test_the_command_prints_a_summary(alice: Membership, catalog: Catalog, capsys) -> None:
    service_for(alice.account, eur(catalog))
    call_command("billing_run", "--as-of", RUN_DAY.isoformat(), "--no-progress")
    out = capsys.readouterr().out
    assert "services billed: 1" in out and "invoiced EUR: 1210 (minor units)" in out
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("billing_run", "--as-of", "18/01/2026")
    with pytest.raises(CommandError, match="partition"):
        call_command("billing_run", "--as-of", "2026-01-18", "--partition", "2/2")
    assert Invoice.objects.count() == 1


def test_the_command_shows_a_progress_bar_per_step(
    alice: Membership, bob: Membership, catalog: Catalog, settings
) -> None:
    """With its progress bars (on stderr) the command bills exactly what it bills without."""
    settings.BILLING_LATE_FEE_FIXED = "EUR:5.00,BRL:25.00"
    service_for(alice.account, eur(catalog))
    service_for(alice.account, eur(catalog, "pro"))
    service_for(bob.account, catalog.prices[("basic", "BRL", Cycle.MONTHLY)])
    service_for(alice.account, eur(catalog), start=dt.date(2026, 1, 20))  # due 20 February
    billing_run(as_of=RUN_DAY)  # two renewals, due 1 February
    day = DUE + dt.timedelta(days=10)  # the third renewal, and dunning of the first two

    def state() -> tuple[object, ...]:
        return (
            documents(),
            sorted(Service.objects.values_list("pk", "status", "suspended_reason")),
            sorted(ReminderSent.objects.values_list("invoice_id", "stage", "sent_on")),
        )

    with transaction.atomic():  # with the bars, then back to before the run
        stderr = io.StringIO()
        call_command("billing_run", "--as-of", day.isoformat(), stdout=io.StringIO(), stderr=stderr)
        with_bars = state()
        transaction.set_rollback(True)
    assert Invoice.objects.count() == 2

    call_command("billing_run", "--as-of", day.isoformat(), "--no-progress", stdout=io.StringIO())

    assert state() == with_bars
    assert len(with_bars[0]) == 5  # two renewals before, one now, two late fees
    # Each step's bar, with its count: the last line each bar printed as it closed.
    bars = {line.split(":")[0]: line for line in re.split(r"[\r\n]+", stderr.getvalue()) if line.strip()}
    for step, count in [
        ("renewals", "100%|##########| 1/1 "),
        ("overdue", "100%|##########| 2/2 "),
        ("reminders", "100%|##########| 2/2 "),
        ("late fees", "100%|##########| 2/2 "),
        ("suspensions", "100%|##########| 3/3 "),
        ("period ends", " 0item "),
    ]:
        assert count in bars[f"{day} {step}"], stderr.getvalue()


def test_fast_inserts_keep_the_guard(alice: Membership, catalog: Catalog) -> None:
    """The run's bulk writer (COPY on PostgreSQL) still fails on a period billed twice."""
    from django.db import IntegrityError, transaction

    from sportello.billing.bulk import rows_insert

    service_for(alice.account, eur(catalog))
    billing_run(as_of=RUN_DAY)
    period = BilledPeriod.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(
            BilledPeriod,
            ["service", "period_start", "period_end", "invoice"],
            [(period.service_id, period.period_start, None, period.invoice_id)],
        )
    assert BilledPeriod.objects.count() == 1


def test_new_invoices_go_to_the_issued_handlers(alice: Membership, catalog: Catalog) -> None:
    """The seam for account credit and auto-pay: a handler that pays at once renews the
    service in the same transaction."""
    from sportello.billing.models import SettlementKind
    from sportello.billing.services import _ISSUED_HANDLERS, invoice_settle, on_invoices_issued
    from sportello.core.money import Money

    seen: list[tuple[str, int]] = []

    def auto_pay(invoices: Sequence[Invoice]) -> None:
        for invoice in invoices:
            seen.append((invoice.number, invoice.total_minor))
            invoice_settle(
                invoice=invoice,
                amount=Money.from_minor(invoice.total_minor, invoice.currency),
                kind=SettlementKind.PAYMENT,
                reference=f"card-{invoice.pk}",
                settled_on=RUN_DAY,
            )

    service = service_for(alice.account, eur(catalog))
    on_invoices_issued(auto_pay)
    try:
        billing_run(as_of=RUN_DAY)
    finally:
        _ISSUED_HANDLERS.remove(auto_pay)

    assert seen == [("INV-2026-00001", 1210)]
    assert Invoice.objects.get().status == InvoiceStatus.PAID
    service.refresh_from_db()
    assert (service.current_period_start, service.current_period_end) == (DUE, dt.date(2026, 3, 1))
    # Renewed: the next run bills the following period, once.
    billing_run(as_of=dt.date(2026, 2, 15))
    assert list(Invoice.objects.order_by("pk").values_list("due_date", flat=True)) == [DUE, dt.date(2026, 3, 1)]


def test_each_renewal_stores_its_tax_names_and_notes_in_its_own_language(catalog: Catalog) -> None:
    # The same lines and taxes for two accounts outside the EU: the figures are shared, the
    # wording is each invoice's language.
    english = make_member("buyer@example.com", "Buyer Inc.", country="US", language="en")
    italian = make_member("cliente@example.com", "Cliente Inc.", country="US", language="it")
    service_for(english.account, eur(catalog))
    service_for(italian.account, eur(catalog))
    billing_run(as_of=RUN_DAY)
    by_language = {invoice.language: invoice for invoice in Invoice.objects.all()}
    assert {language: list(i.taxes.values_list("name", "exemption_text")) for language, i in by_language.items()} == {
        "en": [
            (
                "Not subject to VAT",
                "Not subject to EU VAT: services supplied outside the EU (art. 44 and 59, Directive 2006/112/EC).",
            )
        ],
        "it": [
            (
                "Operazione non soggetta a IVA",
                "Operazione non soggetta a IVA UE: servizi resi fuori dall'UE (artt. 44 e 59, direttiva 2006/112/CE).",
            )
        ],
    }
    assert list(by_language["it"].lines.values_list("tax_name", flat=True)) == ["Operazione non soggetta a IVA"]
    assert list(by_language["en"].lines.values_list("tax_name", flat=True)) == ["Not subject to VAT"]
    assert by_language["it"].legal_notes == (
        "Operazione non soggetta a IVA UE: servizi resi fuori dall'UE (artt. 44 e 59, direttiva 2006/112/CE)."
    )
