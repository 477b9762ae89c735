CREATE TABLE orders (
  id           INTEGER PRIMARY KEY,
  customer_id  INTEGER NOT NULL REFERENCES customers (id),
  status       TEXT NOT NULL DEFAULT 'open'
               CHECK (status IN ('open', 'paid', 'shipped', 'cancelled')),
  placed_at    TEXT,
  note         TEXT
);
CREATE INDEX orders_by_customer ON orders (customer_id);

CREATE TABLE order_items (
  order_id     INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line         INTEGER NOT NULL,
  sku          TEXT NOT NULL REFERENCES products (sku),
  quantity     INTEGER NOT NULL CHECK (quantity > 0),
  price_cents  INTEGER NOT NULL CHECK (price_cents >= 0),
  PRIMARY KEY (order_id, line)
);
