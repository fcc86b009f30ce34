"""Tests of the core host (issue 2).

A package, so that these module names (``test_settings``…) cannot collide with a plugin's
tests of the same name under pytest's default ``prepend`` import mode.
"""
