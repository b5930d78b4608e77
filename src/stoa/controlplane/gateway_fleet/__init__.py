"""The gateway fleet: gateway tokens, and the gateways that sync with them."""
