"""The identity service's HTTP endpoints; `stoa.identity.router.router` gathers them."""
