"""The control plane: the REST API that owns the database and builds gateway snapshots."""
