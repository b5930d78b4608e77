"""Plans: the limits and terms a tenant offers for subscriptions to its APIs."""
