/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: several lanes (consumers) in one process group. */
#include <errno.h>
#include <inttypes.h>
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

#include "common/date.h"
#include "common/log.h"
#include "common/rc.h"

#include "lanes.h"

#define TC_LANE_MAX_NUM   999       /* lane numbers looked for */
#define TC_LANE_ORPHANS   64        /* old lanes finished at one start */
#define TC_LANE_PROBE_S   10        /* between looks while MariaDB is away */

#define TC_LANE_SLOTS     16        /* the most lanes the config allows */
#define TC_LANE_STABLE_MS 2000      /* a shorter life counts to a crash loop */

typedef struct {
    pid_t     pid;                  /* 0: not running */
    long      lane;
    int       finisher;
    int       retiring;             /* SIGTERMed by a SIGHUP: replaced */
    int       down;                 /* crash loop: not restarted */
    unsigned  quick;                /* short lives in a row */
    int64_t   started;              /* ms, monotonic */
    int64_t   respawn_at;           /* ms, monotonic; 0: not to start */
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
 * A connection to MariaDB, or (mysql_errno() set, still to be closed) why
 * not: NULL only when out of memory, which mysql_errno() reads as an error.
 * Timeouts are short: the supervisor waits for signals meanwhile.
 */
static MYSQL *
db_connect(const tc_conf_t *c, long secs)
{
    MYSQL       *m;
    unsigned     timeout;
    const char  *sock, *host;

    m = mysql_init(NULL);
    if (m == NULL) {
        tc_log_error("lanes: out of memory");
        exit(TC_EXIT_FAILURE);
    }

    timeout = (unsigned) (c->mysql_timeout < secs ? c->mysql_timeout : secs);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);

    sock = c->mysql_socket[0] ? c->mysql_socket : NULL;
    host = sock ? "localhost" : c->mysql_host;

    mysql_real_connect(m, host, c->mysql_user, c->mysql_password,
                       c->mysql_database, (unsigned) c->mysql_port, sock, 0);

    return m;
}


/*
 * Lanes numbered conf->lanes or more that have a batch marker: they may
 * have left a batch in their processing lists.  TC_OK (found in
 * out[0..*n)), or TC_ERROR when MariaDB cannot be asked now.
 */
static tc_rc_t
probe(const tc_conf_t *c, long *out, size_t *n)
{
    char          q[512], u[640], *e;
    long          k;
    size_t        i, len;
    MYSQL        *m;
    MYSQL_RES    *res;
    MYSQL_ROW     row;
    const char   *s;

    *n = 0;

    /* with a cluster, markers are the shards': any lane continues them */
    if (c->nseeds > 0) {
        return TC_OK;
    }

    m = db_connect(c, 10);
    if (mysql_errno(m) != 0) {
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

    /* a new supervisor starts every lane: none is given up any more */
    snprintf(u, sizeof(u), "UPDATE consumer_lanes SET crash_loop = 0%s"
             " OR consumer_id = '%s'", strstr(q, " WHERE "), c->id);
    if (mysql_query(m, u) != 0) {
        /* void: the table may not exist yet; nothing to clear then */
    }

    if (mysql_query(m, q) != 0 || (res = mysql_store_result(m)) == NULL) {
        if (mysql_errno(m) == ER_NO_SUCH_TABLE) {
            mysql_close(m);
            return TC_OK;               /* nothing ever ran here */
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


/*
 * Counts a restart of lane k, or says it is given up (crash_loop 1) or
 * back (0), in consumer_lanes, which track-stats shows as metrics.  Only
 * when a lane died or came back, so a connection of its own is cheap; a
 * MariaDB that is away loses the count, never a lane.
 */
static void
record(const tc_conf_t *c, long k, int restarted, int crash_loop)
{
    char    q[256], *id;
    MYSQL  *m;

    id = lane_id(c->id, k);
    if (id == NULL) {
        return;
    }

    m = db_connect(c, 2);
    if (mysql_errno(m) == 0) {
        snprintf(q, sizeof(q), "INSERT INTO consumer_lanes (consumer_id, "
                 "restarts, crash_loop) VALUES ('%s', %d, %d) ON DUPLICATE "
                 "KEY UPDATE restarts = restarts + VALUES(restarts), "
                 "crash_loop = VALUES(crash_loop)", id, restarted,
                 crash_loop);
        mysql_query(m, q);      /* ids need no quoting: [A-Za-z0-9._/-] */
    }

    if (mysql_errno(m) != 0) {
        tc_log_warn("lanes: cannot count lane %ld's restart in "
                    "consumer_lanes: (%u) %s", k, mysql_errno(m),
                    mysql_error(m));
    }

    mysql_close(m);
    free(id);
}


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* fork(): > 0 in the supervisor, 0 in the lane, -1 (logged) on failure */
static pid_t
spawn(tc_lane_t *l, const tc_conf_t *c)
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
        l->started = now_ms();
        l->respawn_at = 0;
        if (l->finisher) {
            tc_log_info("lanes: lane %ld is no longer configured (lanes = "
                        "%ld) but has a batch marker: pid %d finishes what "
                        "its processing list holds", l->lane, c->lanes,
                        (int) pid);
        } else {
            tc_log_info("lanes: lane %ld of consumer \"%s\" is pid %d",
                        l->lane, c->id, (int) pid);
        }
        return pid;
    }

    /*
     * A lane outlives a supervisor killed whatever way only to finish the
     * batch in hand: SIGTERM, as `kill` of the group would send.
     */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != supervisor) {
        _exit(TC_EXIT_FAILURE);
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


/*
 * A lane died: it comes back at once after a life of TC_LANE_STABLE_MS or
 * more, else after a delay doubling from backoff_min_ms; after
 * lane_crash_limit short lives in a row it stays down (a crash loop: a
 * restart would only fail again) until SIGHUP or a new start.
 */
static void
lane_died(tc_lane_t *l, const tc_conf_t *c, pid_t pid, int st)
{
    char     how[64];
    long     ms;
    int64_t  lived;

    describe(st, how, sizeof(how));
    lived = now_ms() - l->started;
    l->quick = lived < TC_LANE_STABLE_MS ? l->quick + 1 : 0;

    if (l->quick >= (unsigned) c->lane_crash_limit) {
        l->down = 1;
        tc_log_error("lanes: lane %ld (pid %d) %s after %" PRId64 " ms: "
                     "a crash loop (%u short lives in a row, lane_crash_limit"
                     " %ld); not restarted until SIGHUP or a new start",
                     l->lane, (int) pid, how, lived, l->quick,
                     c->lane_crash_limit);
        record(c, l->lane, 0, 1);
        return;
    }

    ms = 0;
    if (l->quick > 0) {
        ms = c->backoff_min_ms << (l->quick < 16 ? l->quick - 1 : 15);
        if (ms > c->backoff_max_ms) {
            ms = c->backoff_max_ms;
        }
    }

    tc_log_error("lanes: lane %ld (pid %d) %s after %" PRId64 " ms; "
                 "restarting it in %ld ms, the other lanes go on", l->lane,
                 (int) pid, how, lived, ms);
    l->respawn_at = now_ms() + ms;
    record(c, l->lane, 1, 0);
}


/*
 * SIGHUP: the configuration read again as at start.  TC_OK: conf is the
 * new one; TC_ERROR (logged): conf unchanged.
 */
static tc_rc_t
reload(tc_conf_t *conf, int argc, char **argv)
{
    char       err[512];
    tc_conf_t  next;

    if (tc_conf_load(&next, argc, argv, err, sizeof(err)) != TC_CONF_RUN) {
        tc_log_error("lanes: SIGHUP: configuration not reloaded: %s; the "
                     "lanes go on as they are", err);
        return TC_ERROR;
    }

    if (strcmp(next.id, conf->id) != 0) {
        tc_log_error("lanes: SIGHUP: the id changed (\"%s\" to \"%s\"), "
                     "which needs a restart; configuration not reloaded",
                     conf->id, next.id);
        tc_conf_free(&next);
        return TC_ERROR;
    }

    if (tc_tz_set(next.timezone) != TC_OK) {
        tc_log_error("lanes: SIGHUP: unknown time zone \"%s\"; "
                     "configuration not reloaded", next.timezone);
        tc_tz_set(conf->timezone);
        tc_conf_free(&next);
        return TC_ERROR;
    }

    if (strcmp(next.log_file, conf->log_file) != 0
        && tc_log_open(next.log_file) != TC_OK)
    {
        tc_log_error("lanes: SIGHUP: cannot open log file \"%s\": %s; "
                     "configuration not reloaded", next.log_file,
                     strerror(errno));
        tc_log_open(conf->log_file);
        tc_tz_set(conf->timezone);
        tc_conf_free(&next);
        return TC_ERROR;
    }

    tc_log_level = (int) next.log_level;
    tc_conf_free(conf);
    *conf = next;

    tc_log_info("lanes: SIGHUP: configuration reloaded (lanes = %ld); "
                "the lanes finish their batches and are replaced",
                conf->lanes);

    return TC_OK;
}


void
tc_lanes_start(tc_conf_t *conf, int argc, char **argv)
{
    int              signo, stopping, probed, st, given_up;
    long             orphans[TC_LANE_ORPHANS], k;
    tc_exit_t        failure;
    char             how[64];
    pid_t            pid;
    size_t           i, n, norphans, running, pending;
    time_t           next_probe;
    int64_t          now, wake;
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

    /* slot k is configured lane k; finishers take the slots after those */
    lanes = calloc(TC_LANE_SLOTS + TC_LANE_ORPHANS, sizeof(tc_lane_t));
    if (lanes == NULL) {
        tc_log_error("lanes: out of memory");
        exit(TC_EXIT_FAILURE);
    }

    for (k = 0; k < TC_LANE_SLOTS; k++) {
        lanes[k].lane = k;
        lanes[k].respawn_at = k < conf->lanes ? 1 : 0;
    }

    n = TC_LANE_SLOTS;
    failure = TC_EXIT_OK;
    stopping = 0;
    next_probe = probed ? 0 : time(NULL) + TC_LANE_PROBE_S;

    for ( ;; ) {
        /* batches of lanes that are no longer configured: finish them */
        for (i = 0; !stopping && i < norphans
                    && n < TC_LANE_SLOTS + TC_LANE_ORPHANS; i++)
        {
            l = &lanes[n++];
            l->lane = orphans[i];
            l->finisher = 1;
            l->respawn_at = 1;
        }
        norphans = 0;

        /* lanes due to start: at start, after a death, after SIGHUP */
        now = now_ms();
        wake = now + 1000;
        running = pending = 0;
        given_up = 0;

        for (i = 0; i < n; i++) {
            l = &lanes[i];
            if (!stopping && l->pid == 0 && l->respawn_at > 0
                && l->respawn_at <= now)
            {
                if (spawn(l, conf) == 0) {
                    goto lane;
                }
                if (l->pid == 0) {
                    l->started = now;   /* fork failed: a short life */
                    lane_died(l, conf, 0, 1 << 8);
                }
            }
            running += l->pid > 0;
            given_up += l->down;
            if (!stopping && l->pid == 0 && l->respawn_at > 0) {
                pending++;
                if (l->respawn_at < wake) {
                    wake = l->respawn_at;
                }
            }
        }

        if (running == 0 && pending == 0) {
            break;      /* stopped, drained, or every lane crash-looping */
        }

        ts.tv_sec = (wake - now) / 1000;
        ts.tv_nsec = ((wake - now) % 1000) * 1000000;
        signo = sigtimedwait(&set, NULL, &ts);

        if (signo == SIGTERM || signo == SIGINT) {
            if (!stopping) {
                tc_log_info("lanes: got %s: the lanes finish their batches "
                            "in hand", signo == SIGTERM ? "SIGTERM"
                                                        : "SIGINT");
            }
            stopping = 1;
            forward(lanes, n, signo);

        } else if (signo == SIGHUP && !stopping) {
            tc_log_reopen();
            forward(lanes, n, SIGHUP);

            if (reload(conf, argc, argv) == TC_OK) {
                /* each configured lane is replaced once its old one exits */
                for (k = 0; k < TC_LANE_SLOTS; k++) {
                    l = &lanes[k];
                    if (l->down && k < conf->lanes) {
                        record(conf, k, 0, 0);
                    }
                    l->down = 0;
                    l->quick = 0;
                    l->retiring = l->pid > 0;
                    l->respawn_at = (k < conf->lanes && l->pid == 0) ? 1 : 0;
                    if (l->pid > 0) {
                        kill(l->pid, SIGTERM);
                    }
                }
            }
        }

        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (i = 0; i < n && lanes[i].pid != pid; i++) {
                /* void */
            }
            if (i == n) {
                continue;
            }
            l = &lanes[i];
            l->pid = 0;

            if (l->retiring) {
                /* replaced after SIGHUP, by the lanes of the new conf */
                l->retiring = 0;
                l->respawn_at = (!l->finisher && l->lane < conf->lanes)
                                ? 1 : 0;
                describe(st, how, sizeof(how));
                tc_log_info("lanes: lane %ld (pid %d) replaced (%s)",
                            l->lane, (int) pid, how);
                continue;
            }

            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                tc_log_debug("lanes: lane %ld (pid %d) exited",
                             l->lane, (int) pid);
                l->respawn_at = 0;
                continue;
            }

            if (stopping) {
                describe(st, how, sizeof(how));
                tc_log_error("lanes: lane %ld (pid %d) %s while stopping",
                             l->lane, (int) pid, how);
                failure = TC_EXIT_FAILURE;
                continue;
            }

            lane_died(l, conf, pid, st);
        }

        if (!probed && !stopping && time(NULL) >= next_probe) {
            probed = probe(conf, orphans, &norphans) == TC_OK;
            next_probe = time(NULL) + TC_LANE_PROBE_S;
        }
    }

    free(lanes);

    if (!stopping && given_up > 0) {
        tc_log_error("lanes: every lane is down (crash loop); exiting");
        failure = TC_EXIT_FAILURE;
    }

    tc_log_close();
    exit(failure);

lane:

    k = l->lane;
    i = (size_t) l->finisher;
    free(lanes);

    if (lane_conf(conf, k, (int) i) != TC_OK) {
        tc_log_error("lanes: out of memory");
        _exit(TC_EXIT_FAILURE);
    }
}
