CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    -- The spec as JSON, and the files it ships (name -> base64).
    spec TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    query TEXT NOT NULL,
    watch BOOLEAN NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    modified TIMESTAMP NOT NULL
);

CREATE TABLE subjobs (
    id INTEGER PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    -- 1-based within the job; 0 is the merge step.
    number BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    cpus INTEGER NOT NULL,
    memory BIGINT NOT NULL,
    gpus INTEGER NOT NULL,
    runner TEXT,
    token TEXT,
    lease_expires TIMESTAMP,
    exit_code INTEGER,
    reason TEXT,
    created TIMESTAMP NOT NULL,
    modified TIMESTAMP NOT NULL,
    UNIQUE (job_id, number)
);
CREATE INDEX subjobs_queue ON subjobs(state, id);

-- Each file is an input of a job at most once (watch mode processes a file once).
CREATE TABLE subjob_inputs (
    job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    subjob_id BIGINT NOT NULL REFERENCES subjobs(id) ON DELETE CASCADE,
    file_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, file_id)
);
CREATE INDEX subjob_inputs_subjob ON subjob_inputs(subjob_id);

CREATE TABLE subjob_attempts (
    subjob_id BIGINT NOT NULL REFERENCES subjobs(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    token TEXT NOT NULL UNIQUE,
    runner TEXT NOT NULL,
    state TEXT NOT NULL,
    exit_code INTEGER,
    reason TEXT,
    started TIMESTAMP NOT NULL,
    finished TIMESTAMP,
    PRIMARY KEY (subjob_id, attempt)
);

-- Files registered by an attempt: its outputs and its log.
CREATE TABLE subjob_files (
    subjob_id BIGINT NOT NULL REFERENCES subjobs(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    file_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    PRIMARY KEY (subjob_id, file_id)
);
