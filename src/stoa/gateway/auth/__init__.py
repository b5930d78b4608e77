"""Who is calling: API keys and bearer tokens, turned into a `Caller`."""
