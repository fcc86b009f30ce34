"""Every GraphQL document the Shopify plugin sends, in one place.

Each document is a module-level constant whose name ends in ``_DOCUMENT``; :data:`DOCUMENTS`
lists them all by operation name, so a test can validate every one against the published
2026-07 schema, and a reader sees the whole of "how Shopify is spoken" on one screen.

Cost notes (Shopify's calculated query cost: object 1, scalar 0, connection 2 + first * node,
mutation 10): pages are sized so that no document can pass the 1000-point single-query limit
at its default page size; :class:`~serialsync_shopify.client.ShopifyClient` shrinks a page when
the platform still answers ``MAX_COST_EXCEEDED``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# -- reads ----------------------------------------------------------------------------------

SHOP_CONTEXT_DOCUMENT = """
query ShopContext($locationId: ID) {
  shop {
    name
    myshopifyDomain
    plan { publicDisplayName }
    resourceLimits { maxProductVariants }
  }
  location(id: $locationId) { id name isActive }
}
"""

# The product is found again by its handle (derived from the POS SKU, never the title); the
# metafield proves the product found is ours. Option values tell, at the cost of one object,
# which serials already have a variant, so paging through variants is needed only for those.
# ``nodes`` re-reads the variants whose ids the host remembered (first chunk only).
PRODUCT_LOOKUP_DOCUMENT = """
query ProductLookup($identifier: ProductIdentifierInput!, $variantIds: [ID!]!) {
  productByIdentifier(identifier: $identifier) {
    id
    handle
    status
    title
    descriptionHtml
    vendor
    metafield(namespace: "serialsync", key: "pos_sku") { value }
    productMedia: metafield(namespace: "serialsync", key: "product_media") { value }
    variantsCount { count }
    options { name optionValues { name hasVariants } }
  }
  nodes(ids: $variantIds) {
    ... on ProductVariant {
      id
      sku
      price
      inventoryQuantity
      inventoryItem { id }
      product { id }
    }
  }
}
"""

VARIANTS_BY_ID_DOCUMENT = """
query VariantsById($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id
      sku
      price
      inventoryQuantity
      inventoryItem { id }
      product { id }
    }
  }
}
"""

PRODUCT_VARIANTS_PAGE_DOCUMENT = """
query ProductVariantsPage($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku title price inventoryQuantity inventoryItem { id } }
    }
  }
}
"""

# A unit to withdraw that its product does not hold, without remembered ids (a store that
# lost them): found by its SKU in whichever product holds it (a sibling).
VARIANTS_BY_SKU_DOCUMENT = """
query VariantsBySku($query: String!, $first: Int!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku price inventoryQuantity inventoryItem { id } product { id } }
  }
}
"""

# Reconcile on a small catalogue: every variant of the shop, a page at a time, by id. Shopify's
# search matches SKU terms as whole tokens (or prefixes), so ``|||`` inside a SKU cannot be
# searched: the integration ids are picked from each page here.
LISTINGS_PAGE_DOCUMENT = """
query ListingsPage($first: Int!, $after: String) {
  productVariants(first: $first, after: $after, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes { id sku inventoryQuantity inventoryPolicy inventoryItem { id tracked } product { id } }
  }
}
"""

# Whether the catalogue is large enough to read by a bulk operation: counted up to the
# threshold only (``precision`` AT_LEAST past it), which is all the choice needs.
LISTINGS_COUNT_DOCUMENT = """
query ListingsCount($limit: Int) {
  productVariantsCount(limit: $limit) { count precision }
}
"""

# The query a bulk operation runs for reconcile (sent as a string inside BulkListingsRun):
# every product and every variant of it; each variant comes back as a JSONL line of its own
# carrying its product's id as ``__parentId``.
BULK_LISTINGS_QUERY = """
{
  products {
    edges {
      node {
        id
        variants {
          edges {
            node { id sku inventoryQuantity inventoryPolicy inventoryItem { id tracked } }
          }
        }
      }
    }
  }
}
"""

BULK_RUN_DOCUMENT = """
mutation BulkListingsRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_POLL_DOCUMENT = """
query BulkOperationPoll($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount url partialDataUrl }
}
"""

# ``email`` is protected customer data: asked only when the app is approved for it (a field
# the app may not read would fail the whole query). ``sku`` is null on a custom line item (no
# variant behind it) and may be "" on a product without one; the plugin maps both to no SKU.
_ORDER_FIELDS = """
      id
      name
      createdAt
      updatedAt
      cancelledAt
      displayFinancialStatus
      currencyCode
      email @include(if: $withEmail)
      totalPriceSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } }
      totalShippingPriceSet { shopMoney { amount } }
      paymentGatewayNames
      lineItems(first: $lines) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          sku
          name
          quantity
          currentQuantity
          originalUnitPriceSet { shopMoney { amount } }
        }
      }
"""

ORDERS_PAGE_DOCUMENT = f"""
query OrdersPage($first: Int!, $after: String, $query: String, $lines: Int!,
    $withEmail: Boolean!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{{_ORDER_FIELDS}    }}
  }}
}}
"""

# One order read again by id (``quarantine retry``, and the order a webhook names), with the
# same fields as a page's orders.
ORDER_BY_ID_DOCUMENT = f"""
query OrderById($id: ID!, $lines: Int!, $withEmail: Boolean!) {{
  order(id: $id) {{{_ORDER_FIELDS}  }}
}}
"""

ORDER_LINE_ITEMS_DOCUMENT = """
query OrderLineItems($id: ID!, $first: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        sku
        name
        quantity
        currentQuantity
        originalUnitPriceSet { shopMoney { amount } }
      }
    }
  }
}
"""

# -- writes ---------------------------------------------------------------------------------

# Creates a *new* product with its option, metafield and first batch of variants in one
# request. Never sent with an ``identifier``: productSet deletes every variant it is not
# given, so it must not be pointed at an existing product. The product's own photos come first
# in ``files``: the first ``productMedia`` media are theirs (their ids are what a later photo
# change removes).
PRODUCT_SET_DOCUMENT = """
mutation ProductCreateWithVariants($input: ProductSetInput!, $productMedia: Int!,
    $withMedia: Boolean!) {
  productSet(input: $input, synchronous: true) {
    product {
      id
      variants(first: 250) {
        nodes { id sku inventoryItem { id } }
      }
      media(first: $productMedia) @include(if: $withMedia) { nodes { id } }
    }
    userErrors { field message code }
  }
}
"""

VARIANTS_BULK_CREATE_DOCUMENT = """
mutation VariantsCreate($productId: ID!, $variants: [ProductVariantsBulkInput!]!,
    $media: [CreateMediaInput!]) {
  productVariantsBulkCreate(productId: $productId, variants: $variants, media: $media) {
    productVariants { id sku inventoryItem { id } }
    userErrors { field message code }
  }
}
"""

VARIANTS_BULK_UPDATE_DOCUMENT = """
mutation VariantsUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!,
    $media: [CreateMediaInput!]) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, media: $media,
      allowPartialUpdates: true) {
    productVariants { id sku }
    userErrors { field message code }
  }
}
"""

# The product's own content (title, description, vendor) after a change in the POS: only the
# fields that differ from what the lookup read are sent; also the product's record of its own
# photos (the ``serialsync.product_media`` metafield).
PRODUCT_UPDATE_DOCUMENT = """
mutation ProductUpdate($product: ProductUpdateInput!) {
  productUpdate(product: $product) {
    product { id }
    userErrors { field message }
  }
}
"""

# New product photos, with the content that differs: appended to the product's media in the
# order given; the ``added`` last media are theirs.
PRODUCT_UPDATE_MEDIA_DOCUMENT = """
mutation ProductUpdateMedia($product: ProductUpdateInput!, $media: [CreateMediaInput!]!,
    $added: Int!) {
  productUpdate(product: $product, media: $media) {
    product { id media(last: $added) { nodes { id } } }
    userErrors { field message }
  }
}
"""

# Product photos the POS no longer has: deleted as files (fileDelete also takes them off the
# product's gallery; Shopify's productDeleteMedia is deprecated for it), and the product's
# record of its photos written in the same request.
PRODUCT_MEDIA_REPLACE_DOCUMENT = """
mutation ProductMediaReplace($fileIds: [ID!]!, $product: ProductUpdateInput!) {
  fileDelete(fileIds: $fileIds) {
    deletedFileIds
    userErrors { field message code }
  }
  productUpdate(product: $product) {
    product { id }
    userErrors { field message }
  }
}
"""

# A unit's old photo (changed or taken off): its file is deleted, which takes it off the
# variant and the product's media, so no orphan stays in the gallery or the Files page.
MEDIA_DELETE_DOCUMENT = """
mutation MediaDelete($fileIds: [ID!]!) {
  fileDelete(fileIds: $fileIds) {
    deletedFileIds
    userErrors { field message code }
  }
}
"""

VARIANTS_BULK_DELETE_DOCUMENT = """
mutation VariantsDelete($productId: ID!, $variantsIds: [ID!]!) {
  productVariantsBulkDelete(productId: $productId, variantsIds: $variantsIds) {
    product { id }
    userErrors { field message code }
  }
}
"""

# The key is supplied by the client per logical call (one uuid4, reused by HTTP retries of
# that call), so the mutation is applied at most once however often it is resent.
INVENTORY_SET_DOCUMENT = """
mutation StockSet($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""

# -- webhook subscriptions ------------------------------------------------------------------
# ``uri`` (not the deprecated ``callbackUrl``) names the address in 2026-07.

WEBHOOK_SUBSCRIPTIONS_DOCUMENT = """
query WebhookSubscriptions($first: Int!, $after: String, $uri: String,
    $topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: $first, after: $after, uri: $uri, topics: $topics) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic uri }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE_DOCUMENT = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!,
    $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE_DOCUMENT = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""

# An emptied sibling product (part 2, 3, …) is deleted: orders keep their lines' SKUs.
PRODUCT_DELETE_DOCUMENT = """
mutation ProductDelete($input: ProductDeleteInput!) {
  productDelete(input: $input, synchronous: true) {
    deletedProductId
    userErrors { field message }
  }
}
"""

# -- unit attributes as variant metafields --------------------------------------------------

# The definitions the plugin made for unit attributes (owner PRODUCTVARIANT, its namespace):
# read once per connector, so each is created only when missing.
METAFIELD_DEFINITIONS_DOCUMENT = """
query VariantMetafieldDefinitions($namespace: String!, $first: Int!, $after: String) {
  metafieldDefinitions(ownerType: PRODUCTVARIANT, namespace: $namespace, first: $first,
      after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { key }
  }
}
"""

METAFIELD_DEFINITION_CREATE_DOCUMENT = """
mutation VariantMetafieldDefinitionCreate($definition: MetafieldDefinitionInput!) {
  metafieldDefinitionCreate(definition: $definition) {
    createdDefinition { id key }
    userErrors { field message code }
  }
}
"""

# An attribute a unit no longer has: its metafield goes (Shopify refuses a blank value).
METAFIELDS_DELETE_DOCUMENT = """
mutation UnitMetafieldsDelete($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { key namespace ownerId }
    userErrors { field message }
  }
}
"""

# A photo taken off a unit: the variant's one media is read by id, then detached (the media
# stays on the product, as Shopify keeps it; a variant shows at most one media).
VARIANT_MEDIA_DOCUMENT = """
query VariantMedia($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id
      media(first: 1) { nodes { id } }
    }
  }
}
"""

VARIANT_DETACH_MEDIA_DOCUMENT = """
mutation VariantDetachMedia($productId: ID!, $variantMedia: [ProductVariantDetachMediaInput!]!) {
  productVariantDetachMedia(productId: $productId, variantMedia: $variantMedia) {
    productVariants { id }
    userErrors { field message code }
  }
}
"""

#: Every document the plugin sends, by operation name.
DOCUMENTS: dict[str, str] = {
    "ShopContext": SHOP_CONTEXT_DOCUMENT,
    "ProductLookup": PRODUCT_LOOKUP_DOCUMENT,
    "VariantsById": VARIANTS_BY_ID_DOCUMENT,
    "ProductVariantsPage": PRODUCT_VARIANTS_PAGE_DOCUMENT,
    "VariantsBySku": VARIANTS_BY_SKU_DOCUMENT,
    "ListingsPage": LISTINGS_PAGE_DOCUMENT,
    "ListingsCount": LISTINGS_COUNT_DOCUMENT,
    "BulkListingsRun": BULK_RUN_DOCUMENT,
    "BulkOperationPoll": BULK_POLL_DOCUMENT,
    "OrdersPage": ORDERS_PAGE_DOCUMENT,
    "OrderById": ORDER_BY_ID_DOCUMENT,
    "OrderLineItems": ORDER_LINE_ITEMS_DOCUMENT,
    "ProductCreateWithVariants": PRODUCT_SET_DOCUMENT,
    "VariantsCreate": VARIANTS_BULK_CREATE_DOCUMENT,
    "VariantsUpdate": VARIANTS_BULK_UPDATE_DOCUMENT,
    "ProductUpdate": PRODUCT_UPDATE_DOCUMENT,
    "ProductUpdateMedia": PRODUCT_UPDATE_MEDIA_DOCUMENT,
    "ProductMediaReplace": PRODUCT_MEDIA_REPLACE_DOCUMENT,
    "MediaDelete": MEDIA_DELETE_DOCUMENT,
    "VariantsDelete": VARIANTS_BULK_DELETE_DOCUMENT,
    "StockSet": INVENTORY_SET_DOCUMENT,
    "ProductDelete": PRODUCT_DELETE_DOCUMENT,
    "WebhookSubscriptions": WEBHOOK_SUBSCRIPTIONS_DOCUMENT,
    "WebhookSubscriptionCreate": WEBHOOK_SUBSCRIPTION_CREATE_DOCUMENT,
    "WebhookSubscriptionDelete": WEBHOOK_SUBSCRIPTION_DELETE_DOCUMENT,
    "VariantMetafieldDefinitions": METAFIELD_DEFINITIONS_DOCUMENT,
    "VariantMetafieldDefinitionCreate": METAFIELD_DEFINITION_CREATE_DOCUMENT,
    "UnitMetafieldsDelete": METAFIELDS_DELETE_DOCUMENT,
    "VariantMedia": VARIANT_MEDIA_DOCUMENT,
    "VariantDetachMedia": VARIANT_DETACH_MEDIA_DOCUMENT,
}


def _size(variables: Mapping[str, Any], name: str) -> int:
    value = variables.get(name)
    if isinstance(value, list):
        return len(value)
    return int(value) if isinstance(value, int) else 0


#: ``(fixed, per item, variable sizing the items)``: each document's calculated cost by
#: Shopify's published rules (object 1, connection 2 + size * node, mutation 10), so the
#: client can pace a request before it is sent and shrink a page that would pass 1000.
_COST_SHAPES: dict[str, tuple[int, int, str | None]] = {
    "ShopContext": (4, 0, None),
    "ProductLookup": (8, 3, "variantIds"),
    "VariantsById": (2, 3, "ids"),
    "ProductVariantsPage": (3, 2, "first"),
    "VariantsBySku": (2, 3, "first"),
    "ListingsPage": (2, 3, "first"),
    "ListingsCount": (1, 0, None),
    "BulkListingsRun": (12, 0, None),
    "BulkOperationPoll": (1, 0, None),
    "OrderLineItems": (3, 3, "first"),
    "ProductCreateWithVariants": (13, 2, None),
    "VariantsCreate": (3, 0, None),  # + the mutation's price by its input
    "VariantsUpdate": (2, 0, None),  # + the mutation's price by its input
    "ProductUpdate": (12, 0, None),  # 10, the product, the userErrors list
    "ProductUpdateMedia": (14, 1, "added"),
    "ProductMediaReplace": (23, 0, None),
    "MediaDelete": (11, 0, None),
    "VariantsDelete": (11, 0, None),
    "StockSet": (12, 0, None),
    "ProductDelete": (11, 0, None),
    "WebhookSubscriptions": (2, 1, "first"),
    "WebhookSubscriptionCreate": (11, 0, None),
    "WebhookSubscriptionDelete": (10, 0, None),
    "VariantMetafieldDefinitions": (2, 1, "first"),
    "VariantMetafieldDefinitionCreate": (12, 0, None),
    "UnitMetafieldsDelete": (11, 0, None),
    "VariantMedia": (2, 4, "ids"),
    "VariantDetachMedia": (12, 0, None),
}


def estimated_cost(operation: str, variables: Mapping[str, Any]) -> float:
    """The requested cost Shopify will calculate for ``operation`` with ``variables``."""
    if operation == "OrdersPage":
        # 5, and 2 for each of the tax and shipping money bags (object + money).
        per_order = 9 + 3 * _size(variables, "lines")
        return float(2 + _size(variables, "first") * per_order)
    if operation == "OrderById":
        return float(9 + 3 * _size(variables, "lines"))
    if operation == "ProductCreateWithVariants":
        # Its answer lists up to 250 variants; its input is priced too (since 2025-10: 10, 0.2
        # a variant, 0.6 a variant file, 0.4 a metafield, 1.9 a product file), in place of
        # the mutation's flat 10.
        product_input = variables.get("input") or {}
        media = 2 + _size(variables, "productMedia") if variables.get("withMedia") else 0
        # 4: the product, the variants connection and the userErrors list (an object).
        return float(4 + 2 * 250 + media + math.ceil(product_set_input_cost(product_input)))
    fixed, per_item, sized_by = _COST_SHAPES[operation]
    if operation in ("VariantsCreate", "VariantsUpdate"):
        fixed += math.ceil(bulk_variants_input_cost(variables))
    if operation in ("ProductUpdate", "ProductUpdateMedia", "ProductMediaReplace"):
        # productUpdate is priced by its input in place of the flat 10 counted in ``fixed``.
        fixed += math.ceil(product_update_input_cost(variables)) - 10
    return float(fixed + (per_item * _size(variables, sized_by) if sized_by else 0))


def bulk_variants_input_cost(arguments: Mapping[str, Any]) -> float:
    """What ``productVariantsBulkCreate`` / ``Update`` cost by their input (Shopify's pricing
    since 2025-10, in place of the flat 10): 10, plus 0.2 a variant, 0.6 a variant's media,
    0.4 a variant metafield and 1.9 a product media (the ``media`` argument)."""
    # Confirmed: shopify.dev/changelog/dynamic-complexity-for-productvariantsbulkcreate-and-
    # productvariantsbulkupdate-mutations
    variants = [v for v in arguments.get("variants") or [] if isinstance(v, Mapping)]
    return (
        10
        + 0.2 * len(variants)
        + 0.6 * sum(len(v.get("mediaSrc") or []) + bool(v.get("mediaId")) for v in variants)
        + 0.4 * sum(len(v.get("metafields") or []) for v in variants)
        + 1.9 * len(arguments.get("media") or [])
    )


def product_update_input_cost(arguments: Mapping[str, Any]) -> float:
    """What ``productUpdate`` (and ``productCreate``) cost by their input, in place of the flat
    10 (since 2025-10): 10, plus 0.4 a product metafield and 1.9 a product media (the ``media``
    argument)."""
    # shopify.dev/changelog/dynamic-complexity-cost-for-productcreate-and-productupdate-mutations
    product = arguments.get("product")
    metafields = product.get("metafields") if isinstance(product, Mapping) else None
    return 10 + 0.4 * len(metafields or []) + 1.9 * len(arguments.get("media") or [])


def product_set_input_cost(data: Mapping[str, Any]) -> float:
    """What ``productSet`` costs by its input (Shopify's pricing since 2025-10): 10, plus 0.2 a
    variant, 0.6 a variant file, 0.4 a variant metafield, 0.4 a product metafield and 1.9 a
    product file."""
    # Confirmed: shopify.dev/changelog/dynamic-complexity-cost-for-productset-mutation, and the
    # 2026-07 schema's ProductSetInput descriptions (a test reads them).
    variants = [v for v in data.get("variants") or [] if isinstance(v, Mapping)]
    return (
        10
        + 0.2 * len(variants)
        + 0.6 * sum(1 for v in variants if v.get("file"))
        + 0.4 * sum(len(v.get("metafields") or []) for v in variants)
        + 0.4 * len(data.get("metafields") or [])
        + 1.9 * len(data.get("files") or [])
    )
