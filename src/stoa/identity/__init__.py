"""The OAuth 2.1 / OpenID Connect authorization server, and the platform's signing keys."""
