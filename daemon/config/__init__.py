"""The configuration: one key table, one layered read, validation, and the docs made from them."""
