"""Business alerts: rules per tenant evaluated on a schedule, Alertmanager's states, events and notifications."""
