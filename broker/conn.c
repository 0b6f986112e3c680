/*
 * conn.c - the registry of WebSocket connections, keyed by conn_key().
 */
#include <stdlib.h>

#include "broker.h"
#include "conn.h"
#include "hmap.h"
#include "log.h"
#include "presence.h"
#include "room.h"
#include "typing.h"

static struct hmap	conns;

static uint64_t	serials;

struct bconn *
conn_new(int worker, uint32_t id, uint64_t user, uint64_t room)
{
	struct bconn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_key = conn_key(worker, id);
	c->c_worker = worker;
	c->c_id = id;
	c->c_user = user;
	c->c_room_id = room;
	c->c_opened_ms = now_ms();
	c->c_serial = ++serials;
	if (hmap_get(&conns, c->c_key) != NULL ||
	    hmap_put(&conns, c->c_key, c) == -1) {
		free(c);
		return NULL;
	}
	return c;
}

struct bconn *
conn_get(uint64_t key)
{
	return hmap_get(&conns, key);
}

void
conn_free(struct bconn *c)
{
	hmap_del(&conns, c->c_key);
	if (c->c_state == BC_OPEN) {
		room_del_conn(c->c_room, c);
		typing_conn_closed(c);
		presence_conn_close(c);
	}
	free(c);
}

void
conn_drop_worker(int worker)
{
	struct bconn	**dead;
	uint64_t	  key;
	void		 *v;
	size_t		  i = 0, n = 0;

	/* Collect first: freeing while scanning would shift the table. */
	if ((dead = calloc(hmap_count(&conns) + 1, sizeof(*dead))) == NULL)
		fatal("%s: calloc", __func__);
	while (hmap_next(&conns, &i, &key, &v))
		if (((struct bconn *)v)->c_worker == worker)
			dead[n++] = v;
	for (i = 0; i < n; i++)
		conn_free(dead[i]);
	free(dead);
}

size_t
conn_count(void)
{
	return hmap_count(&conns);
}

struct bconn *
conn_next(size_t *iter)
{
	uint64_t	 key;
	void		*v;

	if (!hmap_next(&conns, iter, &key, &v))
		return NULL;
	return v;
}
