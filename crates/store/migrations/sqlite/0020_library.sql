-- The network's library (issue 8): items with their metadata as JSON, and the search's terms
-- (folded words and their Spanish, English and French stems) for each item.
CREATE TABLE net_library (
    id BLOB PRIMARY KEY,
    version INTEGER NOT NULL,
    item_date TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX net_library_date ON net_library(item_date);
CREATE TABLE net_library_terms (
    term TEXT NOT NULL,
    item_id BLOB NOT NULL,
    PRIMARY KEY (term, item_id)
);
CREATE INDEX net_library_terms_item ON net_library_terms(item_id);
