"""Support ticket analytics: the tickets read model (from `bss.support.ticket`) and GET /analytics/support/sla."""
