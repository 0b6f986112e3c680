/*
 * typing.c - typing indicators and their expiry.
 *
 * One timer serves every room: it runs only while someone types, and
 * sweeps the rooms with a typing participant every SWEEP_MS.  An expiry
 * is therefore up to SWEEP_MS late, which nobody watching a typing
 * indicator notices.
 *
 * A participant's changes are told at most once per TELL_GAP_MS: one
 * that comes sooner waits for the sweep, which tells the state as it is
 * by then.  A client toggling as fast as it can thus costs its peer a
 * few frames a second, and the last state always arrives.
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
#define TELL_GAP_MS	200
#define TELL_SWEEP_MS	50	/* sweeps while a change waits to be told */

static struct hmap	 typing_rooms;	/* room id -> room, someone typing */
static struct event	*sweep_ev;
static int		 soon;		/* the sweep is armed TELL_SWEEP_MS */

static int
slot_of(const struct room *r, uint64_t user)
{
	return r->r_p1 == user ? 0 : 1;
}

static void
announce(struct room *r, uint64_t user, int on)
{
	struct user	*u = user_get(user);
	struct buf	 b;

	buf_init(&b);
	buf_add_u64(&b, user);
	buf_add_u8(&b, on ? 1 : 0);
	buf_add_cstr(&b, u ? u->u_username : "");
	fanout_room(r, MSG_TYPING_UPDATE, &b);
	buf_free(&b);
	r->r_typing_told[slot_of(r, user)] = on;
	r->r_typing_told_ms[slot_of(r, user)] = mono_ms();
}

/* Tell slot s's state if it differs from what was told and the gap has
 * passed; 1 if something is still to tell. */
static int
tell(struct room *r, int s, int64_t now)
{
	int	on = r->r_typing_until[s] != 0;

	if (on == r->r_typing_told[s])
		return 0;
	if (now - r->r_typing_told_ms[s] < TELL_GAP_MS)
		return 1;
	announce(r, s == 0 ? r->r_p1 : r->r_p2, on);
	return 0;
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
	int64_t		  now = mono_ms();
	int		  s, waits, pending = 0;

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
		waits = 0;
		for (s = 0; s < 2; s++) {
			if (r->r_typing_until[s] != 0 &&
			    r->r_typing_until[s] <= now)
				r->r_typing_until[s] = 0;
			waits |= tell(r, s, now);
		}
		pending |= waits;
		if (!waits && r->r_typing_until[0] == 0 &&
		    r->r_typing_until[1] == 0)
			hmap_del(&typing_rooms, r->r_id);
	}
	free(due);
	soon = pending;
	if (pending)
		tv.tv_usec = TELL_SWEEP_MS * 1000;
	if (hmap_count(&typing_rooms) > 0)
		evtimer_add(sweep_ev, &tv);
}

static void
watch(struct room *r, int pending)
{
	struct timeval	tv = { 0, (pending ? TELL_SWEEP_MS : SWEEP_MS) * 1000 };

	if (sweep_ev == NULL &&
	    (sweep_ev = evtimer_new(broker->b_base, sweep_cb, NULL)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	if (hmap_get(&typing_rooms, r->r_id) == NULL &&
	    hmap_put(&typing_rooms, r->r_id, r) == -1)
		fatal("%s: out of memory", __func__);
	/* A change waiting to be told brings the next sweep forward. */
	if (!evtimer_pending(sweep_ev, NULL) || (pending && !soon)) {
		evtimer_add(sweep_ev, &tv);
		soon = pending;
	}
}

void
typing_set(struct bconn *c, int on)
{
	struct room	*r = c->c_room;
	int		 s = slot_of(r, c->c_user), was;

	was = r->r_typing_until[s] != 0;
	if (on) {
		/* A repeated typing_on only keeps the state alive. */
		r->r_typing_until[s] = mono_ms() +
		    (int64_t)broker->b_conf.typing_timeout * 1000;
		watch(r, 0);
	} else if (was)
		r->r_typing_until[s] = 0;
	if (tell(r, s, mono_ms()))
		watch(r, 1);	/* the sweep tells it */
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
