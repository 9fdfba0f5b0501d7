-- PostgreSQL's tenant counters move to statement-level triggers here (see
-- its 0018: a dead row version per counted row bloated `tenants`). SQLite
-- updates rows in place and has only row-level triggers: its counters of
-- migration 0004 stay as they are. This file keeps the two histories alike.
SELECT 1;
