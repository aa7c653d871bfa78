DROP TABLE subjob_files;
DROP TABLE subjob_attempts;
DROP TABLE subjob_inputs;
DROP TABLE subjobs;
DROP TABLE jobs;
