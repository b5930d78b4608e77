"""Names that appear in URLs and tool names."""

from __future__ import annotations

# Lower-case letters, digits and single dashes; starts with a letter. Used for tenant, API,
# plan and policy names, which appear in paths such as /proxy/{tenant}/{api}.
SLUG_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
