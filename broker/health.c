/*
 * health.c - fan a health check out to the workers holding a room.
 */
#include "broker.h"
#include "chan.h"
#include "health.h"
#include "room.h"
#include "supervise.h"

unsigned
health_check_room(uint64_t room_id)
{
	struct room	*r = room_get(room_id);
	struct chan	*ch;
	uint64_t	 mask;
	size_t		 off;
	int		 w;

	if (r == NULL || r->r_nconns == 0)
		return 0;
	mask = room_workers(r);
	for (w = 0; mask != 0; w++, mask >>= 1) {
		if (!(mask & 1) || (ch = supervise_chan(w)) == NULL)
			continue;
		off = chan_begin(ch, MSG_HEALTH_CHECK, room_id);
		chan_send(ch, off);
	}
	return r->r_nconns;
}
