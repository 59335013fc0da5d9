"""HTTP API of the billing service, all under /billing."""

from billing.entrypoints.api import accounts, invoices, plans, sla

routers = [plans.router, invoices.router, accounts.router, sla.router]
