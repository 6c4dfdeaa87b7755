-- Durable leases of budget slices (gatehouse_core::workflow::Lease). Usage is written
-- behind; before a call may spend past what is stored, the gateway raises the lease and
-- waits for it. Reads count a workflow's usage as at least its lease, so a crash never
-- forgets spending that reached an upstream. A clean shutdown releases the leases (0).
ALTER TABLE workflows ADD COLUMN lease_calls  INTEGER NOT NULL DEFAULT 0 CHECK (lease_calls >= 0);
ALTER TABLE workflows ADD COLUMN lease_writes INTEGER NOT NULL DEFAULT 0 CHECK (lease_writes >= 0);
ALTER TABLE workflows ADD COLUMN lease_bytes  INTEGER NOT NULL DEFAULT 0 CHECK (lease_bytes >= 0);
