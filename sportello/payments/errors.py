"""Errors of the payments domain. Each carries a code and the figures a message needs; the
interface translates them. A refused operation has changed nothing."""

from __future__ import annotations


class PaymentsError(Exception):
    """Base of the payments domain's refusals."""

    code = "refused"


class InsufficientCredit(PaymentsError):
    code = "insufficient_credit"

    def __init__(self, *, balance_minor: int, wanted_minor: int, currency: str) -> None:
        super().__init__(f"credit {balance_minor}, wanted {wanted_minor} ({currency})")
        self.balance_minor = balance_minor
        self.wanted_minor = wanted_minor
        self.currency = currency


class InvalidAmount(PaymentsError):
    """An amount that is not positive, not in the right currency, too precise or too large."""

    code = "invalid_amount"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvoiceNotPayable(PaymentsError):
    """Already paid, cancelled, a credit note, of another account, or nothing left to pay."""

    code = "invoice_not_payable"

    def __init__(self, *, number: str) -> None:
        super().__init__(f"invoice {number} cannot be paid now")
        self.number = number


class NothingToPay(PaymentsError):
    code = "nothing_to_pay"


class MixedCurrencies(PaymentsError):
    code = "mixed_currencies"

    def __init__(self, *, currencies: list[str]) -> None:
        super().__init__(", ".join(currencies))
        self.currencies = currencies


class MethodUnavailable(PaymentsError):
    code = "method_unavailable"

    def __init__(self, *, gateway: str) -> None:
        super().__init__(gateway)
        self.gateway = gateway


class IllegalTransition(PaymentsError):
    code = "illegal_transition"

    def __init__(self, *, event: str, from_status: str) -> None:
        super().__init__(f"{event} is not allowed from {from_status}")
        self.event = event
        self.from_status = from_status


class GatewayError(PaymentsError):
    """A gateway refused or failed. `retryable` says whether trying again later can help
    (a timeout, a 5xx) or not (a declined card, a bad request)."""

    code = "gateway_error"

    def __init__(self, *, reason: str, retryable: bool, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.retryable = retryable


class WebhookRejected(PaymentsError):
    """A notification that is not signed by the gateway, is too old, or cannot be read:
    answered with a 4xx and not recorded."""

    code = "webhook_rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookReplayed(WebhookRejected):
    """The very same signed notification seen again (a captured request sent a second time):
    answered 409 and not recorded. A gateway sending an event again signs it anew and is a
    duplicate, not a replay."""

    code = "webhook_replayed"

    def __init__(self) -> None:
        super().__init__("replayed")


class StatementInvalid(PaymentsError):
    """A bank statement file that cannot be read; `line` is 1-based (0: the file itself)."""

    code = "statement_invalid"

    def __init__(self, *, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class TransactionIdInvalid(PaymentsError):
    """A gateway's id of a transaction, typed by staff, that is not well formed ("format") or
    already registered ("in_use")."""

    code = "transaction_id_invalid"

    def __init__(self, *, reason: str, transaction_id: str) -> None:
        super().__init__(f"{transaction_id}: {reason}")
        self.reason = reason
        self.transaction_id = transaction_id


class ServiceAutopayRefused(PaymentsError):
    """Auto-pay cannot be set for this service: another account's, or one that no longer runs."""

    code = "service_autopay_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefundRefused(PaymentsError):
    """A refund that cannot be made as asked. `reason`: "not_succeeded" (nothing received, or
    already refunded in full), "in_progress" (another refund of the payment waits for its
    gateway), "gateway_cannot_refund" (bank transfer, PIX: refund to credit instead),
    "reason_required", "already_credit" (a payment for account credit, refunded to credit)."""

    code = "refund_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefundAboveRefundable(PaymentsError):
    """More than can still be refunded of a payment to that destination: what it received less
    earlier refunds, and less what of it is already credit or was spent from credit."""

    code = "refund_above_refundable"

    def __init__(self, *, refundable_minor: int, wanted_minor: int, currency: str) -> None:
        super().__init__(f"refundable {refundable_minor}, wanted {wanted_minor} ({currency})")
        self.refundable_minor = refundable_minor
        self.wanted_minor = wanted_minor
        self.currency = currency
