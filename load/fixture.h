/*
 * fixture.h - read the fixture JSON that "chatctl provision" prints:
 * the server's URLs, users with their tokens, and 1:1 rooms.
 */
#ifndef CHATD_FIXTURE_H
#define CHATD_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

struct fx_user {
	uint64_t	 id;
	char		*token;
};

struct fx_room {
	uint64_t	 id;
	uint64_t	 p1, p2;
};

struct fixture {
	char		*ws_base;
	char		*http_base;
	struct fx_user	*users;
	size_t		 nusers;
	struct fx_room	*rooms;
	size_t		 nrooms;
};

/* 0 on success; -1 with a reason in err. */
int		 fixture_load(struct fixture *, const char *path, char *err,
		    size_t errsz);
const char	*fixture_token(const struct fixture *, uint64_t user_id);

#endif
