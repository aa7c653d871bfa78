-- Who may do what: users (named, or by the subject DN of their X.509 certificate), groups,
-- bearer tokens (only their SHA-256 is kept) and the audit log of every write.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dn TEXT UNIQUE,
    admin BOOLEAN NOT NULL,
    -- A job runner's identity (e.g. a host certificate): it may only claim, heartbeat and
    -- finish subjobs, as with a runner token.
    runner BOOLEAN NOT NULL DEFAULT FALSE,
    created TIMESTAMP NOT NULL
);

CREATE TABLE user_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TIMESTAMP NOT NULL
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE,
    runner BOOLEAN NOT NULL,
    created TIMESTAMP NOT NULL,
    expires TIMESTAMP,
    revoked TIMESTAMP
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    status INTEGER NOT NULL,
    remote TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
