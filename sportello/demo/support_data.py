"""Demo helpdesk: departments, canned replies, a knowledge base in four languages,
announcements, a shared file per account, and requests in every status across the
departments and the three customers — all through the support services, so that the
demo's requests carry the same messages, events and emails as real ones.

Idempotent like the rest of the demo: what exists (by slug, title or subject) is kept.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from sportello.accounts.models import Account, Membership, User
from sportello.billing.models import Invoice, InvoiceLine
from sportello.catalog.models import Product
from sportello.orders.models import Order
from sportello.services.models import Service
from sportello.support.models import (
    Announcement,
    CannedReply,
    Department,
    KnowledgeArticle,
    KnowledgeCategory,
    KnowledgeTranslation,
    SharedFile,
    Ticket,
    TicketPriority,
)
from sportello.support.services import (
    Upload,
    shared_file_add,
    ticket_close,
    ticket_hold,
    ticket_open,
    ticket_reply_customer,
    ticket_reply_staff,
)

DEPARTMENTS = (
    ("finance", "Finance", {"es": "Facturación", "pt-br": "Financeiro", "it": "Amministrazione"}),
    (
        "technical",
        "Technical support",
        {"es": "Soporte técnico", "pt-br": "Suporte técnico", "it": "Assistenza tecnica"},
    ),
    ("sales", "Sales", {"es": "Ventas", "pt-br": "Vendas", "it": "Commerciale"}),
)

CANNED = (
    ("finance", "Invoice copy sent", "We have sent you a copy of the invoice. You also find it under Billing."),
    (None, "Anything else?", "Is there anything else we can help you with? If not, you can close this request."),
)

CATEGORIES = (
    (
        "billing",
        "Billing and payments",
        {"es": "Facturación y pagos", "pt-br": "Faturamento e pagamentos", "it": "Fatturazione e pagamenti"},
    ),
    ("hosting", "Hosting", {"es": "Alojamiento", "pt-br": "Hospedagem", "it": "Hosting"}),
    ("account", "Your account", {"es": "Su cuenta", "pt-br": "Sua conta", "it": "Il suo account"}),
)

# slug, category, products, {language: (title, body)}
ARTICLES: tuple[tuple[str, str, tuple[str, ...], dict[str, tuple[str, str]]], ...] = (
    (
        "pay-an-invoice",
        "billing",
        (),
        {
            "en": (
                "How to pay an invoice",
                "Open **Billing**, choose the invoice and press *Pay*.\n\n- Card\n- SEPA transfer",
            ),
            "es": (
                "Cómo pagar una factura",
                "Abre **Facturación**, elige la factura y pulsa *Pagar*.\n\n- Tarjeta\n- Transferencia SEPA",
            ),
            "pt-br": (
                "Como pagar uma fatura",
                "Abra **Faturamento**, escolha a fatura e clique em *Pagar*.\n\n- Cartão\n- PIX",
            ),
            "it": (
                "Come pagare una fattura",
                "Apri **Fatturazione**, scegli la fattura e premi *Paga*.\n\n- Carta\n- Bonifico SEPA",
            ),
        },
    ),
    (
        "change-billing-details",
        "billing",
        (),
        {
            "en": (
                "Changing your billing details",
                "Owners change the legal name, address and tax ids under **Account**.",
            ),
            "es": (
                "Cambiar los datos de facturación",
                "Los propietarios cambian la razón social, la dirección y el NIF en **Cuenta**.",
            ),
            "pt-br": (
                "Alterar os dados de cobrança",
                "Os proprietários alteram a razão social, o endereço e o CNPJ em **Conta**.",
            ),
            "it": (
                "Modificare i dati di fatturazione",
                "I titolari modificano ragione sociale, indirizzo e partita IVA in **Account**.",
            ),
        },
    ),
    (
        "hosting-storage-full",
        "hosting",
        ("web-hosting", "managed-wordpress"),
        {
            "en": (
                "My storage is almost full",
                "Delete old backups, or move to a larger plan from the service page (*Upgrade or downgrade*).",
            ),
            "es": (
                "Mi espacio está casi lleno",
                "Borra copias antiguas, o pasa a un plan mayor desde la página del servicio (*Mejorar o reducir*).",
            ),
            "pt-br": (
                "Meu espaço está quase cheio",
                "Apague backups antigos, ou mude para um plano maior na página do serviço.",
            ),
            "it": (
                "Lo spazio è quasi pieno",
                "Elimina i vecchi backup, o passa a un piano più grande dalla pagina del servizio.",
            ),
        },
    ),
    (
        "point-your-domain",
        "hosting",
        ("web-hosting",),
        {
            "en": (
                "Pointing your domain to the hosting",
                "Set the A record to the address shown on the service page, then wait up to 24 hours.",
            ),
            "es": (
                "Apuntar tu dominio al alojamiento",
                "Pon el registro A en la dirección de la página del servicio y espera hasta 24 horas.",
            ),
            "pt-br": (
                "Apontar seu domínio para a hospedagem",
                "Configure o registro A com o endereço da página do serviço e aguarde até 24 horas.",
            ),
            "it": (
                "Puntare il dominio all'hosting",
                "Imposta il record A sull'indirizzo della pagina del servizio e attendi fino a 24 ore.",
            ),
        },
    ),
    (
        "change-your-password",
        "account",
        (),
        {
            "en": (
                "Changing your password",
                "Open **Account**, then **Security**, and choose a new password: a long passphrase is welcome.",
            ),
            "es": (
                "Cambiar la contraseña",
                "Abra **Cuenta** y luego **Seguridad**, y elija una contraseña nueva: una frase larga es bienvenida.",
            ),
            "pt-br": (
                "Alterar a senha",
                "Abra **Conta** e depois **Segurança**, e escolha uma senha nova: uma frase longa é bem-vinda.",
            ),
            "it": (
                "Cambiare la password",
                "Apra **Account** e poi **Sicurezza**, e scelga una nuova password: una frase lunga è benvenuta.",
            ),
        },
    ),
    (
        "wordpress-updates",
        "hosting",
        ("managed-wordpress",),
        # Not translated yet: readers in every language get the English text.
        {"en": ("WordPress updates", "Managed WordPress updates the core and plugins every night at 03:00 UTC.")},
    ),
)

ANNOUNCEMENTS = (
    (
        10,
        "Planned maintenance on Sunday",
        "Web hosting servers restart on Sunday between 02:00 and 03:00 UTC.",
        {
            "es": {
                "title": "Mantenimiento programado el domingo",
                "body": "Los servidores se reinician el domingo entre las 02:00 y las 03:00 UTC.",
            },
            "pt-br": {
                "title": "Manutenção programada no domingo",
                "body": "Os servidores reiniciam no domingo entre 02:00 e 03:00 UTC.",
            },
            "it": {
                "title": "Manutenzione programmata domenica",
                "body": "I server si riavviano domenica tra le 02:00 e le 03:00 UTC.",
            },
        },
    ),
    (
        30,
        "New: two-factor authentication",
        "Protect your login with an authenticator app or a passkey, under Account → Security.",
        {
            "es": {
                "title": "Novedad: verificación en dos pasos",
                "body": "Protege tu acceso con una app o una llave de acceso, en Cuenta → Seguridad.",
            },
            "pt-br": {
                "title": "Novidade: autenticação em dois fatores",
                "body": "Proteja seu acesso com um aplicativo ou uma passkey, em Conta → Segurança.",
            },
            "it": {
                "title": "Novità: autenticazione a due fattori",
                "body": "Proteggi l'accesso con un'app o una passkey, in Account → Sicurezza.",
            },
        },
    ),
)


@dataclass(frozen=True)
class DemoTicket:
    account: str
    requester: str
    department: str
    subject: str
    body: str
    # The status it is walked to: open, answered, customer_reply, on_hold, closed.
    state: str
    days_ago: int
    service_label: str = ""
    priority: str = TicketPriority.NORMAL
    # The key of the demo invoice (demo/data.py DEMO_INVOICES) it is about, if any.
    invoice_key: str = ""
    # The label of the service ordered by the demo order (demo/data.py DEMO_ORDERS) it is about, if any.
    order_label: str = ""
    # The name of a PDF the customer attached to their first message, if any.
    attachment: str = ""


NUBECLARA = "Nubeclara Servicios Digitales S.L."
FERRI = "Studio Ferri Consulenza S.r.l."
BRUNO = "Bruno Tecnologia Ltda."

TICKETS = (
    DemoTicket(
        NUBECLARA,
        "lucia@example.com",
        "finance",
        "Factura duplicada en marzo",
        "Nos habéis cobrado dos veces la misma factura.",
        "open",
        1,
        invoice_key="hosting",
        attachment="extracto-bancario-marzo.pdf",
    ),
    DemoTicket(
        NUBECLARA,
        "diego@example.com",
        "technical",
        "La intranet no responde",
        "Desde ayer la intranet da error 503.",
        "answered",
        3,
        "intranet.nubeclara.example.com",
        TicketPriority.HIGH,
    ),
    DemoTicket(
        NUBECLARA,
        "ana@example.com",
        "sales",
        "Presupuesto para 10 buzones más",
        "¿Qué precio tendrían 10 buzones adicionales?",
        "closed",
        20,
    ),
    DemoTicket(
        FERRI,
        "chiara@example.com",
        "technical",
        "Certificato SSL scaduto",
        "Il sito clienti mostra un certificato scaduto.",
        "customer_reply",
        5,
        "clienti.studioferri.example.com",
        TicketPriority.URGENT,
    ),
    DemoTicket(
        FERRI,
        "marco@example.com",
        "finance",
        "Cambio di intestazione fatture",
        "Da aprile le fatture vanno intestate alla nuova società.",
        "on_hold",
        8,
    ),
    DemoTicket(
        BRUNO,
        "bruno@example.com",
        "sales",
        "Plano para loja virtual",
        "Qual plano recomendam para uma loja com 500 produtos?",
        "answered",
        2,
        "loja.brunotec.example.com",
    ),
    DemoTicket(
        BRUNO,
        "rafael@example.com",
        "finance",
        "Segunda via do boleto",
        "Preciso da segunda via do último boleto.",
        "closed",
        12,
    ),
    DemoTicket(
        BRUNO,
        "camila@example.com",
        "technical",
        "Backup do site de testes",
        "Podem restaurar o backup de ontem do site de testes?",
        "open",
        0,
        "teste.brunotec.example.com",
        TicketPriority.LOW,
    ),
    DemoTicket(
        NUBECLARA,
        "ana@example.com",
        "sales",
        "¿Puedo pagar el pedido por transferencia?",
        "Queremos pagar el nuevo alojamiento por transferencia SEPA en lugar de con tarjeta.",
        "open",
        0,
        order_label="nuevo.nubeclara.example.com",
    ),
)

STAFF_REPLY = "Thank you, we are looking into it and will write again shortly."
CUSTOMER_FOLLOW_UP = "Any news? We still see the problem."


def _moment(as_of: dt.date, days_ago: int, hour: int) -> dt.datetime:
    return dt.datetime.combine(as_of - dt.timedelta(days=days_ago), dt.time(hour), tzinfo=dt.UTC)


def _pdf(title: str) -> bytes:
    """A small, valid one-page PDF with `title` on it (ASCII only)."""
    text = title.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 18 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


SHARED_FILES = (
    (NUBECLARA, "Contrato de servicios 2025", "contrato-servicios-2025.pdf", "billing"),
    (FERRI, "Report di sicurezza trimestrale", "report-sicurezza.pdf", "services"),
    (BRUNO, "Nota fiscal de serviço (NFS-e)", "nfse-marco.pdf", "billing"),
)


def support_demo_load(created: dict[str, int], *, as_of: dt.date, staff: User) -> None:
    created.setdefault("support_requests", 0)
    created.setdefault("articles", 0)
    created.setdefault("shared_files", 0)
    departments = {}
    for position, (slug, name, names) in enumerate(DEPARTMENTS):
        department, _new = Department.objects.get_or_create(
            slug=slug, defaults={"name": name, "name_translations": names, "position": position}
        )
        department.staff.add(staff)
        departments[slug] = department
    for department_slug, title, body in CANNED:
        CannedReply.objects.get_or_create(
            title=title, defaults={"body": body, "department": departments.get(department_slug or "")}
        )
    categories = {}
    for position, (slug, name, names) in enumerate(CATEGORIES):
        categories[slug], _new = KnowledgeCategory.objects.get_or_create(
            slug=slug, defaults={"name": name, "name_translations": names, "position": position}
        )
    for position, (slug, category, products, texts) in enumerate(ARTICLES):
        if KnowledgeArticle.objects.filter(slug=slug).exists():
            continue
        article = KnowledgeArticle.objects.create(slug=slug, category=categories[category], position=position)
        article.products.set(Product.objects.filter(slug__in=products))
        for language, (title, body) in texts.items():
            KnowledgeTranslation.objects.create(article=article, language=language, title=title, body=body)
        created["articles"] += 1
    for days_ago, title, body, translations in ANNOUNCEMENTS:
        Announcement.objects.get_or_create(
            title=title,
            defaults={"body": body, "translations": translations, "published_at": _moment(as_of, days_ago, 9)},
        )
    for spec in TICKETS:
        if Ticket.objects.filter(account__name=spec.account, subject=spec.subject).exists():
            continue
        _ticket(spec, departments=departments, staff=staff, as_of=as_of)
        created["support_requests"] += 1
    for account_name, title, filename, area in SHARED_FILES:
        account = Account.objects.get(name=account_name)
        if SharedFile.objects.filter(account=account, title=title).exists():
            continue
        shared_file_add(
            account=account,
            title=title,
            upload=Upload(file=io.BytesIO(_pdf(title)), name=filename),
            area=area,
            by=staff,
            now=_moment(as_of, 4, 10),
        )
        created["shared_files"] += 1


def _demo_invoice(account: Account, key: str) -> Invoice:
    """The demo invoice `key` of `account`, found as demo/data.py finds it: by its first line,
    whose text names the customer's domain. The demo's invoices are loaded before its requests."""
    from sportello.demo.data import DEMO_DOMAINS, DEMO_INVOICES

    spec = next(item for item in DEMO_INVOICES if item.key == key)
    description = spec.description.format(domain=DEMO_DOMAINS[account.name])
    line = InvoiceLine.objects.select_related("invoice").get(
        invoice__account=account, invoice__kind="invoice", position=0, description=description
    )
    return line.invoice


def _ticket(spec: DemoTicket, *, departments: dict[str, Department], staff: User, as_of: dt.date) -> Ticket:
    membership = Membership.objects.select_related("user", "account").get(
        account__name=spec.account, user__email=spec.requester
    )
    service = Service.objects.filter(account=membership.account, label=spec.service_label).first()
    invoice = _demo_invoice(membership.account, spec.invoice_key) if spec.invoice_key else None
    # The demo's orders are loaded before its requests; each is found by the service it orders.
    order = (
        Order.objects.filter(account=membership.account, lines__service__label=spec.order_label).first()
        if spec.order_label
        else None
    )
    opened = _moment(as_of, spec.days_ago, 8)
    ticket = ticket_open(
        membership=membership,
        department=departments[spec.department],
        subject=spec.subject,
        body=spec.body,
        priority=spec.priority,
        related_service_id=service.pk if service else None,
        related_invoice_id=invoice.pk if invoice else None,
        related_order_id=order.pk if order else None,
        uploads=[Upload(file=io.BytesIO(_pdf(spec.subject)), name=spec.attachment)] if spec.attachment else (),
        now=opened,
    )
    if spec.state in {"answered", "customer_reply", "on_hold", "closed"}:
        ticket_reply_staff(ticket=ticket, by=staff, body=STAFF_REPLY, now=opened + dt.timedelta(hours=2))
    if spec.state == "customer_reply":
        ticket_reply_customer(
            ticket=ticket, membership=membership, body=CUSTOMER_FOLLOW_UP, now=opened + dt.timedelta(hours=5)
        )
    if spec.state == "on_hold":
        ticket_reply_staff(
            ticket=ticket,
            by=staff,
            body="Waiting for the new company's registration documents.",
            internal=True,
            now=opened + dt.timedelta(hours=3),
        )
        ticket_hold(ticket=ticket, by=staff, now=opened + dt.timedelta(hours=3))
    if spec.state == "closed":
        ticket_close(ticket=ticket, membership=membership, by=membership.user, now=opened + dt.timedelta(days=1))
    ticket.refresh_from_db()
    return ticket
