/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker's connections to a Redis Cluster: one per master, the slot
 * map (CLUSTER SLOTS, at start and after MOVED or a lost master), the
 * redirections (MOVED, ASK with ASKING, TRYAGAIN), reply deadlines on
 * nginx timers, and the shard lists whose hash tags spread the pushes over
 * the masters.  What the commands carry is up to its users; a command may
 * be followed by a WAIT on the same connection, whose reply is handed over
 * after the command's own.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_adapter.h"
#include "ngx_http_track_redis.h"
#include "ngx_http_track_cluster.h"

#include <hiredis/hiredis.h>


#define NGX_HTTP_TRACK_CLUSTER_SLOTS      16384
#define NGX_HTTP_TRACK_CLUSTER_TRIES      5
#define NGX_HTTP_TRACK_CLUSTER_REFRESH    500
#define NGX_HTTP_TRACK_CLUSTER_TRYAGAIN   50
#define NGX_HTTP_TRACK_CLUSTER_BACKOFF    100


typedef struct ngx_http_track_node_s  ngx_http_track_node_t;
typedef struct ngx_http_track_cluster_cmd_s  ngx_http_track_cluster_cmd_t;

/* a cluster node: a master of the slot map, a seed, or a redirection */
struct ngx_http_track_node_s {
    ngx_http_track_node_t        *next;
    redisAsyncContext            *ac;       /* NULL: not connected */
    u_char                        host[NGX_SOCKADDR_STRLEN + 1];
    in_port_t                     port;
    ngx_msec_t                    retry_at;
    ngx_msec_t                    backoff;
    ngx_uint_t                    ninflight;
    ngx_event_t                   timer;    /* connect deadline */
    unsigned                      connected:1;
    unsigned                      failed:1; /* lost, not connected since */
};


/* a command in flight, kept formatted to follow redirections */
struct ngx_http_track_cluster_cmd_s {
    ngx_http_track_node_t        *node;
    char                         *buf;
    size_t                        len;
    ngx_uint_t                    slot;     /* SLOTS: bound to its node */
    ngx_uint_t                    tries;
    ngx_event_t                   timer;    /* reply deadline, or retry */
    ngx_http_track_cluster_reply_pt  handler;
    ngx_http_track_cluster_reply_pt  waited;  /* WAIT's reply, or NULL */
    void                         *data;
    struct ngx_http_track_cluster_wait_s  *wait;  /* after the last send */
    unsigned                      asking:1;
    unsigned                      again:1;  /* waiting to retry */
    unsigned                      waiting:1;  /* replied, WAIT's is due */
};


/*
 * A WAIT pipelined after a command.  A redirection sends the command on
 * and orphans the WAIT that followed it: that one's reply is dropped.
 */
typedef struct ngx_http_track_cluster_wait_s {
    ngx_http_track_cluster_cmd_t *cmd;      /* NULL: orphaned */
} ngx_http_track_cluster_wait_t;


typedef struct {
    ngx_http_track_main_conf_t   *conf;
    ngx_log_t                    *log;

    ngx_http_track_node_t        *nodes;
    ngx_http_track_node_t       **slots;    /* the master of each slot */
    ngx_uint_t                    seed;     /* the one to ask next */

    ngx_str_t                    *shards;   /* the lists' keys */
    ngx_uint_t                    nshards;

    ngx_event_t                   refresh;

    char                         *wait_buf;  /* WAIT n timeout, formatted */
    size_t                        wait_len;

    ngx_http_track_cluster_event_pt  on_ready;

    unsigned                      known:1;    /* a slot map came */
    unsigned                      stale:1;    /* ask for it again */
    unsigned                      asking:1;   /* CLUSTER SLOTS in flight */
    unsigned                      exiting:1;
} ngx_http_track_cluster_t;


static ngx_uint_t ngx_http_track_cluster_slot(u_char *key, size_t len);
static ngx_http_track_node_t *ngx_http_track_cluster_node(
    ngx_http_track_cluster_t *cluster, u_char *host, size_t len,
    in_port_t port);
static ngx_int_t ngx_http_track_cluster_connect(ngx_http_track_node_t *node);
static void ngx_http_track_cluster_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_track_cluster_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_track_cluster_lost(ngx_http_track_node_t *node,
    const char *why, const char *detail);
static void ngx_http_track_cluster_close(ngx_http_track_node_t *node,
    const char *why);
static void ngx_http_track_cluster_connect_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_track_cluster_dispatch(
    ngx_http_track_cluster_cmd_t *cmd, ngx_http_track_node_t *node);
static void ngx_http_track_cluster_follow(ngx_http_track_cluster_cmd_t *cmd,
    ngx_http_track_node_t *node);
static void ngx_http_track_cluster_orphan(ngx_http_track_cluster_cmd_t *cmd);
static void ngx_http_track_cluster_replied(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_track_cluster_waited(redisAsyncContext *ac,
    void *reply, void *privdata);
static ngx_int_t ngx_http_track_cluster_redirect(
    ngx_http_track_cluster_cmd_t *cmd, redisReply *reply);
static void ngx_http_track_cluster_finish(ngx_http_track_cluster_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_track_cluster_free(ngx_http_track_cluster_cmd_t *cmd);
static void ngx_http_track_cluster_cmd_timer(ngx_event_t *ev);
static void ngx_http_track_cluster_refresh_handler(ngx_event_t *ev);
static void ngx_http_track_cluster_ask(ngx_http_track_cluster_t *cluster);
static void ngx_http_track_cluster_mapped(redisReply *reply, void *data);
static ngx_int_t ngx_http_track_cluster_map(ngx_http_track_cluster_t *cluster,
    redisReply *reply, ngx_http_track_node_t *asked);
static ngx_int_t ngx_http_track_cluster_make_shards(
    ngx_http_track_cluster_t *cluster);


/* this worker's cluster */
static ngx_http_track_cluster_t  *ngx_http_track_clusterer;


ngx_int_t
ngx_http_track_cluster_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf, ngx_http_track_cluster_event_pt ready)
{
    int                           len;
    ngx_http_track_cluster_t     *cluster;
    ngx_http_track_redis_wait_t   wait;

    cluster = ngx_pcalloc(cycle->pool, sizeof(ngx_http_track_cluster_t));
    if (cluster == NULL) {
        return NGX_ERROR;
    }

    cluster->slots = ngx_pcalloc(cycle->pool, NGX_HTTP_TRACK_CLUSTER_SLOTS
                                 * sizeof(ngx_http_track_node_t *));
    if (cluster->slots == NULL) {
        return NGX_ERROR;
    }

    cluster->conf = tmcf;
    cluster->log = cycle->log;
    cluster->on_ready = ready;
    cluster->stale = 1;

    if (tmcf->wait_replicas) {
        ngx_http_track_redis_wait_args(tmcf, &wait);

        len = redisFormatCommandArgv(&cluster->wait_buf, 3, wait.argv,
                                     wait.argvlen);
        if (len < 0) {
            return NGX_ERROR;
        }

        cluster->wait_len = len;
    }

    /* waiting for the next map must not hold back a graceful shutdown */
    cluster->refresh.handler = ngx_http_track_cluster_refresh_handler;
    cluster->refresh.data = cluster;
    cluster->refresh.log = cycle->log;
    cluster->refresh.cancelable = 1;

    ngx_http_track_clusterer = cluster;

    ngx_http_track_cluster_ask(cluster);
    ngx_add_timer(&cluster->refresh, NGX_HTTP_TRACK_CLUSTER_REFRESH);

    return NGX_OK;
}


void
ngx_http_track_cluster_exit_process(ngx_cycle_t *cycle)
{
    redisAsyncContext         *ac;
    ngx_http_track_node_t     *node;
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    if (cluster == NULL) {
        return;
    }

    cluster->exiting = 1;

    if (cluster->refresh.timer_set) {
        ngx_del_timer(&cluster->refresh);
    }

    for (node = cluster->nodes; node; node = node->next) {
        if (node->timer.timer_set) {
            ngx_del_timer(&node->timer);
        }

        ac = node->ac;
        node->ac = NULL;

        if (ac) {
            redisAsyncFree(ac);
        }
    }

    /* freeing the contexts answered every WAIT: nothing refers to it */
    redisFreeCommand(cluster->wait_buf);
    cluster->wait_buf = NULL;

    ngx_http_track_clusterer = NULL;
}


/*
 * Sends a command to the master of key's slot.  NGX_OK: the handler (if
 * any) gets the final reply or NULL; NGX_DECLINED: that master cannot take
 * it now; NGX_AGAIN: it has track_redis_max_inflight commands in flight
 * already.  The handler is called only after NGX_OK.  With waited (only
 * with track_redis_wait_replicas), a WAIT follows the command on the same
 * connection, and waited gets its reply right after the handler: NULL if
 * the command failed, or the WAIT did not get through.
 */

ngx_int_t
ngx_http_track_cluster_send(ngx_str_t *key, ngx_uint_t argc,
    const char **argv, size_t *argvlen,
    ngx_http_track_cluster_reply_pt handler,
    ngx_http_track_cluster_reply_pt waited, void *data)
{
    int                            len;
    ngx_uint_t                     slot;
    ngx_http_track_node_t         *node;
    ngx_http_track_cluster_t      *cluster = ngx_http_track_clusterer;
    ngx_http_track_cluster_cmd_t  *cmd;

    if (cluster == NULL || !cluster->known || cluster->exiting) {
        return NGX_DECLINED;
    }

    slot = ngx_http_track_cluster_slot(key->data, key->len);
    node = cluster->slots[slot];

    if (node == NULL) {
        cluster->stale = 1;
        return NGX_DECLINED;
    }

    if (node->ninflight >= cluster->conf->max_inflight) {
        return NGX_AGAIN;
    }

    cmd = ngx_calloc(sizeof(ngx_http_track_cluster_cmd_t), cluster->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    len = redisFormatCommandArgv(&cmd->buf, (int) argc, argv, argvlen);
    if (len < 0) {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    cmd->len = len;
    cmd->slot = slot;
    cmd->handler = handler;
    cmd->waited = cluster->wait_buf ? waited : NULL;
    cmd->data = data;
    cmd->timer.handler = ngx_http_track_cluster_cmd_timer;
    cmd->timer.data = cmd;
    cmd->timer.log = cluster->log;

    if (ngx_http_track_cluster_dispatch(cmd, node) != NGX_OK) {
        redisFreeCommand(cmd->buf);
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    ngx_add_timer(&cmd->timer, cluster->conf->timeout);

    return NGX_OK;
}


/* the n-th shard list (n modulo their number); NULL before the map */

ngx_str_t *
ngx_http_track_cluster_shard(ngx_uint_t n)
{
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    if (cluster == NULL || cluster->nshards == 0) {
        return NULL;
    }

    return &cluster->shards[n % cluster->nshards];
}


ngx_uint_t
ngx_http_track_cluster_nshards(void)
{
    return ngx_http_track_clusterer ? ngx_http_track_clusterer->nshards : 0;
}


ngx_uint_t
ngx_http_track_cluster_is_on(void)
{
    return ngx_http_track_clusterer != NULL;
}


/* pushes may go out: the slot map is known */

ngx_uint_t
ngx_http_track_cluster_is_ready(void)
{
    return ngx_http_track_clusterer != NULL
           && ngx_http_track_clusterer->known
           && !ngx_http_track_clusterer->exiting;
}


/* every slot has a master that is not known to be down: replay may run */

ngx_uint_t
ngx_http_track_cluster_is_whole(void)
{
    ngx_uint_t                 i;
    ngx_http_track_node_t     *node;
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    if (!ngx_http_track_cluster_is_ready() || cluster->stale) {
        return 0;
    }

    for (i = 0; i < NGX_HTTP_TRACK_CLUSTER_SLOTS; i++) {
        node = cluster->slots[i];

        if (node == NULL || node->failed) {
            return 0;
        }
    }

    return 1;
}


ngx_uint_t
ngx_http_track_cluster_is_exiting(void)
{
    return ngx_http_track_clusterer == NULL
           || ngx_http_track_clusterer->exiting;
}


/* the key's slot: CRC16 (XMODEM) of its hash tag, or of the whole key */

static ngx_uint_t
ngx_http_track_cluster_slot(u_char *key, size_t len)
{
    u_char      *open, *close;
    size_t       i;
    ngx_uint_t   bit;
    uint16_t     crc;

    open = ngx_strlchr(key, key + len, '{');

    if (open) {
        close = ngx_strlchr(open + 1, key + len, '}');

        if (close && close > open + 1) {
            key = open + 1;
            len = close - key;
        }
    }

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t) (key[i] << 8);

        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }
    }

    return crc & (NGX_HTTP_TRACK_CLUSTER_SLOTS - 1);
}


/*
 * The node at host:port, known or new.  Only numeric addresses: a worker
 * never resolves a name (redisAsyncConnect would block on getaddrinfo).
 */

static ngx_http_track_node_t *
ngx_http_track_cluster_node(ngx_http_track_cluster_t *cluster, u_char *host,
    size_t len, in_port_t port)
{
    ngx_http_track_node_t  *node;

    for (node = cluster->nodes; node; node = node->next) {
        if (node->port == port && ngx_strlen(node->host) == len
            && ngx_strncmp(node->host, host, len) == 0)
        {
            return node;
        }
    }

    if (len == 0 || len >= NGX_SOCKADDR_STRLEN
        || (ngx_inet_addr(host, len) == INADDR_NONE
            && ngx_strlchr(host, host + len, ':') == NULL))
    {
        ngx_log_error(NGX_LOG_ERR, cluster->log, 0,
                      "track: redis cluster names node \"%*s\", which is "
                      "not a numeric address", len, host);
        return NULL;
    }

    node = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_track_node_t));
    if (node == NULL) {
        return NULL;
    }

    ngx_cpystrn(node->host, host, len + 1);
    node->port = port;
    node->backoff = NGX_HTTP_TRACK_CLUSTER_BACKOFF;

    node->timer.handler = ngx_http_track_cluster_connect_timeout;
    node->timer.data = node;
    node->timer.log = cluster->log;

    node->next = cluster->nodes;
    cluster->nodes = node;

    return node;
}


static ngx_int_t
ngx_http_track_cluster_connect(ngx_http_track_node_t *node)
{
    ngx_str_t                 *pw;
    redisAsyncContext         *ac;
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    ac = redisAsyncConnect((char *) node->host, node->port);
    if (ac == NULL) {
        ngx_http_track_cluster_lost(node, "could not allocate a connection",
                                    "");
        return NGX_ERROR;
    }

    if (ac->err) {
        ngx_http_track_cluster_lost(node, "could not connect", ac->errstr);
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    if (ngx_http_track_adapter_attach(ac, cluster->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_track_cluster_lost(node, "no free connection slot", "");
        return NGX_ERROR;
    }

    ac->data = node;
    node->ac = ac;

    redisAsyncSetConnectCallback(ac, ngx_http_track_cluster_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_track_cluster_disconnected);

    /* pipelined ahead of everything sent while connecting */
    pw = &cluster->conf->redis_password;

    if (pw->len) {
        redisAsyncCommand(ac, NULL, NULL, "AUTH %b", pw->data, pw->len);
    }

    ngx_add_timer(&node->timer, cluster->conf->connect_timeout);

    return NGX_OK;
}


static void
ngx_http_track_cluster_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_track_node_t  *node = ac->data;

    if (node->ac != ac) {
        return;
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns */
        ngx_http_track_cluster_lost(node, "could not connect", ac->errstr);
        return;
    }

    if (node->timer.timer_set) {
        ngx_del_timer(&node->timer);
    }

    node->connected = 1;
    node->failed = 0;
    node->backoff = NGX_HTTP_TRACK_CLUSTER_BACKOFF;

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_CONNECTS, 1);
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_UP, 1);

    ngx_log_error(NGX_LOG_INFO, ngx_http_track_clusterer->log, 0,
                  "track: connected to redis cluster node %s:%d",
                  node->host, (int) node->port);
}


static void
ngx_http_track_cluster_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_track_node_t  *node = ac->data;

    if (node->ac != ac) {
        /* we closed it ourselves and said why */
        return;
    }

    ngx_http_track_cluster_lost(node, "connection lost",
                                status == REDIS_OK ? "closed" : ac->errstr);
}


/*
 * A node is gone or never came up: its slots' commands fail (the spool
 * takes their events) until a new map names a successor or it is back.
 */

static void
ngx_http_track_cluster_lost(ngx_http_track_node_t *node, const char *why,
    const char *detail)
{
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    if (node->connected) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_UP, -1);
    }

    node->ac = NULL;
    node->connected = 0;

    if (node->timer.timer_set) {
        ngx_del_timer(&node->timer);
    }

    if (cluster == NULL || cluster->exiting) {
        return;
    }

    node->failed = 1;
    node->retry_at = ngx_current_msec + node->backoff;

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_REDIS_ERRORS, 1);

    ngx_log_error(NGX_LOG_ERR, cluster->log, 0,
                  "track: redis cluster node %s:%d: %s%s%s; its share %s "
                  "until it or a successor is back, retrying in %M ms",
                  node->host, (int) node->port, why, detail[0] ? ": " : "",
                  detail, cluster->conf->spool_path.len
                          ? "goes to the spool" : "gets 503",
                  node->backoff);

    node->backoff = ngx_min(node->backoff * 2, cluster->conf->max_backoff);

    /* a failover may have named a successor */
    cluster->stale = 1;
}


/* tears a context down; hiredis fails its callbacks */

static void
ngx_http_track_cluster_close(ngx_http_track_node_t *node, const char *why)
{
    redisAsyncContext  *ac;

    ac = node->ac;

    ngx_http_track_cluster_lost(node, why, "");

    if (ac) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_track_cluster_connect_timeout(ngx_event_t *ev)
{
    ngx_http_track_cluster_close(ev->data, "connect timed out");
}


/* to node, connecting first if need be; hiredis buffers until connected */

static ngx_int_t
ngx_http_track_cluster_dispatch(ngx_http_track_cluster_cmd_t *cmd,
    ngx_http_track_node_t *node)
{
    if (node->ac == NULL) {
        if (node->failed
            && (ngx_msec_int_t) (node->retry_at - ngx_current_msec) > 0)
        {
            return NGX_DECLINED;
        }

        if (ngx_http_track_cluster_connect(node) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    /* an ASK redirection holds for the one command after ASKING */
    if (cmd->asking
        && redisAsyncCommand(node->ac, NULL, NULL, "ASKING") != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    if (redisAsyncFormattedCommand(node->ac, ngx_http_track_cluster_replied,
                                   cmd, cmd->buf, cmd->len)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    cmd->node = node;
    node->ninflight++;

    if (cmd->waited) {
        ngx_http_track_cluster_follow(cmd, node);
    }

    return NGX_OK;
}


/*
 * WAIT right behind the command: it returns once the replicas have all
 * the connection wrote before it, so a push it confirms survives the
 * master's death.  Not queued: the command's waited gets NULL.
 */

static void
ngx_http_track_cluster_follow(ngx_http_track_cluster_cmd_t *cmd,
    ngx_http_track_node_t *node)
{
    ngx_http_track_cluster_t       *cluster = ngx_http_track_clusterer;
    ngx_http_track_cluster_wait_t  *wait;

    wait = ngx_alloc(sizeof(ngx_http_track_cluster_wait_t), cluster->log);
    if (wait == NULL) {
        return;
    }

    if (redisAsyncFormattedCommand(node->ac, ngx_http_track_cluster_waited,
                                   wait, cluster->wait_buf, cluster->wait_len)
        != REDIS_OK)
    {
        ngx_free(wait);
        return;
    }

    wait->cmd = cmd;
    cmd->wait = wait;
}


/* the command goes elsewhere or failed: its last WAIT tells nothing */

static void
ngx_http_track_cluster_orphan(ngx_http_track_cluster_cmd_t *cmd)
{
    if (cmd->wait) {
        cmd->wait->cmd = NULL;
        cmd->wait = NULL;
    }
}


static void
ngx_http_track_cluster_replied(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                    *rr = reply;
    ngx_http_track_cluster_t      *cluster = ngx_http_track_clusterer;
    ngx_http_track_cluster_cmd_t  *cmd = privdata;

    cmd->node->ninflight--;

    if (rr != NULL && rr->type == REDIS_REPLY_ERROR && cluster != NULL
        && !cluster->exiting && cmd->slot < NGX_HTTP_TRACK_CLUSTER_SLOTS)
    {
        switch (ngx_http_track_cluster_redirect(cmd, rr)) {

        case NGX_OK:
            return;

        case NGX_ERROR:
            rr = NULL;
            break;

        default:
            break;
        }
    }

    ngx_http_track_cluster_finish(cmd, rr);
}


/*
 * MOVED and ASK send the command on, TRYAGAIN resends it a little later.
 * NGX_DECLINED: an error to hand over as it is; NGX_ERROR: no reply.
 */

static ngx_int_t
ngx_http_track_cluster_redirect(ngx_http_track_cluster_cmd_t *cmd,
    redisReply *reply)
{
    u_char                    *p, *last, *colon;
    ngx_int_t                  port;
    ngx_uint_t                 moved;
    ngx_http_track_node_t     *node;
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    p = (u_char *) reply->str;
    last = p + reply->len;

    if (reply->len > 8 && ngx_strncmp(p, "CLUSTERDOWN", 11) == 0) {
        cluster->stale = 1;
        return NGX_DECLINED;
    }

    if (++cmd->tries > NGX_HTTP_TRACK_CLUSTER_TRIES) {
        return NGX_DECLINED;
    }

    if (reply->len >= 8 && ngx_strncmp(p, "TRYAGAIN", 8) == 0) {
        /* a multi-key command during a slot migration: wait a moment */
        ngx_http_track_cluster_orphan(cmd);
        ngx_del_timer(&cmd->timer);
        cmd->again = 1;
        ngx_add_timer(&cmd->timer, NGX_HTTP_TRACK_CLUSTER_TRYAGAIN);
        return NGX_OK;
    }

    if (reply->len > 6 && ngx_strncmp(p, "MOVED ", 6) == 0) {
        moved = 1;
        p += 6;

    } else if (reply->len > 4 && ngx_strncmp(p, "ASK ", 4) == 0) {
        moved = 0;
        p += 4;

    } else {
        return NGX_DECLINED;
    }

    /* "<slot> <host>:<port>", host possibly IPv6: the last colon */
    p = ngx_strlchr(p, last, ' ');
    if (p == NULL) {
        return NGX_DECLINED;
    }

    p++;

    for (colon = last - 1; colon > p && *colon != ':'; colon--) {
        /* void */
    }

    port = ngx_atoi(colon + 1, last - colon - 1);
    if (colon == p || port <= 0 || port > 65535) {
        return NGX_DECLINED;
    }

    node = ngx_http_track_cluster_node(cluster, p, colon - p,
                                       (in_port_t) port);
    if (node == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, cluster->log, 0,
                   "track: redis cluster slot %ui %s to %s",
                   cmd->slot, moved ? "moved" : "asks", node->host);

    if (moved) {
        /* the map is out of date: this slot now, the rest soon */
        cluster->slots[cmd->slot] = node;
        cluster->stale = 1;
    }

    cmd->asking = !moved;
    ngx_http_track_cluster_orphan(cmd);

    return ngx_http_track_cluster_dispatch(cmd, node) == NGX_OK
           ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_track_cluster_finish(ngx_http_track_cluster_cmd_t *cmd,
    redisReply *reply)
{
    if (cmd->handler) {
        cmd->handler(reply, cmd->data);
    }

    if (cmd->waited) {
        if (reply != NULL && reply->type != REDIS_REPLY_ERROR && cmd->wait) {
            /* the WAIT behind it settles it, under the same deadline */
            cmd->waiting = 1;
            return;
        }

        ngx_http_track_cluster_orphan(cmd);
        cmd->waited(NULL, cmd->data);
    }

    ngx_http_track_cluster_free(cmd);
}


/* the reply of a WAIT: the command's, unless it was orphaned */

static void
ngx_http_track_cluster_waited(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    ngx_http_track_cluster_wait_t  *wait = privdata;
    ngx_http_track_cluster_cmd_t   *cmd;

    cmd = wait->cmd;
    ngx_free(wait);

    if (cmd == NULL) {
        return;
    }

    cmd->wait = NULL;

    if (!cmd->waiting) {
        /* cannot be: a connection answers in order; finish() settles it */
        return;
    }

    cmd->waited(reply, cmd->data);

    ngx_http_track_cluster_free(cmd);
}


static void
ngx_http_track_cluster_free(ngx_http_track_cluster_cmd_t *cmd)
{
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    redisFreeCommand(cmd->buf);
    ngx_free(cmd);

    if (cluster && !cluster->exiting) {
        cluster->on_ready();
    }
}


/* no reply in time: the node is given up; or a TRYAGAIN's retry is due */

static void
ngx_http_track_cluster_cmd_timer(ngx_event_t *ev)
{
    ngx_http_track_node_t         *node;
    ngx_http_track_cluster_t      *cluster = ngx_http_track_clusterer;
    ngx_http_track_cluster_cmd_t  *cmd = ev->data;

    if (!cmd->again) {
        ngx_http_track_cluster_close(cmd->node, "no reply in time");
        return;
    }

    cmd->again = 0;
    node = cluster->slots[cmd->slot];

    if (node == NULL || ngx_http_track_cluster_dispatch(cmd, node) != NGX_OK)
    {
        ngx_http_track_cluster_finish(cmd, NULL);
        return;
    }

    ngx_add_timer(&cmd->timer, cluster->conf->timeout);
}


static void
ngx_http_track_cluster_refresh_handler(ngx_event_t *ev)
{
    ngx_http_track_cluster_t  *cluster = ev->data;

    if (ngx_exiting || cluster->exiting) {
        return;
    }

    if (cluster->stale && !cluster->asking) {
        ngx_http_track_cluster_ask(cluster);
    }

    ngx_add_timer(&cluster->refresh, NGX_HTTP_TRACK_CLUSTER_REFRESH);
}


/* CLUSTER SLOTS to a connected node, else to the next seed */

static void
ngx_http_track_cluster_ask(ngx_http_track_cluster_t *cluster)
{
    const char                    *argv[2];
    size_t                         argvlen[2];
    ngx_http_track_node_t         *node;
    ngx_http_track_addr_t         *seed;
    ngx_http_track_cluster_cmd_t  *cmd;

    for (node = cluster->nodes; node; node = node->next) {
        if (node->connected) {
            break;
        }
    }

    if (node == NULL) {
        seed = cluster->conf->cluster->elts;
        seed += cluster->seed++ % cluster->conf->cluster->nelts;

        node = ngx_http_track_cluster_node(cluster, seed->host,
                                           ngx_strlen(seed->host),
                                           seed->port);
        if (node == NULL) {
            return;
        }
    }

    cmd = ngx_calloc(sizeof(ngx_http_track_cluster_cmd_t), cluster->log);
    if (cmd == NULL) {
        return;
    }

    argv[0] = "CLUSTER";
    argvlen[0] = sizeof("CLUSTER") - 1;
    argv[1] = "SLOTS";
    argvlen[1] = sizeof("SLOTS") - 1;

    cmd->len = redisFormatCommandArgv(&cmd->buf, 2, argv, argvlen);
    cmd->slot = NGX_HTTP_TRACK_CLUSTER_SLOTS;
    cmd->handler = ngx_http_track_cluster_mapped;
    cmd->data = node;
    cmd->timer.handler = ngx_http_track_cluster_cmd_timer;
    cmd->timer.data = cmd;
    cmd->timer.log = cluster->log;

    if (cmd->buf == NULL
        || ngx_http_track_cluster_dispatch(cmd, node) != NGX_OK)
    {
        redisFreeCommand(cmd->buf);
        ngx_free(cmd);
        return;
    }

    cluster->asking = 1;
    ngx_add_timer(&cmd->timer, cluster->conf->timeout);
}


static void
ngx_http_track_cluster_mapped(redisReply *reply, void *data)
{
    ngx_uint_t                 i;
    ngx_http_track_node_t     *node;
    ngx_http_track_cluster_t  *cluster = ngx_http_track_clusterer;

    if (cluster == NULL || cluster->exiting) {
        return;
    }

    cluster->asking = 0;

    if (reply == NULL || ngx_http_track_cluster_map(cluster, reply, data)
                         != NGX_OK)
    {
        return;
    }

    if (!cluster->known) {
        if (ngx_http_track_cluster_make_shards(cluster) != NGX_OK) {
            return;
        }

        cluster->known = 1;
    }

    /*
     * One connection per master, up before the first push needs it; a
     * master lost but still named is tried again once its backoff is over
     * (the map is asked for while it is down, so this is its retry loop).
     */
    for (i = 0; i < NGX_HTTP_TRACK_CLUSTER_SLOTS; i++) {
        node = cluster->slots[i];

        if (node && node->ac == NULL
            && (!node->failed
                || (ngx_msec_int_t) (node->retry_at - ngx_current_msec) <= 0))
        {
            (void) ngx_http_track_cluster_connect(node);
        }
    }
}


/*
 * CLUSTER SLOTS: [[start, end, [host, port, id, ...], replicas...], ...].
 * An empty host is the node that answered.
 */

static ngx_int_t
ngx_http_track_cluster_map(ngx_http_track_cluster_t *cluster,
    redisReply *reply, ngx_http_track_node_t *asked)
{
    u_char                 *host;
    size_t                  len;
    ngx_uint_t              i, covered;
    long long               start, end, s;
    redisReply             *range, *master;
    ngx_http_track_node_t  *node;

    if (reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, cluster->log, 0,
                      "track: redis cluster node %s:%d gave no slot map",
                      asked->host, (int) asked->port);
        return NGX_ERROR;
    }

    covered = 0;

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[2]->type != REDIS_REPLY_ARRAY
            || range->element[2]->elements < 2)
        {
            return NGX_ERROR;
        }

        start = range->element[0]->integer;
        end = range->element[1]->integer;
        master = range->element[2];

        if (start < 0 || end >= NGX_HTTP_TRACK_CLUSTER_SLOTS || start > end
            || master->element[0]->type != REDIS_REPLY_STRING
            || master->element[1]->type != REDIS_REPLY_INTEGER)
        {
            return NGX_ERROR;
        }

        host = (u_char *) master->element[0]->str;
        len = master->element[0]->len;

        if (len == 0) {
            host = asked->host;
            len = ngx_strlen(asked->host);
        }

        node = ngx_http_track_cluster_node(cluster, host, len,
                                           (in_port_t)
                                           master->element[1]->integer);
        if (node == NULL) {
            return NGX_ERROR;
        }

        for (s = start; s <= end; s++) {
            cluster->slots[s] = node;
        }

        /* a lost master still named: the failover is still under way */
        if (!node->failed) {
            covered += end - start + 1;
        }
    }

    /* until every slot has a reachable master, ask again */
    cluster->stale = (covered < NGX_HTTP_TRACK_CLUSTER_SLOTS);

    return NGX_OK;
}


/*
 * The shard lists: N keys "<track_redis_key>:{sI.K}" whose hash tags put
 * shard I in the I-th N-th of the slots, the smallest K that does.  The
 * names depend on N alone, so every worker and host picks the same ones;
 * on a cluster created with evenly split slots they fall on different
 * masters, and with more lists than masters, evenly over them.
 */

static ngx_int_t
ngx_http_track_cluster_make_shards(ngx_http_track_cluster_t *cluster)
{
    u_char                 *p;
    size_t                  size;
    ngx_str_t              *key;
    ngx_uint_t              n, i, j, k, lo, hi, slot, nseen;
    ngx_http_track_node_t  *node, *seen[NGX_HTTP_TRACK_CLUSTER_SLOTS / 64];

    n = cluster->conf->cluster_shards;

    if (n == 0) {
        /* one per master */
        nseen = 0;

        for (i = 0; i < NGX_HTTP_TRACK_CLUSTER_SLOTS; i++) {
            node = cluster->slots[i];

            for (j = 0; j < nseen && seen[j] != node; j++) {
                /* void */
            }

            if (node && j == nseen && nseen < sizeof(seen) / sizeof(seen[0]))
            {
                seen[nseen++] = node;
            }
        }

        n = nseen ? nseen : 1;
    }

    n = ngx_min(n, NGX_HTTP_TRACK_CLUSTER_SLOTS);

    cluster->shards = ngx_pcalloc(ngx_cycle->pool, n * sizeof(ngx_str_t));
    if (cluster->shards == NULL) {
        return NGX_ERROR;
    }

    size = cluster->conf->redis_key.len + sizeof(":{s.}") - 1
           + 2 * NGX_INT_T_LEN;

    for (i = 0; i < n; i++) {
        key = &cluster->shards[i];

        key->data = ngx_pnalloc(ngx_cycle->pool, size);
        if (key->data == NULL) {
            return NGX_ERROR;
        }

        lo = i * NGX_HTTP_TRACK_CLUSTER_SLOTS / n;
        hi = (i + 1) * NGX_HTTP_TRACK_CLUSTER_SLOTS / n;

        for (k = 0; /* void */; k++) {
            p = ngx_sprintf(key->data, "%V:{s%ui.%ui}",
                            &cluster->conf->redis_key, i, k);
            key->len = p - key->data;

            slot = ngx_http_track_cluster_slot(key->data, key->len);

            if (slot >= lo && slot < hi) {
                break;
            }
        }
    }

    cluster->nshards = n;

    ngx_log_error(NGX_LOG_INFO, cluster->log, 0,
                  "track: pushing to %ui shard lists, \"%V\" to \"%V\"",
                  n, &cluster->shards[0], &cluster->shards[n - 1]);

    return NGX_OK;
}
