"""Database tables, queries and the outside world (SMTP, webhooks, SMS)."""
