-- The cloud checks that emails are unique at commit instead of row by row.
-- The sync worker pushes the newest state of each row a tenant changed,
-- all in one transaction but in no particular order, so rows that swapped
-- emails while the queue was behind (a: x to tmp, b: y to x, a: tmp to y)
-- arrive as a(y) and b(x), which a unique index checked row by row refuses
-- whichever goes first. A unique constraint can be deferred but has no
-- WHERE; an exclusion constraint by `=` is the same rule and takes both,
-- so tombstones (_dg_deleted) still hold no email.
DROP INDEX customers_email;
ALTER TABLE customers ADD CONSTRAINT customers_email
  EXCLUDE USING btree (tenant_id WITH =, email WITH =) WHERE (NOT _dg_deleted)
  DEFERRABLE INITIALLY DEFERRED;
