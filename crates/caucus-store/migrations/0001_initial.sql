-- Schema version 1: everything the control plane keeps across a restart.
--
-- Structured documents (template specs, breakout plans, recording policy, audit details) are JSON
-- text: the store never queries inside them, and their serde types evolve without a migration.
-- Timestamps are Unix milliseconds chosen by the caller; the store never reads a clock.

CREATE TABLE templates (
    id   TEXT PRIMARY KEY NOT NULL,
    spec TEXT NOT NULL
) STRICT;

-- `template` has no foreign key: built-in templates live in caucus-core and are never stored.
-- Deleting a stored template that a room still names is refused by the store instead.
CREATE TABLE rooms (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    template      TEXT NOT NULL,
    password_hash TEXT,
    locked        INTEGER NOT NULL CHECK (locked IN (0, 1)),
    recording     TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX rooms_by_template ON rooms (template);

CREATE TABLE breakout_plans (
    room TEXT PRIMARY KEY NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    plan TEXT NOT NULL
) STRICT;

-- One row per (event, endpoint) still to deliver; delivered rows are deleted. AUTOINCREMENT keeps
-- `seq` growing even after the newest row is deleted, so first-in-first-out holds across restarts.
CREATE TABLE webhook_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    UNIQUE (event_id, endpoint)
) STRICT;

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_ms, seq);

-- Append-only. `room` has no foreign key: the log outlives the rooms it speaks of.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    room    TEXT,
    target  TEXT,
    details TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_by_room ON audit_log (room, seq);
