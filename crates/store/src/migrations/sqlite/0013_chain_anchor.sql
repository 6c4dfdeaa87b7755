-- Retention deletes the oldest blocks of the event log. The chain then starts after
-- them: this row keeps the number and last link of the newest deleted block, so a check
-- of the remaining chain knows where it must start and what link it must follow.
CREATE TABLE event_chain_anchor (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    block INTEGER NOT NULL,
    link BLOB NOT NULL
);
