-- The cloud version: one table for every tenant, tenant_id first in the key.
-- The gateway adds its own columns (_dg_version, _dg_create_us, _dg_update_us,
-- _dg_deleted); _dg_deleted is declared here so the unique index can skip
-- deleted rows (a delete leaves a tombstone in the cloud).
CREATE TABLE customers (
  tenant_id   TEXT NOT NULL,
  id          BIGINT NOT NULL,
  name        TEXT NOT NULL,
  email       TEXT NOT NULL,
  vip         BOOLEAN NOT NULL DEFAULT false,
  _dg_deleted BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customers_email ON customers (tenant_id, email) WHERE NOT _dg_deleted;
