"""A unit's attributes as BigCommerce variant metafields, written in batches.

Each attribute (finish, wood grain, weight, …) is one metafield of the unit's variant, in the
``serialsync`` namespace, keyed by the attribute's name, with ``read_and_sf_access`` so the
storefront (Stencil and GraphQL) can show it. Written through the batch endpoints
``/v3/catalog/variants/metafields`` (``POST`` new ones, ``PUT`` changed ones by id, ``DELETE``
the ids of attributes a unit no longer has), up to 50 items a request, many units at once; the
ids are remembered in ``RemoteIds.extra["metafields"]`` so a change is one ``PUT``. A variant
whose ids are not known (adopted, or a record from before) is read once first
(``GET …/variants/{id}/metafields``): a create would be refused as a duplicate.

A unit with attributes also gets a short summary, ``_summary`` (``Serial US210033734 ·
Finish: Sunburst · …``): BigCommerce variants have no description, and a metafield with
``read_and_sf_access`` is what the storefront can read of a variant (Stencil's and the GraphQL
Storefront API's variant metafields), so a theme shows the picked unit's summary from one field.
A unit without attributes gets none (its serial is already the option value the shopper picks).

BigCommerce's limits (the metafield reference): namespace and key 1-64 characters, value
1-65,535, description at most 255. A blank value is left out; a longer one refuses the unit
(a summary past the limit is cut: it only repeats the attributes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from serialsync import AuthenticationError, RemoteError, SerializedUnit

from serialsync_bigcommerce.client import BigCommerceClient, chunks

NAMESPACE = "serialsync"
PERMISSION = "read_and_sf_access"
IDS_EXTRA = "metafields"
#: ``RemoteIds.extra`` key of a digest of the values last written: a unit whose photo alone
#: changed (same field group) sends no metafield request.
DIGEST_EXTRA = "metafields_digest"
# Confirmed: key 1-64, value 1-65,535 (developer.bigcommerce.com/docs/rest-catalog/
# product-variants/metafields, bigcommerce/docs reference/catalog/product-variants_catalog.v3.yml).
KEY_LIMIT = 64
VALUE_LIMIT = 65_535
# Still assumed: the batch metafield endpoints publish no item limit (no maxItems, no text).
BATCH = 50  # the most a batch is assumed to take (undocumented; the variants batch's)
_DESCRIPTION = "A property of this one unit, from the point of sale (serialsync)"
#: The key of the per-unit summary. An attribute of that exact name keeps the key (the
#: attribute is the POS's data; the summary only repeats it).
SUMMARY_KEY = "_summary"


def metafield_key(name: str) -> str:
    """The attribute's name as a key: as it is when it fits 64 characters, else cut and
    suffixed with a hash of the exact name."""
    name = name.strip() or "attribute"
    if len(name) <= KEY_LIMIT:
        return name
    return f"{name[: KEY_LIMIT - 11]}_{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def wanted(unit: SerializedUnit) -> dict[str, str]:
    """``key -> value`` of the unit's attributes that have a value, and its summary."""
    fields = {
        metafield_key(name): value
        for name, value in sorted(unit.attributes.items())
        if value.strip()
    }
    if fields:
        fields.setdefault(SUMMARY_KEY, summary(unit))
    return fields


def summary(unit: SerializedUnit) -> str:
    """``Serial US210033734 · Finish: Sunburst · …``: the unit's serial and each attribute with
    a value, one line, within a metafield value's limit."""
    parts = [f"Serial {unit.serial}"]
    parts += [
        f"{name}: {' '.join(value.split())}"
        for name, value in sorted(unit.attributes.items())
        if value.strip()
    ]
    text = " · ".join(parts)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def unit_problem(unit: SerializedUnit) -> str | None:
    """Why the unit's attributes cannot be BigCommerce metafields as they are, or ``None``."""
    for name, value in sorted(unit.attributes.items()):
        if len(value) > VALUE_LIMIT:
            return (
                f"attribute {name!r} is {len(value)} characters long; a BigCommerce metafield "
                f"value holds at most {VALUE_LIMIT}"
            )
    return None


def digest(unit: SerializedUnit) -> str:
    """A digest of the metafields the unit should have."""
    return digest_of(wanted(unit))


def digest_of(fields: dict[str, str]) -> str:
    """A digest of metafields (``key -> value``, as :func:`wanted` gives them)."""
    encoded = json.dumps(fields, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def remembered(extra: dict[str, str]) -> dict[str, int] | None:
    """The metafield ids the last publish recorded (``None``: not recorded)."""
    raw = extra.get(IDS_EXTRA)
    if raw is None:
        return None
    try:
        return {str(k): int(v) for k, v in json.loads(raw).items()}
    except (ValueError, AttributeError, TypeError):
        return None


@dataclass
class Job:
    """One variant whose metafields are brought in line with its unit."""

    product_id: int
    variant_id: int
    unit: SerializedUnit
    known: dict[str, int] | None  # key -> metafield id; None: to be read first
    error: str | None = None
    written: dict[str, int] = field(default_factory=dict)
    #: The metafields the unit should have (:func:`wanted`), worked out once per job.
    want: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.want = wanted(self.unit)

    @cached_property
    def digest(self) -> str:
        """The digest of :attr:`want` (:func:`digest_of`)."""
        return digest_of(self.want)

    def extra(self) -> str:
        """The ids to remember."""
        return json.dumps(self.written, sort_keys=True)


class UnitMetafields:
    """Writes the metafields of many variants in as few batch requests as it can."""

    def __init__(self, client: BigCommerceClient, log: Any) -> None:
        self.client = client
        self.log = log

    def sync(self, jobs: list[Job]) -> None:
        """Bring every job's variant in line; a job that could not be sets ``error``."""
        for job in jobs:
            if job.known is None:
                self._read(job)
        posts: list[tuple[Job, dict[str, Any]]] = []
        puts: list[tuple[Job, dict[str, Any]]] = []
        deletes: list[tuple[Job, int]] = []
        for job in jobs:
            if job.error is not None:
                continue
            known = job.known or {}
            want = job.want
            for key, value in want.items():
                if key in known:
                    puts.append((job, {"id": known[key], "value": value}))
                else:
                    item = {
                        "resource_id": job.variant_id,
                        "namespace": NAMESPACE,
                        "key": key,
                        "value": value,
                        "permission_set": PERMISSION,
                        "description": _DESCRIPTION,
                    }
                    posts.append((job, item))
            deletes.extend((job, known[key]) for key in known if key not in want)
            job.written = {k: v for k, v in known.items() if k in want}
        for batch in chunks(posts, BATCH):
            self._send("POST", batch)
        for batch in chunks(puts, BATCH):
            self._send("PUT", batch)
        for batch in chunks(deletes, BATCH):
            self._delete(batch)

    def _read(self, job: Job) -> None:
        try:
            held = self.client.variant_metafields(job.product_id, job.variant_id, NAMESPACE)
        except AuthenticationError:
            raise
        except RemoteError as exc:
            job.error = f"the variant's metafields could not be read: {exc}"
            return
        job.known = {str(m["key"]): int(m["id"]) for m in held if m.get("namespace") == NAMESPACE}

    def _send(self, method: str, batch: list[tuple[Job, dict[str, Any]]]) -> None:
        try:
            result = self.client.metafields_batch(method, [item for _, item in batch])
        except AuthenticationError:
            raise
        except RemoteError as exc:
            for job, _ in batch:
                job.error = f"metafields not written: {exc}"
            return
        if method == "POST":
            done = {(int(m["resource_id"]), str(m["key"])): int(m["id"]) for m in result.data}
            for job, item in batch:
                made = done.get((job.variant_id, str(item["key"])))
                if made is None:
                    job.error = _refusal(result.errors)
                else:
                    job.written[str(item["key"])] = made
        else:
            ids = {int(m["id"]) for m in result.data}
            for job, item in batch:
                if int(item["id"]) not in ids:
                    job.error = _refusal(result.errors)

    def _delete(self, batch: list[tuple[Job, int]]) -> None:
        try:
            result = self.client.metafields_batch("DELETE", [i for _, i in batch])
        except AuthenticationError:
            raise
        except RemoteError as exc:
            for job, _ in batch:
                job.error = f"metafields of removed attributes not deleted: {exc}"
            return
        if result.errors:
            # 404s among them are metafields gone already, which is what was asked.
            self.log.info("bigcommerce.metafields_not_deleted", errors=result.errors)


def _refusal(errors: list[dict[str, Any]]) -> str:
    titles = sorted({str(e.get("title") or e) for e in errors})
    return "BigCommerce refused the unit's metafields: " + "; ".join(titles or ["no reason"])
