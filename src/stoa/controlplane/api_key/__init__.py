"""API keys: an application's credentials, shown once and stored as HMAC digests."""
