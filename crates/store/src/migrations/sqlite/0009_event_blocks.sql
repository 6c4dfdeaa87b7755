-- Events are written a batch at a time, and each batch is now kept as one block: the
-- JSON lines of its events in one text, in id order. Per event only the id is indexed
-- (`event_ids`, to find its block); the values queries filter on are indexed once per
-- block and value (`event_keys`), not once per event. Six indexes per event cost SQLite
-- about 7 µs per event, the largest part of a proxied call's cost on a busy gateway.
--
-- `reach_id` and `reach_time_ms` are the greatest id and time of this block and every
-- earlier one: a query walking blocks newest first stops once no earlier block can hold
-- an event it still wants, even though a slow call's event lands in a later block than
-- events with greater ids.
CREATE TABLE event_blocks (
    block         INTEGER PRIMARY KEY,
    first_id      TEXT    NOT NULL,
    last_id       TEXT    NOT NULL,
    reach_id      TEXT    NOT NULL,
    min_time_ms   INTEGER NOT NULL,
    max_time_ms   INTEGER NOT NULL,
    reach_time_ms INTEGER NOT NULL
);

-- The first block reaching past a cursor, for paging forward.
CREATE INDEX event_blocks_reach ON event_blocks (reach_id, block);

-- Apart from the headers, so that walking headers reads a few pages, not every line.
CREATE TABLE event_lines (
    block INTEGER NOT NULL PRIMARY KEY,
    lines TEXT    NOT NULL
);

CREATE TABLE event_ids (
    id    TEXT    NOT NULL PRIMARY KEY,
    block INTEGER NOT NULL
) WITHOUT ROWID;

-- field: 'agent', 'workflow', 'tool', 'intent' or 'outcome'.
CREATE TABLE event_keys (
    field TEXT    NOT NULL,
    value TEXT    NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (field, value, block)
) WITHOUT ROWID;

-- Every stored event becomes a block of its own, numbered in id order.
INSERT INTO event_blocks (block, first_id, last_id, reach_id, min_time_ms, max_time_ms,
        reach_time_ms)
    SELECT row_number() OVER (ORDER BY id), id, id, id, time_ms, time_ms,
        max(time_ms) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    FROM events;
INSERT INTO event_lines (block, lines)
    SELECT block, line FROM events JOIN event_blocks ON first_id = id;
INSERT INTO event_ids (id, block) SELECT first_id, block FROM event_blocks;
INSERT INTO event_keys (field, value, block)
    SELECT 'agent', agent, block FROM events JOIN event_blocks ON first_id = id
        WHERE agent IS NOT NULL
    UNION ALL SELECT 'workflow', workflow, block FROM events JOIN event_blocks ON first_id = id
        WHERE workflow IS NOT NULL
    UNION ALL SELECT 'tool', tool, block FROM events JOIN event_blocks ON first_id = id
        WHERE tool IS NOT NULL
    UNION ALL SELECT 'intent', intent, block FROM events JOIN event_blocks ON first_id = id
        WHERE intent IS NOT NULL
    UNION ALL SELECT 'outcome', outcome, block FROM events JOIN event_blocks ON first_id = id;
DROP TABLE events;
