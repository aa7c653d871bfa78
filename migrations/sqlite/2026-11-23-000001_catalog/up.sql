CREATE TABLE directories (
    id INTEGER PRIMARY KEY,
    parent_id BIGINT REFERENCES directories(id),
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    grp TEXT NOT NULL,
    mode INTEGER NOT NULL,
    created TIMESTAMP NOT NULL
);
CREATE INDEX directories_parent ON directories(parent_id, name);

CREATE TABLE dir_closure (
    ancestor BIGINT NOT NULL REFERENCES directories(id) ON DELETE CASCADE,
    descendant BIGINT NOT NULL REFERENCES directories(id) ON DELETE CASCADE,
    depth INTEGER NOT NULL,
    PRIMARY KEY (ancestor, descendant)
);
CREATE INDEX dir_closure_descendant ON dir_closure(descendant, ancestor, depth);

CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    dir_id BIGINT NOT NULL REFERENCES directories(id),
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    guid TEXT NOT NULL UNIQUE,
    size BIGINT NOT NULL,
    adler32 TEXT NOT NULL,
    md5 TEXT,
    sha256 TEXT,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    grp TEXT NOT NULL,
    mode INTEGER NOT NULL,
    created TIMESTAMP NOT NULL,
    modified TIMESTAMP NOT NULL
);
CREATE INDEX files_dir ON files(dir_id, name);

CREATE TABLE storage_elements (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    base_url TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    created TIMESTAMP NOT NULL
);

CREATE TABLE replicas (
    id INTEGER PRIMARY KEY,
    file_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    se_id BIGINT NOT NULL REFERENCES storage_elements(id),
    pfn TEXT NOT NULL,
    status TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    UNIQUE (file_id, se_id)
);
CREATE INDEX replicas_se ON replicas(se_id);

CREATE TABLE meta_fields (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    ftype TEXT NOT NULL,
    description TEXT,
    created TIMESTAMP NOT NULL
);

CREATE TABLE file_meta (
    file_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    field_id BIGINT NOT NULL REFERENCES meta_fields(id),
    ival BIGINT,
    fval DOUBLE PRECISION,
    sval TEXT,
    PRIMARY KEY (file_id, field_id)
);
CREATE INDEX file_meta_ival ON file_meta(field_id, ival, file_id) WHERE ival IS NOT NULL;
CREATE INDEX file_meta_fval ON file_meta(field_id, fval, file_id) WHERE fval IS NOT NULL;
CREATE INDEX file_meta_sval ON file_meta(field_id, sval, file_id) WHERE sval IS NOT NULL;

CREATE TABLE dir_meta (
    dir_id BIGINT NOT NULL REFERENCES directories(id) ON DELETE CASCADE,
    field_id BIGINT NOT NULL REFERENCES meta_fields(id),
    ival BIGINT,
    fval DOUBLE PRECISION,
    sval TEXT,
    PRIMARY KEY (dir_id, field_id)
);
CREATE INDEX dir_meta_ival ON dir_meta(field_id, ival, dir_id) WHERE ival IS NOT NULL;
CREATE INDEX dir_meta_fval ON dir_meta(field_id, fval, dir_id) WHERE fval IS NOT NULL;
CREATE INDEX dir_meta_sval ON dir_meta(field_id, sval, dir_id) WHERE sval IS NOT NULL;

CREATE TABLE file_parents (
    child_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    parent_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    PRIMARY KEY (child_id, parent_id)
);
CREATE INDEX file_parents_parent ON file_parents(parent_id, child_id);

INSERT INTO directories (parent_id, name, path, owner, grp, mode, created)
    VALUES (NULL, '', '/', 'admin', 'admin', 509, CURRENT_TIMESTAMP);
INSERT INTO dir_closure (ancestor, descendant, depth) SELECT id, id, 0 FROM directories WHERE path = '/';
