/* track-consumer: several lanes (consumers) in one process group. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "common/log.h"
#include "common/rc.h"

#include "lanes.h"

#define TC_LANE_MAX_NUM   999       /* lane numbers looked for */
#define TC_LANE_ORPHANS   64        /* old lanes finished at one start */
#define TC_LANE_PROBE_S   10        /* between looks while MariaDB is away */

typedef struct {
    pid_t    pid;                   /* 0: exited */
    long     lane;
    int      finisher;
} tc_lane_t;

static pid_t  supervisor;
static char   lane_mask_set;
static sigset_t  lane_mask;         /* the signal mask main() set */


/* The id of lane k: the configured id for lane 0, "<id>/k" for the rest. */
static char *
lane_id(const char *id, long k)
{
    char    *p;
    size_t   n;

    n = strlen(id) + 24;
    p = malloc(n);
    if (p == NULL) {
        return NULL;
    }

    if (k == 0) {
        snprintf(p, n, "%s", id);
    } else {
        snprintf(p, n, "%s/%ld", id, k);
    }

    return p;
}


/*
 * conf for lane k.  A finisher (a lane no longer configured) takes no new
 * events: its queue is a key nothing is ever pushed to, so it stores and
 * acknowledges what its processing list holds and exits (drain).
 */
static tc_rc_t
lane_conf(tc_conf_t *c, long k, int finisher)
{
    char    *id, *key;
    size_t   n;

    id = lane_id(c->id, k);
    if (id == NULL) {
        return TC_ERROR;
    }

    if (finisher) {
        n = strlen(c->processing_prefix) + strlen(id) + 16;
        key = malloc(n);
        if (key == NULL) {
            free(id);
            return TC_ERROR;
        }
        snprintf(key, n, "%s%s:no-events", c->processing_prefix, id);
        free(c->queue_key);
        c->queue_key = key;
        c->linger_ms = 0;
        c->drain = 1;
    }

    free(c->id);
    c->id = id;

    return TC_OK;
}


/*
 * Lanes numbered conf->lanes or more that have a batch marker: they may
 * have left a batch in their processing lists.  0 (found in out[0..*n)),
 * or -1 when MariaDB cannot be asked now.
 */
static tc_rc_t
probe(const tc_conf_t *c, long *out, size_t *n)
{
    char          q[512], *e;
    long          k;
    size_t        i, len;
    unsigned      timeout;
    MYSQL        *m;
    MYSQL_RES    *res;
    MYSQL_ROW     row;
    const char   *sock, *host, *s;

    *n = 0;

    m = mysql_init(NULL);
    if (m == NULL) {
        return TC_ERROR;
    }

    timeout = (unsigned) (c->mysql_timeout < 10 ? c->mysql_timeout : 10);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);

    sock = c->mysql_socket[0] ? c->mysql_socket : NULL;
    host = sock ? "localhost" : c->mysql_host;

    if (mysql_real_connect(m, host, c->mysql_user, c->mysql_password,
                           c->mysql_database, (unsigned) c->mysql_port, sock,
                           0) == NULL)
    {
        tc_log_warn("lanes: cannot look for batches left by lanes no longer "
                    "configured: (%u) %s; looking again in %d s",
                    mysql_errno(m), mysql_error(m), TC_LANE_PROBE_S);
        mysql_close(m);
        return TC_ERROR;
    }

    /* ids are [A-Za-z0-9._-]: only '_' means something to LIKE */
    len = (size_t) snprintf(q, sizeof(q), "SELECT consumer_id FROM "
                            "consumer_state WHERE consumer_id LIKE '");
    for (s = c->id; *s != '\0' && len < sizeof(q) - 16; s++) {
        if (*s == '_') {
            q[len++] = '\\';
            q[len++] = '\\';
        }
        q[len++] = *s;
    }
    snprintf(q + len, sizeof(q) - len, "/%%'");

    if (mysql_query(m, q) != 0 || (res = mysql_store_result(m)) == NULL) {
        if (mysql_errno(m) == ER_NO_SUCH_TABLE) {
            mysql_close(m);
            return TC_OK;                   /* nothing ever ran here */
        }
        tc_log_warn("lanes: cannot look for batches left by lanes no longer "
                    "configured: (%u) %s; looking again in %d s",
                    mysql_errno(m), mysql_error(m), TC_LANE_PROBE_S);
        mysql_close(m);
        return TC_ERROR;
    }

    len = strlen(c->id);
    while ((row = mysql_fetch_row(res)) != NULL && *n < TC_LANE_ORPHANS) {
        s = row[0];
        if (s == NULL || strncmp(s, c->id, len) != 0 || s[len] != '/'
            || s[len + 1] < '1' || s[len + 1] > '9')
        {
            continue;
        }
        errno = 0;
        k = strtol(s + len + 1, &e, 10);
        if (errno != 0 || *e != '\0' || k > TC_LANE_MAX_NUM
            || k < c->lanes)
        {
            continue;
        }
        for (i = 0; i < *n && out[i] != k; i++) {
            /* void */
        }
        if (i == *n) {
            out[(*n)++] = k;
        }
    }

    mysql_free_result(res);
    mysql_close(m);

    return TC_OK;
}


/* fork(): > 0 in the supervisor, 0 in the lane, -1 (logged) on failure */
static pid_t
spawn(tc_lane_t *l)
{
    pid_t  pid;

    pid = fork();

    if (pid == -1) {
        tc_log_error("lanes: fork() failed for lane %ld: %s", l->lane,
                     strerror(errno));
        return -1;
    }

    if (pid > 0) {
        l->pid = pid;
        return pid;
    }

    /* a lane dies with its supervisor, whatever killed that */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor) {
        _exit(1);
    }

    if (lane_mask_set) {
        sigprocmask(SIG_SETMASK, &lane_mask, NULL);
    }

    return 0;
}


static void
forward(tc_lane_t *lanes, size_t n, int signo)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (lanes[i].pid > 0) {
            kill(lanes[i].pid, signo);
        }
    }
}


static void
describe(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status)) {
        snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, size, "exit %d", WEXITSTATUS(status));
    }
}


/* Exits as the failed lane did (its signal, or its exit code). */
static void
leave(int failure, int status)
{
    int       signo;
    sigset_t  set;

    tc_log_close();

    if (!failure) {
        exit(0);
    }

    if (WIFSIGNALED(status)) {
        signo = WTERMSIG(status);
        signal(signo, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, signo);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(signo);
        exit(128 + signo);
    }

    exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
}


void
tc_lanes_start(tc_conf_t *conf)
{
    int              signo, stopping, failure, status, probed, st;
    long             orphans[TC_LANE_ORPHANS], k;
    char             how[64];
    pid_t            pid;
    size_t           i, n, norphans, alive, cap;
    time_t           next_probe;
    sigset_t         set;
    tc_lane_t       *lanes, *l;
    struct timespec  ts;

    norphans = 0;
    probed = probe(conf, orphans, &norphans) == TC_OK;

    if (conf->lanes == 1 && probed && norphans == 0) {
        return;                         /* one consumer, no supervisor */
    }

    supervisor = getpid();
    sigprocmask(SIG_SETMASK, NULL, &lane_mask);
    lane_mask_set = 1;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    cap = (size_t) conf->lanes + TC_LANE_ORPHANS;
    lanes = calloc(cap, sizeof(tc_lane_t));
    if (lanes == NULL) {
        tc_log_error("lanes: out of memory");
        exit(1);
    }

    n = 0;
    failure = 0;
    status = 0;
    stopping = 0;

    for (k = 0; k < conf->lanes; k++) {
        l = &lanes[n++];
        l->lane = k;
        pid = spawn(l);
        if (pid == 0) {
            goto lane;
        }
        if (pid < 0) {
            failure = 1;
            status = 1 << 8;
            stopping = 1;
            break;
        }
    }

    for (i = 0; i < n; i++) {
        if (lanes[i].pid > 0) {
            tc_log_info("lanes: lane %ld of consumer \"%s\" is pid %d",
                        lanes[i].lane, conf->id, (int) lanes[i].pid);
        }
    }

    next_probe = probed ? 0 : time(NULL) + TC_LANE_PROBE_S;

    for ( ;; ) {
        /* batches of lanes that are no longer configured: finish them */
        for (i = 0; !stopping && i < norphans && n < cap; i++) {
            l = &lanes[n++];
            l->lane = orphans[i];
            l->finisher = 1;
            pid = spawn(l);
            if (pid == 0) {
                goto lane;
            }
            if (pid > 0) {
                tc_log_info("lanes: lane %ld is no longer configured (lanes "
                            "= %ld) but has a batch marker: pid %d finishes "
                            "what its processing list holds", l->lane,
                            conf->lanes, (int) pid);
            } else {
                n--;
            }
        }
        norphans = 0;

        alive = 0;
        for (i = 0; i < n; i++) {
            alive += lanes[i].pid > 0;
        }
        if (alive == 0) {
            break;
        }

        ts.tv_sec = 1;
        ts.tv_nsec = 0;
        signo = sigtimedwait(&set, NULL, &ts);

        if (signo == SIGTERM || signo == SIGINT) {
            if (!stopping) {
                tc_log_info("lanes: got %s: the lanes finish their batches "
                            "in hand", signo == SIGTERM ? "SIGTERM"
                                                        : "SIGINT");
            }
            stopping = 1;
            forward(lanes, n, signo);

        } else if (signo == SIGHUP) {
            tc_log_reopen();
            forward(lanes, n, SIGHUP);
        }

        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (i = 0; i < n && lanes[i].pid != pid; i++) {
                /* void */
            }
            if (i == n) {
                continue;
            }
            lanes[i].pid = 0;

            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                tc_log_debug("lanes: lane %ld (pid %d) exited",
                             lanes[i].lane, (int) pid);
                continue;
            }

            describe(st, how, sizeof(how));
            tc_log_error("lanes: lane %ld (pid %d) %s; %s", lanes[i].lane,
                         (int) pid, how, stopping ? "stopping"
                                                  : "stopping the others");
            if (!failure) {
                failure = 1;
                status = st;
            }
            if (!stopping) {
                stopping = 1;
                forward(lanes, n, SIGTERM);
            }
        }

        if (!probed && !stopping && time(NULL) >= next_probe) {
            probed = probe(conf, orphans, &norphans) == TC_OK;
            next_probe = time(NULL) + TC_LANE_PROBE_S;
        }
    }

    free(lanes);
    leave(failure, status);

lane:

    l = &lanes[n - 1];
    k = l->lane;
    i = (size_t) l->finisher;
    free(lanes);

    if (lane_conf(conf, k, (int) i) != TC_OK) {
        tc_log_error("lanes: out of memory");
        _exit(1);
    }
}
