-- A small store: customers, products, orders and order items.
CREATE TABLE customers (
  id     INTEGER PRIMARY KEY,
  name   TEXT NOT NULL,
  email  TEXT NOT NULL UNIQUE,
  vip    BOOLEAN NOT NULL DEFAULT 0
);
