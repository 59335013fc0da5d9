"""Amounts of different currencies are never added: not in payments, credit, credit notes or balances."""

from __future__ import annotations

from bss_contracts import topics

from .support import unique


async def test_currencies_are_never_added(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    eur = await billing.invoice(customer, ("Fibre, March", 5_000), currency="EUR")
    usd = await billing.invoice(customer, ("Transit, March", 7_000), currency="USD")

    # A USD payment on the EUR invoice is refused, field by field.
    refused = await billing.client.post("/billing/payments", json={"invoice_id": eur["id"], "amount_minor": 5_000,
                                        "currency": "USD"}, headers=billing.auth())  # fmt: skip
    assert refused.status_code == 422
    [detail] = refused.json()["detail"]
    assert detail["loc"] == ["body", "currency"]
    assert "EUR" in detail["msg"] and "USD" in detail["msg"]
    note = await billing.client.post("/billing/credit-notes", json={"invoice_id": eur["id"], "amount_minor": 100,
                                     "currency": "USD", "reason": "x"}, headers=billing.auth())  # fmt: skip
    assert (note.status_code, note.json()["detail"][0]["loc"]) == (422, ["body", "currency"])
    assert (await billing.get(f"/billing/invoices/{eur['id']}"))["balance_minor"] == 5_000

    # Without naming an invoice, a USD payment settles USD invoices only; its rest is USD credit.
    async with billing.probe(topics.INVOICES) as probe:
        paid = await billing.post("/billing/payments", {"customer_id": customer, "amount_minor": 9_000,
                                                        "currency": "USD"})  # fmt: skip
        assert paid["applications"] == [{"invoice_id": usd["id"], "amount_minor": 7_000}]
        assert paid["unapplied_minor"] == 2_000
        [received] = await probe.wait_for(lambda e: e.type == "bss.billing.payment.received")
        assert (received.data["currency"], received.data["invoice_id"], received.data["unapplied_minor"]) == (
            "USD", usd["id"], 2_000,
        )  # fmt: skip
    assert (await billing.get(f"/billing/invoices/{eur['id']}"))["balance_minor"] == 5_000

    # A EUR payment with no EUR invoice left to settle becomes EUR credit: two balances, side by side.
    await billing.post("/billing/payments", {"invoice_id": eur["id"], "amount_minor": 5_300, "currency": "EUR"})
    account = await billing.get(f"/billing/customers/{customer}")
    assert account["credits"] == [
        {"currency": "EUR", "balance_minor": 300}, {"currency": "USD", "balance_minor": 2_000},
    ]  # fmt: skip
    assert account["receivables"] == []

    # The next EUR invoice uses the EUR credit only; the USD credit is untouched.
    next_eur = await billing.invoice(customer, ("Fibre, April", 1_000), currency="EUR")
    assert next_eur["balance_minor"] == 700
    account = await billing.get(f"/billing/customers/{customer}")
    assert account["credits"] == [
        {"currency": "EUR", "balance_minor": 0}, {"currency": "USD", "balance_minor": 2_000},
    ]  # fmt: skip
    next_usd = await billing.invoice(customer, ("Transit, April", 2_500), currency="USD")
    assert next_usd["balance_minor"] == 500
    account = await billing.get(f"/billing/customers/{customer}")
    assert account["receivables"] == [
        {"currency": "EUR", "balance_minor": 700, "invoice_count": 1},
        {"currency": "USD", "balance_minor": 500, "invoice_count": 1},
    ]  # fmt: skip


async def test_zero_decimal_currency_amounts_stay_in_minor_units(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    yen = await billing.invoice(customer, ("Fibre", 4_980), currency="JPY", tax_rate_bp=1000)
    assert (yen["tax_minor"], yen["total_minor"]) == (498, 5_478)
