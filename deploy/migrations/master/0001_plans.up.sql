-- Platform data shared by all tenants: the subscription plans on offer.
CREATE TABLE plans (
  id        TEXT PRIMARY KEY,
  name      TEXT NOT NULL,
  max_rows  INTEGER
);
INSERT INTO plans (id, name, max_rows) VALUES ('free', 'Free', 10000), ('pro', 'Pro', NULL);
