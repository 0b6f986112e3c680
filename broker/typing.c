/*
 * typing.c - typing indicators and their expiry.
 *
 * One timer serves every room: it runs only while someone types, and
 * sweeps the rooms with a typing participant every SWEEP_MS.  An expiry
 * is therefore up to SWEEP_MS late, which nobody watching a typing
 * indicator notices.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "broker.h"
#include "wire.h"
#include "buf.h"
#include "conn.h"
#include "fanout.h"
#include "hmap.h"
#include "log.h"
#include "room.h"
#include "typing.h"

#define SWEEP_MS	250

static struct hmap	 typing_rooms;	/* room id -> room, someone typing */
static struct event	*sweep_ev;

static int
slot_of(const struct room *r, uint64_t user)
{
	return r->r_p1 == user ? 0 : 1;
}

static void
announce(const struct room *r, uint64_t user, int on)
{
	struct user	*u = user_get(user);
	struct buf	 b;

	buf_init(&b);
	buf_add_u64(&b, user);
	buf_add_u8(&b, on ? 1 : 0);
	buf_add_cstr(&b, u ? u->u_username : "");
	fanout_room(r, MSG_TYPING_UPDATE, &b);
	buf_free(&b);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct room	**due;
	struct room	 *r;
	struct timeval	  tv = { 0, SWEEP_MS * 1000 };
	uint64_t	  key;
	void		 *v;
	size_t		  i = 0, n = 0, k;
	int64_t		  now = now_ms();
	int		  s;

	(void)fd;
	(void)what;
	(void)arg;
	/* Collect first: the map must not change while it is walked. */
	if ((due = calloc(hmap_count(&typing_rooms) + 1, sizeof(*due))) == NULL)
		fatal("%s: calloc", __func__);
	while (hmap_next(&typing_rooms, &i, &key, &v))
		due[n++] = v;
	for (k = 0; k < n; k++) {
		r = due[k];
		for (s = 0; s < 2; s++)
			if (r->r_typing_until[s] != 0 &&
			    r->r_typing_until[s] <= now) {
				r->r_typing_until[s] = 0;
				announce(r, s == 0 ? r->r_p1 : r->r_p2, 0);
			}
		if (r->r_typing_until[0] == 0 && r->r_typing_until[1] == 0)
			hmap_del(&typing_rooms, r->r_id);
	}
	free(due);
	if (hmap_count(&typing_rooms) > 0)
		evtimer_add(sweep_ev, &tv);
}

static void
watch(struct room *r)
{
	struct timeval	tv = { 0, SWEEP_MS * 1000 };

	if (sweep_ev == NULL &&
	    (sweep_ev = evtimer_new(broker->b_base, sweep_cb, NULL)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	if (hmap_get(&typing_rooms, r->r_id) == NULL &&
	    hmap_put(&typing_rooms, r->r_id, r) == -1)
		fatal("%s: out of memory", __func__);
	if (!evtimer_pending(sweep_ev, NULL))
		evtimer_add(sweep_ev, &tv);
}

void
typing_set(struct bconn *c, int on)
{
	struct room	*r = c->c_room;
	int		 s = slot_of(r, c->c_user), was;

	was = r->r_typing_until[s] != 0;
	if (on) {
		/* A repeated typing_on only keeps the state alive. */
		r->r_typing_until[s] = now_ms() +
		    (int64_t)broker->b_conf.typing_timeout * 1000;
		watch(r);
		if (!was)
			announce(r, c->c_user, 1);
	} else if (was) {
		r->r_typing_until[s] = 0;
		announce(r, c->c_user, 0);
	}
}

void
typing_conn_closed(struct bconn *c)
{
	struct bconn	*o;
	struct room	*r = c->c_room;

	for (o = r->r_conns; o != NULL; o = o->c_room_next)
		if (o != c && o->c_user == c->c_user)
			return;		/* still there on another device */
	if (r->r_typing_until[slot_of(r, c->c_user)] != 0)
		typing_set(c, 0);
}
