"""Settings of one AIM connector: credentials, where AIM lives, which stock to sell.

Example section of ``serialsync.toml``::

    [connectors.aim]
    plugin = "aim_pos"
    api_key = "…"            # issued by Tri-Tech
    app_id = "serialsync"    # names this integration to AIM
    username = "1001"        # the employee id the integration logs in as
    password = "…"
    locations = ["MAIN"]     # empty: every location (aggregate)
    timezone = "America/Chicago"
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from serialsync import ConnectorSettings

#: The discovery service every AIM store is found through.
DEFAULT_DISCOVERY_URL = "https://active-ewebservice.biz/aeservices30"

#: Largest ``RecordCount`` we ask for. Tri-Tech recommends pages of at most 150 for its own
#: web-store feed; 500 is our ceiling (an assumption: no documented hard limit is known).
MAX_PAGE_SIZE = 500


class AimSettings(ConnectorSettings):
    """How to reach one AIM store and what to take from it.

    ``api_key`` and ``password`` are secrets (never logged, never in a repr). ``discovery_url``
    is the discovery service's root (the fake's loopback URL in the sandbox): the store's own
    host is asked from it at login. ``locations`` lists the AIM location codes whose serials
    are sold online; empty means every location. ``timezone`` is the store's: AIM writes
    dates without an offset, in the store's local time. ``order_number_format`` builds the
    AIM order number from a sale (placeholders ``{order_number}``, ``{order_id}``,
    ``{channel}``); the default ``"{channel}-{order_number}"`` keeps two channels' equal
    numbers apart, since AIM finds an order by its number alone (``"{order_number}"`` suits a
    store with one channel). ``cursor_margin_seconds``: the
    inventory cursor never moves past the start of the pass minus this margin (AIM's clock may
    differ from ours), so an item that changes while a pass pages through AIM — and shifts the
    pages under it — is read again by the next pass instead of being skipped for good.
    """

    api_key: SecretStr
    app_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: SecretStr
    device_id: str = "serialsync"
    #: ``Security``'s optional ``Acct`` (an API key serving several accounts) and
    #: ``DeviceName``; sent only when set.
    acct: str | None = None
    device_name: str | None = None
    discovery_url: str = DEFAULT_DISCOVERY_URL
    locations: tuple[str, ...] = ()
    order_location: str | None = None
    page_size: int = Field(default=100, ge=1, le=MAX_PAGE_SIZE)
    timezone: str = "UTC"
    # Channels number their orders independently (Shopify's #1001 and WooCommerce's 1001), and
    # AIM finds an order by its number alone: the channel's name keeps them apart by default.
    order_number_format: str = "{channel}-{order_number}"
    cursor_margin_seconds: int = Field(default=300, ge=0, le=86_400)
    #: The channel's payment gateway name (as the channel spells it, any case) → the AIM
    #: payment type an order paid through it is posted with; others get
    #: ``default_payment_type``. Example: ``{"shopify_payments" = "VISA", "paypal" = "PAYPAL"}``.
    payment_types: dict[str, str] = Field(default_factory=dict)
    default_payment_type: str = Field(default="Web", min_length=1)

    @field_validator("api_key", "password")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("discovery_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("order_number_format")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            value.format(order_number="1", order_id="1", channel="c")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                "may only use {order_number}, {order_id} and {channel}: " + str(exc)
            ) from None
        if "{order_number}" not in value and "{order_id}" not in value:
            raise ValueError("must contain {order_number} or {order_id}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The store's time zone."""
        return ZoneInfo(self.timezone)
