/*
 * link.h - the worker's side of the broker <-> worker protocol: the
 * dispatcher for frames from the broker.  Frames to the broker are built
 * where they arise (session.c).
 */
#ifndef CHATD_WLINK_H
#define CHATD_WLINK_H

#include "wire.h"

struct chan;

/* Before MSG_CFG_DONE only configuration frames are accepted. */
int	wlink_recv(struct chan *, struct wire_msg *, void *);
void	wlink_send_hello(void);

#endif
