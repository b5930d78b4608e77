"""Rules shared by the PATCH request schemas."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel
from pydantic_core import PydanticCustomError


def reject_explicit_nulls(model: BaseModel, fields: Iterable[str]) -> None:
    """Refuse `null` for `fields` that were sent: in a PATCH, leaving a field out keeps
    it, so a null there can only be a mistake (the column has no "nothing" value).

    Raises:
        PydanticCustomError: `not_nullable`, naming the field; pydantic reports it as 422.
    """
    for field in fields:
        if field in model.model_fields_set and getattr(model, field) is None:
            raise PydanticCustomError(
                "not_nullable",
                "{field} cannot be null; leave it out to keep it",
                {"field": field},
            )
