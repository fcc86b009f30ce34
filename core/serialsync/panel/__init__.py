"""The admin panel (issue 19): server-rendered pages to see and settle the state in a browser.

Install it with ``pip install 'serialsync[panel]'``. It reads through the store and acts through
:mod:`serialsync.operations`; no rule lives in a page. See :func:`create_panel_app`.
"""

from serialsync.panel.app import create_panel_app

__all__ = ["create_panel_app"]
