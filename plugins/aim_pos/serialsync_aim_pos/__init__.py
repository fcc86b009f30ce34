"""serialsync plugin ``aim_pos``: Tri-Tech AIM as the point of sale.

``fetch_inventory`` reads items flagged "sell individual serials online" with their serials;
``report_sale`` posts a channel order as an AIM open order, once. The fake AIM
(:class:`~serialsync_aim_pos.fake.FakeAim`) serves tests and the sandbox.
"""

from serialsync_aim_pos.connector import AimConnector
from serialsync_aim_pos.fake import FailureKind, FakeAim
from serialsync_aim_pos.settings import AimSettings

__all__ = ["AimConnector", "AimSettings", "FailureKind", "FakeAim"]
