"""A unit's attributes as Magento product attributes: valid codes, made once, never dropped.

Magento names an attribute by its code (the EAV code validator: a letter, then letters, digits
or ``_``; at most 60 characters) and silently ignores a ``custom_attributes`` entry whose code
the store lacks or the product's attribute set does not hold. So each POS attribute name is
mapped to a code, and a code the store lacks is created once (a global, user-defined text
attribute, shown on the storefront under the POS's name) and put in the attribute set:

* the connector's ``attribute_codes`` table maps a POS name to a code of the operator's choice
  (an attribute the store already has, say ``color`` or ``weight``);
* any other name becomes ``attribute_prefix`` + its name in lower case (``Wood grain`` ->
  ``pos_wood_grain``): the prefix keeps it clear of Magento's own attributes (``weight``,
  ``price``, ``name``, ``status``, ``sku``, ``visibility`` …) and of the merchant's.

A code that cannot take a text value (a select of the store's) refuses the units carrying it,
with the reason; nothing is written in its place.

The product's brand goes to the parent the same way, under the name ``Brand``
(``attribute_codes = { "Brand" = "manufacturer" }``, else ``pos_brand``), with one difference:
a select (Magento's own ``manufacturer`` is one) takes the brand as an option, found by its
label or added once, as the serial options are, and its id is what the parent carries.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from serialsync import AuthenticationError, PermanentRemoteError, RemoteError

from serialsync_magento.attribute_sets import assign_to_set
from serialsync_magento.client import MagentoClient
from serialsync_magento.settings import CODE_LIMIT, MagentoSettings

#: The name the product's brand goes by in ``attribute_codes``.
BRAND = "Brand"
#: Inputs a text value is saved into as it is.
_TEXT_INPUTS = frozenset({"text", "textarea", "weight", "price", "date"})
_NOT_CODE = re.compile(r"[^a-z0-9]+")


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def derived_code(name: str, prefix: str) -> str:
    """``prefix`` + the name in lower case, ``[a-z0-9_]`` only, at most 60 characters."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NOT_CODE.sub("_", ascii_name.lower()).strip("_") or f"attr_{_digest(name, 8)}"
    code = prefix + slug
    if len(code) > CODE_LIMIT:
        # Cut, and told apart from another long name by a hash of the exact name.
        code = f"{code[: CODE_LIMIT - 11]}_{_digest(name, 10)}"
    return code


def attribute_codes(names: Iterable[str], settings: MagentoSettings) -> dict[str, str]:
    """``POS name -> Magento code`` for ``names``: the operator's table first, else derived.

    Two names that would share a derived code ("Body wood", "body-wood") keep apart: the later
    one (in sorted order) gets a hash of its exact name, so neither value is lost.
    """
    codes: dict[str, str] = {}
    taken: set[str] = set(settings.attribute_codes.values())
    for name in sorted(set(names)):
        mapped = settings.attribute_codes.get(name)
        if mapped is not None:
            codes[name] = mapped
            continue
        code = derived_code(name, settings.attribute_prefix)
        if code in taken:
            code = f"{code[: CODE_LIMIT - 11]}_{_digest(name, 10)}"
        taken.add(code)
        codes[name] = code
    return codes


class UnitAttributes:
    """The store's attributes for unit attributes, as far as this connector knows them."""

    def __init__(
        self, client: MagentoClient, settings: MagentoSettings, *, log: Any, connector: str
    ) -> None:
        self.client = client
        self.settings = settings
        self.log = log
        self.connector = connector
        self._ready: set[str] = set()
        self._refused: dict[str, RemoteError] = {}
        self._set_codes: set[str] | None = None
        self._lock = threading.Lock()
        self._brand_kinds: dict[str, str] = {}
        #: Brand option ids by ``(code, upper-cased label)``.
        self._brand_options: dict[tuple[str, str], str] = {}

    def ensure(self, labels: Mapping[str, str]) -> dict[str, RemoteError]:
        """Make each ``code -> label`` of ``labels`` ready to hold a unit's text value.

        Returns the codes that are not, each with its error: the units carrying them fail.
        """
        problems: dict[str, RemoteError] = {}
        with self._lock:
            for code, label in sorted(labels.items()):
                if code in self._ready:
                    continue
                if code in self._refused:
                    problems[code] = self._refused[code]
                    continue
                try:
                    self._prepare(code, label)
                except AuthenticationError:
                    raise
                except PermanentRemoteError as exc:
                    # The store's own attribute cannot take the value: asked once a process.
                    self._refused[code] = exc
                    problems[code] = exc
                except RemoteError as exc:
                    problems[code] = exc  # asked again next pass
                else:
                    self._ready.add(code)
        return problems

    def brand_value(self, code: str, brand: str) -> str:
        """The value the parent's ``code`` attribute takes for ``brand``: the brand itself for
        a text attribute, the id of its option (found by label, or added once) for a select.

        :raises RemoteError: the attribute cannot be made ready, or takes neither (a
            permanent error naming the attribute).
        """
        with self._lock:
            kind = self._brand_kinds.get(code)
            if kind is None:
                attribute = self._prepare(code, BRAND, selects=True)
                kind = str(attribute.get("frontend_input") or "text")
                self._brand_kinds[code] = kind
                self._ready.add(code)
            if kind in _TEXT_INPUTS:
                return brand
            key = (code, brand.strip().upper())
            if key not in self._brand_options:
                # Magento compares option labels without case.
                for option in self.client.attribute_options(code):
                    label = str(option.get("label") or "").strip().upper()
                    value = str(option.get("value") or "")
                    if label and value.isdigit():
                        self._brand_options.setdefault((code, label), value)
            if key not in self._brand_options:
                self._brand_options[key] = str(self.client.add_option(code, brand.strip()))
                self.log.info("magento.brand_option_created", attribute=code, brand=brand)
            return self._brand_options[key]

    def _prepare(self, code: str, label: str, *, selects: bool = False) -> dict[str, Any]:
        attribute = self.client.get_attribute(code)
        if attribute is None:
            attribute = self.client.create_attribute(
                {
                    "attribute_code": code,
                    "frontend_input": "text",
                    "entity_type_id": "4",  # catalog_product
                    "is_required": False,
                    "scope": "global",
                    "is_user_defined": True,
                    "is_visible": True,
                    "is_visible_on_front": "1",  # a string in the schema
                    "default_frontend_label": label,
                    "frontend_labels": [{"store_id": 0, "label": label}],
                }
            )
            self.log.info("magento.attribute_created", attribute=code, label=label)
        kind = str(attribute.get("frontend_input") or "text")
        if selects and kind == "select":
            pass  # the brand takes an option id
        elif selects and kind not in _TEXT_INPUTS:
            raise PermanentRemoteError(
                f"the brand maps to the store's attribute {code!r}, a {kind!r}, which takes "
                "neither text nor one option: map 'Brand' to a text or select attribute in "
                "attribute_codes",
                connector=self.connector,
                code="attribute-not-text",
            )
        elif kind not in _TEXT_INPUTS:
            raise PermanentRemoteError(
                f"the unit attribute {label!r} maps to the store's attribute {code!r}, a "
                f"{kind!r}, which takes option ids, not text: map it to a text attribute in "
                "attribute_codes",
                connector=self.connector,
                code="attribute-not-text",
            )
        if self._set_codes is None:
            self._set_codes = set(self.client.set_attribute_codes(self.settings.attribute_set_id))
        if code not in self._set_codes:
            assign_to_set(self.client, self.settings, code, log=self.log, connector=self.connector)
            self._set_codes.add(code)
        return attribute
