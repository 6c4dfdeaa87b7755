-- The budget pools gateways sharing a store reserve slices from
-- (gatehouse_core::workflow::Pool): a workflow's limits and what was reserved, spent or
-- not. One gateway on this embedded store counts budgets alone (with leases), so these
-- rows exist only when something claims from a pool; the table keeps the Store contract
-- the same in every backend.
CREATE TABLE budget_pools (
    workflow        TEXT PRIMARY KEY,
    limit_calls     INTEGER NOT NULL CHECK (limit_calls >= 0),
    limit_writes    INTEGER NOT NULL CHECK (limit_writes >= 0),
    limit_bytes     INTEGER NOT NULL CHECK (limit_bytes >= 0),
    reserved_calls  INTEGER NOT NULL CHECK (reserved_calls >= 0),
    reserved_writes INTEGER NOT NULL CHECK (reserved_writes >= 0),
    reserved_bytes  INTEGER NOT NULL CHECK (reserved_bytes >= 0)
);
