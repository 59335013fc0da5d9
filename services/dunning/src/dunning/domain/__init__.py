"""Pure rules of collections: campaigns, exclusions, the calendar, the execution state machine, notices."""
