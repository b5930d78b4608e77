"""The data plane: serves MCP and REST traffic from an immutable snapshot, never the database."""

from stoa.gateway.native import use_fresh_code

use_fresh_code()
