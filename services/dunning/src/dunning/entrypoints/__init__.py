"""HTTP API, event handlers and background workers."""
