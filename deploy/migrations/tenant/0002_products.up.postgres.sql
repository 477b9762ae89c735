CREATE TABLE products (
  tenant_id    TEXT NOT NULL,
  sku          TEXT NOT NULL,
  name         TEXT NOT NULL,
  price_cents  BIGINT NOT NULL CHECK (price_cents >= 0),
  weight_kg    DOUBLE PRECISION,
  in_stock     BOOLEAN NOT NULL DEFAULT true,
  image        BYTEA,
  PRIMARY KEY (tenant_id, sku)
);
