/*
 * room.h - the broker's cache of users and rooms, and which connections
 * are in each room.  Users and rooms are created by the application chatd
 * serves, straight in MariaDB, so a miss here is looked up there (on the
 * read connection, without blocking) and kept.  Membership decisions
 * ("may this user join this room?") are pure functions of the cache.
 */
#ifndef CHATD_ROOM_H
#define CHATD_ROOM_H

#include <stdint.h>

struct bconn;

struct user {
	uint64_t	 u_id;
	char		*u_username;
	char		*u_display_name;
	unsigned	 u_nconns;	/* live connections, all rooms, all workers */
	int64_t		 u_last_seen_ms;	/* 0 = never connected */
	int64_t		 u_names_ms;	/* when the names were read */
	/* The cached rooms the user is a participant of. */
	struct room	**u_rooms;
	unsigned	 u_nrooms, u_rooms_cap;
};

struct room {
	uint64_t	 r_id;
	uint64_t	 r_p1, r_p2;
	uint64_t	 r_match;	/* 0 = none */
	int64_t		 r_created_ms;
	struct bconn	*r_conns;	/* list through c_room_next */
	unsigned	 r_nconns;
	/* When each participant's typing state expires (ms), in the order
	 * r_p1, r_p2; 0 = not typing. */
	int64_t		 r_typing_until[2];
	/* What the room was last told of each, and when (typing.c). */
	int		 r_typing_told[2];
	int64_t		 r_typing_told_ms[2];
};

/* found: 1 = loaded, 0 = no such row, -1 = database error. */
typedef void	room_load_cb(int found, void *arg);

struct user	*user_get(uint64_t id);
struct room	*room_get(uint64_t id);
void		 user_load(uint64_t id, room_load_cb *, void *arg);
/* The names read again for a cached user (a rename by the application);
 * nothing happens for a user not cached. */
void		 user_rename(uint64_t id, const char *username,
		    const char *display);
void		 room_load(uint64_t id, room_load_cb *, void *arg);
int		 room_is_participant(const struct room *, uint64_t user_id);
void		 room_add_conn(struct room *, struct bconn *);
void		 room_del_conn(struct room *, struct bconn *);
/* Call fn for every cached room u is a participant of. */
void		 user_foreach_room(const struct user *,
		    void (*fn)(struct room *, void *), void *arg);
/* Bitmask of workers that hold at least one connection in the room. */
uint64_t	 room_workers(const struct room *);

#endif
