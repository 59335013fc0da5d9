"""The support service: ISP support tickets with SLA clocks, linked to outages, subscribers and collections."""
