-- Every attribute a query compares is answerable from an index.
CREATE INDEX files_name ON files(name);
CREATE INDEX files_size ON files(size);
CREATE INDEX files_created ON files(created);
CREATE INDEX files_modified ON files(modified);
CREATE INDEX files_status ON files(status);
CREATE INDEX files_owner ON files(owner);
CREATE INDEX files_adler32 ON files(adler32);
DROP INDEX replicas_se;
CREATE INDEX replicas_se ON replicas(se_id, file_id);

CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The query (normalised text): what a dynamic dataset is, what a frozen one was made from.
    query TEXT,
    frozen BOOLEAN NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    owner TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    modified TIMESTAMP NOT NULL
);

CREATE TABLE dataset_files (
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    file_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    PRIMARY KEY (dataset_id, file_id)
);
CREATE INDEX dataset_files_file ON dataset_files(file_id);

CREATE TABLE dir_schemas (
    dir_id BIGINT PRIMARY KEY REFERENCES directories(id) ON DELETE CASCADE,
    schema TEXT NOT NULL,
    created TIMESTAMP NOT NULL
);
