"""The kernel every room uses.

Errors, the YAML stream, YAML files, paths, scratch space and engine processes.
"""
