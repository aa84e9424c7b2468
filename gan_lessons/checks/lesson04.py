"""Checks for lesson 04's exercises."""
__all__ = []
