/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Backpressure: above track_redis_max_queue events go to the spool, and the
 * list's length is polled until it falls below 90% of the ceiling.  On a
 * cluster the ceiling holds for the sum of the shard lists' lengths, each
 * as its latest push (or poll) told it.  Without pushes the length is
 * polled every second too, so that track_queue_length follows the
 * consumers draining the list (an idle queue reads 0, not its last push).
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_redis.h"
#include "ngx_http_track_cluster.h"
#include "ngx_http_track_command.h"
#include "ngx_http_track_throttle.h"

#include <hiredis/hiredis.h>


typedef struct {
    ngx_uint_t                   len;        /* as Redis last told */
    ngx_uint_t                   index;
} ngx_http_track_throttle_list_t;


typedef struct {
    ngx_http_track_main_conf_t  *conf;
    ngx_log_t                   *log;

    ngx_http_track_throttle_list_t  *lists;  /* one, or the shard lists */
    ngx_uint_t                   nlists;
    ngx_uint_t                   queue_len;  /* their sum */
    ngx_uint_t                   npolls;     /* LLENs in flight */
    ngx_msec_t                   told;       /* when a reply last told */
    ngx_event_t                  poll;       /* the queue's length */
    unsigned                     throttled:1;
} ngx_http_track_throttle_t;


static ngx_int_t ngx_http_track_throttle_lists(
    ngx_http_track_throttle_t *throttle);
static ngx_str_t *ngx_http_track_throttle_key(
    ngx_http_track_throttle_t *throttle, ngx_uint_t list);
static void ngx_http_track_throttle_rearm(
    ngx_http_track_throttle_t *throttle);
static void ngx_http_track_throttle_poll_handler(ngx_event_t *ev);
static void ngx_http_track_throttle_polled(redisReply *reply, void *data);


#define NGX_HTTP_TRACK_POLL_INTERVAL   500     /* while throttled */
#define NGX_HTTP_TRACK_IDLE_INTERVAL   1000    /* when no push told */


/* this worker's view of the list's length */
static ngx_http_track_throttle_t  *ngx_http_track_throttler;


ngx_int_t
ngx_http_track_throttle_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf)
{
    ngx_http_track_throttle_t  *throttle;

    throttle = ngx_pcalloc(cycle->pool, sizeof(ngx_http_track_throttle_t));
    if (throttle == NULL) {
        return NGX_ERROR;
    }

    throttle->conf = tmcf;
    throttle->log = cycle->log;

    throttle->poll.handler = ngx_http_track_throttle_poll_handler;
    throttle->poll.data = throttle;
    throttle->poll.log = cycle->log;
    throttle->poll.cancelable = 1;

    ngx_http_track_throttler = throttle;

    ngx_add_timer(&throttle->poll, NGX_HTTP_TRACK_IDLE_INTERVAL);

    return NGX_OK;
}


void
ngx_http_track_throttle_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_track_throttle_t  *throttle = ngx_http_track_throttler;

    if (throttle && throttle->poll.timer_set) {
        ngx_del_timer(&throttle->poll);
    }
}


/*
 * A list's length as a reply told it.  On a cluster the ceiling is over the
 * sum: track_redis_max_queue keeps its meaning (how far the consumers may
 * fall behind) whatever the number of lists, and the round robin refreshes
 * every list's length once per N pushes.
 */

void
ngx_http_track_throttle_queue_length(ngx_uint_t list, long long len)
{
    ngx_uint_t                       max;
    ngx_http_track_throttle_t       *throttle = ngx_http_track_throttler;
    ngx_http_track_throttle_list_t  *l;

    if (ngx_http_track_throttle_lists(throttle) != NGX_OK
        || list >= throttle->nlists)
    {
        return;
    }

    l = &throttle->lists[list];

    throttle->queue_len -= l->len;
    l->len = len < 0 ? 0 : (ngx_uint_t) len;
    throttle->queue_len += l->len;
    throttle->told = ngx_current_msec;

    ngx_http_track_stat_set(NGX_HTTP_TRACK_STAT_QUEUE_LENGTH,
                            (ngx_atomic_uint_t) throttle->queue_len);

    max = throttle->conf->max_queue;

    if (max == 0) {
        return;
    }

    if (!throttle->throttled && throttle->queue_len >= max) {
        throttle->throttled = 1;
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_THROTTLED, 1);

        ngx_log_error(NGX_LOG_WARN, throttle->log, 0,
                      "track: queue \"%V\"%s holds %ui events, at its "
                      "ceiling of %ui: new events go to the spool until the "
                      "consumers catch up", &throttle->conf->redis_key,
                      throttle->nlists > 1 ? " (its shard lists)" : "",
                      throttle->queue_len, max);

        /* sooner than the idle poll it replaces */
        ngx_add_timer(&throttle->poll, NGX_HTTP_TRACK_POLL_INTERVAL);

    } else if (throttle->throttled && throttle->queue_len < max / 10 * 9) {
        throttle->throttled = 0;
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_THROTTLED, -1);

        ngx_log_error(NGX_LOG_NOTICE, throttle->log, 0,
                      "track: queue \"%V\" is down to %ui events: pushing "
                      "again", &throttle->conf->redis_key,
                      throttle->queue_len);
    }
}


/* new events go to the spool, not to Redis */

ngx_uint_t
ngx_http_track_throttle_is_on(void)
{
    return ngx_http_track_throttler != NULL
           && ngx_http_track_throttler->throttled;
}


/* Redis can take events: connected, and the queue below its ceiling */

ngx_uint_t
ngx_http_track_throttle_writable(void)
{
    return ngx_http_track_throttler != NULL
           && ngx_http_track_command_ready()
           && !ngx_http_track_throttler->throttled;
}


/* one list, or once the slot map is known one per shard list */

static ngx_int_t
ngx_http_track_throttle_lists(ngx_http_track_throttle_t *throttle)
{
    ngx_uint_t  i, n;

    if (throttle->lists) {
        return NGX_OK;
    }

    n = ngx_http_track_cluster_is_on() ? ngx_http_track_cluster_nshards() : 1;

    if (n == 0) {
        return NGX_DECLINED;
    }

    throttle->lists = ngx_pcalloc(ngx_cycle->pool,
                                  n * sizeof(ngx_http_track_throttle_list_t));
    if (throttle->lists == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        throttle->lists[i].index = i;
    }

    throttle->nlists = n;

    return NGX_OK;
}


static ngx_str_t *
ngx_http_track_throttle_key(ngx_http_track_throttle_t *throttle,
    ngx_uint_t list)
{
    return ngx_http_track_cluster_is_on() ? ngx_http_track_cluster_shard(list)
                                          : &throttle->conf->redis_key;
}


static void
ngx_http_track_throttle_poll_handler(ngx_event_t *ev)
{
    ngx_str_t                  *key;
    ngx_uint_t                  i;
    const char                 *argv[2];
    size_t                      argvlen[2];
    ngx_http_track_throttle_t  *throttle = ev->data;

    if (throttle->npolls) {
        return;                 /* the last reply re-arms */
    }

    /* not throttled, pushes tell the length while they come */
    if (ngx_http_track_throttle_lists(throttle) != NGX_OK
        || (!throttle->throttled
            && ngx_current_msec - throttle->told
               < NGX_HTTP_TRACK_IDLE_INTERVAL))
    {
        ngx_http_track_throttle_rearm(throttle);
        return;
    }

    argv[0] = "LLEN";
    argvlen[0] = sizeof("LLEN") - 1;

    for (i = 0; i < throttle->nlists; i++) {
        key = ngx_http_track_throttle_key(throttle, i);

        argv[1] = (const char *) key->data;
        argvlen[1] = key->len;

        if (ngx_http_track_command(2, argv, argvlen,
                                   ngx_http_track_throttle_polled,
                                   &throttle->lists[i])
            == NGX_OK)
        {
            throttle->npolls++;
        }
    }

    if (throttle->npolls == 0) {
        ngx_http_track_throttle_rearm(throttle);
    }
}


static void
ngx_http_track_throttle_rearm(ngx_http_track_throttle_t *throttle)
{
    if (!throttle->poll.timer_set && !ngx_exiting) {
        ngx_add_timer(&throttle->poll, throttle->throttled
                                       ? NGX_HTTP_TRACK_POLL_INTERVAL
                                       : NGX_HTTP_TRACK_IDLE_INTERVAL);
    }
}


static void
ngx_http_track_throttle_polled(redisReply *reply, void *data)
{
    ngx_http_track_throttle_list_t  *list = data;
    ngx_http_track_throttle_t       *throttle = ngx_http_track_throttler;

    throttle->npolls--;

    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
        ngx_http_track_throttle_queue_length(list->index, reply->integer);
    }

    if (throttle->npolls == 0) {
        ngx_http_track_throttle_rearm(throttle);
    }
}
