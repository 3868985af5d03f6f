"""Support in the client area: requests and their conversation, attachments, the knowledge
base and shared files; and the inbound-email endpoint that turns an emailed reply into a
message of its request.

Every request is looked up through `tickets_visible_to(membership=...)` by its random
public id: another account's request (or, for a member without the support area, a
colleague's) answers 404 on every URL, attachments included. What the page offers
(reply, close, reopen) follows the same rules the services enforce again under lock;
a refusal becomes a translated message and changes nothing.

Files are always sent as downloads (`Content-Disposition: attachment` with a cleaned
name), with `X-Content-Type-Options: nosniff` and a sandboxing Content-Security-Policy,
so that even a file that fooled the type check could not run in our origin.
"""

from __future__ import annotations

import hmac
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sportello.accounts.models import Area
from sportello.billing.models import Invoice
from sportello.catalog.models import ProductKind
from sportello.core.formatting import money_display
from sportello.core.money import Money
from sportello.core.time import utc_now
from sportello.orders.models import Order
from sportello.portal.access import MemberRequest, member_required
from sportello.services.selectors import services_visible_to
from sportello.support.errors import (
    AttachmentRefused,
    IllegalTransition,
    InboundRefused,
    InvalidRequestData,
    MergeWouldChangeAccess,
    NotAllowed,
    RelatedNotFound,
    ReopenWindowClosed,
    SupportError,
)
from sportello.support.files import file_open, size_display
from sportello.support.models import (
    Department,
    KnowledgeArticle,
    KnowledgeCategory,
    RelatedKind,
    StoredFile,
    Ticket,
    TicketPriority,
    TicketStatus,
)
from sportello.support.selectors import (
    OPEN_STATUSES,
    announcements_archived,
    announcements_current,
    article_helpfulness,
    article_in_language,
    articles_for_product,
    articles_in_language,
    attachment_visible_to,
    departments_for_customers,
    invoice_to_link,
    invoices_to_link,
    order_to_link,
    orders_to_link,
    shared_files_visible_to,
    ticket_messages_for_customer,
    tickets_visible_to,
)
from sportello.support.services import (
    Upload,
    knowledge_feedback_record,
    member_may_write,
    member_sees_all,
    reopen_deadline,
    ticket_close,
    ticket_open,
    ticket_reopen,
    ticket_reply_by_email,
    ticket_reply_customer,
)

PAGE_SIZE = 20
# Content types a download keeps; anything else goes out as application/octet-stream.
DOWNLOAD_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "application/zip"})
# The largest raw message the inbound endpoint reads (attachments included).
INBOUND_MAX_BYTES = 40 * 1024 * 1024
# Invoices offered under "About an invoice": the most recent ones; an older one is linked
# from its own page ("Question about this invoice?"), which adds it to the choices.
INVOICE_CHOICES = 24
# The same for "About an order": the most recent; an older one comes from its own page.
ORDER_CHOICES = 24


# --- Refusals: typed errors as translated sentences -------------------------------------------


def refusal_message(error: SupportError) -> str:
    """A translated sentence for a refusal of the support domain."""
    if isinstance(error, AttachmentRefused):
        if error.reason == "too_many":
            return ngettext(
                "At most %(count)d file can be attached to a message.",
                "At most %(count)d files can be attached to a message.",
                error.limit,
            ) % {"count": error.limit}
        if error.reason == "too_large":
            return _("“%(name)s” is larger than %(size)s, the most a file may be.") % {
                "name": error.filename,
                "size": size_display(error.limit),
            }
        if error.reason == "empty":
            return _("“%(name)s” is empty.") % {"name": error.filename}
        return _(
            "“%(name)s” is not a type of file we accept. Send PDF, PNG, JPEG, GIF, WebP, ZIP or plain-text files."
        ) % {"name": error.filename}
    if isinstance(error, ReopenWindowClosed):
        return ngettext(
            "This request was closed more than %(days)d day ago: please open a new one.",
            "This request was closed more than %(days)d days ago: please open a new one.",
            error.days,
        ) % {"days": error.days}
    if isinstance(error, NotAllowed):
        return _("Your role lets you read this request, but not change it.")
    if isinstance(error, MergeWouldChangeAccess):
        # Shown to staff only (merging is a back-office action).
        return _(
            "The two requests were opened by different people and %(email)s cannot see and answer both:"
            " merging would take a conversation away from someone, or show it to someone else."
        ) % {"email": error.requester}
    if isinstance(error, IllegalTransition):
        return _("This is not possible while the request is “%(status)s”.") % {
            "status": TicketStatus(error.status).label
        }
    if isinstance(error, RelatedNotFound):
        if error.kind == RelatedKind.INVOICE:
            # The same words for another account's invoice, a draft, a guess, and a member
            # without the billing area: nothing here says whether the invoice exists.
            return _("That invoice is not one you can see in this account.")
        if error.kind == RelatedKind.ORDER:
            # As for invoices: one sentence for another account's order, a guess, and a
            # member without the orders area.
            return _("That order is not one you can see in this account.")
        return _("That service is not one of this account's.")
    if isinstance(error, InvalidRequestData):
        if error.field == "related":
            return _("A request can be about one thing only: a service, an invoice or an order.")
        if error.field == "subject":
            return _("Write a subject of at most 200 characters.")
        if error.field == "body":
            return _("Write a message of at most 20,000 characters.")
    return _("This could not be done.")


# --- Forms ------------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; the limits and types are checked by the support services."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def _files_help() -> str:
    return _("Up to %(count)d files of at most %(size)s each: PDF, images, ZIP or plain text.") % {
        "count": settings.SUPPORT_ATTACHMENT_MAX_COUNT,
        "size": size_display(settings.SUPPORT_ATTACHMENT_MAX_BYTES),
    }


BODY_HELP = gettext_lazy("Plain text. You may use **bold**, *italic*, `code`, lists with “- ” and links.")


class DepartmentChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Department) -> str:
        return obj.display_name


class TicketForm(forms.Form):
    department = DepartmentChoice(label=gettext_lazy("Department"), queryset=Department.objects.none())
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    service = forms.TypedChoiceField(
        label=gettext_lazy("About a service"), required=False, coerce=int, empty_value=None
    )
    invoice = forms.TypedChoiceField(
        label=gettext_lazy("About an invoice"), required=False, coerce=int, empty_value=None
    )
    order = forms.TypedChoiceField(label=gettext_lazy("About an order"), required=False, coerce=int, empty_value=None)
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"), choices=TicketPriority.choices, initial=TicketPriority.NORMAL
    )
    body = forms.CharField(label=gettext_lazy("Message"), widget=forms.Textarea(attrs={"rows": 8}), max_length=20_000)
    attachments = MultipleFileField(label=gettext_lazy("Files"))

    def __init__(
        self,
        *args: Any,
        services: list[tuple[Any, Any]],
        invoices: list[tuple[int, str]] | None = None,
        orders: list[tuple[int, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments_for_customers()  # type: ignore[attr-defined]
        self.fields["service"].choices = [("", _("None")), *services]  # type: ignore[attr-defined]
        if any(isinstance(group, list) for _label, group in services):
            # Grouped into services and domains (`_service_choices`): the label names both.
            self.fields["service"].label = _("About a service or domain")
        self.fields["invoice"].choices = [("", _("None")), *(invoices or [])]  # type: ignore[attr-defined]
        self.fields["order"].choices = [("", _("None")), *(orders or [])]  # type: ignore[attr-defined]
        self.fields["body"].help_text = BODY_HELP
        self.fields["attachments"].help_text = _files_help()
        if not services:
            del self.fields["service"]
        if not invoices:
            del self.fields["invoice"]
        if not orders:
            del self.fields["order"]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Your reply"), widget=forms.Textarea(attrs={"rows": 6}), max_length=20_000
    )
    attachments = MultipleFileField(label=gettext_lazy("Files"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].help_text = BODY_HELP
        self.fields["attachments"].help_text = _files_help()


class ListFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=gettext_lazy("Show"),
        required=False,
        choices=[
            ("", gettext_lazy("Open requests")),
            ("closed", gettext_lazy("Closed requests")),
            ("all", gettext_lazy("All requests")),
        ],
    )


class SearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search the knowledge base"), required=False, max_length=100)


def _uploads(files: list[Any]) -> list[Upload]:
    return [Upload(file=f, name=f.name or "file") for f in files]


def _service_choices(request: MemberRequest) -> list[tuple[Any, Any]]:
    """The services a request can be about. Domains are services of a domain product: they
    are listed under their own heading ("Domains", by domain name first), for members with
    the services or the domains area; the other services for members with the services area.
    Without any domain the list stays flat: there is nothing to tell apart."""
    membership = request.membership
    with_services = membership.has_area(Area.SERVICES)
    if not (with_services or membership.has_area(Area.DOMAINS)):
        return []
    services: list[tuple[int, str]] = []
    domains: list[tuple[int, str]] = []
    for s in services_visible_to(membership=membership):
        if s.plan.product.kind == ProductKind.DOMAIN:
            # The domain name is what customers know a domain by; the product says which kind.
            domains.append((s.pk, f"{s.label} · {s.plan.product.name}" if s.label else s.plan.product.name))
        elif with_services:
            services.append((s.pk, f"{s.plan.product.name} {s.plan.name}" + (f" · {s.label}" if s.label else "")))
    if not domains:
        return list(services)
    groups: list[tuple[Any, Any]] = []
    if services:
        groups.append((_("Services"), services))
    groups.append((_("Domains"), domains))
    return groups


def _service_ids(choices: list[tuple[Any, Any]]) -> set[int]:
    """The ids among `_service_choices`, flat or grouped."""
    return {
        pk for value, label in choices for pk in ([pk for pk, _name in label] if isinstance(label, list) else [value])
    }


def order_choice_label(order: Order) -> str:
    """An order as the form lists it: its number and total ("O-2026-000123 · €24.08")."""
    return f"{order.number} · {money_display(Money.from_minor(order.total_minor, order.currency))}"


def _order_choices(request: MemberRequest, *, linked: Order | None) -> list[tuple[int, str]]:
    """The account's recent orders, and `linked` (pre-linked from its page) even if older.
    Empty for a member without the orders area: the field is then not offered at all."""
    orders = orders_to_link(membership=request.membership, limit=ORDER_CHOICES)
    if linked is not None and all(order.pk != linked.pk for order in orders):
        orders.append(linked)
    return [(order.pk, order_choice_label(order)) for order in orders]


def invoice_choice_label(invoice: Invoice) -> str:
    """An invoice as the form lists it: its printed number and total ("INV-2026-00042 · €121.00")."""
    total = money_display(Money.from_minor(invoice.total_minor, invoice.currency))
    if invoice.is_credit_note:
        return _("Credit note %(number)s · %(total)s") % {"number": invoice.display_number, "total": total}
    return f"{invoice.display_number} · {total}"


def _invoice_choices(request: MemberRequest, *, linked: Invoice | None) -> list[tuple[int, str]]:
    """The account's recent issued invoices, and `linked` (pre-linked from its page) even if older.
    Empty for a member without the billing area: the field is then not offered at all."""
    invoices = invoices_to_link(membership=request.membership, limit=INVOICE_CHOICES)
    if linked is not None and all(invoice.pk != linked.pk for invoice in invoices):
        invoices.append(linked)
    return [(invoice.pk, invoice_choice_label(invoice)) for invoice in invoices]


def _ticket_or_404(request: MemberRequest, public_id: str) -> Ticket:
    ticket = tickets_visible_to(membership=request.membership).filter(public_id=public_id).first()
    if ticket is None:
        raise Http404
    return ticket


# --- Requests -----------------------------------------------------------------------------------


@member_required()
@require_safe
def support_home(request: MemberRequest) -> HttpResponse:
    """My requests (all of the account's with the support area), open ones first."""
    membership = request.membership
    form = ListFilterForm(request.GET or None)
    state = form.cleaned_data["state"] if form.is_valid() else ""
    tickets = tickets_visible_to(membership=membership)
    has_any = tickets.exists()
    if state == "closed":
        tickets = tickets.filter(status=TicketStatus.CLOSED)
    elif state != "all":
        tickets = tickets.filter(status__in=OPEN_STATUSES)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/support/list.html",
        {
            "page": page,
            "tickets": page.object_list,
            "form": form,
            "state": state,
            "has_any": has_any,
            "sees_all": member_sees_all(membership),
            "search_form": SearchForm(),
            "active_nav": "support",
        },
    )


@member_required()
@require_http_methods(["GET", "HEAD", "POST"])
def support_new(request: MemberRequest) -> HttpResponse:
    """Open a request; `?service=<id>` comes from "Need help with this service?" and pre-links it,
    `?invoice=<number>` from "Question about this invoice?" on the invoice or credit note page,
    `?order=<number>` from "Need help with this order?" on the order page.

    An invoice or order number the member may not link (another account's, a draft, a guess,
    or any number for a member without the billing or orders area) is ignored: the page is
    the plain form."""
    services = _service_choices(request)
    # Read on POST too: the form posts back to this address, and an invoice or order pre-linked
    # from its page may be older than the ones offered, so it must stay among the choices.
    linked_invoice = invoice_to_link(membership=request.membership, number=request.GET.get("invoice", ""))
    invoices = _invoice_choices(request, linked=linked_invoice)
    linked_order = order_to_link(membership=request.membership, number=request.GET.get("order", ""))
    orders = _order_choices(request, linked=linked_order)
    initial: dict[str, Any] = {}
    linked = None
    if request.method != "POST":
        wanted = request.GET.get("service", "")
        linked = next((s for s in services_visible_to(membership=request.membership) if str(s.pk) == wanted), None)
        if linked is not None and linked.pk in _service_ids(services):
            initial["service"] = linked.pk
            technical = departments_for_customers().filter(slug="technical").first()
            if technical is not None:
                initial["department"] = technical.pk
        if linked_invoice is not None:
            initial["invoice"] = linked_invoice.pk
            finance = departments_for_customers().filter(slug="finance").first()
            if finance is not None:
                initial["department"] = finance.pk
        if linked_order is not None:
            initial["order"] = linked_order.pk
            sales = departments_for_customers().filter(slug="sales").first()
            if sales is not None:
                initial["department"] = sales.pk
    form = TicketForm(
        request.POST or None,
        request.FILES or None,
        services=services,
        invoices=invoices,
        orders=orders,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = ticket_open(
                membership=request.membership,
                department=data["department"],
                subject=data["subject"],
                body=data["body"],
                priority=data["priority"],
                related_service_id=data.get("service"),
                related_invoice_id=data.get("invoice"),
                related_order_id=data.get("order"),
                uploads=_uploads(data["attachments"]),
                now=utc_now(),
            )
        except SupportError as error:
            form.add_error("attachments" if isinstance(error, AttachmentRefused) else None, refusal_message(error))
        else:
            messages.success(request, _("Your request is sent. We will answer here and by email."))
            first = ticket.messages.order_by("id").first()
            _tell_cards_removed(request, first.cards_redacted if first is not None else 0)
            return redirect("portal:support-request", public_id=ticket.public_id)
    articles = articles_for_product(product_id=linked.plan.product_id) if linked is not None else []
    return render(
        request,
        "portal/support/new.html",
        {
            "form": form,
            "linked": linked,
            "linked_invoice": linked_invoice if request.method != "POST" else None,
            "linked_order": linked_order if request.method != "POST" else None,
            "articles": articles,
            "active_nav": "support",
        },
        status=400 if request.method == "POST" else 200,
    )


@member_required()
@require_http_methods(["GET", "HEAD", "POST"])
def support_request(request: MemberRequest, public_id: str) -> HttpResponse:
    """A request's conversation, with the reply form while it may be answered."""
    ticket = _ticket_or_404(request, public_id)
    may_write = member_may_write(request.membership, ticket)
    form = ReplyForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        # A read-only member posting to a colleague's request is refused by the service, with its message.
        if form.is_valid():
            try:
                reply = ticket_reply_customer(
                    ticket=ticket,
                    membership=request.membership,
                    body=form.cleaned_data["body"],
                    uploads=_uploads(form.cleaned_data["attachments"]),
                    now=utc_now(),
                )
            except SupportError as error:
                if may_write:
                    form.add_error(
                        "attachments" if isinstance(error, AttachmentRefused) else None, refusal_message(error)
                    )
                else:  # the page shows no form to put the error in
                    messages.error(request, refusal_message(error))
            else:
                messages.success(request, _("Your reply is added to the request."))
                _tell_cards_removed(request, reply.cards_redacted)
                return redirect("portal:support-request", public_id=ticket.public_id)
        status = 400
    deadline = reopen_deadline(ticket)
    now = utc_now()
    # A merged request's conversation continues in another: point there when the member sees it.
    merged_into = (
        tickets_visible_to(membership=request.membership).filter(pk=ticket.merged_into_id).first()
        if ticket.merged_into_id
        else None
    )
    return render(
        request,
        "portal/support/detail.html",
        {
            "ticket": ticket,
            "conversation": ticket_messages_for_customer(ticket=ticket),
            "form": form,
            "may_write": may_write,
            "may_reopen": may_write and deadline is not None and now <= deadline,
            "reopen_until": deadline,
            "merged_into": merged_into,
            "active_nav": "support",
        },
        status=status,
    )


def _tell_cards_removed(request: MemberRequest, count: int) -> None:
    if count:
        messages.warning(
            request,
            ngettext(
                "A card number was removed from what you wrote: we never keep card numbers."
                " To pay, use the Billing pages.",
                "%(count)d card numbers were removed from what you wrote: we never keep card numbers."
                " To pay, use the Billing pages.",
                count,
            )
            % {"count": count},
        )


def _transition(request: MemberRequest, public_id: str, move: Any, done: str) -> HttpResponse:
    ticket = _ticket_or_404(request, public_id)
    try:
        move(ticket=ticket, membership=request.membership, by=request.user, now=utc_now())
    except SupportError as error:
        messages.error(request, refusal_message(error))
    else:
        messages.success(request, done)
    return redirect("portal:support-request", public_id=ticket.public_id)


@member_required()
@require_POST
def support_close(request: MemberRequest, public_id: str) -> HttpResponse:
    return _transition(request, public_id, ticket_close, _("The request is closed."))


@member_required()
@require_POST
def support_reopen(request: MemberRequest, public_id: str) -> HttpResponse:
    return _transition(request, public_id, ticket_reopen, _("The request is open again."))


# --- Files ----------------------------------------------------------------------------------------


def file_download(stored: StoredFile) -> FileResponse:
    """`stored` as a download that no browser renders: attachment, nosniff, sandboxed."""
    content_type = stored.content_type if stored.content_type in DOWNLOAD_TYPES else "application/octet-stream"
    if stored.content_type == "text/plain":
        content_type = "text/plain; charset=utf-8"
    response = FileResponse(
        file_open(stored.stored_name), as_attachment=True, filename=stored.filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@member_required()
@require_safe
def support_attachment(request: MemberRequest, public_id: str) -> HttpResponse:
    attachment = attachment_visible_to(membership=request.membership, public_id=public_id)
    if attachment is None:
        raise Http404
    return file_download(attachment)  # type: ignore[return-value]  # a streaming response


@member_required()
@require_safe
def shared_file(request: MemberRequest, public_id: str) -> HttpResponse:
    shared = shared_files_visible_to(membership=request.membership).filter(public_id=public_id).first()
    if shared is None:
        raise Http404
    return file_download(shared)  # type: ignore[return-value]  # a streaming response


# --- News -------------------------------------------------------------------------------------------

NEWS_PAGE_SIZE = 20


@member_required()
@require_safe
def news(request: MemberRequest) -> HttpResponse:
    """Every announcement shown now (the dashboard shows the latest three), and a link to the archive."""
    now = utc_now()
    return render(
        request,
        "portal/support/news.html",
        {
            "announcements": announcements_current(now=now, limit=100),
            "has_archive": announcements_archived(now=now).exists(),
            "active_nav": "support",
        },
    )


@member_required()
@require_safe
def news_archive(request: MemberRequest) -> HttpResponse:
    page = Paginator(announcements_archived(now=utc_now()), NEWS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/support/news_archive.html", {"page": page, "active_nav": "support"})


# --- Knowledge base ---------------------------------------------------------------------------------


@member_required()
@require_safe
def knowledge_base(request: MemberRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    category = request.GET.get("category", "")
    categories = list(KnowledgeCategory.objects.all())
    if category and not any(c.slug == category for c in categories):
        category = ""
    articles = articles_in_language(category_slug=category, query=query)
    return render(
        request,
        "portal/support/kb.html",
        {
            "form": form,
            "query": query,
            "category": category,
            "categories": categories,
            "articles": articles,
            "active_nav": "support",
        },
    )


@member_required()
@require_safe
def knowledge_article(request: MemberRequest, slug: str) -> HttpResponse:
    text = article_in_language(slug=slug)
    if text is None:
        raise Http404
    return render(
        request,
        "portal/support/article.html",
        {
            "text": text,
            "helpfulness": article_helpfulness(article=text.article, user_id=request.user.pk),
            "active_nav": "support",
        },
    )


@member_required()
@require_POST
def knowledge_feedback(request: MemberRequest, slug: str) -> HttpResponse:
    article = KnowledgeArticle.objects.filter(slug=slug, is_published=True).first()
    if article is None:
        raise Http404
    answer = request.POST.get("helpful")
    if answer in {"yes", "no"}:
        knowledge_feedback_record(article=article, user=request.user, helpful=answer == "yes", now=utc_now())
        messages.success(request, _("Thank you for telling us."))
    else:
        messages.error(request, _("Choose “Yes” or “No”."))
    return redirect("portal:support-kb-article", slug=slug)


# --- Inbound email ----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def support_inbound(request: HttpRequest) -> HttpResponse:
    """A raw RFC 822 message from the mail server, POSTed with the shared secret in the
    `X-Sportello-Secret` header; the envelope recipient may come in `X-Original-To`.

    200 "added" when the reply joined its request; 202 with the reason when it was
    refused (the mail server must not retry: retrying cannot help); 403 for a missing or
    wrong secret, 404 when the endpoint is off (no secret configured), 413 too large.
    """
    secret = settings.SUPPORT_INBOUND_SECRET
    if not secret:
        raise Http404
    given = request.headers.get("X-Sportello-Secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    too_large = HttpResponse("too large\n", status=413, content_type="text/plain")
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > INBOUND_MAX_BYTES:
        return too_large
    # Read the stream, not `request.body`: Django refuses a body above
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), far less than a reply with attachments may be.
    # The limit is checked on what was read, whatever Content-Length said (or if it said nothing).
    raw = request.read(INBOUND_MAX_BYTES + 1)
    if len(raw) > INBOUND_MAX_BYTES:
        return too_large
    recipients = [r for r in request.headers.get("X-Original-To", "").split(",") if r.strip()]
    try:
        message = ticket_reply_by_email(raw=raw, now=utc_now(), recipients=recipients)
    except InboundRefused as refusal:
        return HttpResponse(f"refused: {refusal.reason}\n", status=202, content_type="text/plain")
    except SupportError as error:
        return HttpResponse(f"refused: {error.code}\n", status=202, content_type="text/plain")
    return HttpResponse(f"added to {message.ticket.public_id}\n", content_type="text/plain")


urlpatterns: list[URLPattern] = [
    path("support/", support_home, name="support"),
    path("support/new/", support_new, name="support-new"),
    path("support/requests/<str:public_id>/", support_request, name="support-request"),
    path("support/requests/<str:public_id>/close/", support_close, name="support-close"),
    path("support/requests/<str:public_id>/reopen/", support_reopen, name="support-reopen"),
    path("support/files/<str:public_id>/", support_attachment, name="support-attachment"),
    path("support/shared/<str:public_id>/", shared_file, name="support-shared-file"),
    path("support/news/", news, name="support-news"),
    path("support/news/archive/", news_archive, name="support-news-archive"),
    path("support/help/", knowledge_base, name="support-kb"),
    path("support/help/<slug:slug>/", knowledge_article, name="support-kb-article"),
    path("support/help/<slug:slug>/feedback/", knowledge_feedback, name="support-kb-feedback"),
]

# Outside the client area (no login: the mail server calls it); mounted by sportello/urls.py.
inbound_urlpatterns: list[URLPattern] = [
    path("support/inbound/", support_inbound, name="support-inbound"),
]
