"""The state store's schema, as numbered migrations applied in order when a store opens.

Each migration is a list of statements in portable SQL (SQLite and PostgreSQL both take it:
``TEXT``, ``INTEGER``, no engine-specific types). A database remembers the version it reached in
``meta``; a program meeting a database newer than it knows refuses it rather than guess.

Timestamps are ISO 8601 UTC text, so they sort as they compare.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the first schema.
    [
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        # One row per POS SKU: the product as the POS last described it.
        """CREATE TABLE products (
            sku TEXT PRIMARY KEY,
            pos TEXT NOT NULL,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # One row per serial: a serial is unique within the organisation.
        """CREATE TABLE units (
            serial TEXT PRIMARY KEY,
            sku TEXT NOT NULL,
            status TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX units_by_sku ON units (sku)",
        # Every lifecycle move, for the unit's history.
        """CREATE TABLE unit_moves (
            id INTEGER PRIMARY KEY,
            serial TEXT NOT NULL,
            sku TEXT NOT NULL,
            from_status TEXT NOT NULL,
            to_status TEXT NOT NULL,
            at TEXT NOT NULL,
            reason TEXT NOT NULL,
            source TEXT NOT NULL,
            source_ref TEXT NOT NULL
        )""",
        "CREATE INDEX unit_moves_by_serial ON unit_moves (serial)",
        # What each channel was last given for each unit.
        """CREATE TABLE listings (
            connector TEXT NOT NULL,
            serial TEXT NOT NULL,
            sku TEXT NOT NULL,
            state TEXT NOT NULL,
            content_hash TEXT,
            remote TEXT,
            last_error TEXT,
            retryable INTEGER NOT NULL DEFAULT 1,
            attempts INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (connector, serial)
        )""",
        "CREATE INDEX listings_by_sku ON listings (connector, sku)",
        """CREATE TABLE cursors (
            connector TEXT NOT NULL,
            stream TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (connector, stream)
        )""",
        # The sale outbox: one row per channel order, the idempotency key of its report.
        """CREATE TABLE outbox (
            channel TEXT NOT NULL,
            order_id TEXT NOT NULL,
            order_number TEXT NOT NULL,
            state TEXT NOT NULL,
            financial_status TEXT NOT NULL,
            order_updated_at TEXT NOT NULL,
            sale TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at TEXT,
            receipt TEXT,
            note TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            reported_at TEXT,
            PRIMARY KEY (channel, order_id)
        )""",
        "CREATE INDEX outbox_by_state ON outbox (state)",
        # Which order holds which unit: the first sale wins, a second one is a conflict.
        """CREATE TABLE claims (
            serial TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            order_id TEXT NOT NULL,
            claimed_at TEXT NOT NULL
        )""",
        # Records that could not be processed, with the reason; one row per kind and key.
        """CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            record_key TEXT NOT NULL,
            connector TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            seen_count INTEGER NOT NULL DEFAULT 1,
            UNIQUE (kind, record_key)
        )""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            ok INTEGER,
            summary TEXT
        )""",
    ],
    # 2: each move says on what grounds it was recorded (issue 15 #7): "table" (the lifecycle
    # allows it), "asserted" (the POS states the status) or "reversal" (serialsync takes back a
    # claim of its own). Moves recorded before say "table", as they all claimed to.
    [
        "ALTER TABLE unit_moves ADD COLUMN basis TEXT NOT NULL DEFAULT 'table'",
    ],
    # 3: the registry's side of a unit (issue 20). What a person records about a unit that the
    # POS does not carry (lot, warehouse, location, purchase date, warranty expiry; dates as
    # ISO text), kept apart from the POS's data so that a pass never overwrites it; and an
    # operator's hold, which outranks the POS's status until a person returns the unit to
    # stock (``pos_status``: what the POS said last when it disagreed, else NULL).
    [
        """CREATE TABLE unit_details (
            serial TEXT PRIMARY KEY,
            lot TEXT,
            warehouse TEXT,
            location TEXT,
            purchase_date TEXT,
            warranty_expiry TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE unit_holds (
            serial TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            held_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL,
            pos_status TEXT
        )""",
    ],
    # 4: serial references (issue 20 #3): codes the organisation mints, in groups (continuous,
    # or in named batches), each used once. A deleted reference keeps its row (``deleted``) so
    # that it is never minted again.
    [
        """CREATE TABLE ref_groups (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            ref_limit INTEGER NOT NULL,
            alphabet TEXT NOT NULL,
            length INTEGER NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE ref_batches (
            grp TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (grp, name)
        )""",
        """CREATE TABLE refs (
            id INTEGER PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            grp TEXT NOT NULL,
            batch TEXT,
            serial TEXT UNIQUE,
            deleted INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX refs_by_group ON refs (grp, batch)",
    ],
    # 5: whether each channel's storefront shows each product (issue 17 #4): a product none of
    # whose units is for sale is hidden, and shown again when one returns. Remembered per
    # sibling (``part``) with the ids naming the product, since withdrawals (batched across
    # products) may leave no listing that still holds them. No row: shown, as created.
    [
        """CREATE TABLE product_visibility (
            connector TEXT NOT NULL,
            sku TEXT NOT NULL,
            part INTEGER NOT NULL,
            visible INTEGER NOT NULL,
            remote TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (connector, sku, part)
        )""",
    ],
    # 6: the admin panel (issue 19). Its users (an argon2 hash, never the password; role
    # ``viewer`` or ``operator``), and every action a person took through the panel or the CLI
    # (who, when, what, on which record, and why), so that a settled conflict or a retried sale
    # names the person who did it, as a unit's own moves do.
    [
        """CREATE TABLE panel_users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE operator_actions (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            who TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            reason TEXT NOT NULL,
            outcome TEXT NOT NULL
        )""",
        "CREATE INDEX operator_actions_by_target ON operator_actions (target)",
    ],
    # 7: the webhook events seen (issue 16): a platform's retry, or one delivery per
    # subscription, of an event already taken is a replay after a restart too. Forgotten after a
    # while (the platforms stop retrying within days), by seen_at.
    [
        """CREATE TABLE webhook_events (
            connector TEXT NOT NULL,
            event_id TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (connector, event_id)
        )""",
        "CREATE INDEX webhook_events_by_time ON webhook_events (seen_at)",
    ],
    # 8: each unit's content hash (issue 22 #1), recorded once when the POS's record of it is
    # stored, so that a pass selects by query only the units whose hash differs from what a
    # channel was last given (or whose state asks for work) instead of hashing the catalogue
    # once per channel. NULL: not known (a store from before, a product or reference changed
    # since), which selects the unit until a publish records it again.
    [
        "ALTER TABLE units ADD COLUMN content_hash TEXT",
    ],
    # 9: the admin panel's dashboard and demo (issue 19). Each unit an order claims, with the
    # order's creation time on its channel (``placed_at``, the channel's own clock) and the
    # moment the last other channel's withdrawal was recorded (``closed_at``; NULL while the
    # unit is still for sale elsewhere): the oversell window, end to end. And one-time logins
    # (a link the demo prints): only the token's SHA-256 is kept, spent once (``used_at``).
    [
        """CREATE TABLE sale_windows (
            channel TEXT NOT NULL,
            order_id TEXT NOT NULL,
            serial TEXT NOT NULL,
            placed_at TEXT NOT NULL,
            claimed_at TEXT NOT NULL,
            closed_at TEXT,
            PRIMARY KEY (channel, order_id, serial)
        )""",
        "CREATE INDEX sale_windows_by_serial ON sale_windows (serial)",
        "CREATE INDEX sale_windows_by_claim ON sale_windows (claimed_at)",
        """CREATE TABLE panel_logins (
            token_hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        )""",
    ],
    # 10: plan from changes, not from the catalogue (issue 22 #1). Each write that can change
    # what a channel's publish has to do with a product (a unit's hash, status or deletion, a
    # claim, a listing, a visibility) raises the product's ``version`` for each channel in
    # ``change_channels`` (one listing's or visibility's write: for its own channel). A
    # channel's publish reads only the products whose version is not the one it ``settled``
    # (found without work at that version), so a quiet pass reads nothing. A channel not in
    # ``change_channels`` (a store from before, or one whose selection rules changed: ``basis``)
    # has every product marked first. ``units_sellable`` counts the unchanged units without
    # reading the table.
    [
        """CREATE TABLE change_channels (
            connector TEXT PRIMARY KEY,
            basis TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE product_changes (
            connector TEXT NOT NULL,
            sku TEXT NOT NULL,
            version INTEGER NOT NULL,
            settled INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (connector, sku)
        )""",
        "CREATE INDEX product_changes_open ON product_changes (connector, sku) "
        "WHERE settled != version",
        "CREATE INDEX units_sellable ON units (status, deleted, content_hash)",
    ],
    # 11: every channel's listing of a unit, found by its serial (the primary key leads with the
    # channel, so both backends scanned the whole table for it): an order's claim asks whether
    # another channel sells its unit, and a withdrawal whether any still does (issue 16 §2).
    [
        "CREATE INDEX listings_by_serial ON listings (serial)",
    ],
]

LATEST_VERSION = len(MIGRATIONS)
