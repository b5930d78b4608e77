"""The versioned schemas that the control plane and gateway share.

The config snapshot and usage events: the only modules both sides import.
"""
