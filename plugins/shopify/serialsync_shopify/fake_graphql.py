"""A small GraphQL engine for the fake Shopify: arguments, calculated cost, and projection.

The fake does not execute against a schema; it parses each document with graphql-core, reads the
arguments of the root fields, and lets its resolvers return plain Python values (dicts, lists,
and callables taking the field's arguments). :func:`project` then walks the selection set over
those values, so the answer holds exactly the fields asked for, under their aliases.

:func:`query_cost` follows Shopify's published rules for the calculated query cost: a scalar or
enum costs 0, an object 1, a connection (or a list sized by ``first``/``last``/``ids``) 2 plus its
size times the cost of one node, and a mutation field 10 plus what its payload selects; a
mutation Shopify prices by its input costs that in place of the 10 (Shopify's changelog of
2025-10: ``productSet`` per variant, variant file, metafield and product file; the variant
bulk create and update per variant, variant media, variant metafield and product media;
``productCreate`` / ``productUpdate`` per product metafield and product media). Given the
answer, it computes the *actual* cost with the sizes actually returned. The published schema
carries no cost directives; only ``productSet``'s input fields repeat their price in their
descriptions ("Complexity cost: ..."), which a test holds the prices to. Fields and mutations
with no published price of their own take these default rules, among them the media reads
(``nodes(ids:)`` over variants), ``productVariantDetachMedia`` and ``fileDelete`` (10 plus
their payload): the rules are Shopify's (shopify.dev/docs/apps/build/apis/graphql-admin/
rate-limits); that no override applies to those fields is assumed (none is published).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    get_named_type,
    value_from_ast_untyped,
)

# Shopify's published price of productSet's input, which the plugin paces by as well; a test
# checks it against hand-computed numbers.
from serialsync_shopify.documents import (
    bulk_variants_input_cost,
    product_set_input_cost,
    product_update_input_cost,
)

_CONNECTION_PARTS = ("nodes", "edges")
_MISSING = object()


class GraphQLFaultError(Exception):
    """A top-level GraphQL error the fake answers with (``errors[]``), with its code."""

    def __init__(self, message: str, code: str, *, status: int = 200, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.extensions = extensions

    def as_error(self) -> dict[str, Any]:
        """The error object in Shopify's shape."""
        return {"message": self.message, "extensions": {"code": self.code, **self.extensions}}


class FakeContractError(AssertionError):
    """The fake was about to answer what the published schema says Shopify cannot: a bug in
    the fake, raised so the test that reached it fails."""


def check_user_error_codes(schema: GraphQLSchema, mutation: str, payload: Any) -> None:
    """Raise :class:`FakeContractError` when ``payload`` (a mutation's answer, before
    projection) holds a ``userErrors[].code`` that is not a value of the code enum the schema
    gives that mutation's user errors. ``code: null`` is allowed: Shopify answers it."""
    field = schema.mutation_type.fields.get(mutation) if schema.mutation_type else None
    if field is None or not isinstance(payload, Mapping):
        return
    payload_type = get_named_type(field.type)
    errors_field = getattr(payload_type, "fields", {}).get("userErrors")
    error_type = get_named_type(errors_field.type) if errors_field else None
    code_field = getattr(error_type, "fields", {}).get("code") if error_type else None
    enum = get_named_type(code_field.type) if code_field else None
    if not isinstance(enum, GraphQLEnumType):
        return
    for error in payload.get("userErrors") or ():
        code = error.get("code") if isinstance(error, Mapping) else None
        if code is not None and code not in enum.values:
            raise FakeContractError(
                f"the fake answered {mutation} with user error code {code!r}, which is not a "
                f"value of {enum.name} in the published schema"
            )


class Document:
    """One parsed request: its operation, fragments and coerced variables."""

    def __init__(
        self, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
    ) -> None:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        if operation_name:
            chosen = [o for o in operations if o.name and o.name.value == operation_name]
        else:
            chosen = operations if len(operations) == 1 else []
        if len(chosen) != 1:
            raise GraphQLFaultError(
                "An operation name is required when a document holds several operations"
                if not operation_name
                else f"No operation named {operation_name!r}",
                "OPERATION_NOT_FOUND",
            )
        self.operation = chosen[0]
        self.variables: dict[str, Any] = {}
        for definition in self.operation.variable_definitions or ():
            name = definition.variable.name.value
            if name in variables:
                self.variables[name] = variables[name]
            elif definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value, {})
        self.is_mutation = self.operation.operation.value == "mutation"

    def root_fields(self) -> list[FieldNode]:
        """The operation's root fields (fragments at the root are not used by the plugin)."""
        return list(self.fields(self.operation.selection_set, None))

    def arguments(self, field: FieldNode) -> dict[str, Any]:
        """The field's arguments with variables substituted (absent ones left out)."""
        args: dict[str, Any] = {}
        for argument in field.arguments or ():
            value = value_from_ast_untyped(argument.value, self.variables)
            if value is not Undefined:
                args[argument.name.value] = value
        return args

    def directive(self, field: FieldNode, name: str) -> dict[str, Any] | None:
        """The arguments of a directive on a field, or ``None`` when it is absent."""
        for directive in field.directives or ():
            if directive.name.value == name:
                return {
                    a.name.value: value_from_ast_untyped(a.value, self.variables)
                    for a in directive.arguments or ()
                }
        return None

    def fields(self, selection_set: SelectionSetNode, typename: str | None) -> list[FieldNode]:
        """The fields of a selection set, fragments flattened for an object of ``typename``."""
        out: list[FieldNode] = []
        selection: Any
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                out.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or typename is None or condition.name.value == typename:
                    out.extend(self.fields(selection.selection_set, typename))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                if typename is None or fragment.type_condition.name.value == typename:
                    out.extend(self.fields(fragment.selection_set, typename))
        return out

    def _included(self, selection: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        """``@include(if:)`` / ``@skip(if:)``, with variables substituted."""
        for directive in selection.directives or ():
            args = {
                a.name.value: value_from_ast_untyped(a.value, self.variables)
                for a in directive.arguments or ()
            }
            if directive.name.value == "include" and not args.get("if"):
                return False
            if directive.name.value == "skip" and args.get("if"):
                return False
        return True

    # -- projection -------------------------------------------------------------------------

    def project(self, value: Any, selection_set: SelectionSetNode | None) -> Any:
        """The part of ``value`` the selection set asks for."""
        if value is None or selection_set is None:
            return value
        if isinstance(value, list):
            return [self.project(item, selection_set) for item in value]
        typename = value.get("__typename") if isinstance(value, dict) else None
        out: dict[str, Any] = {}
        for field in self.fields(selection_set, typename):
            key = field.alias.value if field.alias else field.name.value
            name = field.name.value
            raw = typename if name == "__typename" else value.get(name)
            if callable(raw):
                raw = raw(self.arguments(field))
            out[key] = self.project(raw, field.selection_set)
        return out

    # -- cost -------------------------------------------------------------------------------

    def cost(self, data: Mapping[str, Any] | None = None) -> int:
        """Requested cost (``data`` is ``None``) or actual cost of the answer ``data``."""
        total = 0
        for field in self.root_fields():
            key = field.alias.value if field.alias else field.name.value
            value = data.get(key, _MISSING) if data is not None else _MISSING
            if self.is_mutation:
                payload = field.selection_set
                total += self._mutation_cost(field)
                total += self._set_cost(payload, value) if payload else 0
            else:
                total += self._field_cost(field, value)
        return total

    def _mutation_cost(self, field: FieldNode) -> int:
        """A mutation field's own cost: 10, or, where Shopify prices its input (productSet, the
        variant bulk create and update, productCreate and productUpdate, from 2025-10), 10 plus
        its input fields' costs, rounded up."""
        name = field.name.value
        if name == "productSet":
            return math.ceil(product_set_input_cost(self.arguments(field).get("input") or {}))
        if name in ("productVariantsBulkCreate", "productVariantsBulkUpdate"):
            return math.ceil(bulk_variants_input_cost(self.arguments(field)))
        if name in ("productCreate", "productUpdate"):
            return math.ceil(product_update_input_cost(self.arguments(field)))
        return 10

    def _set_cost(self, selection_set: SelectionSetNode, value: Any) -> int:
        total = 0
        for field in self.fields(selection_set, None):
            key = field.alias.value if field.alias else field.name.value
            child = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
            if value is None:
                child = None
            total += self._field_cost(field, child)
        return total

    def _field_cost(self, field: FieldNode, value: Any) -> int:
        if field.selection_set is None:
            return 0
        args = self.arguments(field)
        size = args.get("first", args.get("last"))
        if size is None and isinstance(args.get("ids"), list):
            size = len(args["ids"])
        if size is None:
            if value is None:
                return 0
            return 1 + self._set_cost(field.selection_set, value)
        node_set, items = self._node_selection(field.selection_set, value)
        if items is None:
            return 2 + int(size) * (1 + self._set_cost(node_set, _MISSING))
        return 2 + sum(1 + self._set_cost(node_set, item) for item in items)

    def _node_selection(
        self, selection_set: SelectionSetNode, value: Any
    ) -> tuple[SelectionSetNode, list[Any] | None]:
        """The selection of one node of a sized field, and the nodes actually returned."""
        if value is _MISSING or value is None:
            items = None
        elif isinstance(value, list):
            items = value
        else:
            items = None
        for field in self.fields(selection_set, None):
            if field.name.value in _CONNECTION_PARTS and field.selection_set is not None:
                key = field.alias.value if field.alias else field.name.value
                inner = field.selection_set
                got = value.get(key) if isinstance(value, dict) else None
                if field.name.value == "edges":
                    for edge_field in self.fields(inner, None):
                        if edge_field.name.value == "node" and edge_field.selection_set:
                            inner = edge_field.selection_set
                    got = [e.get("node") for e in got] if isinstance(got, list) else None
                return inner, (got if isinstance(got, list) else items)
        return selection_set, items


def _encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        return tuple(json.loads(base64.urlsafe_b64decode(cursor.encode())))
    except (ValueError, TypeError):
        raise GraphQLFaultError(f"Invalid cursor: {cursor!r}", "BAD_REQUEST") from None


def connection(
    items: Sequence[Any],
    args: dict[str, Any],
    *,
    key: Callable[[Any], tuple[Any, ...]],
    view: Callable[[Any], Any],
) -> dict[str, Any]:
    """A Relay connection over ``items``; cursors encode the sort key, as Shopify's do."""
    first = args.get("first")
    if first is None and args.get("last") is None:
        raise GraphQLFaultError("You must provide one of first or last", "BAD_REQUEST")
    if first is not None and not 0 <= int(first) <= 250:
        raise GraphQLFaultError("first must be between 0 and 250", "BAD_REQUEST")
    ordered = sorted(items, key=key, reverse=bool(args.get("reverse")))
    if args.get("after"):
        after = _decode_cursor(str(args["after"]))
        if args.get("reverse"):
            ordered = [i for i in ordered if list(key(i)) < list(after)]
        else:
            ordered = [i for i in ordered if list(key(i)) > list(after)]
    size = int(first if first is not None else args["last"])
    page = ordered[:size] if first is not None else ordered[-size:]
    nodes = [view(i) for i in page]
    cursors = [_encode_cursor(key(i)) for i in page]
    return {
        "__typename": "Connection",
        "nodes": nodes,
        "edges": [{"node": n, "cursor": c} for n, c in zip(nodes, cursors, strict=True)],
        "pageInfo": {
            "hasNextPage": len(ordered) > len(page) if first is not None else False,
            "hasPreviousPage": bool(args.get("after")),
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }
