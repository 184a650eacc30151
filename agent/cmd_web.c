/* cmd_web.c: kiroku-agent web (the local web form for staff, on its own) and starting the form beside the
 * daemon (kiroku-agent run serves it too when web_port is not 0). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "web.h"

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

kr_status agent_web_start(struct agent *a, long long sync_interval, void (*sync_now)(void *ctx), void *ctx,
                          struct web **out, struct kr_error *err)
{
	char url[1024];
	long long port = kr_config_get_int(&a->cfg, "web_port");
	struct web_config wc = {
	    .store_path = a->cfg.store_path,
	    .host = "127.0.0.1",
	    .port = (unsigned short)port,
	    .lang = kr_config_get(&a->cfg, "lang"),
	    .hub_url = agent_hub_url(a, url, sizeof url),
	    .sync_interval = sync_interval,
	    .sync_now = sync_now,
	    .sync_now_ctx = ctx,
	    .log_requests = true,
	};
	kr_status s = web_start(&wc, out, err);

	if (s && strstr(err->msg, strerror(EADDRINUSE)))
		s = kr_fail(
		    err, KR_ERR_CONFIG,
		    "the web form cannot use port %lld of 127.0.0.1: another program uses it (kiroku-agent run serves "
		    "the form itself when web_port is set); choose another port with --web-port or web_port",
		    port);
	else if (s)
		kr_error_prefix(err, "starting the web form");
	return s;
}

int agent_cmd_web(struct agent *a)
{
	struct sigaction sa = {0};
	struct kr_error err = {0};
	struct web *w = NULL;

	if (kr_store_check(a->st, &err))
		return agent_fail(&err);
	if (agent_web_start(a, 0, NULL, NULL, &w, &err))
		return agent_fail(&err);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The address alone on stdout (tests and scripts read the port from it), the advice on stderr. */
	printf("listening on http://127.0.0.1:%u/\n", web_port(w));
	fflush(stdout);
	fprintf(stderr,
	        AGENT_PROG ": the form of facility %s is at http://127.0.0.1:%u/ (this PC only); stop with Ctrl-C\n",
	        kr_store_facility(a->st), web_port(w));
	while (!stop_requested) {
		struct timespec ts = {0, 200 * 1000000L};
		nanosleep(&ts, NULL);
	}
	web_free(w);
	fprintf(stderr, AGENT_PROG ": the web form stopped\n");
	return KR_EXIT_OK;
}
