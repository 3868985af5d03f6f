"""Back office for the helpdesk: the queue of requests per department, the request page
where staff reply, add internal notes, use canned replies, assign, move, hold, close,
reopen and merge; and the configuration (departments, canned replies, knowledge base,
announcements) and the files shared with accounts.

Requests are never edited as rows: every change is one of the support services, which
lock the request, check the transition table and record an event. A refusal is shown as
an error and changes nothing. Customer text is shown escaped (subjects, names, file
names) or as the sanitised HTML stored with each message, never as markup of its own.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sportello.accounts.models import Area, User
from sportello.core.time import utc_now
from sportello.portal.views.support import MultipleFileField, file_download, refusal_message
from sportello.support.errors import AttachmentRefused, SupportError
from sportello.support.models import (
    WAITING_ON_CUSTOMER,
    WAITING_ON_US,
    Announcement,
    Attachment,
    CannedReply,
    Department,
    KnowledgeArticle,
    KnowledgeCategory,
    KnowledgeTranslation,
    SharedFile,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from sportello.support.services import (
    Upload,
    shared_file_add,
    ticket_assign,
    ticket_change_department,
    ticket_close,
    ticket_hold,
    ticket_merge,
    ticket_reopen,
    ticket_reply_staff,
)


def duration_display(seconds: float | None) -> str:
    """A waiting time as staff read it: "3 d 4 h", "2 h 5 min", "12 min"."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


class WaitingOnFilter(admin.SimpleListFilter):
    title = gettext_lazy("waiting on")
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("us", gettext_lazy("Us")), ("customer", gettext_lazy("The customer"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == "us":
            return queryset.filter(status__in=WAITING_ON_US)
        if self.value() == "customer":
            return queryset.filter(status__in=WAITING_ON_CUSTOMER)
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = gettext_lazy("assigned")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("me", gettext_lazy("To me")),
            ("nobody", gettext_lazy("To nobody")),
            ("my_departments", gettext_lazy("My departments' queues")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == "me":
            return queryset.filter(assigned_to_id=request.user.pk)
        if self.value() == "my_departments":
            return queryset.filter(department__staff=request.user.pk)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class StaffReplyForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Message"), widget=forms.Textarea(attrs={"rows": 8}), required=False)
    canned = forms.ModelChoiceField(
        label=gettext_lazy("Canned reply"),
        queryset=CannedReply.objects.none(),
        required=False,
        help_text=gettext_lazy("Added after what you type (or sent alone when the message is empty)."),
    )
    internal = forms.BooleanField(label=gettext_lazy("Internal note: only staff see it"), required=False, initial=False)
    hold = forms.BooleanField(label=gettext_lazy("Put on hold after replying"), required=False)
    attachments = MultipleFileField(label=gettext_lazy("Files"))

    def __init__(self, *args: Any, department: Department, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["canned"].queryset = CannedReply.objects.filter(  # type: ignore[attr-defined]
            Q(department=department) | Q(department__isnull=True), is_active=True
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        body = (data.get("body") or "").strip()
        canned = data.get("canned")
        if canned is not None:
            body = f"{body}\n\n{canned.body}".strip()
        if not body:
            raise forms.ValidationError(_("Write a message or choose a canned reply."))
        data["text"] = body
        return data


class AssignForm(forms.Form):
    assigned_to = forms.ModelChoiceField(
        label=gettext_lazy("Assigned to"), queryset=User.objects.filter(is_staff=True, is_active=True), required=False
    )


class DepartmentForm(forms.Form):
    department = forms.ModelChoiceField(label=gettext_lazy("Department"), queryset=Department.objects.all())


class MergeForm(forms.Form):
    into = forms.CharField(
        label=gettext_lazy("Merge into request (reference)"),
        max_length=16,
        help_text=gettext_lazy("This request is closed and its messages move there. Same customer only."),
    )


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = readonly_fields = ("at", "transition", "from_status", "to_status", "actor", "data")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """The queue. Filter by department for a department's queue; a request opens its own page."""

    list_display = [
        "public_id",
        "subject",
        "account",
        "department",
        "status",
        "priority",
        "assigned_to",
        "last_message_at",
        "first_response",
        "resolution",
    ]
    list_display_links = ["public_id", "subject"]
    list_filter = ["department", "status", "priority", WaitingOnFilter, AssignedFilter, "related_kind"]
    search_fields = ["public_id", "subject", "account__name", "account__reference", "requester__email"]
    list_select_related = ["account", "department", "assigned_to"]
    date_hierarchy = "created_at"
    ordering = ["-last_message_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("first response"))
    def first_response(self, ticket: Ticket) -> str:
        return duration_display(ticket.first_response_time)

    @admin.display(description=gettext_lazy("resolution"))
    def resolution(self, ticket: Ticket) -> str:
        return duration_display(ticket.resolution_time)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:ticket_id>/files/<str:public_id>/",
                self.admin_site.admin_view(self.attachment_view),
                name="support_ticket_attachment",
            )
        ]
        return own + super().get_urls()

    def attachment_view(self, request: HttpRequest, ticket_id: int, public_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404
        attachment = get_object_or_404(Attachment, ticket_id=ticket_id, public_id=public_id)
        return file_download(attachment)  # type: ignore[return-value]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The request's page: conversation with internal notes, and the staff's actions."""
        if not self.has_view_permission(request):
            raise Http404
        ticket = get_object_or_404(
            Ticket.objects.select_related(
                "account",
                "department",
                "requester",
                "assigned_to",
                "merged_into",
                "related_invoice",
                "related_order",
            ),
            pk=object_id,
        )
        may_change = self.has_change_permission(request, ticket)
        staff: User = request.user  # type: ignore[assignment]
        action = request.POST.get("action", "") if request.method == "POST" else ""
        reply_form = StaffReplyForm(
            request.POST if action == "reply" else None,
            request.FILES if action == "reply" else None,
            department=ticket.department,
        )
        assign_form = AssignForm(
            request.POST if action == "assign" else None, initial={"assigned_to": ticket.assigned_to_id}
        )
        department_form = DepartmentForm(
            request.POST if action == "department" else None, initial={"department": ticket.department_id}
        )
        merge_form = MergeForm(request.POST if action == "merge" else None)
        if action and not may_change:
            raise Http404
        status = 200
        if action:
            done = self._act(request, ticket, staff, action, reply_form, assign_form, department_form, merge_form)
            if done:
                return HttpResponseRedirect(request.path)
            status = 400
        conversation = ticket.messages.select_related("author").prefetch_related("attachments").order_by("created_at")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": ticket.subject,
            "subtitle": ticket.public_id,
            "ticket": ticket,
            "conversation": conversation,
            "events": ticket.events.select_related("actor").order_by("at", "id"),
            "reply_form": reply_form,
            "assign_form": assign_form,
            "department_form": department_form,
            "merge_form": merge_form,
            "may_change": may_change,
            "first_response": duration_display(ticket.first_response_time),
            "resolution": duration_display(ticket.resolution_time),
            "is_closed": ticket.status == TicketStatus.CLOSED,
            **(extra_context or {}),
        }
        return render(request, "admin/support/ticket/change.html", context, status=status)

    def _act(
        self,
        request: HttpRequest,
        ticket: Ticket,
        staff: User,
        action: str,
        reply_form: StaffReplyForm,
        assign_form: AssignForm,
        department_form: DepartmentForm,
        merge_form: MergeForm,
    ) -> bool:
        now = utc_now()
        try:
            if action == "reply":
                if not reply_form.is_valid():
                    return False
                data = reply_form.cleaned_data
                try:
                    ticket_reply_staff(
                        ticket=ticket,
                        by=staff,
                        body=data["text"],
                        now=now,
                        internal=data["internal"],
                        hold=data["hold"],
                        uploads=[Upload(file=f, name=f.name or "file") for f in data["attachments"]],
                    )
                except AttachmentRefused as refused:
                    # Shown with the form, which keeps what was typed: only the files need changing.
                    reply_form.add_error("attachments", refusal_message(refused))
                    return False
                messages.success(request, _("Internal note added.") if data["internal"] else _("Reply sent."))
            elif action == "assign":
                if not assign_form.is_valid():
                    return False
                ticket_assign(ticket=ticket, to=assign_form.cleaned_data["assigned_to"], by=staff, now=now)
                messages.success(request, _("Assignment saved."))
            elif action == "department":
                if not department_form.is_valid():
                    return False
                ticket_change_department(
                    ticket=ticket, department=department_form.cleaned_data["department"], by=staff, now=now
                )
                messages.success(request, _("Moved to another department."))
            elif action == "merge":
                if not merge_form.is_valid():
                    return False
                target = Ticket.objects.filter(public_id=merge_form.cleaned_data["into"].strip().lower()).first()
                if target is None:
                    merge_form.add_error("into", _("No request has this reference."))
                    return False
                ticket_merge(source=ticket, target=target, by=staff, now=now)
                messages.success(request, _("Merged into %(reference)s.") % {"reference": target.public_id})
            elif action == "hold":
                ticket_hold(ticket=ticket, by=staff, now=now)
                messages.success(request, _("Put on hold."))
            elif action == "close":
                ticket_close(ticket=ticket, by=staff, now=now)
                messages.success(request, _("The request is closed."))
            elif action == "reopen":
                ticket_reopen(ticket=ticket, by=staff, now=now)
                messages.success(request, _("The request is open again."))
            else:
                return False
        except SupportError as error:
            messages.error(request, _("Not done: %(reason)s") % {"reason": refusal_message(error)})
        return True


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_public", "position", "queue", "waiting_on_us"]
    filter_horizontal = ["staff"]
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Department]:
        return (
            super()
            .get_queryset(request)
            .annotate(waiting=Count("tickets", filter=Q(tickets__status__in=WAITING_ON_US)))
        )

    @admin.display(description=gettext_lazy("waiting on us"))
    def waiting_on_us(self, department: Department) -> int:
        return int(getattr(department, "waiting", 0))

    @admin.display(description=gettext_lazy("queue"))
    def queue(self, department: Department) -> str:
        url = reverse("admin:support_ticket_changelist") + f"?department__id__exact={department.pk}&waiting=us"
        return format_html('<a href="{}">{}</a>', url, _("Open the queue"))


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "department", "is_active"]
    list_filter = ["department", "is_active"]


@admin.register(KnowledgeCategory)
class KnowledgeCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ("name",)}


class KnowledgeTranslationInline(admin.StackedInline):
    model = KnowledgeTranslation
    extra = 0
    min_num = 1


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    list_display = ["slug", "category", "is_published", "languages", "helpful_yes", "helpful_no", "updated_at"]
    list_filter = ["category", "is_published"]
    search_fields = ["slug", "translations__title"]
    filter_horizontal = ["products"]
    inlines = [KnowledgeTranslationInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[KnowledgeArticle]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                yes=Count("feedback", filter=Q(feedback__helpful=True), distinct=True),
                no=Count("feedback", filter=Q(feedback__helpful=False), distinct=True),
            )
            .prefetch_related("translations")
        )

    @admin.display(description=gettext_lazy("languages"))
    def languages(self, article: KnowledgeArticle) -> str:
        return ", ".join(sorted(t.language for t in article.translations.all()))

    @admin.display(description=gettext_lazy("helpful"))
    def helpful_yes(self, article: KnowledgeArticle) -> int:
        return int(getattr(article, "yes", 0))

    @admin.display(description=gettext_lazy("not helpful"))
    def helpful_no(self, article: KnowledgeArticle) -> int:
        return int(getattr(article, "no", 0))


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ["title", "published_at", "visible_until"]
    date_hierarchy = "published_at"


class SharedFileForm(forms.ModelForm):
    title = forms.CharField(label=gettext_lazy("Title"), required=False, max_length=200)
    upload = forms.FileField(label=gettext_lazy("File"))

    class Meta:
        model = SharedFile
        fields = ["account", "title", "area"]


@admin.register(SharedFile)
class SharedFileAdmin(admin.ModelAdmin):
    """Adding a file goes through `shared_file_add` (type and size checks, email to the
    members who will see it); files are never changed, only added or removed."""

    form = SharedFileForm
    list_display = ["title", "account", "filename", "area", "size", "created_at", "uploaded_by"]
    list_filter = ["area"]
    search_fields = ["title", "filename", "account__name", "account__reference"]
    autocomplete_fields = ["account"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SupportError as error:
            messages.error(request, _("Not saved: %(reason)s") % {"reason": refusal_message(error)})
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: SharedFile, form: ModelForm, change: bool) -> None:
        upload = form.cleaned_data["upload"]
        created = shared_file_add(
            account=form.cleaned_data["account"],
            title=form.cleaned_data.get("title", ""),
            upload=Upload(file=upload, name=upload.name or "file"),
            area=form.cleaned_data.get("area") or Area.BILLING,
            by=request.user,  # type: ignore[arg-type]
            now=utc_now(),
        )
        obj.pk = created.pk
        obj._state.adding = False
