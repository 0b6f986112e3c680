/*
 * tls.h - TLS termination with OpenSSL in front of libmicrohttpd.
 * Accepts TLS connections, feeds their plaintext to MHD during the HTTP
 * phase, and hands the TLS stream itself to session.c after a WebSocket
 * upgrade.  It never parses HTTP or WebSocket frames.
 */
#ifndef CHATD_TLS_H
#define CHATD_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct MHD_UpgradeResponseHandle;
struct tls_conn;

/* Load the certificate chain and key; -1 (logged) if they do not load. */
int	tls_init(const char *cert_path, const char *key_path);
/* Takes fd, an accepted TCP socket on a TLS listener. */
void	tls_accept(int fd, const struct sockaddr *, socklen_t);
/* MHD is done with the plaintext end of t (connection closed). */
void	tls_mhd_closed(struct tls_conn *t);
/*
 * The request on t was upgraded to a WebSocket: move the session onto the
 * TLS stream.  sock is MHD's end of the socketpair; extra_in as MHD gave
 * it.  Always consumes urh (session or close).
 */
void	tls_upgrade(struct tls_conn *t, int sock,
	    struct MHD_UpgradeResponseHandle *urh, uint64_t user, uint64_t room,
	    const char *extra_in, size_t extra_len);

#endif
