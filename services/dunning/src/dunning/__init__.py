"""Dunning: collection campaigns that act on overdue invoices (notices, suspension, reinstatement on payment)."""
