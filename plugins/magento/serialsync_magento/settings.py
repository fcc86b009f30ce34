"""Settings of a Magento connector: where the store is, how to sign in, how serials are listed."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from serialsync import ConnectorSettings

#: Magento's longest attribute code (its EAV code validator).
CODE_LIMIT = 60
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Attributes serialsync writes itself on every child: a unit attribute never lands on them.
RESERVED_CODES = frozenset(
    {
        "sku",
        "name",
        "price",
        "status",
        "visibility",
        "url_key",
        "description",
        "type_id",
        "attribute_set_id",
        "quantity_and_stock_status",
        "media_gallery",
        "image",
        "small_image",
        "thumbnail",
    }
)


class OAuth1Credentials(BaseModel):
    """The four secrets of a Magento integration, for OAuth 1.0a request signing.

    Needed only where the store does not accept integration tokens as bearer tokens (the
    default since 2.4.4 refuses them unless "Allow OAuth Access Tokens to be used as standalone
    Bearer tokens" is switched on).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr
    signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256"


class MagentoSettings(ConnectorSettings):
    """One Magento 2 / Adobe Commerce store, spoken to over REST V1 with MSI.

    ``store_code`` is the REST scope: ``all`` writes admin-level (default-scope) values, which
    is what a catalogue sync wants; a store view code would write store-view overrides.
    Give either ``access_token`` (an integration token, sent as a bearer token) or ``oauth``.
    """

    base_url: str = Field(description="the store's base URL, e.g. https://shop.example.com")
    store_code: str = "all"
    access_token: SecretStr | None = None
    oauth: OAuth1Credentials | None = None
    attribute_set_id: int = Field(default=4, ge=1, description="attribute set of new products")
    attribute_group_id: int | None = Field(
        default=None,
        description="group the serial attribute is put in when it is created; "
        "None: the set's first group",
    )
    serial_attribute: str = Field(
        default="serial_number",
        pattern=r"^[a-z][a-z_0-9]{0,29}$",
        description="code of the configurable attribute holding the serial (global select)",
    )
    serial_attribute_label: str = "Serial"
    source_code: str = Field(default="default", description="the MSI source units are stocked in")
    website_ids: tuple[int, ...] = (1,)
    parent_sku_template: str = Field(
        default="{sku}", description="SKU of the configurable parent of a POS SKU"
    )
    disable_on_withdraw: bool = Field(
        default=False, description="also disable a withdrawn child (status 2), not only stock 0"
    )
    link_mode: Literal["parent_save", "per_child"] = Field(
        default="parent_save",
        description="parent_save: one parent save links every new child (fewest requests); "
        "per_child: the documented configurable-products/{sku}/options + /child calls",
    )
    upload_images: bool = Field(
        default=True,
        description="download the unit's photo (to its child) and the product's photos (to "
        "the parent) and upload them: Magento takes image content, not URLs",
    )
    max_image_bytes: int = Field(
        default=4_000_000,
        ge=1,
        description="largest image downloaded for upload; a larger one is left out with the "
        "reason (base64 makes it a third larger in the save, which PHP's post_max_size bounds: "
        "8 MB by default)",
    )
    concurrency: int = Field(
        default=6,
        ge=1,
        le=32,
        description="requests kept in flight at most (a store's PHP workers serve several at "
        "once); fewer while the store answers 429/503 or slows down",
    )
    bulk: bool | Literal["auto"] = Field(
        default="auto",
        description="create new children through the asynchronous bulk endpoint (one request "
        "for a product's children, then status polls): true always, false never, 'auto' by "
        "measured pace: the first bulk shows whether the store's message-queue consumers run "
        "and how many operations a second they get through (one consumer, Magento's default, "
        "runs one at a time); a product's children saved synchronously (concurrency in "
        "flight) are timed too, and new children go by bulk while it is expected to be done "
        "no later than the synchronous path (bulk_margin in its favour), else synchronously; "
        "each path's pace is the median of its last three measurements, and the path not "
        "chosen is taken again once its last measurement is bulk_redetect_after old",
    )
    bulk_margin: float = Field(
        default=0.25,
        ge=0,
        description="how much longer than the synchronous path a bulk may be expected to take "
        "and still be chosen ('auto'), as a fraction: a bulk sends one request for a "
        "product's children instead of one each, which leaves the store's web workers to "
        "shoppers",
    )
    bulk_poll_interval: float = Field(
        default=2.0, gt=0, description="seconds between bulk status polls at most"
    )
    bulk_timeout: float = Field(
        default=600.0,
        gt=0,
        description="seconds a bulk may stay open before it is saved synchronously instead",
    )
    bulk_detect_timeout: float = Field(
        default=60.0,
        gt=0,
        description="seconds the first bulk may stay open before the store's consumers are "
        "taken for not running ('auto': the synchronous path until bulk_redetect_after); cron "
        "starts them once a minute",
    )
    bulk_redetect_after: float = Field(
        default=600.0,
        gt=0,
        description="seconds after the consumers were taken for not running ('auto') before "
        "a bulk tries them again, so that consumers started later are used; a store whose "
        "consumers stay off pays one bulk_detect_timeout wait per this interval. Also how "
        "old the measured pace of the path not chosen may grow before one product takes it "
        "again to measure it afresh",
    )
    attribute_codes: dict[str, str] = Field(
        default_factory=dict,
        description="POS attribute name -> Magento attribute code (an attribute the store "
        "has, or one serialsync creates); a name not listed becomes attribute_prefix + its "
        "name in lower case",
    )
    attribute_prefix: str = Field(
        default="pos_",
        pattern=r"^[a-z][a-z0-9_]{0,19}$",
        description="start of the codes made from POS attribute names, which keeps them clear "
        "of Magento's own attributes (weight, price, name, status, sku, visibility, ...)",
    )
    orders_page_size: int = Field(default=100, ge=1, le=300)
    source_items_batch: int = Field(
        default=500,
        ge=1,
        description="source items per request; 20 where the store enables Web API input limits",
    )

    @field_validator("attribute_codes")
    @classmethod
    def _valid_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, code in value.items():
            if not _CODE.match(code) or len(code) > CODE_LIMIT:
                raise ValueError(
                    f"attribute_codes[{name!r}] = {code!r} is not a Magento attribute code: "
                    f"a lower-case letter, then a-z, 0-9 or _, at most {CODE_LIMIT} characters"
                )
            if code in RESERVED_CODES:
                raise ValueError(
                    f"attribute_codes[{name!r}] = {code!r} is an attribute serialsync writes "
                    "itself; map the unit attribute to another code"
                )
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value

    @field_validator("parent_sku_template")
    @classmethod
    def _has_sku(cls, value: str) -> str:
        if "{sku}" not in value:
            raise ValueError("parent_sku_template must contain {sku}")
        return value

    @model_validator(mode="after")
    def _serial_not_mapped(self) -> MagentoSettings:
        if self.serial_attribute in self.attribute_codes.values():
            raise ValueError(
                f"attribute_codes maps a unit attribute to {self.serial_attribute!r}, the "
                "serial attribute"
            )
        return self

    @model_validator(mode="after")
    def _one_credential(self) -> MagentoSettings:
        if (self.access_token is None) == (self.oauth is None):
            raise ValueError("give exactly one of access_token (bearer) or oauth (OAuth 1.0a)")
        return self

    @property
    def rest_root(self) -> str:
        """``<base_url>/rest/<store_code>``: every V1 path hangs below it."""
        return f"{self.base_url}/rest/{self.store_code}"

    def parent_sku(self, pos_sku: str) -> str:
        """The SKU of the configurable parent for one POS SKU."""
        return self.parent_sku_template.replace("{sku}", pos_sku)
