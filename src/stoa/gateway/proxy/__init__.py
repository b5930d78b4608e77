"""The REST reverse proxy and the upstream HTTP/1.1 connection pool."""
