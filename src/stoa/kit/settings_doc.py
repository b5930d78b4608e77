"""Render the settings reference (docs/settings.md) from the `Settings` model itself."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from stoa.kit.settings import Settings

HEADER = """# Settings

Every setting is an environment variable prefixed `STOA_`; nested groups use a double
underscore (`STOA_AUTH__ROLES_CLAIM`). This page is generated from
`src/stoa/kit/settings.py` by `python -m stoa.kit.settings_doc > docs/settings.md`.

| variable | default | meaning |
|---|---|---|
"""


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(_rows(annotation, f"{prefix}{name.upper()}__"))
            continue
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {description} |")
    return rows


def render() -> str:
    return HEADER + "\n".join(_rows(Settings, "STOA_")) + "\n"


if __name__ == "__main__":
    print(render(), end="")
