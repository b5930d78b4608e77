"""Applications: the consumer programs and agents that hold subscriptions and API keys."""
