-- Files of the library's items (issue 8): what each is, whether its text is searched, the text
-- itself (the item's search terms are made from it), and the content in the parts it travels
-- in between nodes (a node may hold some parts before the others arrive).
CREATE TABLE net_library_files (
    id BLOB PRIMARY KEY,
    item_id BLOB NOT NULL,
    filename TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    parts INTEGER NOT NULL,
    text_status TEXT NOT NULL,
    text_note TEXT,
    body_text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX net_library_files_item ON net_library_files(item_id);
CREATE TABLE net_library_file_parts (
    file_id BLOB NOT NULL,
    idx INTEGER NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (file_id, idx)
);
-- The meeting and the working group an item came from, for their pages' lists of documents.
ALTER TABLE net_library ADD COLUMN meeting_id BLOB;
ALTER TABLE net_library ADD COLUMN group_id BLOB;
CREATE INDEX net_library_meeting ON net_library(meeting_id);
CREATE INDEX net_library_group ON net_library(group_id);
-- At the hub: files a node's user sent, while their parts arrive (the parts themselves wait in
-- net_library_file_parts); what is sent and who sent it, as JSON.
CREATE TABLE net_library_uploads (
    file_id BLOB PRIMARY KEY,
    sender TEXT NOT NULL,
    parts INTEGER NOT NULL,
    data TEXT NOT NULL,
    received_at TEXT NOT NULL
);
