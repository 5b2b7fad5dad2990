/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker's Redis connection: connect and reply timeouts on nginx
 * timers, Sentinel discovery, reconnection with backoff, and the list of
 * commands in flight under the reply deadline.  What the connection
 * carries is up to its users (ngx_http_track_batch.c, _command.c).
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_adapter.h"
#include "ngx_http_track_redis.h"

#include <hiredis/hiredis.h>


typedef enum {
    NGX_HTTP_TRACK_REDIS_DOWN = 0,     /* waiting for the next attempt */
    NGX_HTTP_TRACK_REDIS_DISCOVERING,  /* asking a sentinel for the master */
    NGX_HTTP_TRACK_REDIS_CONNECTING,
    NGX_HTTP_TRACK_REDIS_READY
} ngx_http_track_redis_state_e;


/* what to do once out of a hiredis callback, where nothing may be freed */
typedef enum {
    NGX_HTTP_TRACK_STEP_NONE = 0,
    NGX_HTTP_TRACK_STEP_CLOSE,         /* give the connection up */
    NGX_HTTP_TRACK_STEP_MASTER         /* from the sentinel to the master */
} ngx_http_track_step_e;


typedef struct ngx_http_track_redis_s  ngx_http_track_redis_t;

/* the reply to the connection's own question (SENTINEL, ROLE) */
typedef void (*ngx_http_track_probe_pt)(ngx_http_track_redis_t *redis,
    redisReply *reply);


struct ngx_http_track_redis_s {
    ngx_http_track_main_conf_t   *conf;
    ngx_log_t                    *log;

    redisAsyncContext            *ac;
    ngx_http_track_redis_state_e  state;
    ngx_msec_t                    backoff;

    ngx_str_t                     addr;      /* where ac goes, for logs */
    u_char                        addr_buf[NGX_SOCKADDR_STRLEN + 16];
    ngx_uint_t                    sentinel;  /* the one to ask next */
    u_char                        master_host[NGX_SOCKADDR_STRLEN + 1];
    in_port_t                     master_port;

    ngx_http_track_redis_cmd_t    probe;     /* SENTINEL or ROLE */
    ngx_http_track_probe_pt       probe_handler;

    ngx_event_t                   step;      /* posted */
    ngx_http_track_step_e         step_action;
    const char                   *step_why;

    ngx_queue_t                   inflight;  /* ngx_http_track_redis_cmd_t */
    ngx_uint_t                    ninflight;

    ngx_event_t                   timer;     /* connect or reply deadline */
    ngx_event_t                   retry;

    ngx_http_track_redis_event_pt on_ready;
    ngx_http_track_redis_event_pt on_lost;

    unsigned                      exiting:1;
};


static void ngx_http_track_redis_connect(ngx_http_track_redis_t *redis);
static ngx_int_t ngx_http_track_redis_open(ngx_http_track_redis_t *redis,
    u_char *host, in_port_t port, ngx_http_track_redis_state_e state);
static ngx_int_t ngx_http_track_redis_probe(ngx_http_track_redis_t *redis,
    ngx_uint_t argc, const char **argv, size_t *argvlen,
    ngx_http_track_probe_pt handler);
static void ngx_http_track_redis_probed(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_track_redis_discovered(ngx_http_track_redis_t *redis,
    redisReply *reply);
static void ngx_http_track_redis_later(ngx_http_track_redis_t *redis,
    ngx_http_track_step_e action, const char *why);
static void ngx_http_track_redis_step_handler(ngx_event_t *ev);
static void ngx_http_track_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_track_redis_role(ngx_http_track_redis_t *redis,
    redisReply *reply);
static void ngx_http_track_redis_ready(ngx_http_track_redis_t *redis);
static void ngx_http_track_redis_setup_reply(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_track_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_track_redis_lost(ngx_http_track_redis_t *redis,
    ngx_uint_t level, const char *why, const char *detail);
static void ngx_http_track_redis_shut(ngx_http_track_redis_t *redis,
    const char *why);
static void ngx_http_track_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_track_redis_arm_timer(ngx_http_track_redis_t *redis);
static void ngx_http_track_redis_timer_handler(ngx_event_t *ev);


#define NGX_HTTP_TRACK_MIN_BACKOFF     100


/* this worker's connection */
static ngx_http_track_redis_t  *ngx_http_track_redis_conn;


ngx_int_t
ngx_http_track_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf, ngx_http_track_redis_event_pt ready,
    ngx_http_track_redis_event_pt lost)
{
    ngx_http_track_redis_t  *redis;

    redis = ngx_pcalloc(cycle->pool, sizeof(ngx_http_track_redis_t));
    if (redis == NULL) {
        return NGX_ERROR;
    }

    redis->conf = tmcf;
    redis->log = cycle->log;
    redis->backoff = NGX_HTTP_TRACK_MIN_BACKOFF;
    redis->on_ready = ready;
    redis->on_lost = lost;

    ngx_queue_init(&redis->inflight);

    redis->timer.handler = ngx_http_track_redis_timer_handler;
    redis->timer.data = redis;
    redis->timer.log = cycle->log;

    /* waiting to reconnect must not hold back a graceful shutdown */
    redis->retry.handler = ngx_http_track_redis_retry_handler;
    redis->retry.data = redis;
    redis->retry.log = cycle->log;
    redis->retry.cancelable = 1;

    redis->step.handler = ngx_http_track_redis_step_handler;
    redis->step.data = redis;
    redis->step.log = cycle->log;

    ngx_http_track_redis_conn = redis;

    ngx_http_track_redis_connect(redis);

    return NGX_OK;
}


void
ngx_http_track_redis_exit_process(ngx_cycle_t *cycle)
{
    redisAsyncContext       *ac;
    ngx_http_track_redis_t  *redis;

    redis = ngx_http_track_redis_conn;
    if (redis == NULL) {
        return;
    }

    /* the process is ending: no request may be touched any more */
    redis->exiting = 1;

    if (redis->step.posted) {
        ngx_delete_posted_event(&redis->step);
    }

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    if (redis->retry.timer_set) {
        ngx_del_timer(&redis->retry);
    }

    ac = redis->ac;
    redis->ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }

    ngx_http_track_redis_conn = NULL;
}


/* the next attempt: a sentinel when there are any, else the address */

static void
ngx_http_track_redis_connect(ngx_http_track_redis_t *redis)
{
    const char                  *argv[3];
    size_t                       argvlen[3];
    ngx_http_track_addr_t       *sentinel;
    ngx_http_track_main_conf_t  *conf;

    conf = redis->conf;

    if (conf->sentinels == NULL) {
        (void) ngx_http_track_redis_open(redis, conf->redis.host,
                                         conf->redis.port,
                                         NGX_HTTP_TRACK_REDIS_CONNECTING);
        return;
    }

    sentinel = conf->sentinels->elts;
    sentinel += redis->sentinel++ % conf->sentinels->nelts;

    if (ngx_http_track_redis_open(redis, sentinel->host, sentinel->port,
                                  NGX_HTTP_TRACK_REDIS_DISCOVERING)
        != NGX_OK)
    {
        return;
    }

    /* hiredis sends it once connected */
    argv[0] = "SENTINEL";
    argvlen[0] = sizeof("SENTINEL") - 1;
    argv[1] = "get-master-addr-by-name";
    argvlen[1] = sizeof("get-master-addr-by-name") - 1;
    argv[2] = (const char *) conf->master_name.data;
    argvlen[2] = conf->master_name.len;

    (void) ngx_http_track_redis_probe(redis, 3, argv, argvlen,
                                      ngx_http_track_redis_discovered);
}


static ngx_int_t
ngx_http_track_redis_open(ngx_http_track_redis_t *redis, u_char *host,
    in_port_t port, ngx_http_track_redis_state_e state)
{
    u_char             *p, *last;
    redisAsyncContext  *ac;

    p = redis->addr_buf;
    last = p + sizeof(redis->addr_buf);

    if (state == NGX_HTTP_TRACK_REDIS_DISCOVERING) {
        p = ngx_slprintf(p, last, "sentinel ");
    }

    p = port ? ngx_slprintf(p, last, "%s:%d", host, (int) port)
             : ngx_slprintf(p, last, "unix:%s", host);

    redis->addr.data = redis->addr_buf;
    redis->addr.len = p - redis->addr_buf;

    /* the host is a numeric address or a path: nothing here resolves */
    if (port) {
        ac = redisAsyncConnect((char *) host, port);
    } else {
        ac = redisAsyncConnectUnix((char *) host);
    }

    if (ac == NULL) {
        ngx_http_track_redis_lost(redis, NGX_LOG_ALERT,
                                  "could not allocate a connection", "");
        return NGX_ERROR;
    }

    if (ac->err) {
        ngx_http_track_redis_lost(redis, NGX_LOG_ERR, "could not connect",
                                  ac->errstr);
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    if (ngx_http_track_adapter_attach(ac, redis->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_track_redis_lost(redis, NGX_LOG_ALERT,
                                  "no free connection slot", "");
        return NGX_ERROR;
    }

    ac->data = redis;

    redis->ac = ac;
    redis->state = state;

    /* hiredis waits for writability to learn that connect() finished */
    redisAsyncSetConnectCallback(ac, ngx_http_track_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_track_redis_disconnected);

    ngx_add_timer(&redis->timer, redis->conf->connect_timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, redis->log, 0,
                   "track: connecting to redis at %V", &redis->addr);

    return NGX_OK;
}


/* the connection's own question, pipelined like any command */

static ngx_int_t
ngx_http_track_redis_probe(ngx_http_track_redis_t *redis, ngx_uint_t argc,
    const char **argv, size_t *argvlen, ngx_http_track_probe_pt handler)
{
    redis->probe_handler = handler;

    if (ngx_http_track_redis_send(&redis->probe, ngx_http_track_redis_probed,
                                  redis, argc, argv, argvlen)
        != NGX_OK)
    {
        ngx_http_track_redis_shut(redis, "could not queue a command");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_track_redis_probed(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    ngx_http_track_redis_t  *redis = privdata;

    ngx_http_track_redis_settle(&redis->probe);

    if (!redis->exiting) {
        redis->probe_handler(redis, reply);
    }

    ngx_http_track_redis_next();
}


/* the sentinel's answer: [host, port] of the master, or nil */

static void
ngx_http_track_redis_discovered(ngx_http_track_redis_t *redis,
    redisReply *reply)
{
    ngx_int_t  port;

    if (reply == NULL) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING
        || reply->element[0]->len >= sizeof(redis->master_host))
    {
        ngx_http_track_redis_later(redis, NGX_HTTP_TRACK_STEP_CLOSE,
                                   "it knows no such master");
        return;
    }

    port = ngx_atoi((u_char *) reply->element[1]->str,
                    reply->element[1]->len);
    if (port <= 0 || port > 65535) {
        ngx_http_track_redis_later(redis, NGX_HTTP_TRACK_STEP_CLOSE,
                                   "it gave an invalid port");
        return;
    }

    /* sentinels give numeric addresses unless told to resolve names */
    ngx_cpystrn(redis->master_host, (u_char *) reply->element[0]->str,
                reply->element[0]->len + 1);
    redis->master_port = (in_port_t) port;

    ngx_http_track_redis_later(redis, NGX_HTTP_TRACK_STEP_MASTER, NULL);
}


static void
ngx_http_track_redis_later(ngx_http_track_redis_t *redis,
    ngx_http_track_step_e action, const char *why)
{
    redis->step_action = action;
    redis->step_why = why;

    if (!redis->step.posted) {
        ngx_post_event(&redis->step, &ngx_posted_events);
    }
}


static void
ngx_http_track_redis_step_handler(ngx_event_t *ev)
{
    redisAsyncContext       *ac;
    ngx_http_track_redis_t  *redis = ev->data;

    switch (redis->step_action) {

    case NGX_HTTP_TRACK_STEP_CLOSE:
        ngx_http_track_redis_shut(redis, redis->step_why);
        break;

    case NGX_HTTP_TRACK_STEP_MASTER:
        ac = redis->ac;
        redis->ac = NULL;
        redis->state = NGX_HTTP_TRACK_REDIS_DOWN;

        if (redis->timer.timer_set) {
            ngx_del_timer(&redis->timer);
        }

        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_log_error(NGX_LOG_INFO, redis->log, 0,
                      "track: sentinels name %s:%d as master \"%V\"",
                      redis->master_host, (int) redis->master_port,
                      &redis->conf->master_name);

        (void) ngx_http_track_redis_open(redis, redis->master_host,
                                         redis->master_port,
                                         NGX_HTTP_TRACK_REDIS_CONNECTING);
        break;

    default:
        break;
    }

    redis->step_action = NGX_HTTP_TRACK_STEP_NONE;
}


static void
ngx_http_track_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_str_t                   *pw;
    const char                  *argv[1];
    size_t                       argvlen[1];
    ngx_http_track_redis_t      *redis = ac->data;
    ngx_http_track_main_conf_t  *conf;

    if (redis->ac != ac) {
        return;
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns */
        ngx_http_track_redis_lost(redis, NGX_LOG_ERR, "could not connect",
                                  ac->errstr);
        return;
    }

    if (redis->state == NGX_HTTP_TRACK_REDIS_DISCOVERING) {
        /* the question is on its way */
        return;
    }

    conf = redis->conf;

    /* pipelined ahead of the pushes, so they run on the right database */
    pw = &conf->redis_password;

    if (pw->len) {
        redisAsyncCommand(redis->ac, ngx_http_track_redis_setup_reply,
                          (void *) "AUTH", "AUTH %b", pw->data, pw->len);
    }

    if (conf->redis_db) {
        redisAsyncCommand(redis->ac, ngx_http_track_redis_setup_reply,
                          (void *) "SELECT", "SELECT %d", (int) conf->redis_db);
    }

    if (conf->sentinels == NULL) {
        ngx_http_track_redis_ready(redis);
        return;
    }

    /* right after a failover the sentinels may still name the old master */
    argv[0] = "ROLE";
    argvlen[0] = sizeof("ROLE") - 1;

    (void) ngx_http_track_redis_probe(redis, 1, argv, argvlen,
                                      ngx_http_track_redis_role);
}


static void
ngx_http_track_redis_role(ngx_http_track_redis_t *redis, redisReply *reply)
{
    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[0]->len == sizeof("master") - 1
        && ngx_strncmp(reply->element[0]->str, "master",
                       sizeof("master") - 1) == 0)
    {
        ngx_http_track_redis_ready(redis);
        return;
    }

    ngx_http_track_redis_later(redis, NGX_HTTP_TRACK_STEP_CLOSE,
                               "it is not the master (yet)");
}


static void
ngx_http_track_redis_ready(ngx_http_track_redis_t *redis)
{
    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    redis->state = NGX_HTTP_TRACK_REDIS_READY;
    redis->backoff = NGX_HTTP_TRACK_MIN_BACKOFF;

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_CONNECTS, 1);
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_UP, 1);

    ngx_log_error(NGX_LOG_INFO, redis->log, 0,
                  "track: connected to redis at %V", &redis->addr);

    /* commands sent while connecting may be in flight: arm their deadline */
    ngx_http_track_redis_arm_timer(redis);

    redis->on_ready();
}


static void
ngx_http_track_redis_setup_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply              *rr = reply;
    ngx_http_track_redis_t  *redis = ac->data;

    if (rr != NULL && rr->type == REDIS_REPLY_ERROR) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_ERRORS, 1);
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "track: redis refused %s: %*s", (char *) privdata,
                      (size_t) rr->len, rr->str);
    }
}


static void
ngx_http_track_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_track_redis_t  *redis = ac->data;

    if (redis->ac != ac) {
        /* we closed it ourselves and said why */
        return;
    }

    ngx_http_track_redis_lost(redis, NGX_LOG_ERR, "connection lost",
                              status == REDIS_OK ? "closed" : ac->errstr);
}


/*
 * The connection is gone or never came up: everything still waiting is
 * answered 503 (hiredis has already failed what was in flight) and the
 * next attempt is scheduled with exponential backoff.
 */

static void
ngx_http_track_redis_lost(ngx_http_track_redis_t *redis, ngx_uint_t level,
    const char *why, const char *detail)
{
    if (redis->state == NGX_HTTP_TRACK_REDIS_READY) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_UP, -1);
    }

    redis->ac = NULL;
    redis->state = NGX_HTTP_TRACK_REDIS_DOWN;

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    if (redis->exiting) {
        return;
    }

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_ERRORS, 1);

    ngx_log_error(level, redis->log, 0,
                  "track: redis at %V: %s%s%s; events %s until it is "
                  "back, retrying in %M ms", &redis->addr, why,
                  detail[0] ? ": " : "", detail,
                  redis->conf->spool_path.len ? "go to the spool"
                                              : "get 503",
                  redis->backoff);

    if (!redis->retry.timer_set) {
        ngx_add_timer(&redis->retry, redis->backoff);
    }

    redis->backoff = ngx_min(redis->backoff * 2, redis->conf->max_backoff);

    redis->on_lost();
}


/* tears down a context we gave up on; hiredis fails its callbacks */

static void
ngx_http_track_redis_shut(ngx_http_track_redis_t *redis, const char *why)
{
    redisAsyncContext  *ac;

    ac = redis->ac;

    ngx_http_track_redis_lost(redis, NGX_LOG_ERR, why, "");

    if (ac) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_track_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_track_redis_t  *redis = ev->data;

    if (redis->state == NGX_HTTP_TRACK_REDIS_DOWN && !ngx_exiting) {
        ngx_http_track_redis_connect(redis);
    }
}


/*
 * Queues a command; with cmd, under the reply deadline until its owner
 * settles it.  NGX_ERROR: not queued, and the caller gives the connection
 * up (ngx_http_track_redis_close) once it has answered its own waiters.
 */

ngx_int_t
ngx_http_track_redis_send(ngx_http_track_redis_cmd_t *cmd,
    redisCallbackFn *fn, void *privdata, ngx_uint_t argc, const char **argv,
    size_t *argvlen)
{
    ngx_http_track_redis_t  *redis = ngx_http_track_redis_conn;

    /* hiredis copies the arguments into its output buffer */
    if (redisAsyncCommandArgv(redis->ac, fn, privdata, (int) argc, argv,
                              argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    if (cmd == NULL) {
        return NGX_OK;
    }

    cmd->deadline = ngx_current_msec + redis->conf->timeout;
    ngx_queue_insert_tail(&redis->inflight, &cmd->link);
    redis->ninflight++;

    if (!redis->timer.timer_set) {
        ngx_http_track_redis_arm_timer(redis);
    }

    return NGX_OK;
}


/*
 * WAIT for track_redis_wait_replicas replicas: its reply is the number of
 * replicas that have everything written before it.
 */

void
ngx_http_track_redis_wait_args(ngx_http_track_main_conf_t *conf,
    ngx_http_track_redis_wait_t *wait)
{
    wait->argv[0] = "WAIT";
    wait->argvlen[0] = sizeof("WAIT") - 1;
    wait->argv[1] = (const char *) wait->replicas;
    wait->argvlen[1] = ngx_sprintf(wait->replicas, "%ui",
                                   conf->wait_replicas)
                       - wait->replicas;
    wait->argv[2] = (const char *) wait->timeout;
    wait->argvlen[2] = ngx_sprintf(wait->timeout, "%M", conf->wait_timeout)
                       - wait->timeout;
}


/* a command is done: out of the flight list */

void
ngx_http_track_redis_settle(ngx_http_track_redis_cmd_t *cmd)
{
    ngx_queue_remove(&cmd->link);
    ngx_http_track_redis_conn->ninflight--;
}


/* after a reply: the next deadline, and what waits for a free slot */

void
ngx_http_track_redis_next(void)
{
    ngx_http_track_redis_t  *redis = ngx_http_track_redis_conn;

    if (redis == NULL || redis->state != NGX_HTTP_TRACK_REDIS_READY
        || redis->exiting)
    {
        return;
    }

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    ngx_http_track_redis_arm_timer(redis);

    redis->on_ready();
}


/* gives the connection up: hiredis fails what is in flight */

void
ngx_http_track_redis_close(const char *why)
{
    ngx_http_track_redis_shut(ngx_http_track_redis_conn, why);
}


/* the same from inside a hiredis callback, where nothing may be freed */

void
ngx_http_track_redis_close_later(const char *why)
{
    ngx_http_track_redis_later(ngx_http_track_redis_conn,
                               NGX_HTTP_TRACK_STEP_CLOSE, why);
}


ngx_uint_t
ngx_http_track_redis_is_ready(void)
{
    return ngx_http_track_redis_conn != NULL
           && ngx_http_track_redis_conn->state == NGX_HTTP_TRACK_REDIS_READY;
}


ngx_uint_t
ngx_http_track_redis_is_down(void)
{
    return ngx_http_track_redis_conn == NULL
           || ngx_http_track_redis_conn->state == NGX_HTTP_TRACK_REDIS_DOWN;
}


/* the worker exits: replies may not touch requests or spool any more */

ngx_uint_t
ngx_http_track_redis_is_exiting(void)
{
    return ngx_http_track_redis_conn == NULL
           || ngx_http_track_redis_conn->exiting;
}


ngx_uint_t
ngx_http_track_redis_inflight(void)
{
    return ngx_http_track_redis_conn->ninflight;
}


/* where the connection goes, for logs */

ngx_str_t *
ngx_http_track_redis_address(void)
{
    return &ngx_http_track_redis_conn->addr;
}


/* the timer tracks the oldest command in flight: replies come in order */

static void
ngx_http_track_redis_arm_timer(ngx_http_track_redis_t *redis)
{
    ngx_msec_int_t               left;
    ngx_http_track_redis_cmd_t  *cmd;

    if (ngx_queue_empty(&redis->inflight)) {
        return;
    }

    cmd = ngx_queue_data(ngx_queue_head(&redis->inflight),
                         ngx_http_track_redis_cmd_t, link);

    left = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    ngx_add_timer(&redis->timer, left > 0 ? (ngx_msec_t) left : 1);
}


static void
ngx_http_track_redis_timer_handler(ngx_event_t *ev)
{
    ngx_http_track_redis_t  *redis = ev->data;

    ngx_http_track_redis_shut(redis,
                              redis->state == NGX_HTTP_TRACK_REDIS_READY
                              ? "no reply in time" : "connect timed out");
}
