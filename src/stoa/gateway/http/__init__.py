"""The gateway's own HTTP/1.1 server: parsing, routing, responses."""
