/*
 * config.h - chatd.conf: one "keyword value" per line, '#' comments.
 * The broker parses the file; workers never read it, they receive the
 * keywords marked for them as MSG_CFG_SET frames and apply them with
 * config_set(), so both sides share one keyword table and one set of
 * checks.  Every keyword and its default is documented in chatd.conf(5).
 */
#ifndef CHATD_CONFIG_H
#define CHATD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTEN	8
#define CONFIG_MAX_WORKERS	32	/* running at once, retiring ones aside */
/* Listen sockets one worker may be given: one per worker of each listen
 * address (SO_REUSEPORT) and the admin socket. */
#define CONFIG_MAX_LISTEN_FDS	(CONFIG_MAX_LISTEN * CONFIG_MAX_WORKERS + 1)

struct listen_addr {
	char	la_text[128];		/* as written, for logs */
	char	la_host[96];
	char	la_port[8];
	int	la_tls;			/* "listen ADDR tls" */
};

struct config {
	struct listen_addr	listen[CONFIG_MAX_LISTEN];
	int			nlisten;
	int			workers;		/* 0 = one per CPU */
	char			worker_path[512];	/* "" = next to chatd */
	char			control_socket[256];
	char			pid_file[256];

	char			db_host[256];
	int			db_port;
	char			db_socket[256];
	char			db_user[128];
	char			db_password[128];
	char			db_name[128];

	char			jwt_secret[512];
	char			jwt_algorithm[16];
	char			jwt_user_claim[64];

	int			heartbeat_interval;	/* seconds */
	int			connection_timeout;	/* seconds */
	int			ping_timeout;		/* seconds */
	int			max_reconnect_attempts;
	int			message_size_limit;	/* characters */
	int			ws_max_frame;		/* bytes of one WebSocket message */
	int			ws_max_unread;		/* bytes waiting for one client */
	int			syslog_facility;

	/* chat protocol */
	int			typing_timeout;		/* seconds */
	int			rate_limit_messages;	/* per window, per connection */
	int			rate_limit_window;	/* seconds */
	/* REST API */
	char			public_url[256];	/* "" = from the Host header */
	char			cors_origins[1024];	/* space-separated, "*" = any */
	int			rest_timeout;		/* seconds to wait for the broker */
	int			room_list_lifetime;	/* seconds a user's rooms are kept */
	int			message_cache_rooms;	/* rooms' newest messages kept */
	int			profile_lifetime;	/* seconds names, avatars are kept */
	/* Daemon: TLS, privileges, logging, limits, admin listener. */
	char			tls_certificate[256];	/* PEM chain, read by workers */
	char			tls_key[256];
	char			user[64];		/* "" = stay who we are */
	char			group[64];		/* "" = the user's group */
	char			log_file[256];		/* "" = syslog */
	struct listen_addr	admin_listen;		/* la_port "" = none */
	int			max_connections;	/* per worker */
	int			max_connections_per_ip;	/* per worker, 0 = no limit */
	int			header_timeout;		/* seconds */
	int			max_header_size;	/* bytes */
	int			max_body_size;		/* bytes */
};

/* Keyword groups: which process needs it. */
#define CFG_BROKER	0x1
#define CFG_WORKER	0x2

void	config_defaults(struct config *);
/* Apply one line; on error returns -1 with a reason in err. */
int	config_set(struct config *, const char *key, const char *value,
	    char *err, size_t errsz);
/* Parse a whole file; on error returns -1 with "file:line: reason". */
int	config_load(struct config *, const char *path, char *err, size_t errsz);
/* Iterate the keywords a worker needs, with their current values. */
int	config_worker_item(const struct config *, size_t *iter,
	    const char **key_out, char *val, size_t valsz);

#endif
