-- The events' hash chain (issue 14): per block, the link of each of its lines in line
-- order, 32 bytes each, where a line's link is SHA-256(previous link || the line). The
-- events already stored are linked by the migration's Rust step right after this script
-- (`events::chain::backfill`), in the same transaction.
ALTER TABLE event_lines ADD COLUMN chain BLOB;
