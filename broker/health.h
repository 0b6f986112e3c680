/*
 * health.h - room health checks: every live connection of a room answers
 * its client with a health_check_response.  Used by the REST API and by
 * chatctl; the answers go to the clients, not back to the caller.
 */
#ifndef CHATD_HEALTH_H
#define CHATD_HEALTH_H

#include <stdint.h>

/* Returns how many connections were asked (0 if none, or the room is not
 * loaded: a room nobody has opened has no connection to ask). */
unsigned	health_check_room(uint64_t room_id);

#endif
