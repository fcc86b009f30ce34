"""The serial attribute: a global select whose options are the serials, one per child.

Each child of a configurable parent needs a distinct value of the configurable attribute, so
every serial becomes an option. Magento adds options one per call (or many in one attribute
save) and compares labels without case; option ids are cached for the connector's life. The
asynchronous bulk API is not used for options: one synchronous attribute save adds them all,
and answers their ids at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from serialsync import (
    AuthenticationError,
    PermanentRemoteError,
    RemoteError,
    RetryableRemoteError,
)

from serialsync_magento.attribute_sets import assign_to_set
from serialsync_magento.client import OPTION_EXISTS, MagentoClient
from serialsync_magento.settings import MagentoSettings


class SerialAttribute:
    """Finds or creates the serial attribute and the option of each serial."""

    def __init__(
        self,
        client: MagentoClient,
        settings: MagentoSettings,
        *,
        log: Any,
        connector: str,
    ) -> None:
        self.client = client
        self.settings = settings
        self.log = log
        self.connector = connector
        self._attribute_id: int | None = None
        self._first_read = threading.Lock()
        self._attribute: dict[str, Any] = {}
        self._loaded = False
        #: Option ids by upper-cased label (Magento compares labels case-insensitively).
        self._options: dict[str, tuple[str, int]] = {}
        #: When this connector first read it (or created it), the attribute held no option and
        #: the store no configurable product: no parent could then have a child linked at all.
        self.started_empty = False

    def attribute_id(self) -> int:
        """The attribute's id: read once per connector, created (global select) if missing.

        Under a lock: the connector's publishes run side by side, and two first calls that
        both found the attribute missing both created it, the second refused with "An attribute
        with this code already exists" (its product's units failed for the pass: seen once in
        the oversell bench's first publish).
        """
        if self._attribute_id is not None:
            return self._attribute_id
        with self._first_read:
            if self._attribute_id is not None:
                return self._attribute_id
            return self._read_or_create()

    def _read_or_create(self) -> int:
        settings = self.settings
        code = settings.serial_attribute
        attribute = self.client.get_attribute(code)
        if attribute is None:
            attribute = self._create(code)
        if (
            attribute.get("frontend_input") != "select"
            or attribute.get("scope", "global") != "global"
            or not attribute.get("is_user_defined", True)
        ):
            raise PermanentRemoteError(
                f"the attribute {code!r} cannot vary a configurable product: it must be a "
                f"global, user-defined select (it is {attribute.get('scope')!r} "
                f"{attribute.get('frontend_input')!r})",
                connector=self.connector,
            )
        # A configurable attribute must be in the products' attribute set. Checked even when
        # the attribute exists: a run interrupted after creating it never assigned it.
        if code not in self.client.set_attribute_codes(settings.attribute_set_id):
            assign_to_set(self.client, settings, code, log=self.log, connector=self.connector)
        self._attribute = attribute
        # Read before this connector adds any option or saves any product (the attribute is
        # read once, first). No serial option means no child linked by a serial; a catalogue
        # made before serialsync may still hold a parent of a POS SKU with children linked by
        # another attribute (a size), which a save that names only our links would unlink: so
        # the store must hold no configurable product either (one request, once).
        self.started_empty = (
            not any(_usable(o) for o in attribute.get("options") or [])
            and not self.client.has_configurable_products()
        )
        self._attribute_id = int(attribute["attribute_id"])
        return self._attribute_id

    def _create(self, code: str) -> dict[str, Any]:
        settings = self.settings
        attribute = self.client.create_attribute(
            {
                "attribute_code": code,
                "frontend_input": "select",
                "entity_type_id": "4",  # catalog_product
                "is_required": False,
                "scope": "global",
                "is_user_defined": True,
                "is_visible": True,
                "default_frontend_label": settings.serial_attribute_label,
                "frontend_labels": [{"store_id": 0, "label": settings.serial_attribute_label}],
            }
        )
        self.log.info("magento.attribute_created", attribute=code)
        return attribute

    def option_ids(self, wanted: Sequence[tuple[str, str | None]]) -> list[int | RemoteError]:
        """The option id of each ``(serial, id the last publish recorded)``, or its error.

        Missing options are added (one request for one, one attribute save for many); an
        option an interrupted run added already is adopted. Raises only
        :class:`AuthenticationError`.
        """
        results: list[int | RemoteError | None] = [self._known(s, h) for s, h in wanted]
        missing = [
            serial
            for (serial, _hint), result in zip(wanted, results, strict=True)
            if result is None
        ]
        failures: dict[str, RemoteError] = {}
        if len(missing) > 1:
            failures = self._add_many(missing)
        else:
            for serial in missing:
                error = self._add(serial)
                if error is not None:
                    failures[serial] = error
        final: list[int | RemoteError] = []
        for (serial, _hint), result in zip(wanted, results, strict=True):
            if result is None:
                # Known now (added, or adopted from an earlier run), else why it is not.
                result = self._known(serial, None)
            if result is None:
                result = failures.get(serial) or RetryableRemoteError(
                    f"the option {serial!r} was not added", connector=self.connector
                )
            final.append(result)
        return final

    def _known(self, serial: str, hint: str | None) -> int | RemoteError | None:
        if hint and hint.isdigit():
            return int(hint)
        cached = self._options.get(serial.upper())
        if cached is None:
            return None
        if cached[0] != serial:
            return PermanentRemoteError(
                f"Magento holds the option {cached[0]!r} for the serial {serial!r}: option "
                "labels are compared without case, so this serial cannot have its own value",
                connector=self.connector,
                code="option-label-conflict",
            )
        return cached[1]

    def _add(self, serial: str) -> RemoteError | None:
        try:
            option_id = self.client.add_option(self.settings.serial_attribute, serial)
        except AuthenticationError:
            raise
        except RemoteError as exc:
            if OPTION_EXISTS in str(exc):
                self._load()  # added by an earlier, interrupted run: adopt it
            return exc
        self._options[serial.upper()] = (serial, option_id)
        return None

    def _add_many(self, serials: list[str]) -> dict[str, RemoteError]:
        """Add many options in one attribute save; per serial that is still missing, why.

        The attribute save adds a label even when the attribute has it, so the options are
        read first (once per connector: an earlier, interrupted run may have added some), and
        read again after a failed save, which may have been applied before its answer was lost.
        """
        failures: dict[str, RemoteError] = {}
        try:
            if not self._loaded:
                self._load()
            for _attempt in range(2):
                todo = self._unknown(serials)
                if not todo:
                    return {}
                try:
                    options = self.client.add_options(self._attribute, todo)
                except RetryableRemoteError as exc:
                    failures = dict.fromkeys(todo, exc)
                    self._load()
                    continue
                # The save answers the attribute with every option it holds, the whole
                # catalogue's serials: only the ones just sent are read (a per-product walk
                # of all of them made a first publish quadratic), unless one is missing.
                self._remember(options, only=frozenset(todo))
                if self._unknown(todo):
                    self._remember(options)
                return {}
        except AuthenticationError:
            raise
        except RemoteError as exc:
            return dict.fromkeys(serials, exc)
        return failures

    def _unknown(self, serials: list[str]) -> list[str]:
        """The serials no option holds yet, once each (labels compared without case)."""
        seen: set[str] = set()
        todo = []
        for serial in serials:
            key = serial.upper()
            if key not in seen and key not in self._options:
                seen.add(key)
                todo.append(serial)
        return todo

    def _load(self) -> None:
        self._remember(self.client.attribute_options(self.settings.serial_attribute))
        self._loaded = True

    def _remember(self, options: Sequence[Any], only: frozenset[str] | None = None) -> None:
        """Cache the options' ids by label (``only``: just those labels, as sent); of the same
        label twice, the later option's id."""
        if only is None:
            for option in options:
                self._remember_one(option)
            return
        # The answer holds the whole catalogue's options and the ones just added come last:
        # walked from the end, the walk stops once each label sent is found (its last option,
        # as a walk from the start would end with), not after every serial of the store.
        left = set(only)
        for option in reversed(options):
            label = option.get("label")
            if label in left and self._remember_one(option):
                left.discard(label)
                if not left:
                    return

    def _remember_one(self, option: Any) -> bool:
        """Cache one option's id by its label; False when it has no usable label and id."""
        if _usable(option):
            label = str(option["label"])
            self._options[label.upper()] = (label, int(option["value"]))
            return True
        return False


def _usable(option: Any) -> bool:
    """Whether an option as Magento lists it is a real one: an id and a label (Magento lists
    an empty option, ``{"label": " ", "value": ""}``, first for every select)."""
    return str(option.get("value") or "").isdigit() and bool(str(option.get("label") or ""))
