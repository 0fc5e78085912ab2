-- The worklist's boxes at a million cases (issue 4). Each box lists ten cases newest first; the
-- rare ones used to scan a whole state's or post's cases in opening order to find them.
-- Referred and awaiting-authority cases: partial indexes in page order, used when the query
-- names the status as a literal (`status = 'referred'`). New cases are in intake, so these
-- cost nothing at registration.
CREATE INDEX cases_state_referred ON cases(owner_state, opened_at, id) WHERE status = 'referred';
CREATE INDEX cases_post_referred ON cases(post, opened_at, id) WHERE status = 'referred';
CREATE INDEX cases_state_authority ON cases(owner_state, opened_at, id) WHERE status = 'awaiting_authority';
CREATE INDEX cases_post_authority ON cases(post, opened_at, id) WHERE status = 'awaiting_authority';
-- Detentions with a first-contact deadline (the overdue box), in page order.
CREATE INDEX cases_state_contact_due ON cases(owner_state, opened_at, id) WHERE first_contact_due_at IS NOT NULL;
CREATE INDEX cases_post_contact_due ON cases(post, opened_at, id) WHERE first_contact_due_at IS NOT NULL;
-- An officer's cases in page order, with the post and status in the index so the post
-- scope's two branches and the open-status filter are checked without reading the rows.
DROP INDEX cases_officer;
CREATE INDEX cases_officer ON cases(assigned_officer, opened_at, id, post, status) WHERE assigned_officer IS NOT NULL;
