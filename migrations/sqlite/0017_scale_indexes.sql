-- SQLite dialect of ../postgres/0017_scale_indexes.sql (the same statements).
-- Admin lists at the scale of 50,000 tenants and 10 million users use
-- indexes in every scope: a partner's users, groups and audit records in id
-- order (the scope predicate is partner_id), and the case-insensitive
-- user-name and email filters across tenants (a platform or partner admin
-- looking someone up). The email index leads with the address so it also
-- serves one tenant's lookup (few tenants share an address).
CREATE INDEX users_partner_idx ON users (partner_id, id);
CREATE INDEX groups_partner_idx ON groups (partner_id, id);
CREATE INDEX audit_events_partner_idx ON audit_events (partner_id, id);
CREATE INDEX users_name_idx ON users (user_name_lower, id);
DROP INDEX users_email_idx;
CREATE INDEX users_email_idx ON users (lower(email), id);
