"""Checks for lesson 02's exercises."""
__all__ = []
