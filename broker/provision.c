/*
 * provision.c - chatctl provision: N fresh users and M one-to-one rooms
 * in bulk, answered with one fixture document (JSON) that load tools and
 * external test suites read.
 *
 * Users get a random prefix, so their usernames are new and a second run
 * never collides with the first.  Rows go in as multi-row INSERTs of
 * BATCH rows with RETURNING, which gives each row's id in the order the
 * rows were written, whatever the auto-increment lock mode.  The document
 * is then written in slices (a few thousand tokens per loop turn) and
 * sent as MSG_CTL_DATA chunks, so the broker keeps serving chat while it
 * signs 100000 tokens, and a slow reader only makes the slices wait.
 *
 * Room j joins users (i, i + d) of the first K users, where d = 1 + j / K
 * and i runs over the even indexes, then the odd ones: the first K / 2
 * rooms share no user, and no pair repeats while d < K / 2.  K is N - 1,
 * so the last user is in no room (a fixture wants one, for "not a
 * participant" cases).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "broker.h"
#include "buf.h"
#include "control.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "mint.h"
#include "wire.h"

#define BATCH		5000		/* rows per INSERT */
#define MAX_USERS	1000000
#define MAX_ROOMS	1000000
#define TOKENS_PER_TURN	2000
#define CHUNK		(256 * 1024)	/* bytes per MSG_CTL_DATA */
#define PENDING_MAX	(8 * 1024 * 1024)	/* unread by chatctl: wait */
#define TOKEN_TTL	(30L * 86400)
#define MATCH_BASE	1000

struct prov {
	uint64_t	 p_ctl;
	uint32_t	 p_nusers, p_nrooms, p_k;
	char		 p_prefix[16];
	char		 p_base[256];
	uint64_t	*p_uids;
	uint64_t	*p_rids;
	uint32_t	 p_done;	/* rows written in this phase */
	int		 p_phase;	/* 0 users, 1 rooms, 2 output */
	uint32_t	 p_out;		/* users, then rooms, rendered */
	struct jw	 p_j;
	struct event	*p_ev;
};

static void	prov_next(struct prov *);

static void
prov_free(struct prov *p)
{
	if (p->p_ev != NULL)
		event_free(p->p_ev);
	jw_free(&p->p_j);
	free(p->p_uids);
	free(p->p_rids);
	free(p);
}

/* Fail the request (if its client is still there) and forget it. */
static void
prov_fail(struct prov *p, const char *fmt, const char *arg)
{
	struct ctl	*c;

	if ((c = ctl_get(p->p_ctl)) != NULL)
		ctl_fail(c, fmt, arg, p->p_prefix);
	log_warnx("provision %s: failed", p->p_prefix);
	prov_free(p);
}

static uint32_t
max_rooms(uint32_t k)
{
	if (k < 2)
		return 0;
	if (k == 2)
		return 1;
	return (uint32_t)((uint64_t)k * ((k - 1) / 2) > MAX_ROOMS ?
	    MAX_ROOMS : (uint64_t)k * ((k - 1) / 2));
}

/* The user indexes room j joins. */
static void
room_pair(const struct prov *p, uint32_t j, uint32_t *a, uint32_t *b)
{
	uint32_t	k = p->p_k, d = 1 + j / k, r = j % k;
	uint32_t	half = (k + 1) / 2;
	uint32_t	i = r < half ? 2 * r : 2 * (r - half) + 1;

	*a = i;
	*b = (i + d) % k;
}

static void
prov_sql_cb(MYSQL_RES *res, unsigned err, const char *errstr,
    unsigned long long affected, void *arg)
{
	struct prov	*p = arg;
	MYSQL_ROW	 row;
	uint32_t	 a, b, idx, want;
	const char	*us;

	(void)affected;
	if (ctl_get(p->p_ctl) == NULL) {
		prov_free(p);		/* chatctl gave up */
		return;
	}
	if (err != 0) {
		prov_fail(p, "database: %s (rows so far have usernames "
		    "starting with %s_)", errstr);
		return;
	}
	want = p->p_phase ? p->p_nrooms : p->p_nusers;
	if (want - p->p_done > BATCH)
		want = p->p_done + BATCH;
	while ((row = db_row(res)) != NULL) {
		if (p->p_phase == 0) {
			us = row[1] ? strrchr(row[1], '_') : NULL;
			idx = us ? (uint32_t)strtoul(us + 1, NULL, 10) : 0;
			if (idx == 0 || idx > p->p_nusers)
				goto bad;
			p->p_uids[idx - 1] = strtoull(row[0], NULL, 10);
		} else {
			if (p->p_done >= p->p_nrooms)
				goto bad;
			room_pair(p, p->p_done, &a, &b);
			if (row[1] == NULL || row[2] == NULL ||
			    strtoull(row[1], NULL, 10) != p->p_uids[a] ||
			    strtoull(row[2], NULL, 10) != p->p_uids[b])
				goto bad;
			p->p_rids[p->p_done] = strtoull(row[0], NULL, 10);
		}
		p->p_done++;
	}
	/* Every row of the batch, and only those, came back. */
	if (p->p_done != want)
		goto bad;
	prov_next(p);
	return;
bad:
	prov_fail(p, "%s: MariaDB returned rows out of order (prefix %s)",
	    "provision");
}

/* Append one VALUES row of the current phase to b. */
static void
add_row(struct prov *p, struct buf *b, uint32_t i)
{
	char		row[160];
	uint32_t	a, c;
	int		n;

	if (p->p_phase == 0)
		n = snprintf(row, sizeof(row), "%s('%s_%" PRIu32 "', "
		    "'Test User %" PRIu32 "')", i % BATCH ? "," : "",
		    p->p_prefix, i + 1, i + 1);
	else {
		room_pair(p, i, &a, &c);
		n = snprintf(row, sizeof(row), "%s(%" PRIu64 ", %" PRIu64
		    ", %" PRIu32 ")", i % BATCH ? "," : "", p->p_uids[a],
		    p->p_uids[c], MATCH_BASE + i + 1);
	}
	buf_add(b, row, (size_t)n);
}

/* Queue the next INSERT, or move on to the next phase. */
static void
prov_insert(struct prov *p)
{
	static const char	users[] = "INSERT INTO users (username, "
	    "display_name) VALUES ";
	static const char	rooms[] = "INSERT INTO rooms (participant1, "
	    "participant2, match_id) VALUES ";
	uint32_t		total = p->p_phase ? p->p_nrooms : p->p_nusers;
	uint32_t		i, end;
	struct buf		b;

	buf_init(&b);
	if (p->p_phase == 0)
		buf_add(&b, users, sizeof(users) - 1);
	else
		buf_add(&b, rooms, sizeof(rooms) - 1);
	end = p->p_done + BATCH < total ? p->p_done + BATCH : total;
	for (i = p->p_done; i < end; i++)
		add_row(p, &b, i);
	if (p->p_phase == 0) {
		static const char	ret[] = " RETURNING id, username";
		buf_add(&b, ret, sizeof(ret) - 1);
	} else {
		static const char	ret[] = " RETURNING id, participant1, "
		    "participant2";
		buf_add(&b, ret, sizeof(ret) - 1);
	}
	if (b.b_err || db_query(ctl_db(), (char *)b.b_data, b.b_len,
	    prov_sql_cb, p) == -1)
		prov_fail(p, "%s (prefix %s)", "out of memory");
	buf_free(&b);
}

/* Send what the writer holds, keeping its nesting state. */
static void
prov_flush(struct prov *p, struct ctl *c)
{
	if (p->p_j.len == 0)
		return;
	ctl_data(c, p->p_j.buf, p->p_j.len);
	p->p_j.len = 0;
	p->p_j.buf[0] = '\0';
}

static void
prov_head(struct prov *p)
{
	struct jw	*j = &p->p_j;
	char		 ws[sizeof(p->p_base) + 2];

	/* http -> ws, https -> wss */
	snprintf(ws, sizeof(ws), "ws%s", p->p_base + 4);
	jw_obj_open(j);
	jw_kcstr(j, "http_base", p->p_base);
	jw_kcstr(j, "ws_base", ws);
	jw_kcstr(j, "jwt_secret", broker->b_conf.jwt_secret);
	jw_kcstr(j, "jwt_alg", broker->b_conf.jwt_algorithm);
	jw_kcstr(j, "user_id_claim", broker->b_conf.jwt_user_claim);
	jw_key(j, "users");
	jw_arr_open(j);
}

/* One slice of the document; 1 = more to come. */
static int
prov_render(struct prov *p, struct ctl *c)
{
	struct jw	*j = &p->p_j;
	const char	*why;
	char		*tok, name[48], display[48];
	uint32_t	 n = 0, r, a, b;

	for (; p->p_out < p->p_nusers && n < TOKENS_PER_TURN; p->p_out++, n++) {
		if ((tok = mint_token(&broker->b_conf, p->p_uids[p->p_out],
		    TOKEN_TTL, &why)) == NULL) {
			ctl_fail(c, "cannot mint tokens: %s", why);
			return -1;
		}
		snprintf(name, sizeof(name), "%s_%" PRIu32, p->p_prefix,
		    p->p_out + 1);
		snprintf(display, sizeof(display), "Test User %" PRIu32,
		    p->p_out + 1);
		jw_obj_open(j);
		jw_kuint(j, "id", p->p_uids[p->p_out]);
		jw_kcstr(j, "username", name);
		jw_kcstr(j, "display_name", display);
		jw_kcstr(j, "token", tok);
		jw_obj_close(j);
		free(tok);
		if (j->len >= CHUNK)
			prov_flush(p, c);
	}
	if (p->p_out < p->p_nusers)
		return 1;
	if (p->p_out == p->p_nusers) {
		jw_arr_close(j);
		jw_key(j, "rooms");
		jw_arr_open(j);
	}
	for (; (r = p->p_out - p->p_nusers) < p->p_nrooms &&
	    n < 10 * TOKENS_PER_TURN; p->p_out++, n++) {
		room_pair(p, r, &a, &b);
		jw_obj_open(j);
		jw_kuint(j, "id", p->p_rids[r]);
		jw_kuint(j, "participant1", p->p_uids[a]);
		jw_kuint(j, "participant2", p->p_uids[b]);
		jw_kuint(j, "match", MATCH_BASE + r + 1);
		jw_obj_close(j);
		if (j->len >= CHUNK)
			prov_flush(p, c);
	}
	if (p->p_out - p->p_nusers < p->p_nrooms)
		return 1;
	jw_arr_close(j);
	jw_obj_close(j);
	if (j->err) {
		ctl_fail(c, "out of memory");
		return -1;
	}
	prov_flush(p, c);
	return 0;
}

static void
prov_slice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct prov	*p = arg;
	struct ctl	*c;
	struct timeval	 now = { 0, 0 }, later = { 0, 10000 };
	int		 rv;

	(void)fd;
	(void)what;
	if ((c = ctl_get(p->p_ctl)) == NULL) {
		prov_free(p);
		return;
	}
	if (ctl_pending(c) > PENDING_MAX) {
		evtimer_add(p->p_ev, &later);
		return;
	}
	if ((rv = prov_render(p, c)) == 1) {
		evtimer_add(p->p_ev, &now);
		return;
	}
	if (rv == 0) {
		ctl_end(c);
		log_info("provision %s: %" PRIu32 " users, %" PRIu32 " rooms",
		    p->p_prefix, p->p_nusers, p->p_nrooms);
	}
	prov_free(p);
}

static void
prov_next(struct prov *p)
{
	struct timeval	now = { 0, 0 };

	if (p->p_phase == 0 && p->p_done == p->p_nusers) {
		p->p_phase = 1;
		p->p_done = 0;
	}
	if (p->p_phase == 1 && p->p_done == p->p_nrooms) {
		p->p_phase = 2;
		p->p_out = 0;
		prov_head(p);
		if ((p->p_ev = evtimer_new(broker->b_base, prov_slice_cb, p))
		    == NULL) {
			prov_fail(p, "%s (prefix %s)", "out of memory");
			return;
		}
		evtimer_add(p->p_ev, &now);
		return;
	}
	prov_insert(p);
}

/* "http://HOST:PORT" of the first listen address ("https://" if it is
 * a TLS listener). */
static void
default_base(char *out, size_t outsz)
{
	const struct listen_addr	*la = &broker->b_conf.listen[0];
	const char			*h = la->la_host;
	const char			*scheme = la->la_tls ? "https" : "http";

	if (h[0] == '\0' || strcmp(h, "0.0.0.0") == 0)
		h = "127.0.0.1";
	else if (strcmp(h, "::") == 0)
		h = "::1";
	snprintf(out, outsz, strchr(h, ':') ? "%s://[%s]:%s" : "%s://%s:%s",
	    scheme, h, la->la_port);
}

static int
prov_base(struct prov *p, const struct str *base)
{
	size_t	n = base->len;

	if (n == 0) {
		default_base(p->p_base, sizeof(p->p_base));
		return 0;
	}
	while (n > 0 && base->s[n - 1] == '/')
		n--;
	if (n >= sizeof(p->p_base) || memchr(base->s, '\0', n) != NULL ||
	    (strncmp(base->s, "http://", 7) != 0 &&
	    strncmp(base->s, "https://", 8) != 0) ||
	    n <= 8)
		return -1;
	memcpy(p->p_base, base->s, n);
	p->p_base[n] = '\0';
	return 0;
}

int
ctl_provision(struct ctl *c, struct wire_msg *m)
{
	struct prov	*p;
	struct str	 base;
	uint32_t	 nu, nr;
	unsigned char	 rnd[4];

	if (rd_u32(&m->payload, &nu) == -1 || rd_u32(&m->payload, &nr) == -1 ||
	    rd_str(&m->payload, &base) == -1 || rd_left(&m->payload) != 0)
		return -1;
	if (nu > MAX_USERS || nr > MAX_ROOMS) {
		ctl_fail(c, "at most %d users and %d rooms at a time",
		    MAX_USERS, MAX_ROOMS);
		return 0;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		ctl_fail(c, "out of memory");
		return 0;
	}
	if (prov_base(p, &base) == -1) {
		ctl_fail(c, "base URL must start with http:// or https://");
		free(p);
		return 0;
	}
	p->p_ctl = ctl_id(c);
	p->p_nusers = nu;
	p->p_nrooms = nr;
	p->p_k = nu >= 3 ? nu - 1 : nu;
	if (nr > max_rooms(p->p_k)) {
		ctl_fail(c, "%" PRIu32 " users make at most %" PRIu32 " rooms "
		    "of two different users", nu, max_rooms(p->p_k));
		free(p);
		return 0;
	}
	jw_init(&p->p_j);
	if ((p->p_uids = calloc(nu + 1, sizeof(*p->p_uids))) == NULL ||
	    (p->p_rids = calloc(nr + 1, sizeof(*p->p_rids))) == NULL) {
		ctl_fail(c, "out of memory");
		prov_free(p);
		return 0;
	}
	arc4random_buf(rnd, sizeof(rnd));
	snprintf(p->p_prefix, sizeof(p->p_prefix), "p%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3]);
	log_info("provision %s: %" PRIu32 " users, %" PRIu32 " rooms",
	    p->p_prefix, nu, nr);
	prov_next(p);
	return 0;
}
