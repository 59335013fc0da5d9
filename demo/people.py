"""Partners, customers and subscribers, through the customers service's API."""

from __future__ import annotations

from demo.api import Api
from demo.dataset import CustomerSpec
from demo.geography import PARTNERS


async def create_partners(api: Api) -> dict[str, str]:
    """Partner key -> partner id."""
    ids = {}
    for partner in PARTNERS:
        created = await api.post("/partners", {"name": partner.name})
        ids[partner.key] = created["partner_id"]
    print(f"    partners: {', '.join(p.name for p in PARTNERS)}")
    return ids


async def create_customer(api: Api, customer: CustomerSpec, partner_ids: dict[str, str]) -> None:
    body = dict(customer.body, partner_id=partner_ids[customer.partner.key] if customer.partner else None)
    customer.customer_id = (await api.post("/customers", body))["customer_id"]


async def create_lines(api: Api, customer: CustomerSpec, plan_ids: dict[str, str]) -> None:
    """The customer's lines (subscribers), pending until `activate_lines`: their billing contract is set up
    in between."""
    for line in customer.subscribers:
        body = {"username": line.username, "plan_id": plan_ids[line.plan.code]}
        line.subscriber_id = (await api.post(f"/customers/{customer.customer_id}/subscribers", body))["subscriber_id"]


async def activate_lines(api: Api, customer: CustomerSpec) -> None:
    """Lines whose installation is done are activated; a few second lines have been terminated since (moved
    out, merged into one contract). Lines still being installed stay pending."""
    for line in customer.subscribers:
        if line.lifecycle in ("active", "terminated"):
            await api.post(f"/subscribers/{line.subscriber_id}/activate", {"reason": "installation completed"})
        if line.lifecycle == "terminated":
            await api.post(f"/subscribers/{line.subscriber_id}/terminate", {"reason": "customer moved out"})
