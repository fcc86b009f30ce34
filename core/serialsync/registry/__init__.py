"""Serial references: codes an organisation mints to identify its units, in groups and batches.

* A **group** is ``continuous`` (references minted one at a time, :func:`mint_one`) or
  ``batch`` (minted in named batches of at most :data:`BATCH_CAP`, :func:`mint_batch`), and
  holds at most :data:`DEFAULT_LIMIT` live references unless it says otherwise. Minting past the
  limit is refused before anything is written.
* A reference is drawn from :mod:`secrets` (a cryptographically secure source):
  :data:`DEFAULT_LENGTH` characters of :data:`DEFAULT_ALPHABET` unless the group says otherwise.
  It is unique across the organisation, never equal to a unit's serial, and used once: a deleted
  reference keeps its row and is never minted again.
* A reference may be assigned to one unit (:func:`assign`); it is shown with the unit and
  published with the unit's attributes (:data:`REFERENCE_ATTRIBUTE`).
"""

from serialsync.registry.references import (
    BATCH_CAP,
    DEFAULT_ALPHABET,
    DEFAULT_LENGTH,
    DEFAULT_LIMIT,
    MIN_FIND,
    REFERENCE_ATTRIBUTE,
    RefusedError,
    assign,
    create_group,
    delete,
    find,
    mint_batch,
    mint_one,
)

__all__ = [
    "BATCH_CAP",
    "DEFAULT_ALPHABET",
    "DEFAULT_LENGTH",
    "DEFAULT_LIMIT",
    "MIN_FIND",
    "REFERENCE_ATTRIBUTE",
    "RefusedError",
    "assign",
    "create_group",
    "delete",
    "find",
    "mint_batch",
    "mint_one",
]
