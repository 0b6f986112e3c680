-- chatd schema, version 2: temp_id compares byte for byte.
-- A client's temp_ids are opaque: "A1" and "a1" are two messages, and a
-- binary collation is also far cheaper to maintain in the unique key that
-- de-duplicates retries than a Unicode one.

ALTER TABLE messages MODIFY temp_id VARCHAR(64)
	CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;

INSERT IGNORE INTO schema_version (version) VALUES (2);
