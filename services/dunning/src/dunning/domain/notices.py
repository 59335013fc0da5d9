"""The text of a notice: Jinja2 templates (sandboxed) rendered with the invoice's and customer's data.

Templates are written by collections staff, so they run in Jinja2's sandbox; an undefined name is an error
(caught when the campaign is saved, by rendering against sample data). HTML is autoescaped, text is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bss_contracts.money import minor_unit_exponent
from dunning.domain.campaigns import Action, Template

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)

DEFAULT_EMAIL = Template(
    name="default-overdue-email",
    subject="Invoice {{ invoice.number }} is overdue",
    body=(
        "Dear {{ customer.name }},\n\n"
        "invoice {{ invoice.number }} over {{ invoice.total }} {{ invoice.currency }} was due on "
        "{{ invoice.due_date }}; {{ invoice.balance }} {{ invoice.currency }} is still open "
        "({{ invoice.days_past_due }} days past due).\n"
        "Please pay it to keep your service running.\n"
    ),
)
DEFAULT_SMS = Template(
    name="default-overdue-sms",
    body=(
        "Invoice {{ invoice.number }}: {{ invoice.balance }} {{ invoice.currency }} is overdue since "
        "{{ invoice.due_date }}. Please pay to avoid suspension."
    ),
)


class TemplateProblem(ValueError):
    def __init__(self, part: str, message: str) -> None:
        super().__init__(f"{part}: {message}")
        self.part = part


@dataclass(frozen=True)
class Rendered:
    template_name: str
    subject: str | None
    body: str
    html: str | None


def format_amount(amount_minor: int, currency: str) -> str:
    """Minor units in major units with the currency's digits: 1999 EUR -> '19.99', 500 JPY -> '500'."""
    digits = minor_unit_exponent(currency)
    value = Decimal(amount_minor).scaleb(-digits)
    return f"{value:.{digits}f}"


def notice_context(
    *,
    customer_name: str,
    customer_id: str,
    email: str | None,
    phone: str | None,
    invoice_id: str,
    invoice_number: str,
    currency: str,
    total_minor: int,
    balance_minor: int,
    due_date: date,
    days_past_due: int,
    campaign_name: str,
    step_number: int,
    total_steps: int,
) -> dict[str, Any]:
    return {
        "customer": {"id": customer_id, "name": customer_name, "email": email, "phone": phone},
        "invoice": {
            "id": invoice_id, "number": invoice_number, "currency": currency,
            "total": format_amount(total_minor, currency), "balance": format_amount(balance_minor, currency),
            "total_minor": total_minor, "balance_minor": balance_minor,
            "due_date": due_date.isoformat(), "days_past_due": days_past_due,
        },
        "campaign": {"name": campaign_name},
        "step": {"number": step_number, "total": total_steps},
    }  # fmt: skip


SAMPLE_CONTEXT = notice_context(
    customer_name="Ada Lovelace", customer_id="c-1", email="ada@example.net", phone="+15550100",
    invoice_id="i-1", invoice_number="INV-0001", currency="EUR", total_minor=4999, balance_minor=4999,
    due_date=date(2025, 1, 31), days_past_due=7, campaign_name="Sample", step_number=1, total_steps=3,
)  # fmt: skip


def template_for(action: Action) -> Template:
    if action.template is not None:
        return action.template
    return DEFAULT_EMAIL if action.type == "email" else DEFAULT_SMS


def render(template: Template, context: dict[str, Any]) -> Rendered:
    """Render every part; raises TemplateProblem naming the part that failed."""
    return Rendered(
        template_name=template.name or "custom",
        subject=_render_part("subject", template.subject, context, html=False),
        body=_render_part("body", template.body, context, html=False) or "",
        html=_render_part("html", template.html, context, html=True),
    )


def _render_part(part: str, source: str | None, context: dict[str, Any], *, html: bool) -> str | None:
    if source is None:
        return None
    env = _html_env if html else _text_env
    try:
        text = env.from_string(source).render(context)
    except TemplateError as exc:
        raise TemplateProblem(part, str(exc)) from exc
    except Exception as exc:  # e.g. arithmetic on the wrong types inside the template
        raise TemplateProblem(part, f"{type(exc).__name__}: {exc}") from exc
    if part == "subject":
        text = " ".join(text.split())  # a header is one line
    return text


def check_template(template: Template) -> None:
    """Raise TemplateProblem if the template does not render against sample data."""
    render(template, SAMPLE_CONTEXT)
