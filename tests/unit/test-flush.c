/*
 * test-flush.c - unit tests for common/flush.c on a real socketpair.
 *
 * Bytes queued in a loop turn must reach the peer at the turn's end
 * without the bufferevent waiting for EV_WRITE; several queued in one
 * turn must leave in one write; what a full socket does not take must be
 * handed to EV_WRITE, arrive in order once the peer reads, and then give
 * the socket back to direct writes; a detached flusher must not write.
 */
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check.h"
#include "flush.h"

static struct flusher	fl;
static short		events_seen;
static int		libevent_writes;	/* write_cb calls */

static void
write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)arg;
	libevent_writes++;
	flush_drained(&fl);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	events_seen |= what;
}

/* Everything readable on fd now, appended to out; returns the count. */
static size_t
drain_peer(int fd, unsigned char *out, size_t cap)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < cap && (n = read(fd, out + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

/* Loop until nothing is active: the flush, and what it hands on. */
static void
turn(struct event_base *base)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

int
main(void)
{
	struct event_base	*base;
	struct bufferevent	*bev;
	unsigned char		*big, *got;
	int			 sp[2], i, ok;
	size_t			 n, total, bigsz = 4 * 1024 * 1024;
	char			 small[64];

	/* As in chatd: a write to a closed peer is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    fcntl(sp[1], F_SETFL, O_NONBLOCK) == -1) {
		fprintf(stderr, "test-flush: setup failed\n");
		return 1;
	}
	bev = bufferevent_socket_new(base, sp[0], BEV_OPT_CLOSE_ON_FREE);
	check(bev != NULL, "bufferevent", "socket bufferevent");
	bufferevent_setcb(bev, NULL, write_cb, event_cb, NULL);
	check(flush_attach(&fl, bev) == 0, "attach", "flush_attach");
	check(!(bufferevent_get_enabled(bev) & EV_WRITE), "attach",
	    "EV_WRITE is off once attached");
	/* Else a full socket would block the whole process. */
	check(fcntl(sp[0], F_GETFL) & O_NONBLOCK, "attach",
	    "the socket is non-blocking once attached");

	/* Three frames in one turn: one write, all there after the turn. */
	for (i = 0; i < 3; i++) {
		snprintf(small, sizeof(small), "frame-%d;", i);
		bufferevent_write(bev, small, strlen(small));
		flush_later(&fl);
	}
	got = calloc(1, bigsz + 1);
	big = malloc(bigsz);
	if (got == NULL || big == NULL)
		return 1;
	n = drain_peer(sp[1], got, bigsz);
	check(n == 0, "flush_later", "nothing written before the turn ends");
	turn(base);
	n = drain_peer(sp[1], got, bigsz);
	got[n] = '\0';
	check(strcmp((char *)got, "frame-0;frame-1;frame-2;") == 0,
	    "flush_later", "three frames arrive after one turn, in order "
	    "(got \"%s\")", got);
	check(!(bufferevent_get_enabled(bev) & EV_WRITE) &&
	    libevent_writes == 0, "flush_later", "written directly, not by "
	    "libevent (%d writes by libevent)", libevent_writes);

	/* More than the socket buffer takes: EV_WRITE finishes it. */
	for (n = 0; n < bigsz; n++)
		big[n] = (unsigned char)(n * 7 + (n >> 13));
	bufferevent_write(bev, big, bigsz);
	flush_later(&fl);
	turn(base);
	check(bufferevent_get_enabled(bev) & EV_WRITE, "full socket",
	    "the rest waits for EV_WRITE");
	total = 0;
	for (i = 0; i < 100000 && total < bigsz; i++) {
		total += drain_peer(sp[1], got + total, bigsz - total);
		turn(base);
	}
	check(total == bigsz && memcmp(got, big, bigsz) == 0, "full socket",
	    "all %zu bytes arrive in order (got %zu)", bigsz, total);
	turn(base);
	check(!(bufferevent_get_enabled(bev) & EV_WRITE) &&
	    libevent_writes > 0, "full socket", "libevent wrote the rest, "
	    "then direct writes again");

	/* Detached before its turn: the bytes stay queued. */
	bufferevent_write(bev, "late", 4);
	flush_later(&fl);
	flush_detach(&fl);
	turn(base);
	n = drain_peer(sp[1], got, bigsz);
	check(n == 0, "detach", "a detached flusher writes nothing (%zu)", n);
	ok = evbuffer_get_length(bufferevent_get_output(bev)) == 4;
	check(ok, "detach", "the bytes are still queued");

	/* Handed over: libevent writes. */
	check(flush_attach(&fl, bev) == 0, "handover", "re-attach");
	check(flush_handover(&fl) == 0, "handover", "flush_handover");
	turn(base);
	n = drain_peer(sp[1], got, bigsz);
	check(n == 4 && memcmp(got, "late", 4) == 0, "handover",
	    "libevent writes after a handover (%zu)", n);

	/* An error goes to EV_WRITE, where libevent reports it to the
	 * owner's event callback. */
	check(flush_attach(&fl, bev) == 0, "error", "re-attach");
	close(sp[1]);
	bufferevent_write(bev, "x", 1);
	flush_later(&fl);
	turn(base);
	check((events_seen & (BEV_EVENT_ERROR | BEV_EVENT_WRITING)) ==
	    (BEV_EVENT_ERROR | BEV_EVENT_WRITING), "error",
	    "a failed write reaches the event callback as a write error "
	    "(events 0x%x)", events_seen);

	flush_detach(&fl);
	bufferevent_free(bev);
	event_base_free(base);
	free(big);
	free(got);
	return check_report("test-flush");
}
