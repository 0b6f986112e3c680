/*
 * metrics.h - the broker's figures as Prometheus text, for /metrics.
 * The broker never speaks HTTP: a worker serves the admin listener and
 * asks for this text over its channel.
 */
#ifndef CHATD_BROKER_METRICS_H
#define CHATD_BROKER_METRICS_H

#include "buf.h"

/* Append the exposition text (no NUL) to b. */
void	metrics_render(struct buf *b);

#endif
