-- migrate: without foreign keys
-- (PostgreSQL drops a constraint in place: the line above changes nothing
-- here.) A plan's name is unique within its product, not across products:
-- two apps may each have a "Pro" plan.
ALTER TABLE plans DROP CONSTRAINT plans_name_key;
DROP INDEX plans_by_product;
CREATE UNIQUE INDEX plans_by_product ON plans (product_id, name);
