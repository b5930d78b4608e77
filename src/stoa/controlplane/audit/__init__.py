"""The audit log: every mutation, hash-chained per tenant."""
