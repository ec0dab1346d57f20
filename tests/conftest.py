"""Shared test configuration.

``pytester`` drives real pytest runs (used to test fuzzlock's own pytest plugin).
"""

pytest_plugins = ["pytester"]
