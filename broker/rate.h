/*
 * rate.h - messages per second over the last few seconds, for chatctl
 * status and monitor.  A one-second timer keeps a small ring of counter
 * samples; a rate is the difference between now and the oldest sample in
 * the window.
 */
#ifndef CHATD_RATE_H
#define CHATD_RATE_H

#define RATE_WINDOW_S	5

void	rate_init(void);
/* Messages stored and delivered to workers per second. */
void	rate_get(double *stored_out, double *delivered_out);

#endif
