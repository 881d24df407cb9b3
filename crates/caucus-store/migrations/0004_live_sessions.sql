-- Schema version 4: the sessions and peers that are live, so that the start after a crash can
-- send the `peer.left` and `session.ended` webhooks the crash kept from going out. Written in
-- the commit of the deliveries of the same events; emptied at every start. No foreign key to
-- `rooms`: a session of a room that was deleted while it ran still ends.

CREATE TABLE live_sessions (
    room          TEXT PRIMARY KEY NOT NULL,
    started_at_ms INTEGER NOT NULL CHECK (started_at_ms >= 0)
) STRICT;

CREATE TABLE live_peers (
    room    TEXT NOT NULL REFERENCES live_sessions (room) ON DELETE CASCADE,
    peer_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room, peer_id)
) STRICT;
