ALTER TABLE customers DROP CONSTRAINT customers_email;
CREATE UNIQUE INDEX customers_email ON customers (tenant_id, email) WHERE NOT _dg_deleted;
