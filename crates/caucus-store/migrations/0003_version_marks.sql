-- Schema version 3: each room's breakout-version high-water mark. A session reserves a block
-- of versions above the mark (raising it) before it shows any, so versions only grow for the
-- life of the room, across restarts and crashes. No foreign key: the mark outlives the room,
-- so a room made again under the same id goes on above every version the old one showed.

CREATE TABLE version_marks (
    room TEXT PRIMARY KEY NOT NULL,
    mark INTEGER NOT NULL CHECK (mark >= 0)
) STRICT;
