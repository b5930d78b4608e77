"""The snapshot a gateway serves: loading it, compiling it into lookup tables, swapping it."""
