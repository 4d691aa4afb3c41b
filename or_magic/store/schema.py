"""The history database's schema, as the migrations that build it.

`MIGRATIONS[i]` brings schema version i (``PRAGMA user_version``) to i + 1; runlog.migrate runs
the ones a database lacks, each in its own transaction.  Only ever append: a migration that
shipped is what old databases were built with, so editing one would leave them behind.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 0 → 1: the runs table.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL,           -- epoch seconds when the run started
        base_url TEXT, endpoint TEXT, model TEXT,
        request TEXT,                       -- the JSON body sent (scrubbed)
        request_hash TEXT,                  -- cache key: base URL + endpoint + body
        response TEXT,                      -- the JSON answer, when one arrived
        text TEXT, finish_reason TEXT,
        prompt_tokens INTEGER, completion_tokens INTEGER, cost REAL, latency REAL,
        generation_id TEXT,
        error TEXT, error_type TEXT, status INTEGER,
        cached INTEGER NOT NULL DEFAULT 0,
        session TEXT, notebook TEXT, cell INTEGER
    );
    CREATE INDEX runs_created ON runs (created_at);
    CREATE INDEX runs_request ON runs (request_hash);
    """,
    # 1 → 2: conversations (run/conversation.py): which chat a run was a turn of, its turn number
    # (1-based), the run it answered after (the previous turn, or the run it was continued
    # from), and its branch (a cell re-run opens a new one; the old turns stay here).
    """
    ALTER TABLE runs ADD COLUMN conversation TEXT;
    ALTER TABLE runs ADD COLUMN turn INTEGER;
    ALTER TABLE runs ADD COLUMN parent_run INTEGER;
    ALTER TABLE runs ADD COLUMN branch INTEGER;
    CREATE INDEX runs_conversation ON runs (conversation, turn);
    """,
    # 2 → 3: resumable sweeps (store/sweeps.py).  A sweep's plan is recorded before its first
    # request; each of its runs carries the sweep's id and its grid position, so a resume finds
    # the finished ones with one indexed query.
    """
    CREATE TABLE sweeps (
        id TEXT PRIMARY KEY,                -- sw-<hex>
        created_at REAL NOT NULL,
        size INTEGER NOT NULL,              -- runs in the grid
        axes TEXT,                          -- JSON list of the swept axes
        prompt TEXT,                        -- the cell / prompt text as written (scrubbed)
        options TEXT,                       -- JSON: everything needed to plan the same runs again (scrubbed)
        fingerprint TEXT NOT NULL,          -- hash of the grid's requests, in grid order
        base_url TEXT, notebook TEXT, models TEXT
    );
    CREATE INDEX sweeps_fingerprint ON sweeps (fingerprint, created_at);
    ALTER TABLE runs ADD COLUMN sweep_id TEXT;
    ALTER TABLE runs ADD COLUMN grid_index INTEGER;
    CREATE INDEX runs_sweep ON runs (sweep_id, grid_index);
    """,
    # 3 → 4: the conversation and sweep indexes hold only the rows that have one.  Most runs are
    # neither a chat turn nor part of a sweep, and every indexed NULL was one more B-tree page
    # written per recorded run (a third of a single run's commit).  Lookups by `conversation = ?` or
    # `sweep_id = ?` imply IS NOT NULL, so SQLite still uses these partial indexes for them.
    """
    DROP INDEX runs_conversation;
    CREATE INDEX runs_conversation ON runs (conversation, turn) WHERE conversation IS NOT NULL;
    DROP INDEX runs_sweep;
    CREATE INDEX runs_sweep ON runs (sweep_id, grid_index) WHERE sweep_id IS NOT NULL;
    """,
]
