"""Invoices, payments, credit notes and customer credit over HTTP, checked in the database's answers and on
Kafka (the events a report needs)."""

from __future__ import annotations

import asyncio

from bss_contracts import topics

from .support import of_type, unique

ISSUED, PAID = "bss.billing.invoice.issued", "bss.billing.invoice.paid"
PAYMENT, CREDIT_NOTE, VOIDED = (
    "bss.billing.payment.received",
    "bss.billing.credit-note.issued",
    "bss.billing.invoice.voided",
)


async def test_invoice_paid_partially_then_fully(billing):
    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, timezone="Europe/Paris", partner_id="P-7", country="FR",
                               subscriber_id=subscriber)  # fmt: skip

    async with billing.probe(topics.INVOICES) as probe:
        invoice = await billing.invoice(customer, ("Installation", 10_000), tax_rate_bp=2000, subscriber_id=subscriber)
        assert (invoice["number"], invoice["status"]) == ("INV-2025-000001", "open")
        assert (invoice["subtotal_minor"], invoice["tax_minor"], invoice["total_minor"]) == (10_000, 2_000, 12_000)
        assert (invoice["issue_date"], invoice["due_date"]) == ("2025-03-03", "2025-03-17")
        [issued] = await probe.wait_for(lambda e: e.type == ISSUED)
        assert issued.data["invoice_id"] == invoice["id"]
        assert {k: issued.data[k] for k in ("customer_id", "subscriber_id", "partner_id", "billing_country",
                                            "due_date", "currency", "total_minor", "tax_minor", "balance_minor")} == {
            "customer_id": customer, "subscriber_id": subscriber, "partner_id": "P-7", "billing_country": "FR",
            "due_date": "2025-03-17", "currency": "EUR", "total_minor": 12_000, "tax_minor": 2_000,
            "balance_minor": 12_000,
        }  # fmt: skip

        first = await billing.post("/billing/payments", {"invoice_id": invoice["id"], "amount_minor": 5_000,
                                                         "currency": "EUR", "method": "card"})  # fmt: skip
        assert first["applications"] == [{"invoice_id": invoice["id"], "amount_minor": 5_000}]
        assert first["unapplied_minor"] == 0
        after_first = await billing.get(f"/billing/invoices/{invoice['id']}")
        assert (after_first["status"], after_first["balance_minor"]) == ("open", 7_000)

        # The rest, without naming the invoice: it goes to the customer's oldest open invoice in EUR.
        second = await billing.post("/billing/payments", {"customer_id": customer, "amount_minor": 7_000,
                                                          "currency": "EUR"})  # fmt: skip
        assert second["applications"] == [{"invoice_id": invoice["id"], "amount_minor": 7_000}]
        paid = await billing.get(f"/billing/invoices/{invoice['id']}")
        assert (paid["status"], paid["balance_minor"], paid["paid_at"] is not None) == ("paid", 0, True)

        await probe.wait_for(lambda e: e.type == PAID)
        seen = await probe.settle(1.0)
        payments = of_type(seen, PAYMENT, invoice_id=invoice["id"])
        assert [(p.data["applied_minor"], p.data["unapplied_minor"], p.data["invoice_balance_minor"])
                for p in payments] == [(5_000, 0, 7_000), (7_000, 0, 0)]  # fmt: skip
        [paid_event] = of_type(seen, PAID, invoice_id=invoice["id"])
        assert (paid_event.data["total_minor"], paid_event.data["partner_id"]) == (12_000, "P-7")
        # Partition order: issued, payment, payment, paid.
        assert [e.type for e in seen if e.subject == invoice["id"]] == [ISSUED, PAYMENT, PAYMENT, PAID]

    # A paid invoice takes no more payments (the money would be kept as credit without invoice_id).
    again = await billing.client.post("/billing/payments", json={"invoice_id": invoice["id"], "amount_minor": 1,
                                      "currency": "EUR"}, headers=billing.auth())  # fmt: skip
    assert again.status_code == 422
    assert again.json()["detail"][0]["loc"] == ["body", "invoice_id"]


async def test_over_payment_is_kept_as_credit_and_settles_the_next_invoice(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    async with billing.probe(topics.INVOICES) as probe:
        first = await billing.invoice(customer, ("March", 3_000))
        payment = await billing.post("/billing/payments", {"invoice_id": first["id"], "amount_minor": 5_000,
                                                           "currency": "EUR", "external_id": "bank-1"})  # fmt: skip
        assert (payment["applications"], payment["unapplied_minor"]) == ([{"invoice_id": first["id"],
                                                                          "amount_minor": 3_000}], 2_000)  # fmt: skip
        account = await billing.get(f"/billing/customers/{customer}")
        assert account["credits"] == [{"currency": "EUR", "balance_minor": 2_000}]

        # The bank sends the same payment again: recorded once.
        body = {"invoice_id": first["id"], "amount_minor": 5_000, "currency": "EUR", "external_id": "bank-1"}
        repeat = await billing.post("/billing/payments", body, expect=200)
        assert repeat["id"] == payment["id"]

        second = await billing.invoice(customer, ("April", 1_500))
        assert (second["status"], second["balance_minor"]) == ("paid", 0)
        third = await billing.invoice(customer, ("May", 1_000))
        assert (third["status"], third["balance_minor"]) == ("open", 500)
        account = await billing.get(f"/billing/customers/{customer}")
        assert account["credits"] == [{"currency": "EUR", "balance_minor": 0}]
        assert account["receivables"] == [{"currency": "EUR", "balance_minor": 500, "invoice_count": 1}]
        assert [(h["amount_minor"], h["reason"]) for h in account["credit_history"]] == [
            (2_000, "overpayment"), (-1_500, "applied_to_invoice"), (-500, "applied_to_invoice"),
        ]  # fmt: skip

        await probe.wait_for(lambda e: e.type == ISSUED and e.data["invoice_id"] == third["id"])
        seen = await probe.settle(1.0)
        [received] = of_type(seen, PAYMENT)
        assert (received.data["amount_minor"], received.data["applied_minor"], received.data["unapplied_minor"]) == (
            5_000, 3_000, 2_000,
        )  # fmt: skip
        balances = {e.data["invoice_id"]: e.data["balance_minor"] for e in of_type(seen, ISSUED)}
        assert balances == {first["id"]: 3_000, second["id"]: 0, third["id"]: 500}
        assert sorted(e.data["invoice_id"] for e in of_type(seen, PAID)) == sorted([first["id"], second["id"]])


async def test_payment_spread_over_oldest_invoices_first(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    older = await billing.invoice(customer, ("January", 4_000))
    newer = await billing.invoice(customer, ("February", 4_000), payment_terms_days=30)
    payment = await billing.post("/billing/payments", {"customer_id": customer, "amount_minor": 6_000,
                                                       "currency": "EUR"})  # fmt: skip
    assert payment["applications"] == [
        {"invoice_id": older["id"], "amount_minor": 4_000}, {"invoice_id": newer["id"], "amount_minor": 2_000},
    ]  # fmt: skip
    assert (await billing.get(f"/billing/invoices/{newer['id']}"))["balance_minor"] == 2_000


async def test_credit_notes_lower_balances_and_keep_the_rest_as_credit(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    async with billing.probe(topics.INVOICES) as probe:
        invoice = await billing.invoice(customer, ("Service", 10_000))
        note = await billing.post("/billing/credit-notes", {"invoice_id": invoice["id"], "amount_minor": 3_000,
                                                            "currency": "EUR", "reason": "goodwill"})  # fmt: skip
        assert (note["number"], note["kind"], note["applied_minor"]) == ("CN-2025-000001", "manual", 3_000)
        assert (await billing.get(f"/billing/invoices/{invoice['id']}"))["balance_minor"] == 7_000
        # Without an invoice: the oldest open one; what it does not need stays as credit.
        bigger = await billing.post("/billing/credit-notes", {"customer_id": customer, "amount_minor": 9_000,
                                                              "currency": "EUR", "reason": "outage"})  # fmt: skip
        assert (bigger["number"], bigger["invoice_id"], bigger["applied_minor"]) == (
            "CN-2025-000002", invoice["id"], 7_000,
        )  # fmt: skip
        assert (await billing.get(f"/billing/invoices/{invoice['id']}"))["status"] == "paid"
        assert (await billing.get(f"/billing/customers/{customer}"))["credits"] == [
            {"currency": "EUR", "balance_minor": 2_000}
        ]
        await probe.wait_for(lambda e: e.type == PAID)
        notes = of_type(await probe.settle(0.5), CREDIT_NOTE)
        assert [(n.data["amount_minor"], n.data["applied_minor"], n.data["invoice_balance_minor"]) for n in notes] == [
            (3_000, 3_000, 7_000), (9_000, 7_000, 0),
        ]  # fmt: skip


async def test_voiding_an_open_invoice_returns_what_was_settled_as_credit(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    async with billing.probe(topics.INVOICES) as probe:
        invoice = await billing.invoice(customer, ("Router", 10_000))
        await billing.post("/billing/payments", {"invoice_id": invoice["id"], "amount_minor": 4_000, "currency": "EUR"})
        voided = await billing.post(f"/billing/invoices/{invoice['id']}/void", {"reason": "wrong customer"}, expect=200)
        assert (voided["status"], voided["balance_minor"], voided["void_reason"]) == ("void", 0, "wrong customer")
        assert (await billing.get(f"/billing/customers/{customer}"))["credits"] == [
            {"currency": "EUR", "balance_minor": 4_000}
        ]
        [event] = await probe.wait_for(lambda e: e.type == VOIDED)
        assert (event.data["balance_minor"], event.data["reason"]) == (6_000, "wrong customer")
    await billing.post(f"/billing/invoices/{invoice['id']}/void", {"reason": "again"}, expect=409)
    draft = await billing.invoice(customer, ("Draft", 100), issue=False)
    assert (draft["number"], draft["status"]) == (None, "draft")
    voided_draft = await billing.post(f"/billing/invoices/{draft['id']}/void", {"reason": "typo"}, expect=200)
    assert voided_draft["status"] == "void"


async def test_invoice_numbers_have_no_gaps_when_issued_concurrently(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    drafts = [await billing.invoice(customer, (f"Item {i}", 100 + i), issue=False) for i in range(12)]
    # One draft cannot be issued (no lines): its failed attempt must not use up a number.
    empty = await billing.invoice(customer, issue=False)

    async def issue(invoice_id: str) -> int:
        response = await billing.client.post(f"/billing/invoices/{invoice_id}/issue", headers=billing.auth())
        return int(response.status_code)

    codes = await asyncio.gather(*(issue(d["id"]) for d in [*drafts[:6], empty, *drafts[6:]]))
    assert sorted(codes) == [200] * 12 + [422]
    page = await billing.get("/billing/invoices", customer_id=customer, status="open", limit=50)
    assert sorted(i["number"] for i in page["items"]) == [f"INV-2025-{n:06d}" for n in range(1, 13)]


async def test_bad_requests_get_clear_4xx(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    unknown = await billing.client.post("/billing/invoices", json={"customer_id": "nobody", "currency": "EUR"},
                                        headers=billing.auth())  # fmt: skip
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "customer_id"]
    assert "unknown customer" in unknown.json()["detail"][0]["msg"]

    assert (await billing.client.get("/billing/invoices")).status_code == 401
    as_support = await billing.client.post("/billing/invoices", json={"customer_id": customer, "currency": "EUR"},
                                           headers=billing.auth("support"))  # fmt: skip
    assert as_support.status_code == 403
    assert (await billing.client.get("/billing/invoices", headers=billing.auth("support"))).status_code == 200

    bad_currency = await billing.client.post("/billing/invoices", json={"customer_id": customer, "currency": "EURO"},
                                             headers=billing.auth())  # fmt: skip
    assert bad_currency.status_code == 422
    assert bad_currency.json()["detail"][0]["loc"] == ["body", "currency"]
    negative = await billing.client.post("/billing/payments", json={"customer_id": customer, "amount_minor": -5,
                                         "currency": "EUR"}, headers=billing.auth())  # fmt: skip
    assert negative.status_code == 422
    assert (await billing.client.get("/billing/invoices/nope", headers=billing.auth())).status_code == 404
    other_tenant = await billing.invoice(customer, ("x", 100))
    hidden = await billing.client.get(f"/billing/invoices/{other_tenant['id']}", headers=billing.auth(tenant="isp-2"))
    assert hidden.status_code == 404
