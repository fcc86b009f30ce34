"""The plugin author's kit: a plugin package template, and the guide's generated reference.

* :func:`new_plugin` writes a complete third-party plugin package (``serialsync-<name>/``)
  that installs and passes its own tests, the conformance suite included, untouched.
* :mod:`serialsync.scaffold.docs` renders the hook and model reference of
  ``docs/plugin-authors.md`` from :mod:`serialsync.hookspecs` and :mod:`serialsync.model`
  (``python -m serialsync.scaffold.docs docs/plugin-authors.md`` rewrites it).
"""

from serialsync.scaffold.generate import ScaffoldError, new_plugin, plugin_names

__all__ = ["ScaffoldError", "new_plugin", "plugin_names"]
