"""Small shared pieces used by every component: settings, errors, ids, hashing, crypto."""
