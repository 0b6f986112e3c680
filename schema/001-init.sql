-- chatd schema, version 1: users, rooms, messages.
-- Users and rooms belong to the application chatd serves; chatd reads them
-- and writes only messages, presence (last_seen) and the version row.

CREATE TABLE IF NOT EXISTS schema_version (
	version		INT UNSIGNED NOT NULL PRIMARY KEY,
	applied_at	DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS users (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	username	VARCHAR(150) NOT NULL,
	display_name	VARCHAR(255) NOT NULL DEFAULT '',
	-- JSON array of avatar URLs, served as "imageUrls"
	image_urls	TEXT NOT NULL DEFAULT '[]',
	last_seen	DATETIME(3) NULL,
	created_at	DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	UNIQUE KEY users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS rooms (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	participant1	BIGINT UNSIGNED NOT NULL,
	participant2	BIGINT UNSIGNED NOT NULL,
	-- the spec's "match"; MATCH is a reserved word in SQL
	match_id	BIGINT UNSIGNED NULL,
	created_at	DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	KEY rooms_participant1 (participant1),
	KEY rooms_participant2 (participant2),
	CONSTRAINT rooms_p1 FOREIGN KEY (participant1) REFERENCES users (id),
	CONSTRAINT rooms_p2 FOREIGN KEY (participant2) REFERENCES users (id),
	CONSTRAINT rooms_distinct CHECK (participant1 <> participant2)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Ids are assigned by the broker, not AUTO_INCREMENT: delivery order is
-- decided before the INSERT is issued.
CREATE TABLE IF NOT EXISTS messages (
	id		BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	room_id		BIGINT UNSIGNED NOT NULL,
	sender_id	BIGINT UNSIGNED NOT NULL,
	content		TEXT NOT NULL,
	-- 1 sent, 2 delivered, 3 read (0 sending and 4 failed never reach disk)
	status		TINYINT UNSIGNED NOT NULL DEFAULT 1,
	temp_id		VARCHAR(64) NULL,
	sent_at		DATETIME(3) NULL,
	delivered_at	DATETIME(3) NULL,
	read_at		DATETIME(3) NULL,
	created_at	DATETIME(3) NOT NULL,
	updated_at	DATETIME(3) NOT NULL,
	KEY messages_room (room_id, id),
	UNIQUE KEY messages_sender_temp (sender_id, temp_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO schema_version (version) VALUES (1);
