"""Registration of the ``aim_pos`` connector type (entry point ``serialsync_aim_pos.plugin``)."""

from __future__ import annotations

from serialsync import ConnectorType, ConnectorTypeRegistrar, Role, hookimpl

from serialsync_aim_pos.connector import AimConnector
from serialsync_aim_pos.fake import FakeAim
from serialsync_aim_pos.settings import AimSettings


@hookimpl
def register_connector_types(registrar: ConnectorTypeRegistrar) -> None:
    """Declare the AIM point-of-sale connector type and its fake."""
    registrar.add(
        ConnectorType(
            name="aim_pos",
            role=Role.POS,
            settings_model=AimSettings,
            factory=AimConnector,
            description="Tri-Tech AIM (AIM Web Services / AeServices30): serialized inventory "
            "in, web sales out as open orders",
            fake=FakeAim,
        )
    )
