-- A database as schema version 1 wrote it (golden: never edit). The store
-- test loads it and checks that opening migrates it to the current
-- version with every row intact.
CREATE TABLE tenants(  id TEXT PRIMARY KEY,  created_at INTEGER NOT NULL);
CREATE TABLE tokens(  id TEXT PRIMARY KEY,  hash BLOB NOT NULL UNIQUE,  tenant TEXT,  scopes TEXT NOT NULL,  revoked INTEGER NOT NULL DEFAULT 0,  created_at INTEGER NOT NULL);
CREATE TABLE functions(  tenant TEXT NOT NULL,  name TEXT NOT NULL,  digest TEXT NOT NULL,  mode TEXT NOT NULL,  deadline_ms INTEGER NOT NULL,  memory_bytes INTEGER NOT NULL,  size INTEGER NOT NULL,  created_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL,  PRIMARY KEY(tenant, name));
CREATE TABLE jobs(  id TEXT PRIMARY KEY,  tenant TEXT NOT NULL,  function TEXT NOT NULL,  state TEXT NOT NULL,  request BLOB,  result BLOB,  error TEXT,  created_at INTEGER NOT NULL,  started_at INTEGER,  finished_at INTEGER);
INSERT INTO tenants VALUES('acme', 1700000000000);
INSERT INTO tokens VALUES('tok_old', X'0101010101010101010101010101010101010101010101010101010101010101', 'acme', 'read,invoke', 0, 1700000000001);
INSERT INTO functions VALUES('acme', 'add', 'f61fd62f57c41269c3c23f360eeaf1090b1db9c38651106674d48bc65dba88ba', 'typed', 30000, 67108864, 41, 1700000000002, 1700000000003);
INSERT INTO jobs VALUES('job_old1', 'acme', 'add', 'running', X'7B7D', NULL, NULL, 1700000000004, 1700000000005, NULL);
INSERT INTO jobs VALUES('job_old2', 'acme', 'add', 'queued', X'7B7D', NULL, NULL, 1700000000006, NULL, NULL);
PRAGMA user_version=1;
