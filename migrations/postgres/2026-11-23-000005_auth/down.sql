DROP TABLE audit_log;
DROP TABLE tokens;
DROP TABLE group_members;
DROP TABLE user_groups;
DROP TABLE users;
