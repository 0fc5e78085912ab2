-- Each search term carries its case's post, so an officer's search counts and reads a word's
-- cases at their posts inside the search index (an index-only scan: the post is included in
-- the key's index), without reading every case of the word's state range. Keep in step with
-- ../sqlite/0022_case_search_post.sql.
ALTER TABLE case_search ADD COLUMN post TEXT;
UPDATE case_search s SET post = c.post FROM cases c WHERE c.id = s.case_id AND c.post IS NOT NULL;
ALTER TABLE case_search DROP CONSTRAINT case_search_pkey;
ALTER TABLE case_search ADD PRIMARY KEY (owner_state, term, case_id) INCLUDE (post);
