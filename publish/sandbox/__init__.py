"""A faithful App Store Connect simulator. Shares no code with publish.asc."""
