"""The sandbox: every platform's fake on loopback, a seeded catalogue, and the demo."""

from serialsync.sandbox.catalogue import demo_catalogue
from serialsync.sandbox.demo import run_demo
from serialsync.sandbox.sandbox import Sandbox

__all__ = ["Sandbox", "demo_catalogue", "run_demo"]
