-- Foreign keys are checked at commit: the sync worker pushes a tenant's rows
-- table by table in one transaction, parents not necessarily first.
CREATE TABLE orders (
  tenant_id    TEXT NOT NULL,
  id           BIGINT NOT NULL,
  customer_id  BIGINT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'open'
               CHECK (status IN ('open', 'paid', 'shipped', 'cancelled')),
  placed_at    TEXT,
  note         TEXT,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX orders_by_customer ON orders (tenant_id, customer_id);

CREATE TABLE order_items (
  tenant_id    TEXT NOT NULL,
  order_id     BIGINT NOT NULL,
  line         BIGINT NOT NULL,
  sku          TEXT NOT NULL,
  quantity     BIGINT NOT NULL CHECK (quantity > 0),
  price_cents  BIGINT NOT NULL CHECK (price_cents >= 0),
  PRIMARY KEY (tenant_id, order_id, line),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) DEFERRABLE INITIALLY DEFERRED,
  FOREIGN KEY (tenant_id, sku) REFERENCES products (tenant_id, sku) DEFERRABLE INITIALLY DEFERRED
);
