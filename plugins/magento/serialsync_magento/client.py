"""The wire: every Magento REST V1 call the plugin makes, and Magento's error shape.

Paths are relative to ``<base_url>/rest/<store_code>``. A SKU in a path is percent-encoded
whole (``quote(sku, safe="")``): an integration id holds ``|`` and may hold ``+``, ``/`` or
``#``, each of which would otherwise change the path Magento routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import quote

import httpx
from serialsync import AdaptiveLimit, HttpClient, PermanentRemoteError, RetryableRemoteError

from serialsync_magento.mapping import option_body
from serialsync_magento.option_answer import added_options

#: Magento's message when a configurable child is linked a second time (LinkManagement).
ALREADY_ATTACHED = "already attached"
#: Magento's message when an option label exists already (OptionManagement::add).
OPTION_EXISTS = "already exists"
#: Magento's message when a parent varies by the attribute already (OptionRepository::save).
ALREADY_HAS_OPTION = "already has this option"


#: What an attribute save must carry to be taken for the existing attribute and to satisfy the
#: schema's required fields; the rest of the attribute is left as it is.
_ATTRIBUTE_IDENTITY = (
    "attribute_id",
    "attribute_code",
    "frontend_input",
    "entity_type_id",
    "is_required",
    "frontend_labels",
    # Sent as read: a save with neither labels nor a default label may be refused.
    "default_frontend_label",
)


def sku_path(sku: str) -> str:
    """A SKU as one URL path segment: every reserved character percent-encoded."""
    return quote(sku, safe="")


def render_message(body: Any) -> str:
    """Magento's ``{message, parameters}`` with its ``%1`` / ``%name`` placeholders filled."""
    if not isinstance(body, Mapping):
        return str(body)
    message = _fill(str(body.get("message", "")), body.get("parameters"))
    # MSI validation answers "Validation Failed" with the reasons in ``errors``.
    details = [
        _fill(str(item.get("message", "")), item.get("parameters"))
        for item in body.get("errors") or ()
        if isinstance(item, Mapping)
    ]
    return "; ".join([message, *details]) if details else message


def _fill(message: str, parameters: Any) -> str:
    if isinstance(parameters, Mapping):
        for key, value in parameters.items():
            message = message.replace(f"%{key}", str(value))
    elif isinstance(parameters, list):
        # Replace from the highest index so %1 does not eat the start of %10.
        for index in range(len(parameters), 0, -1):
            message = message.replace(f"%{index}", str(parameters[index - 1]))
    return message


def search_criteria(
    filters: Sequence[tuple[str, str, str]],
    *,
    any_of: bool = False,
    sort: tuple[str, str] | None = None,
    page_size: int | None = None,
    current_page: int | None = None,
) -> dict[str, str]:
    """Query parameters of a ``searchCriteria``.

    Filters in one group are OR-ed, groups are AND-ed: each filter is its own group, or with
    ``any_of`` they all share group 0 (``sku = a OR sku = b``; ``in`` would split a SKU
    holding a comma).
    """
    params: dict[str, str] = {}
    for index, (field, value, condition) in enumerate(filters):
        group, position = (0, index) if any_of else (index, 0)
        prefix = f"searchCriteria[filterGroups][{group}][filters][{position}]"
        params[f"{prefix}[field]"] = field
        params[f"{prefix}[value]"] = value
        params[f"{prefix}[conditionType]"] = condition
    if sort is not None:
        params["searchCriteria[sortOrders][0][field]"] = sort[0]
        params["searchCriteria[sortOrders][0][direction]"] = sort[1]
    if page_size is not None:
        params["searchCriteria[pageSize]"] = str(page_size)
    if current_page is not None:
        params["searchCriteria[currentPage]"] = str(current_page)
    return params


class MagentoClient:
    """Typed calls over one connector's :class:`HttpClient`; raises typed remote errors.

    An error carries Magento's rendered message; ``code`` is ``HTTP <status>``.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        images: HttpClient | None = None,
        limit: AdaptiveLimit | None = None,
    ) -> None:
        self.http = http
        # Images are fetched from third-party hosts: a client without the store's credentials.
        self.images = images
        #: The gate of requests in flight when several threads share this client.
        self.limit = limit

    def close(self) -> None:
        """Close both connection pools."""
        self.http.close()
        if self.images is not None:
            self.images.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _check(
        self,
        response: httpx.Response,
        operation: str,
        decode: Callable[[httpx.Response], Any] | None = None,
    ) -> Any:
        if response.status_code < 400:
            if not response.content:
                return None
            try:
                return response.json() if decode is None else decode(response)
            except ValueError:
                # Cut short on the way (a proxy, a dropped connection): it may or may not
                # have been applied; every write here is safe to send again.
                raise RetryableRemoteError(
                    f"Magento's answer to {operation} is not valid JSON: "
                    f"{self.http.excerpt(response)}",
                    connector=self.http.connector,
                    status=response.status_code,
                ) from None
        try:
            message = render_message(response.json())
        except ValueError:
            message = self.http.excerpt(response)
        error = self.http.error_for(
            response, message=f"Magento refused {operation} ({response.status_code}): {message}"
        )
        error.code = f"HTTP {response.status_code}"
        raise error

    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        decode: Callable[[httpx.Response], Any] | None = None,
    ) -> Any:
        """The answer to one call, decoded (by ``decode``, a success only: else as JSON)."""
        with self._slot():
            response = self.http.request(
                method,
                f"/V1/{path}",
                json=json,
                params=params,
                idempotent=idempotent,
                operation=operation,
                # A body cut short is resent when the call is safe to repeat (reads, upserts).
                expect_json=True,
            )
        return self._check(response, operation, decode)

    def _slot(self) -> AbstractContextManager[None]:
        return self.limit.slot() if self.limit is not None else nullcontext()

    # -- store ------------------------------------------------------------------------------

    def store_configs(self) -> list[dict[str, Any]]:
        """``GET /V1/store/storeConfigs``: the store views, a cheap authenticated read."""
        result = self._call("GET", "store/storeConfigs", "store configs")
        return list(result or [])

    # -- the serial attribute -----------------------------------------------------------------

    def get_attribute(self, code: str) -> dict[str, Any] | None:
        """``GET /V1/products/attributes/{code}``; ``None`` when it does not exist."""
        try:
            result: dict[str, Any] = self._call(
                "GET", f"products/attributes/{quote(code, safe='')}", "read attribute"
            )
        except PermanentRemoteError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    def create_attribute(self, attribute: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /V1/products/attributes``: a new product attribute."""
        result: dict[str, Any] = self._call(
            "POST", "products/attributes", "create attribute", json={"attribute": attribute}
        )
        return result

    def attribute_groups(self, attribute_set_id: int) -> list[dict[str, Any]]:
        """``GET /V1/products/attribute-sets/groups/list`` of one attribute set."""
        params = search_criteria([("attribute_set_id", str(attribute_set_id), "eq")])
        result = self._call(
            "GET", "products/attribute-sets/groups/list", "list attribute groups", params=params
        )
        return list((result or {}).get("items") or [])

    def set_attribute_codes(self, attribute_set_id: int) -> set[str]:
        """``GET /V1/products/attribute-sets/{id}/attributes``: the codes in one set."""
        result = self._call(
            "GET", f"products/attribute-sets/{attribute_set_id}/attributes", "read attribute set"
        )
        return {str(item.get("attribute_code")) for item in result or []}

    def assign_attribute(self, attribute_set_id: int, group_id: int, code: str) -> None:
        """``POST /V1/products/attribute-sets/attributes``: put an attribute in a set."""
        self._call(
            "POST",
            "products/attribute-sets/attributes",
            "assign attribute to set",
            json={
                "attributeSetId": attribute_set_id,
                "attributeGroupId": group_id,
                "attributeCode": code,
                "sortOrder": 0,
            },
            idempotent=True,
        )

    def attribute_options(self, code: str) -> list[dict[str, Any]]:
        """``GET /V1/products/attributes/{code}/options``: every option (label, value)."""
        result = self._call(
            "GET", f"products/attributes/{quote(code, safe='')}/options", "list options"
        )
        return list(result or [])

    def add_option(self, code: str, label: str) -> int:
        """``POST /V1/products/attributes/{code}/options``: one option; its new id.

        Magento refuses a label that exists already (compared case-insensitively) with a 400
        saying "already exists"; the caller looks the id up then. That refusal is also what
        makes a repeat harmless, so the call is retried like a PUT.
        """
        result = self._call(
            "POST",
            f"products/attributes/{quote(code, safe='')}/options",
            "add serial option",
            json={"option": option_body(label)},
            idempotent=True,
        )
        text = str(result).strip().removeprefix("id_")
        if not text.isdigit():
            raise RetryableRemoteError(
                f"Magento added the option {label!r} but answered no id ({result!r})",
                connector=self.http.connector,
            )
        return int(text)

    def add_options(self, attribute: Mapping[str, Any], labels: Sequence[str]) -> list[Any]:
        """``PUT /V1/products/attributes/{code}`` carrying new options: many in one request.

        The per-option endpoint takes one ``option``; the attribute's own save takes an
        ``options`` array and adds each option without a known ``value``. Unlike the
        per-option endpoint it does not check labels, so only labels the attribute lacks may
        be sent. Options not sent are kept. Returns every option of the attribute after the
        save, or only those from the first of the labels sent when that part of the answer can
        be read alone (see :mod:`~serialsync_magento.option_answer`: the rest, every serial of
        the store, is not decoded). A repeat after a lost answer would add the labels twice:
        not retried.
        """
        body = {key: attribute[key] for key in _ATTRIBUTE_IDENTITY if key in attribute}
        body["options"] = [option_body(label) for label in labels]

        def options(response: httpx.Response) -> list[Any]:
            added = added_options(response.content, labels)
            if added is not None:
                return added
            return list((response.json() or {}).get("options") or [])

        result: list[Any] = self._call(
            "PUT",
            f"products/attributes/{quote(str(attribute['attribute_code']), safe='')}",
            "add serial options",
            json={"attribute": body},
            idempotent=False,
            decode=options,
        )
        return result

    # -- products ---------------------------------------------------------------------------

    def save_product(self, product: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /V1/products``: create, or update the product with this SKU (an upsert).

        Repeating it is harmless (it updates the same SKU), so it is retried like a PUT.
        """
        result: dict[str, Any] = self._call(
            "POST", "products", "save product", json={"product": product}, idempotent=True
        )
        return result

    def update_product(self, sku: str, product: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /V1/products/{sku}``: change an existing product (only the fields given)."""
        result: dict[str, Any] = self._call(
            "PUT", f"products/{sku_path(sku)}", "update product", json={"product": product}
        )
        return result

    def delete_product(self, sku: str) -> None:
        """``DELETE /V1/products/{sku}``; a product already gone counts as deleted."""
        try:
            self._call("DELETE", f"products/{sku_path(sku)}", "delete product", idempotent=True)
        except PermanentRemoteError as exc:
            if exc.status != 404:
                raise

    def configurable_children(self, sku: str) -> list[dict[str, Any]] | None:
        """``GET /V1/configurable-products/{sku}/children``; ``None`` if no such parent."""
        try:
            result = self._call(
                "GET", f"configurable-products/{sku_path(sku)}/children", "list children"
            )
        except PermanentRemoteError as exc:
            if exc.status == 404:
                return None
            raise
        return list(result or [])

    def add_configurable_option(self, sku: str, option: Mapping[str, Any]) -> int:
        """``POST /V1/configurable-products/{sku}/options``: make the parent vary by it.

        A parent that varies by it already is left as it is (0 is returned), so a repeat is
        harmless and the call is retried like a PUT.
        """
        try:
            result = self._call(
                "POST",
                f"configurable-products/{sku_path(sku)}/options",
                "add configurable option",
                json={"option": option},
                idempotent=True,
            )
        except PermanentRemoteError as exc:
            if ALREADY_HAS_OPTION not in str(exc):
                raise
            return 0
        return int(result or 0)

    def add_child(self, sku: str, child_sku: str) -> None:
        """``POST /V1/configurable-products/{sku}/child``: link one child (already linked: ok)."""
        try:
            self._call(
                "POST",
                f"configurable-products/{sku_path(sku)}/child",
                "link child",
                json={"childSku": child_sku},
                idempotent=True,
            )
        except PermanentRemoteError as exc:
            if ALREADY_ATTACHED not in str(exc):
                raise

    def find_products(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``GET /V1/products`` for these SKUs (one request): the products found, by SKU."""
        params = search_criteria(
            [("sku", sku, "eq") for sku in skus], any_of=True, page_size=len(skus)
        )
        result = self._call("GET", "products", "find products", params=params)
        return {str(item["sku"]): item for item in (result or {}).get("items") or []}

    def has_configurable_products(self) -> bool:
        """Whether the store holds any configurable product (one ``GET /V1/products`` of a
        page of one, read for its ``total_count``)."""
        params = search_criteria([("type_id", "configurable", "eq")], page_size=1)
        result = self._call("GET", "products", "count configurable products", params=params)
        return int((result or {}).get("total_count") or 0) > 0

    def search_products(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``GET /V1/products`` by a ready ``searchCriteria``: ``{items, total_count}``."""
        result = self._call("GET", "products", "search products", params=params)
        return dict(result or {})

    # -- asynchronous bulk ------------------------------------------------------------------

    def bulk(self, path: str, items: Sequence[Mapping[str, Any]], operation: str) -> str:
        """``POST /async/bulk/V1/{path}``: schedule one operation per item; the bulk uuid.

        Path parameters become ``by<Name>`` segments, their values moved into each item. Only
        upserts are sent this way, so a repeated bulk is harmless.
        """
        with self._slot():
            response = self.http.request(
                "POST",
                f"/async/bulk/V1/{path}",
                json=list(items),
                idempotent=True,
                operation=operation,
            )
        result = self._check(response, operation)
        uuid = (result or {}).get("bulk_uuid")
        if not uuid:
            raise RetryableRemoteError(
                f"Magento accepted no bulk for {operation}", connector=self.http.connector
            )
        return str(uuid)

    def bulk_detailed_status(self, uuid: str) -> list[dict[str, Any]]:
        """``GET /V1/bulk/{uuid}/detailed-status``: each operation (status, message, and the
        serialized answer of a completed one), in scheduling order."""
        result = self._call(
            "GET", f"bulk/{quote(uuid, safe='')}/detailed-status", "bulk detailed status"
        )
        operations = list((result or {}).get("operations_list") or [])
        return sorted(operations, key=lambda op: int(op.get("id") or 0))

    # -- stock (MSI) ------------------------------------------------------------------------

    def save_source_items(self, items: Sequence[Mapping[str, Any]]) -> None:
        """``POST /V1/inventory/source-items``: set quantity and status of many SKUs at once.

        Setting absolute values is idempotent, so it is retried like a PUT.
        """
        self._call(
            "POST",
            "inventory/source-items",
            "save source items",
            json={"sourceItems": list(items)},
            idempotent=True,
        )

    def source_items(self, skus: Sequence[str], source_code: str) -> list[dict[str, Any]]:
        """``GET /V1/inventory/source-items`` of these SKUs at one source (one request)."""
        params = search_criteria([("sku", sku, "eq") for sku in skus], any_of=True)
        # The source is a second filter group, AND-ed with the OR-ed SKUs.
        prefix = "searchCriteria[filterGroups][1][filters][0]"
        params.update(
            {
                f"{prefix}[field]": "source_code",
                f"{prefix}[value]": source_code,
                f"{prefix}[conditionType]": "eq",
                "searchCriteria[pageSize]": str(max(1, len(skus))),
            }
        )
        result = self._call("GET", "inventory/source-items", "read source items", params=params)
        return list((result or {}).get("items") or [])

    # -- orders -----------------------------------------------------------------------------

    def search_orders(
        self, updated_from: str | None, *, page: int, page_size: int
    ) -> dict[str, Any]:
        """``GET /V1/orders`` updated at or after ``updated_from``, oldest first."""
        filters = [("updated_at", updated_from, "gteq")] if updated_from else []
        params = search_criteria(
            filters, sort=("updated_at", "ASC"), page_size=page_size, current_page=page
        )
        result: dict[str, Any] = self._call("GET", "orders", "search orders", params=params)
        return result

    def get_order(self, entity_id: str) -> Any:
        """``GET /V1/orders/{id}``: one order as Magento answers it; ``None`` when there is none.

        The answer is returned as it came (a malformed one included), for the mapping to read
        or hand to the quarantine.
        """
        if not entity_id.isdigit():
            return None  # Magento's order ids are numbers; anything else names none
        try:
            return self._call("GET", f"orders/{entity_id}", "get order")
        except PermanentRemoteError as exc:
            if exc.status == 404:
                return None
            raise

    # -- images -----------------------------------------------------------------------------

    def download(self, url: str, *, limit: int) -> bytes:
        """Fetch an image (from anywhere but the store): its bytes, at most ``limit`` of them.

        Magento takes an image as base64 content in the product's save, never as a URL, so
        serialsync downloads it; one larger than ``limit`` (the connector's
        ``max_image_bytes``) is refused with its size, before its body is read when the server
        says how long it is.
        """
        client = self.images or self.http
        if not url.startswith(("http://", "https://")):
            raise PermanentRemoteError(
                f"the image {client.redactor.url(url)} is not an http(s) URL",
                connector=client.connector,
            )
        try:
            response = client.get(url, operation="download image")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # Not an http(s) URL, or one httpx cannot parse: nothing a retry would change.
            raise PermanentRemoteError(
                f"the image {client.redactor.url(url)} cannot be fetched: {type(exc).__name__}",
                connector=client.connector,
            ) from None
        if response.status_code >= 400:
            raise client.error_for(response)
        declared = response.headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else len(response.content)
        if size > limit or len(response.content) > limit:
            raise PermanentRemoteError(
                f"the image {client.redactor.url(url)} is {max(size, len(response.content))} "
                f"bytes; at most {limit} are uploaded to Magento (max_image_bytes)",
                connector=client.connector,
                code="image-too-large",
            )
        return response.content


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
