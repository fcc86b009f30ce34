"""The fake store's bulk query operations: ``bulkOperationRunQuery``, polling, the JSONL file.

As Shopify runs them:

* ``bulkOperationRunQuery(query:)`` checks the query (it parses, validates against the schema
  when the fake has one, holds at least one connection, at most five, nested at most two
  deep) and answers a ``BulkOperation`` in status ``CREATED``, or ``userErrors``. An app may
  run one bulk query at a time per shop before API version 2026-01 and five from 2026-01
  (shopify.dev/changelog/faster-bulk-operations). The codes are ``BulkOperationUserErrorCode``
  values (``INVALID``, ``OPERATION_IN_PROGRESS``, ``LIMIT_REACHED``: in the schema); which one
  answers which refusal is assumed (``OPERATION_IN_PROGRESS`` under the one-at-a-time rule,
  ``LIMIT_REACHED`` past five), as are the messages.
* Each read of the operation (``bulkOperation(id:)``, ``node(id:)``,
  ``currentBulkOperation``) moves it on: ``CREATED`` → ``RUNNING`` → ``COMPLETED`` after
  :attr:`BulkBook.lag` reads. The catalogue is read when it completes.
* The result is a JSONL file, one object a line: each node of the root connection, and each
  node of a nested connection as a line of its own carrying ``__parentId`` (the id of the node
  it belongs to), not grouped under it (``groupObjects`` is false by default from 2026-01).
  An operation that found nothing has no file: ``url`` is null.
* The file is served at a signed URL outside the Admin API: no access token is needed (or
  should be sent) to fetch it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from graphql import FieldNode, GraphQLError, GraphQLSchema, SelectionSetNode, parse, validate

from serialsync_shopify.fake_graphql import Document

#: Statuses an operation is still running in.
_RUNNING = ("CREATED", "RUNNING")
#: From this API version an app may run five bulk queries at once per shop (one before).
_FIVE_FROM = "2026-01"
_CONNECTION_PARTS = ("nodes", "edges")


@dataclass
class BulkOp:
    """One bulk query operation and, once complete, its JSONL lines."""

    id: str
    query: str
    created_at: datetime
    status: str = "CREATED"
    reads: int = 0
    completed_at: datetime | None = None
    lines: list[str] = field(default_factory=list)
    root_count: int = 0


class BulkBook:
    """Bulk query operations of the fake shop.

    :param resolve_root: answers a root query field by name with its arguments, as the fake's
        resolvers do (``products`` and ``productVariants`` are what bulk queries page).
    :param gid: mints global ids; ``now`` stamps operations; ``secret`` signs result URLs.
    """

    def __init__(
        self,
        *,
        resolve_root: Callable[[str, dict[str, Any]], Any],
        gid: Callable[[str], str],
        now: Callable[[], datetime],
        secret: str,
    ) -> None:
        self._resolve_root = resolve_root
        self._gid = gid
        self._now = now
        self._secret = secret.encode()
        self.ops: dict[str, BulkOp] = {}
        #: Reads of an operation before it completes.
        self.lag = 2

    # -- the mutation -----------------------------------------------------------------------

    def run_query(
        self, args: dict[str, Any], *, api_version: str, schema: GraphQLSchema | None
    ) -> dict[str, Any]:
        """``bulkOperationRunQuery``: a new operation, or ``userErrors`` saying why not."""
        text = str(args.get("query") or "")
        problem = _check_query(text, schema)
        if problem is not None:
            return _refused(f"Invalid bulk query: {problem}", "INVALID")
        running = [op for op in self.ops.values() if op.status in _RUNNING]
        limit = 5 if api_version >= _FIVE_FROM else 1
        if len(running) >= limit:
            if limit == 1:
                message = (
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{running[0].id}."
                )
                return _refused(message, "OPERATION_IN_PROGRESS")
            return _refused(
                "Bulk operations limit reached. Please try again later.", "LIMIT_REACHED"
            )
        op = BulkOp(id=self._gid("BulkOperation"), query=text, created_at=self._now())
        self.ops[op.id] = op
        return {"bulkOperation": self._view(op, None), "userErrors": []}

    # -- reads ------------------------------------------------------------------------------

    def read(self, op_id: str | None, base_url: str) -> dict[str, Any] | None:
        """One operation by id, moved on by this read (``None`` when there is none)."""
        op = self.ops.get(op_id or "")
        if op is None:
            return None
        self._advance(op)
        return self._view(op, base_url)

    def current(self, base_url: str) -> dict[str, Any] | None:
        """``currentBulkOperation``: the app's most recent bulk query, moved on by this read."""
        if not self.ops:
            return None
        return self.read(list(self.ops)[-1], base_url)

    def download(self, number: str, signature: str) -> tuple[int, bytes]:
        """The JSONL file of the operation numbered ``number``, if the signature is right."""
        op = next((o for o in self.ops.values() if o.id.rsplit("/", 1)[-1] == number), None)
        if op is None or op.status != "COMPLETED" or not op.lines:
            return 404, b"<Error><Code>NoSuchKey</Code></Error>"
        if not hmac.compare_digest(signature, self._sign(number)):
            return 403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
        return 200, "".join(line + "\n" for line in op.lines).encode()

    # -- internals --------------------------------------------------------------------------

    def _advance(self, op: BulkOp) -> None:
        if op.status not in _RUNNING:
            return
        op.reads += 1
        if op.reads < self.lag:
            op.status = "RUNNING"
            return
        op.lines, op.root_count = self._execute(op.query)
        op.status = "COMPLETED"
        op.completed_at = self._now()

    def _execute(self, text: str) -> tuple[list[str], int]:
        document = Document(parse(text), None, {})
        lines: list[str] = []
        roots = 0
        for root in document.root_fields():
            node_set = _node_selection(document, root.selection_set)
            name, fixed = root.name.value, document.arguments(root)
            for item in _every_node(_paged(partial(self._resolve_root, name), fixed)):
                roots += 1
                self._emit(document, item, node_set, None, lines)
        return lines, roots

    def _emit(
        self,
        document: Document,
        item: dict[str, Any],
        node_set: SelectionSetNode | None,
        parent_id: str | None,
        lines: list[str],
    ) -> None:
        """One node as a line, then each node of its nested connections as lines of their own."""
        if node_set is None:
            return
        line: dict[str, Any] = {}
        nested: list[tuple[FieldNode, SelectionSetNode | None]] = []
        typename = item.get("__typename")
        for sub in document.fields(node_set, typename):
            key = sub.alias.value if sub.alias else sub.name.value
            inner = _node_selection(document, sub.selection_set) if sub.selection_set else None
            if inner is not None and _is_connection(document, sub.selection_set):
                nested.append((sub, inner))
                continue
            raw = item.get(sub.name.value)
            if callable(raw):
                raw = raw(document.arguments(sub))
            line[key] = document.project(raw, sub.selection_set)
        if parent_id is not None:
            line["__parentId"] = parent_id
        lines.append(json.dumps(line, separators=(",", ":")))
        for sub, inner in nested:
            raw = item.get(sub.name.value)
            if not callable(raw):
                continue
            fixed = document.arguments(sub)
            for child in _every_node(_paged(raw, fixed)):
                self._emit(document, child, inner, str(item.get("id")), lines)

    def _view(self, op: BulkOp, base_url: str | None) -> dict[str, Any]:
        number = op.id.rsplit("/", 1)[-1]
        url = None
        if op.status == "COMPLETED" and op.lines and base_url is not None:
            url = f"{base_url}/bulk-results/{number}.jsonl?signature={self._sign(number)}"
        size = sum(len(line) + 1 for line in op.lines)
        return {
            "__typename": "BulkOperation",
            "id": op.id,
            "status": op.status,
            "type": "QUERY",
            "query": op.query,
            "errorCode": None,
            "createdAt": op.created_at.isoformat().replace("+00:00", "Z"),
            "completedAt": (
                op.completed_at.isoformat().replace("+00:00", "Z") if op.completed_at else None
            ),
            "objectCount": str(len(op.lines)),
            "rootObjectCount": str(op.root_count),
            "fileSize": str(size) if url else None,
            "url": url,
            "partialDataUrl": None,
        }

    def _sign(self, number: str) -> str:
        return hmac.new(self._secret, number.encode(), hashlib.sha256).hexdigest()[:32]


def _refused(message: str, code: str) -> dict[str, Any]:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": ["query"], "message": message, "code": code}],
    }


def _paged(
    resolver: Callable[[dict[str, Any]], Any], fixed: dict[str, Any]
) -> Callable[[dict[str, Any]], Any]:
    """A connection's resolver with the query's own arguments, paged by ``first``/``after``."""
    return lambda paging: resolver({**fixed, **paging})


def _every_node(page: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
    """Every node of a connection, read 250 at a time through its resolver."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        args: dict[str, Any] = {"first": 250}
        if after is not None:
            args["after"] = after
        result = page(args) or {}
        found.extend(n for n in result.get("nodes") or [] if isinstance(n, dict))
        info = result.get("pageInfo") or {}
        after = info.get("endCursor")
        if not info.get("hasNextPage") or after is None:
            return found


def _is_connection(document: Document, selection: SelectionSetNode | None) -> bool:
    if selection is None:
        return False
    return any(f.name.value in _CONNECTION_PARTS for f in document.fields(selection, None))


def _node_selection(
    document: Document, selection: SelectionSetNode | None
) -> SelectionSetNode | None:
    """What one node of a connection selects (under ``nodes`` or ``edges { node }``)."""
    if selection is None:
        return None
    for part in document.fields(selection, None):
        if part.name.value == "nodes":
            return part.selection_set
        if part.name.value == "edges" and part.selection_set is not None:
            for edge_field in document.fields(part.selection_set, None):
                if edge_field.name.value == "node":
                    return edge_field.selection_set
    return None


def _check_query(text: str, schema: GraphQLSchema | None) -> str | None:
    """Why Shopify would refuse this bulk query, or ``None``."""
    try:
        ast = parse(text)
    except GraphQLError as exc:
        return exc.message
    if schema is not None:
        problems = validate(schema, ast)
        if problems:
            return problems[0].message
    document = Document(ast, None, {})
    roots = document.root_fields()
    if len(roots) != 1:
        return "a bulk query selects exactly one top-level field"
    connections = 0
    depth = 0

    def walk(selection: SelectionSetNode | None, level: int) -> None:
        nonlocal connections, depth
        if selection is None:
            return
        for sub in document.fields(selection, None):
            if sub.selection_set is not None and _is_connection(document, sub.selection_set):
                connections += 1
                depth = max(depth, level + 1)
                walk(_node_selection(document, sub.selection_set), level + 1)
            else:
                walk(sub.selection_set, level)

    walk(document.operation.selection_set, 0)
    if connections == 0:
        return "a bulk query must contain at least one connection"
    if connections > 5:
        return "a bulk query may contain at most five connections"
    if depth > 2:
        return "a bulk query may nest connections at most two levels deep"
    return None
