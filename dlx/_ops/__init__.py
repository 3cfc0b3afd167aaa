"""Differentiable ops (Function subclasses and the functions that apply them)."""
