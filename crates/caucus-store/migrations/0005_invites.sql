-- Schema version 5: invite links. One link may be opened by many people, each redeeming one
-- use for an identity of their own; `uses` counts them and stops at `max_uses` when set. An
-- invite goes with its room (`ON DELETE CASCADE`).

CREATE TABLE invites (
    id            TEXT PRIMARY KEY NOT NULL,
    room          TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL CHECK (created_at_ms >= 0),
    expires_at_ms INTEGER CHECK (expires_at_ms >= 0),
    max_uses      INTEGER CHECK (max_uses > 0),
    uses          INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;

CREATE INDEX invites_by_room ON invites (room, created_at_ms, id);
