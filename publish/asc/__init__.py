"""App Store Connect API client: auth, transport, typed resource helpers. Knows nothing of steps or the CLI."""
