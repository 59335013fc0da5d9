"""The billing service: plans, subscriptions, invoices, payments, credit notes, overdue detection, usage billing
and SLA credits."""
