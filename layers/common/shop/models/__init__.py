"""Pydantic models: request bodies, responses and domain records, one module a concept."""
