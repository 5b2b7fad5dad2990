
/*
 * The worker's Redis connection: hiredis' async API glued to nginx's event
 * loop, with connect and reply timeouts on nginx timers, reconnection with
 * backoff, and coalescing of the events of many requests into pipelined
 * RPUSH commands.
 */


#include "ngx_http_track_module.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_track_adapter.h"


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


/*
 * A command in flight: an RPUSH and the requests waiting on its reply, or
 * another command whose reply goes to a handler.
 */
struct ngx_http_track_push_s {
    ngx_queue_t                   link;      /* in redis->inflight */
    ngx_queue_t                   waiters;   /* ngx_http_track_ctx_t */
    ngx_uint_t                    nevents;
    ngx_msec_t                    deadline;
    ngx_http_track_reply_pt       handler;
    void                         *data;
    unsigned                      waiting:1;   /* for WAIT's reply */
    unsigned                      pushed:1;    /* RPUSH succeeded */
};


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

    ngx_event_t                   step;      /* posted */
    ngx_http_track_step_e         step_action;
    const char                   *step_why;

    ngx_queue_t                   pending;   /* ngx_http_track_ctx_t */
    ngx_uint_t                    npending;  /* events */

    ngx_queue_t                   inflight;  /* ngx_http_track_push_t */
    ngx_uint_t                    ninflight; /* pushes */

    ngx_event_t                   flush;     /* posted: coalesce a loop */
    ngx_event_t                   timer;     /* connect or reply deadline */
    ngx_event_t                   retry;
    ngx_event_t                   poll;      /* queue length while full */

    ngx_uint_t                    queue_len; /* as Redis last told */
    unsigned                      throttled:1;

    const char                  **argv;
    size_t                       *argvlen;
    ngx_uint_t                    nargv;

    unsigned                      exiting:1;
};


static void ngx_http_track_redis_connect(ngx_http_track_redis_t *redis);
static ngx_int_t ngx_http_track_redis_open(ngx_http_track_redis_t *redis,
    u_char *host, in_port_t port, ngx_http_track_redis_state_e state);
static void ngx_http_track_redis_discovered(redisReply *reply, void *data);
static void ngx_http_track_redis_later(ngx_http_track_redis_t *redis,
    ngx_http_track_step_e action, const char *why);
static void ngx_http_track_redis_step_handler(ngx_event_t *ev);
static void ngx_http_track_redis_role(redisReply *reply, void *data);
static void ngx_http_track_redis_ready(ngx_http_track_redis_t *redis);
static ngx_int_t ngx_http_track_redis_command_in(ngx_http_track_redis_t *redis,
    ngx_uint_t argc, const char **argv, size_t *argvlen,
    ngx_http_track_reply_pt handler, void *data);
static void ngx_http_track_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_track_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_track_redis_lost(ngx_http_track_redis_t *redis,
    ngx_uint_t level, const char *why, const char *detail);
static void ngx_http_track_redis_close(ngx_http_track_redis_t *redis,
    const char *why);
static void ngx_http_track_redis_fail_pending(ngx_http_track_redis_t *redis);
static void ngx_http_track_redis_flush_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_track_redis_send(ngx_http_track_redis_t *redis);
static void ngx_http_track_redis_pushed(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_track_redis_replicated(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_track_redis_answer(ngx_http_track_redis_t *redis,
    ngx_http_track_push_t *push, ngx_uint_t status);
static void ngx_http_track_redis_settle(ngx_http_track_redis_t *redis,
    ngx_http_track_push_t *push);
static void ngx_http_track_redis_next(ngx_http_track_redis_t *redis);
static void ngx_http_track_redis_setup_reply(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_track_redis_arm_timer(ngx_http_track_redis_t *redis);
static void ngx_http_track_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_track_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_track_redis_finish(ngx_queue_t *waiters,
    ngx_uint_t status);
static ngx_http_track_push_t *ngx_http_track_redis_push_alloc(
    ngx_http_track_redis_t *redis);
static ngx_int_t ngx_http_track_redis_send_argv(ngx_http_track_redis_t *redis,
    ngx_http_track_push_t *push, ngx_uint_t argc, const char **argv,
    size_t *argvlen);
static void ngx_http_track_redis_queue_length(ngx_http_track_redis_t *redis,
    long long len);
static void ngx_http_track_redis_poll_handler(ngx_event_t *ev);
static void ngx_http_track_redis_polled(redisReply *reply, void *data);


#define NGX_HTTP_TRACK_MIN_BACKOFF     100
#define NGX_HTTP_TRACK_POLL_INTERVAL   500


static ngx_http_track_redis_t  *ngx_http_track_redis;


ngx_int_t
ngx_http_track_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf)
{
    ngx_http_track_redis_t  *redis;

    redis = ngx_pcalloc(cycle->pool, sizeof(ngx_http_track_redis_t));
    if (redis == NULL) {
        return NGX_ERROR;
    }

    redis->conf = tmcf;
    redis->log = cycle->log;
    redis->backoff = NGX_HTTP_TRACK_MIN_BACKOFF;

    ngx_queue_init(&redis->pending);
    ngx_queue_init(&redis->inflight);

    redis->flush.handler = ngx_http_track_redis_flush_handler;
    redis->flush.data = redis;
    redis->flush.log = cycle->log;

    redis->timer.handler = ngx_http_track_redis_timer_handler;
    redis->timer.data = redis;
    redis->timer.log = cycle->log;

    /* waiting to reconnect must not hold back a graceful shutdown */
    redis->retry.handler = ngx_http_track_redis_retry_handler;
    redis->retry.data = redis;
    redis->retry.log = cycle->log;
    redis->retry.cancelable = 1;

    redis->poll.handler = ngx_http_track_redis_poll_handler;
    redis->poll.data = redis;
    redis->poll.log = cycle->log;
    redis->poll.cancelable = 1;

    redis->step.handler = ngx_http_track_redis_step_handler;
    redis->step.data = redis;
    redis->step.log = cycle->log;

    ngx_http_track_redis = redis;

    ngx_http_track_redis_connect(redis);

    return NGX_OK;
}


void
ngx_http_track_redis_exit_process(ngx_cycle_t *cycle)
{
    redisAsyncContext       *ac;
    ngx_http_track_redis_t  *redis;

    redis = ngx_http_track_redis;
    if (redis == NULL) {
        return;
    }

    /* the process is ending: no request may be touched any more */
    redis->exiting = 1;

    if (redis->flush.posted) {
        ngx_delete_posted_event(&redis->flush);
    }

    if (redis->step.posted) {
        ngx_delete_posted_event(&redis->step);
    }

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    if (redis->retry.timer_set) {
        ngx_del_timer(&redis->retry);
    }

    if (redis->poll.timer_set) {
        ngx_del_timer(&redis->poll);
    }

    ac = redis->ac;
    redis->ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }

    ngx_free(redis->argv);
    ngx_free(redis->argvlen);

    ngx_http_track_redis = NULL;
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

    (void) ngx_http_track_redis_command_in(redis, 3, argv, argvlen,
                                           ngx_http_track_redis_discovered,
                                           redis);
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


/* the sentinel's answer: [host, port] of the master, or nil */

static void
ngx_http_track_redis_discovered(redisReply *reply, void *data)
{
    ngx_int_t                port;
    ngx_http_track_redis_t  *redis = data;

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
        ngx_http_track_redis_close(redis, redis->step_why);
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

    (void) ngx_http_track_redis_command_in(redis, 1, argv, argvlen,
                                           ngx_http_track_redis_role, redis);
}


static void
ngx_http_track_redis_role(redisReply *reply, void *data)
{
    ngx_http_track_redis_t  *redis = data;

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

    if (!ngx_queue_empty(&redis->pending) && !redis->flush.posted) {
        ngx_post_event(&redis->flush, &ngx_posted_events);
    }
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

    ngx_http_track_redis_fail_pending(redis);
}


/* tears down a context we gave up on; hiredis fails its callbacks */

static void
ngx_http_track_redis_close(ngx_http_track_redis_t *redis, const char *why)
{
    redisAsyncContext  *ac;

    ac = redis->ac;

    ngx_http_track_redis_lost(redis, NGX_LOG_ERR, why, "");

    if (ac) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_track_redis_fail_pending(ngx_http_track_redis_t *redis)
{
    ngx_queue_t  waiters;

    if (ngx_queue_empty(&redis->pending)) {
        return;
    }

    /* move them out first: answering may queue new requests */
    waiters = redis->pending;
    waiters.next->prev = &waiters;
    waiters.prev->next = &waiters;

    ngx_queue_init(&redis->pending);
    redis->npending = 0;

    ngx_http_track_redis_finish(&waiters, NGX_HTTP_SERVICE_UNAVAILABLE);
}


static void
ngx_http_track_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_track_redis_t  *redis = ev->data;

    if (redis->state == NGX_HTTP_TRACK_REDIS_DOWN && !ngx_exiting) {
        ngx_http_track_redis_connect(redis);
    }
}


ngx_int_t
ngx_http_track_redis_submit(ngx_http_track_ctx_t *ctx)
{
    ngx_http_track_redis_t  *redis;

    redis = ngx_http_track_redis;

    if (redis == NULL || redis->state == NGX_HTTP_TRACK_REDIS_DOWN
        || redis->throttled)
    {
        return NGX_DECLINED;
    }

    if (redis->npending + ctx->nevents > redis->conf->max_pending) {
        ngx_log_error(NGX_LOG_WARN, redis->log, 0,
                      "track: %ui events already wait for redis at %V",
                      redis->npending, &redis->addr);
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&redis->pending, &ctx->link);
    redis->npending += ctx->nevents;
    ctx->queued = 1;

    /* everything queued during this event loop iteration goes together */
    if (redis->state == NGX_HTTP_TRACK_REDIS_READY && !redis->flush.posted) {
        ngx_post_event(&redis->flush, &ngx_posted_events);
    }

    return NGX_OK;
}


void
ngx_http_track_redis_detach(ngx_http_track_ctx_t *ctx)
{
    ngx_http_track_redis_t  *redis;

    redis = ngx_http_track_redis;

    ngx_queue_remove(&ctx->link);
    ctx->queued = 0;

    if (ctx->push == NULL && redis) {
        redis->npending -= ctx->nevents;
    }
}


static void
ngx_http_track_redis_flush_handler(ngx_event_t *ev)
{
    ngx_http_track_redis_t  *redis = ev->data;

    while (redis->state == NGX_HTTP_TRACK_REDIS_READY
           && !ngx_queue_empty(&redis->pending)
           && redis->ninflight < redis->conf->max_inflight)
    {
        if (ngx_http_track_redis_send(redis) != NGX_OK) {
            return;
        }
    }
}


/* takes whole requests from pending until batch_size events are in */

static ngx_int_t
ngx_http_track_redis_send(ngx_http_track_redis_t *redis)
{
    size_t                  *argvlen;
    ngx_uint_t               n, i;
    ngx_queue_t             *q;
    const char             **argv;
    ngx_http_track_ctx_t    *ctx;
    ngx_http_track_push_t   *push;

    push = ngx_http_track_redis_push_alloc(redis);
    if (push == NULL) {
        return NGX_ERROR;
    }

    while (!ngx_queue_empty(&redis->pending)) {
        q = ngx_queue_head(&redis->pending);
        ctx = ngx_queue_data(q, ngx_http_track_ctx_t, link);

        if (push->nevents
            && push->nevents + ctx->nevents > redis->conf->batch_size)
        {
            break;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&push->waiters, q);
        ctx->push = push;
        push->nevents += ctx->nevents;
        redis->npending -= ctx->nevents;
    }

    argv = ngx_http_track_redis_argv(push->nevents + 2, &argvlen);
    if (argv == NULL) {
        ngx_http_track_redis_finish(&push->waiters,
                                    NGX_HTTP_SERVICE_UNAVAILABLE);
        ngx_free(push);
        return NGX_ERROR;
    }

    argv[0] = "RPUSH";
    argvlen[0] = sizeof("RPUSH") - 1;
    argv[1] = (const char *) redis->conf->redis_key.data;
    argvlen[1] = redis->conf->redis_key.len;

    n = 2;

    for (q = ngx_queue_head(&push->waiters);
         q != ngx_queue_sentinel(&push->waiters);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_http_track_ctx_t, link);

        for (i = 0; i < ctx->nevents; i++) {
            argv[n] = (const char *) ctx->events[i].data;
            argvlen[n] = ctx->events[i].len;
            n++;
        }
    }

    push->waiting = (redis->conf->wait_replicas > 0);

    if (ngx_http_track_redis_send_argv(redis, push, n, argv, argvlen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * WAIT holds this connection until the replicas have everything sent
     * before it, so an acknowledged event survives a failover.
     */
    if (push->waiting
        && redisAsyncCommand(redis->ac, ngx_http_track_redis_replicated,
                             push, "WAIT %d %d",
                             (int) redis->conf->wait_replicas,
                             (int) redis->conf->wait_timeout)
           != REDIS_OK)
    {
        /* the push is settled by the RPUSH reply alone then */
        push->waiting = 0;
        ngx_http_track_redis_later(redis, NGX_HTTP_TRACK_STEP_CLOSE,
                                   "could not queue a command");
    }

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_PUSHES, 1);
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_INFLIGHT,
                            push->nevents);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, redis->log, 0,
                   "track: pushing %ui events, %ui commands in flight",
                   push->nevents, redis->ninflight);

    return NGX_OK;
}


static ngx_http_track_push_t *
ngx_http_track_redis_push_alloc(ngx_http_track_redis_t *redis)
{
    ngx_http_track_push_t  *push;

    push = ngx_alloc(sizeof(ngx_http_track_push_t), redis->log);
    if (push == NULL) {
        return NULL;
    }

    ngx_queue_init(&push->waiters);
    push->nevents = 0;
    push->handler = NULL;
    push->data = NULL;
    push->waiting = 0;
    push->pushed = 0;

    return push;
}


/*
 * Queues a command and starts its reply deadline.  On failure the push's
 * waiters are answered, the push freed (its handler is not called) and the
 * connection given up.
 */

static ngx_int_t
ngx_http_track_redis_send_argv(ngx_http_track_redis_t *redis,
    ngx_http_track_push_t *push, ngx_uint_t argc, const char **argv,
    size_t *argvlen)
{
    /* hiredis copies the arguments into its output buffer */
    if (redisAsyncCommandArgv(redis->ac, ngx_http_track_redis_pushed, push,
                              (int) argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_http_track_redis_finish(&push->waiters,
                                    NGX_HTTP_SERVICE_UNAVAILABLE);
        ngx_free(push);
        ngx_http_track_redis_close(redis, "could not queue a command");
        return NGX_ERROR;
    }

    push->deadline = ngx_current_msec + redis->conf->timeout;
    ngx_queue_insert_tail(&redis->inflight, &push->link);
    redis->ninflight++;

    if (!redis->timer.timer_set) {
        ngx_http_track_redis_arm_timer(redis);
    }

    return NGX_OK;
}


/* the worker's argument arrays, grown to hold n arguments */

const char **
ngx_http_track_redis_argv(ngx_uint_t n, size_t **argvlen)
{
    ngx_http_track_redis_t  *redis = ngx_http_track_redis;

    if (redis->nargv < n) {
        ngx_free(redis->argv);
        ngx_free(redis->argvlen);

        redis->argv = ngx_alloc(n * sizeof(char *), redis->log);
        redis->argvlen = ngx_alloc(n * sizeof(size_t), redis->log);

        if (redis->argv == NULL || redis->argvlen == NULL) {
            ngx_free(redis->argv);
            ngx_free(redis->argvlen);
            redis->argv = NULL;
            redis->argvlen = NULL;
            redis->nargv = 0;
            return NULL;
        }

        redis->nargv = n;
    }

    *argvlen = redis->argvlen;

    return redis->argv;
}


/*
 * Sends a command of the spool or the queue watch, pipelined with the
 * pushes and under the same reply deadline.  The handler gets the reply,
 * or NULL when the connection went away; it may be NULL itself.
 */

ngx_int_t
ngx_http_track_redis_command(ngx_uint_t argc, const char **argv,
    size_t *argvlen, ngx_http_track_reply_pt handler, void *data)
{
    ngx_http_track_redis_t  *redis = ngx_http_track_redis;

    if (redis == NULL || redis->state != NGX_HTTP_TRACK_REDIS_READY) {
        return NGX_ERROR;
    }

    return ngx_http_track_redis_command_in(redis, argc, argv, argvlen,
                                           handler, data);
}


/* the same in any state with a context, for the connection's own use */

static ngx_int_t
ngx_http_track_redis_command_in(ngx_http_track_redis_t *redis,
    ngx_uint_t argc, const char **argv, size_t *argvlen,
    ngx_http_track_reply_pt handler, void *data)
{
    ngx_http_track_push_t  *push;

    push = ngx_http_track_redis_push_alloc(redis);
    if (push == NULL) {
        return NGX_ERROR;
    }

    push->handler = handler;
    push->data = data;

    return ngx_http_track_redis_send_argv(redis, push, argc, argv, argvlen);
}


/*
 * WAIT for track_redis_wait_replicas replicas, pipelined like any command:
 * the handler gets its reply (the number of replicas that have everything
 * written before it), or NULL.
 */

ngx_int_t
ngx_http_track_redis_wait(ngx_http_track_reply_pt handler, void *data)
{
    u_char                   replicas[NGX_INT_T_LEN], timeout[NGX_INT_T_LEN];
    size_t                   argvlen[3];
    const char              *argv[3];
    ngx_http_track_redis_t  *redis = ngx_http_track_redis;

    if (redis == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "WAIT";
    argvlen[0] = sizeof("WAIT") - 1;
    argv[1] = (const char *) replicas;
    argvlen[1] = ngx_sprintf(replicas, "%ui", redis->conf->wait_replicas)
                 - replicas;
    argv[2] = (const char *) timeout;
    argvlen[2] = ngx_sprintf(timeout, "%M", redis->conf->wait_timeout)
                 - timeout;

    /* hiredis copies the arguments: the buffers may go with this frame */
    return ngx_http_track_redis_command(3, argv, argvlen, handler, data);
}


/* Redis can take events: connected, and the queue below its ceiling */

ngx_uint_t
ngx_http_track_redis_writable(void)
{
    ngx_http_track_redis_t  *redis = ngx_http_track_redis;

    return redis != NULL && redis->state == NGX_HTTP_TRACK_REDIS_READY
           && !redis->throttled;
}


static void
ngx_http_track_redis_pushed(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply              *rr = reply;
    ngx_uint_t               status;
    ngx_http_track_push_t   *push = privdata;
    ngx_http_track_redis_t  *redis = ac->data;

    if (push->handler) {
        ngx_http_track_redis_settle(redis, push);

        if (!redis->exiting) {
            push->handler(rr, push->data);
        }

        ngx_free(push);
        ngx_http_track_redis_next(redis);
        return;
    }

    status = NGX_HTTP_SERVICE_UNAVAILABLE;

    if (rr != NULL && rr->type == REDIS_REPLY_INTEGER) {
        status = NGX_HTTP_OK;
        ngx_http_track_redis_queue_length(redis, rr->integer);

    } else if (rr != NULL) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_ERRORS, 1);
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "track: redis at %V refused %ui events: %*s",
                      &redis->addr, push->nevents, (size_t) rr->len,
                      rr->type == REDIS_REPLY_ERROR ? rr->str : "");

        /* a failover made it a replica: find the new master */
        if (rr->type == REDIS_REPLY_ERROR
            && ngx_strncmp(rr->str, "READONLY", 8) == 0)
        {
            ngx_http_track_redis_later(redis, NGX_HTTP_TRACK_STEP_CLOSE,
                                       "it became a read-only replica");
        }
    }

    if (push->waiting) {
        /* WAIT's reply comes next and settles the push */
        push->waiting = 0;
        push->pushed = (status == NGX_HTTP_OK);
        return;
    }

    ngx_http_track_redis_answer(redis, push, status);
}


/* WAIT's reply: the push counts only once enough replicas have it */

static void
ngx_http_track_redis_replicated(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply              *rr = reply;
    ngx_uint_t               status;
    ngx_http_track_push_t   *push = privdata;
    ngx_http_track_redis_t  *redis = ac->data;

    status = NGX_HTTP_SERVICE_UNAVAILABLE;

    if (push->pushed && rr != NULL && rr->type == REDIS_REPLY_INTEGER) {

        if ((ngx_uint_t) rr->integer >= redis->conf->wait_replicas) {
            status = NGX_HTTP_OK;

        } else {
            ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_ERRORS, 1);
            ngx_log_error(NGX_LOG_WARN, redis->log, 0,
                          "track: %ui events reached %L of %ui replicas "
                          "of %V in time; they are spooled as well",
                          push->nevents, (int64_t) rr->integer,
                          redis->conf->wait_replicas, &redis->addr);
        }
    }

    ngx_http_track_redis_answer(redis, push, status);
}


static void
ngx_http_track_redis_answer(ngx_http_track_redis_t *redis,
    ngx_http_track_push_t *push, ngx_uint_t status)
{
    ngx_http_track_redis_settle(redis, push);

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_INFLIGHT,
                            -(ngx_atomic_int_t) push->nevents);

    if (status == NGX_HTTP_OK) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_PUSHED,
                                push->nevents);
    }

    if (!redis->exiting) {
        ngx_http_track_redis_finish(&push->waiters, status);
    }

    ngx_free(push);
    ngx_http_track_redis_next(redis);
}


/* a command is done: out of the flight list */

static void
ngx_http_track_redis_settle(ngx_http_track_redis_t *redis,
    ngx_http_track_push_t *push)
{
    ngx_queue_remove(&push->link);
    redis->ninflight--;
}


/* after a reply: the next deadline, and what waits for a free slot */

static void
ngx_http_track_redis_next(ngx_http_track_redis_t *redis)
{
    if (redis->state != NGX_HTTP_TRACK_REDIS_READY || redis->exiting) {
        return;
    }

    if (redis->timer.timer_set) {
        ngx_del_timer(&redis->timer);
    }

    ngx_http_track_redis_arm_timer(redis);

    if (!ngx_queue_empty(&redis->pending) && !redis->flush.posted) {
        ngx_post_event(&redis->flush, &ngx_posted_events);
    }
}


/*
 * Backpressure: above track_redis_max_queue events go to the spool, and the
 * length is polled until it falls below 90% of the ceiling.
 */

static void
ngx_http_track_redis_queue_length(ngx_http_track_redis_t *redis,
    long long len)
{
    ngx_uint_t  max;

    redis->queue_len = len < 0 ? 0 : (ngx_uint_t) len;
    ngx_http_track_stat_set(NGX_HTTP_TRACK_STAT_QUEUE_LENGTH,
                            (ngx_atomic_uint_t) redis->queue_len);

    max = redis->conf->max_queue;

    if (max == 0) {
        return;
    }

    if (!redis->throttled && redis->queue_len >= max) {
        redis->throttled = 1;
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_THROTTLED, 1);

        ngx_log_error(NGX_LOG_WARN, redis->log, 0,
                      "track: queue \"%V\" holds %ui events, at its "
                      "ceiling of %ui: new events go to the spool until the "
                      "consumers catch up", &redis->conf->redis_key,
                      redis->queue_len, max);

        if (!redis->poll.timer_set) {
            ngx_add_timer(&redis->poll, NGX_HTTP_TRACK_POLL_INTERVAL);
        }

    } else if (redis->throttled && redis->queue_len < max / 10 * 9) {
        redis->throttled = 0;
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_THROTTLED, -1);

        ngx_log_error(NGX_LOG_NOTICE, redis->log, 0,
                      "track: queue \"%V\" is down to %ui events: pushing "
                      "again", &redis->conf->redis_key, redis->queue_len);
    }
}


static void
ngx_http_track_redis_poll_handler(ngx_event_t *ev)
{
    const char              *argv[2];
    size_t                   argvlen[2];
    ngx_http_track_redis_t  *redis = ev->data;

    if (!redis->throttled) {
        return;
    }

    argv[0] = "LLEN";
    argvlen[0] = sizeof("LLEN") - 1;
    argv[1] = (const char *) redis->conf->redis_key.data;
    argvlen[1] = redis->conf->redis_key.len;

    if (ngx_http_track_redis_command(2, argv, argvlen,
                                     ngx_http_track_redis_polled, redis)
        != NGX_OK)
    {
        ngx_add_timer(&redis->poll, NGX_HTTP_TRACK_POLL_INTERVAL);
    }
}


static void
ngx_http_track_redis_polled(redisReply *reply, void *data)
{
    ngx_http_track_redis_t  *redis = data;

    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
        ngx_http_track_redis_queue_length(redis, reply->integer);
    }

    if (redis->throttled && !redis->poll.timer_set) {
        ngx_add_timer(&redis->poll, NGX_HTTP_TRACK_POLL_INTERVAL);
    }
}


static void
ngx_http_track_redis_finish(ngx_queue_t *waiters, ngx_uint_t status)
{
    ngx_queue_t           *q;
    ngx_http_track_ctx_t  *ctx;

    while (!ngx_queue_empty(waiters)) {
        q = ngx_queue_head(waiters);
        ctx = ngx_queue_data(q, ngx_http_track_ctx_t, link);

        ngx_queue_remove(q);
        ctx->queued = 0;
        ctx->push = NULL;

        ctx->done(ctx, status);
    }
}


/* the timer tracks the oldest push in flight: replies come in order */

static void
ngx_http_track_redis_arm_timer(ngx_http_track_redis_t *redis)
{
    ngx_msec_int_t          left;
    ngx_http_track_push_t  *push;

    if (ngx_queue_empty(&redis->inflight)) {
        return;
    }

    push = ngx_queue_data(ngx_queue_head(&redis->inflight),
                          ngx_http_track_push_t, link);

    left = (ngx_msec_int_t) (push->deadline - ngx_current_msec);

    ngx_add_timer(&redis->timer, left > 0 ? (ngx_msec_t) left : 1);
}


static void
ngx_http_track_redis_timer_handler(ngx_event_t *ev)
{
    ngx_http_track_redis_t  *redis = ev->data;

    ngx_http_track_redis_close(redis,
                               redis->state == NGX_HTTP_TRACK_REDIS_READY
                               ? "no reply in time" : "connect timed out");
}
