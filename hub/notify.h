/* notify.h: telling systemd that kiroku-hub is ready or stopping (the unit is Type=notify).
 *
 * These functions speak the sd_notify datagram protocol (sd_notify(3), "NOTIFY_SOCKET"): one datagram of
 * newline-separated KEY=VALUE assignments sent to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an
 * abstract socket when it starts with '@'). It is written here by hand rather than linking libsystemd, so
 * the hub has no dependency it would use for one datagram; systemd documents the protocol as stable.
 * docs/packaging.md says why.
 *
 * Without $NOTIFY_SOCKET (the hub was not started by systemd, or by a unit that is not Type=notify) every
 * function does nothing. None of them can fail the hub: a notification that cannot be sent is reported on
 * stderr once and the hub goes on (under Type=notify, systemd then times the start out and says so).
 * Safe to call from any thread; not async-signal-safe (they format text).
 */
#ifndef KR_HUB_NOTIFY_H
#define KR_HUB_NOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=listening") to systemd. Returns 1 when sent, 0 when there is no
 * $NOTIFY_SOCKET, -errno when sending failed (nothing else happens: the caller may ignore it). */
int hub_notify(const char *state);

/* "The listener is up": READY=1 with a STATUS line naming the address. Call once, after the listening
 * socket accepts connections, so that units ordered After=kiroku-hub.service find the hub answering. */
void hub_notify_ready(const char *host, unsigned port);

/* "Shutting down": STOPPING=1, when the hub starts finishing the requests in flight. */
void hub_notify_stopping(void);

#endif
