/*
 * profile.h - the parts of a user that only the REST API shows: avatar
 * URLs (users.image_urls, a JSON array kept as text) and the last_seen
 * column.  Kept for profile_lifetime, then read again, so an avatar changed
 * by the application shows within that time; the same read brings the
 * user's names, for room.c's cache.  Whether a user is online is
 * room.c's business (struct user), not this module's.
 */
#ifndef CHATD_PROFILE_H
#define CHATD_PROFILE_H

#include <stddef.h>
#include <stdint.h>

/* ok: 1 = loaded (a user with no row gets an empty profile), -1 = error. */
typedef void	profile_load_cb(int ok, void *arg);

/* Users whose profile is in memory. */
size_t		 profile_count(void);
/* 1 if the profile is in memory and fresh. */
int		 profile_ready(uint64_t user);
/* 1 if it was read at or after since_ms, fresh or not. */
int		 profile_read_since(uint64_t user, int64_t since_ms);
/* The profile_lifetime setting, in ms. */
int64_t		 profile_lifetime_ms(void);
void		 profile_load(uint64_t user, profile_load_cb *, void *arg);
/* The stored JSON text, "[]" if unknown.  Valid until the next load. */
const char	*profile_image_urls(uint64_t user);
/* users.last_seen in ms, 0 = NULL or unknown. */
int64_t		 profile_last_seen(uint64_t user);
/* Forget loads still in flight; after the database is closed. */
void		 profile_shutdown(void);

#endif
