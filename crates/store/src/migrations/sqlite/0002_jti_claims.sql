-- Single-use identity assertion ids, kept until the assertion could no longer be
-- accepted anyway (`expires_at`, Unix seconds).
CREATE TABLE jti_claims (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) WITHOUT ROWID;

CREATE INDEX jti_claims_expiry ON jti_claims (expires_at);
