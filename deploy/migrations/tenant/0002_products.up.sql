CREATE TABLE products (
  sku          TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  price_cents  INTEGER NOT NULL CHECK (price_cents >= 0),
  weight_kg    REAL,
  in_stock     BOOLEAN NOT NULL DEFAULT 1,
  image        BLOB
);
