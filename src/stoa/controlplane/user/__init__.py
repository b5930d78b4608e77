"""Users, their role bindings, and service accounts."""
