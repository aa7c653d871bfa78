//! The tables, in types portable to SQLite and PostgreSQL.

diesel::table! {
    directories (id) {
        id -> BigInt,
        parent_id -> Nullable<BigInt>,
        name -> Text,
        path -> Text,
        owner -> Text,
        grp -> Text,
        mode -> Integer,
        created -> Timestamp,
    }
}

diesel::table! {
    /// Every (ancestor, descendant) pair of directories, with the distance; (d, d, 0) included.
    dir_closure (ancestor, descendant) {
        ancestor -> BigInt,
        descendant -> BigInt,
        depth -> Integer,
    }
}

diesel::table! {
    files (id) {
        id -> BigInt,
        dir_id -> BigInt,
        name -> Text,
        path -> Text,
        guid -> Text,
        size -> BigInt,
        adler32 -> Text,
        md5 -> Nullable<Text>,
        sha256 -> Nullable<Text>,
        status -> Text,
        owner -> Text,
        grp -> Text,
        mode -> Integer,
        created -> Timestamp,
        modified -> Timestamp,
    }
}

diesel::table! {
    storage_elements (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        base_url -> Text,
        options -> Text,
        read_only -> Bool,
        created -> Timestamp,
    }
}

diesel::table! {
    replicas (id) {
        id -> BigInt,
        file_id -> BigInt,
        se_id -> BigInt,
        pfn -> Text,
        status -> Text,
        created -> Timestamp,
    }
}

diesel::table! {
    meta_fields (id) {
        id -> BigInt,
        name -> Text,
        ftype -> Text,
        description -> Nullable<Text>,
        created -> Timestamp,
    }
}

diesel::table! {
    /// One row per (file, field): the value in the column of its storage class
    /// (ival: int, bool, datetime as microseconds; fval: float; sval: string).
    file_meta (file_id, field_id) {
        file_id -> BigInt,
        field_id -> BigInt,
        ival -> Nullable<BigInt>,
        fval -> Nullable<Double>,
        sval -> Nullable<Text>,
    }
}

diesel::table! {
    /// Directory metadata, inherited by every file below the directory.
    dir_meta (dir_id, field_id) {
        dir_id -> BigInt,
        field_id -> BigInt,
        ival -> Nullable<BigInt>,
        fval -> Nullable<Double>,
        sval -> Nullable<Text>,
    }
}

diesel::table! {
    file_parents (child_id, parent_id) {
        child_id -> BigInt,
        parent_id -> BigInt,
    }
}

diesel::table! {
    datasets (id) {
        id -> BigInt,
        name -> Text,
        query -> Nullable<Text>,
        frozen -> Bool,
        metadata -> Text,
        owner -> Text,
        created -> Timestamp,
        modified -> Timestamp,
    }
}

diesel::table! {
    dataset_files (dataset_id, file_id) {
        dataset_id -> BigInt,
        file_id -> BigInt,
    }
}

diesel::table! {
    dir_schemas (dir_id) {
        dir_id -> BigInt,
        schema -> Text,
        created -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        name -> Text,
        spec -> Text,
        sandbox -> Text,
        query -> Text,
        watch -> Bool,
        state -> Text,
        owner -> Text,
        created -> Timestamp,
        modified -> Timestamp,
        next_run -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subjobs (id) {
        id -> BigInt,
        job_id -> BigInt,
        number -> BigInt,
        state -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        cpus -> Integer,
        memory -> BigInt,
        gpus -> Integer,
        runner -> Nullable<Text>,
        token -> Nullable<Text>,
        lease_expires -> Nullable<Timestamp>,
        exit_code -> Nullable<Integer>,
        reason -> Nullable<Text>,
        created -> Timestamp,
        modified -> Timestamp,
    }
}

diesel::table! {
    subjob_inputs (job_id, file_id) {
        job_id -> BigInt,
        subjob_id -> BigInt,
        file_id -> BigInt,
    }
}

diesel::table! {
    subjob_attempts (subjob_id, attempt) {
        subjob_id -> BigInt,
        attempt -> Integer,
        token -> Text,
        runner -> Text,
        state -> Text,
        exit_code -> Nullable<Integer>,
        reason -> Nullable<Text>,
        started -> Timestamp,
        finished -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subjob_files (subjob_id, file_id) {
        subjob_id -> BigInt,
        attempt -> Integer,
        file_id -> BigInt,
        kind -> Text,
    }
}

diesel::joinable!(files -> directories (dir_id));
diesel::joinable!(subjobs -> jobs (job_id));
diesel::joinable!(subjob_inputs -> subjobs (subjob_id));
diesel::joinable!(subjob_inputs -> files (file_id));
diesel::joinable!(subjob_attempts -> subjobs (subjob_id));
diesel::joinable!(subjob_files -> subjobs (subjob_id));
diesel::joinable!(subjob_files -> files (file_id));
diesel::joinable!(dataset_files -> datasets (dataset_id));
diesel::joinable!(dataset_files -> files (file_id));
diesel::joinable!(dir_schemas -> directories (dir_id));
diesel::joinable!(replicas -> files (file_id));
diesel::joinable!(replicas -> storage_elements (se_id));
diesel::joinable!(file_meta -> files (file_id));
diesel::joinable!(file_meta -> meta_fields (field_id));
diesel::joinable!(dir_meta -> directories (dir_id));
diesel::joinable!(dir_meta -> meta_fields (field_id));

diesel::table! {
    users (id) {
        id -> BigInt,
        name -> Text,
        dn -> Nullable<Text>,
        admin -> Bool,
        runner -> Bool,
        created -> Timestamp,
    }
}

diesel::table! {
    user_groups (id) {
        id -> BigInt,
        name -> Text,
        created -> Timestamp,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        hash -> Text,
        runner -> Bool,
        created -> Timestamp,
        expires -> Nullable<Timestamp>,
        revoked -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        who -> Text,
        action -> Text,
        target -> Text,
        status -> Integer,
        remote -> Text,
        request_id -> Text,
    }
}

diesel::joinable!(group_members -> user_groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_groups,
    group_members,
    tokens,
    audit_log,
    directories,
    dir_closure,
    files,
    storage_elements,
    replicas,
    meta_fields,
    file_meta,
    dir_meta,
    file_parents,
    datasets,
    dataset_files,
    dir_schemas,
    jobs,
    subjobs,
    subjob_inputs,
    subjob_attempts,
    subjob_files,
);
