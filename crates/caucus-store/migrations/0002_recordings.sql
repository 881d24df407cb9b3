-- Schema version 2: recordings. The document is a RecordingRecord as JSON (location, times,
-- files); `room` is a column so a room's recordings are one index range. No foreign key: the
-- files stay on disk when a room is deleted, and so does their metadata.

CREATE TABLE recordings (
    id   INTEGER PRIMARY KEY NOT NULL,
    room TEXT NOT NULL,
    doc  TEXT NOT NULL
) STRICT;

CREATE INDEX recordings_by_room ON recordings (room, id);
