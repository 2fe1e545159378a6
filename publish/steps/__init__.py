"""Flow steps, registered by name."""
