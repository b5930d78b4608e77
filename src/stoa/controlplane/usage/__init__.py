"""Usage metering: batches from gateways in, per-minute and per-day rollups out."""
