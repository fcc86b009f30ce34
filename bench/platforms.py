"""Each platform's documented limits, its fake built to enforce them, and a workload's floors.

Request floor (brand-new catalogue, ``n`` serials of one product; shared set-up that does not
grow with the catalogue is counted apart, as ``overhead``):

* Shopify — ``productSet`` creates a product with up to 250 variants (the input-array limit),
  then ``productVariantsBulkCreate`` takes 250 more per call: ``ceil(n / 250)`` per product.
* BigCommerce — ``POST /v3/catalog/products`` carries up to 600 variants (with their option
  values and ``image_url``); a unit's attributes (and its summary) are metafields of its
  variant, which the product create cannot carry: ``POST /v3/catalog/variants/metafields``
  takes them 50 a request (the plugin's size; the reference gives none). ``ceil(n / 600) +
  ceil(m / 50)`` per product whose units have ``m`` metafields.
* WooCommerce — the product ``POST`` cannot carry variations, and a variations batch holds 100
  items: ``1 + ceil(n / 100)`` per product.
* Magento — the synchronous REST API has no batch create of products: each serial needs its
  own simple child (``POST /V1/products`` takes one); the serial options of a product go in one
  attribute save (``PUT /V1/products/attributes/{code}`` takes an ``options`` array); the
  configurable parent carries its option and child links in ``extension_attributes`` (one
  ``POST``), and one ``POST /V1/inventory/source-items`` stocks every child: ``n + 3`` per
  product. While the store's message-queue consumers run, the asynchronous bulk API takes the
  ``n`` children in one ``POST /async/bulk/V1/products``, and one ``GET
  /V1/bulk/{uuid}/detailed-status`` at least says they are saved and gives their ids (the
  parent's links need them): ``min(n + 3, 5)`` per product. The plugin's ``bulk = "auto"``
  (its default) takes the bulk only for more than ``max(2, concurrency)`` new children and,
  once it has timed each path twice (products by turns, the bulk first), only while the bulk
  is expected to take at most ``1 + bulk_margin`` times the synchronous path: so each
  product's floor is that of the path the policy takes (:func:`magento_takes_bulk`).

Time floor for the requests actually made (``R`` of them), in platform seconds:

* Shopify — the cost bucket: ``max(0, total actual cost - bucket size) / restore rate``.
* BigCommerce — ``quota`` requests per window: ``(ceil(R / quota) - 1) * window``.
* WooCommerce, Magento — a fixed latency per request, and a host that serves ``workers``
  requests at once (one more is answered 503): ``ceil(R / workers) * latency``. Magento's
  consumers run the ``O`` bulk operations ``consumers`` at a time, each as long as a request:
  the floor is at least ``ceil(O / consumers) * latency``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from serialsync.model import Product
from serialsync.testing.fake import Faults
from serialsync_bigcommerce import unit_metafields
from serialsync_magento import pace
from serialsync_magento.settings import MagentoSettings

from bench.timescale import TimeScale

CHANNELS = ("shopify", "bigcommerce", "woocommerce", "magento")
POS = "aim_pos"

SHOPIFY_SET_VARIANTS = 250
BIGCOMMERCE_PRODUCT_VARIANTS = 600
#: A variant metafields batch: the plugin's size (the reference gives none).
BIGCOMMERCE_METAFIELDS = unit_metafields.BATCH
WOOCOMMERCE_BATCH = 100
#: The Magento plugin's defaults the bench runs with: requests in flight, and how much longer
#: than the synchronous path a bulk may take and still be chosen (``bulk = "auto"``).
MAGENTO_CONCURRENCY: int = MagentoSettings.model_fields["concurrency"].default
MAGENTO_BULK_MARGIN: float = MagentoSettings.model_fields["bulk_margin"].default


@dataclass(frozen=True)
class Limits:
    """The limits each fake enforces (platform seconds)."""

    shopify_bucket: float = 1000.0  # Standard plan
    shopify_restore: float = 100.0  # points per second, Standard plan
    bigcommerce_quota: int = 150  # Standard/Plus
    bigcommerce_window: float = 30.0
    woocommerce_latency: float = 0.25  # assumed: a typical WordPress host answering wc/v3
    magento_latency: float = 0.25  # assumed: a typical Magento REST answer
    # Assumed: requests a host works at once (its PHP workers); one more is answered 503.
    # A model of a host, not a platform limit (no document gives one; see Faults.max_in_flight).
    woocommerce_workers: int = 8
    magento_workers: int = 8
    # async.operations.all consumer processes. Magento's default is one: its cron job
    # (MessageQueue ConsumersRunner, every minute) starts each consumer as one process working
    # up to max_messages (10,000) messages; more need env.php's cron_consumers_runner
    # multiple_processes (experienceleague.adobe.com/docs/commerce-operations/
    # configuration-guide/message-queues/manage-message-queues). --magento-consumers 8 models
    # a host tuned to its 8 workers; 0 a store whose consumers do not run.
    magento_consumers: int = 1

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def fake_options(name: str, limits: Limits, scale: TimeScale) -> dict[str, Any]:
    """Keyword arguments that make ``name``'s fake enforce ``limits`` on scaled time.

    WooCommerce's ``now`` stays the real clock: it checks OAuth timestamps against the client's
    real ``time.time()``, and a scaled clock would soon refuse every signature.
    """
    sleep = scale.sleeper(f"fake:{name}")
    if name == "shopify":
        return {
            "clock": scale.monotonic,
            "sleep": sleep,
            "bucket_size": limits.shopify_bucket,
            "restore_rate": limits.shopify_restore,
        }
    if name == "bigcommerce":
        return {
            "clock": scale.epoch,
            "sleep": sleep,
            "quota": limits.bigcommerce_quota,
            "window_ms": int(limits.bigcommerce_window * 1000),
        }
    if name == "woocommerce":
        faults = Faults(
            latency=limits.woocommerce_latency, max_in_flight=limits.woocommerce_workers
        )
        return {"sleep": sleep, "faults": faults}
    if name == "magento":
        faults = Faults(latency=limits.magento_latency, max_in_flight=limits.magento_workers)
        # The consumers' operations take platform time on the fake's (scaled) clock.
        return {
            "sleep": sleep,
            "faults": faults,
            "clock": scale.monotonic,
            "consumers": limits.magento_consumers,
        }
    return {}


def request_floor(
    name: str,
    units_per_product: list[int],
    limits: Limits | None = None,
    metafields_per_product: list[int] | None = None,
) -> int:
    """The fewest requests that publish these products, new and in this order, to ``name``
    (module docstring; Magento's by the path its ``bulk = "auto"`` takes for each on the fake
    ``limits`` make, none of them by bulk when no ``limits`` are given; BigCommerce's with the
    variant metafields of each product, none when not given)."""
    if name == "shopify":
        return sum(math.ceil(n / SHOPIFY_SET_VARIANTS) for n in units_per_product)
    if name == "bigcommerce":
        metafields = metafields_per_product or [0] * len(units_per_product)
        return sum(
            math.ceil(n / BIGCOMMERCE_PRODUCT_VARIANTS) + math.ceil(m / BIGCOMMERCE_METAFIELDS)
            for n, m in zip(units_per_product, metafields, strict=True)
        )
    if name == "woocommerce":
        return sum(1 + math.ceil(n / WOOCOMMERCE_BATCH) for n in units_per_product)
    if name == "magento":
        limits = limits or Limits(magento_consumers=0)
        return sum(
            min(n + 3, 5) if magento_takes_bulk(index, n, limits) else n + 3
            for index, n in enumerate(units_per_product)
        )
    raise ValueError(f"no floor for {name!r}")


def magento_takes_bulk(index: int, children: int, limits: Limits) -> bool:
    """Whether the plugin's ``bulk = "auto"`` sends the new children of the ``index``-th
    product published (``children`` of them) by bulk, on the fake that ``limits`` make.

    Only while consumers run, and only for more than ``max(2, concurrency)`` children. The
    first ``2 x pace.LEARN`` such products take the paths by turns, the bulk first. After
    that, the paces as the fake makes them, each request and operation ``latency`` long: the
    synchronous saves, ``min(concurrency, workers)`` in flight, take ``ceil(n / in flight)``
    latencies; a bulk takes its request, ``ceil(n / consumers)`` operations and its status
    read; the bulk is chosen while that is at most ``1 + bulk_margin`` times the synchronous
    time. (Not modelled: the path not chosen is taken again once its last measurement is
    ``bulk_redetect_after`` old, 10 platform minutes by default.)
    """
    if not limits.magento_consumers or children <= max(2, MAGENTO_CONCURRENCY):
        return False
    if index < 2 * pace.LEARN:
        return index % 2 == 0
    in_flight = min(MAGENTO_CONCURRENCY, limits.magento_workers)
    sync = math.ceil(children / in_flight)
    bulk = 2 + math.ceil(children / limits.magento_consumers)
    return bulk <= sync * (1 + MAGENTO_BULK_MARGIN)


def bigcommerce_metafields(product: Product) -> int:
    """The variant metafields a product's units get on BigCommerce (attributes and summary)."""
    return sum(len(unit_metafields.wanted(u)) for u in product.units)


FLOOR_FORMULA = {
    "shopify": "ceil(n/250) per product (productSet with its variants)",
    "bigcommerce": "ceil(n/600) + ceil(m/50) per product of m variant metafields (product POST "
    "with variants + image_url, then the units' attributes and summaries 50 a metafields batch)",
    "woocommerce": "1 + ceil(n/100) per product (product POST + variations batch)",
    "magento": "n + 3 per product (1 attribute save with n options, n children, parent with "
    "links, 1 source-items); min(n + 3, 5) for a product that bulk = 'auto' sends by bulk "
    f"(the n children in 1 async bulk and 1 status read): n > {max(2, MAGENTO_CONCURRENCY)}, "
    "consumers running, by turns while it learns the paces, then while a bulk "
    f"(2 + ceil(n/consumers) latencies) is within {1 + MAGENTO_BULK_MARGIN:g} x the "
    f"synchronous saves (ceil(n/{MAGENTO_CONCURRENCY}) with {MAGENTO_CONCURRENCY} in flight)",
}


def time_floor(
    name: str, requests: int, limits: Limits, cost: float = 0.0, operations: int = 0
) -> float:
    """The least platform time the limits allow for ``requests`` requests (and Magento's
    ``operations`` bulk operations; module docstring)."""
    if name == "shopify":
        return max(0.0, cost - limits.shopify_bucket) / limits.shopify_restore
    if name == "bigcommerce":
        windows = math.ceil(requests / limits.bigcommerce_quota)
        return max(0, windows - 1) * limits.bigcommerce_window
    if name == "woocommerce":
        return math.ceil(requests / limits.woocommerce_workers) * limits.woocommerce_latency
    if name == "magento":
        served = math.ceil(requests / limits.magento_workers) * limits.magento_latency
        consumed = 0.0
        if operations and limits.magento_consumers:
            consumed = math.ceil(operations / limits.magento_consumers) * limits.magento_latency
        return max(served, consumed)
    return 0.0


def latency_of(name: str, limits: Limits) -> float:
    """The fixed per-request latency of a latency-bound platform (0 for the others)."""
    return {"woocommerce": limits.woocommerce_latency, "magento": limits.magento_latency}.get(
        name, 0.0
    )
