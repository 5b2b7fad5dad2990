/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The hiredis adapter for nginx's event loop, the way hiredis keeps its own
 * (adapters/libevent.h): addRead/delRead/addWrite/delWrite/cleanup on an
 * nginx connection that carries the context's socket.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_track_adapter.h"


static void ngx_http_track_adapter_add_read(void *privdata);
static void ngx_http_track_adapter_del_read(void *privdata);
static void ngx_http_track_adapter_add_write(void *privdata);
static void ngx_http_track_adapter_del_write(void *privdata);
static void ngx_http_track_adapter_cleanup(void *privdata);
static void ngx_http_track_adapter_read_handler(ngx_event_t *ev);
static void ngx_http_track_adapter_write_handler(ngx_event_t *ev);


/* a redisAsyncHandleWrite() is under way in this process */
static ngx_uint_t  ngx_http_track_adapter_writing;


/*
 * NGX_DECLINED: the context has an event loop already; NGX_ERROR: no free
 * connection slot.
 */

ngx_int_t
ngx_http_track_adapter_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    if (ac->ev.data != NULL) {
        return NGX_DECLINED;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_track_adapter_read_handler;
    c->write->handler = ngx_http_track_adapter_write_handler;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_track_adapter_add_read;
    ac->ev.delRead = ngx_http_track_adapter_del_read;
    ac->ev.addWrite = ngx_http_track_adapter_add_write;
    ac->ev.delWrite = ngx_http_track_adapter_del_write;
    ac->ev.cleanup = ngx_http_track_adapter_cleanup;

    return NGX_OK;
}


static void
ngx_http_track_adapter_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_track_adapter_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


/*
 * A connected socket is nearly always writable: new commands are written
 * by a posted event in this loop iteration, without asking epoll (which
 * cost two epoll_ctl calls per push).  Only the connect and a write that
 * did not go out whole wait for writability.
 */

static void
ngx_http_track_adapter_add_write(void *privdata)
{
    ngx_connection_t   *c = privdata;
    redisAsyncContext  *ac = c->data;

    if (c->write->active) {
        return;
    }

    if (!ngx_http_track_adapter_writing && (ac->c.flags & REDIS_CONNECTED)) {
        ngx_post_event(c->write, &ngx_posted_events);
        return;
    }

    (void) ngx_add_event(c->write, NGX_WRITE_EVENT, 0);
}


static void
ngx_http_track_adapter_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis closes the socket itself right after this, so the events are only
 * marked inactive (NGX_CLOSE_EVENT) and the fd is never closed twice.
 */

static void
ngx_http_track_adapter_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_track_adapter_read_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_track_adapter_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_track_adapter_writing = 1;
    redisAsyncHandleWrite(c->data);
    ngx_http_track_adapter_writing = 0;
}
