/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Single Redis commands whose reply goes to a handler (the spool's replay,
 * the queue watch), pipelined with the pushes under the same reply
 * deadline, and the worker's argument arrays for long commands.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_redis.h"
#include "ngx_http_track_command.h"


typedef struct {
    ngx_http_track_redis_cmd_t   cmd;
    ngx_http_track_reply_pt      handler;
    void                        *data;
} ngx_http_track_command_t;


static void ngx_http_track_command_replied(redisAsyncContext *ac,
    void *reply, void *privdata);


/* the worker's argument arrays */
static const char  **ngx_http_track_command_args;
static size_t       *ngx_http_track_command_lens;
static ngx_uint_t    ngx_http_track_command_nargs;


/*
 * Sends a command once the connection is ready.  The handler gets the
 * reply, or NULL when the connection went away; it may be NULL itself.
 */

ngx_int_t
ngx_http_track_command(ngx_uint_t argc, const char **argv, size_t *argvlen,
    ngx_http_track_reply_pt handler, void *data)
{
    ngx_http_track_command_t  *command;

    if (!ngx_http_track_redis_is_ready()) {
        return NGX_ERROR;
    }

    command = ngx_alloc(sizeof(ngx_http_track_command_t), ngx_cycle->log);
    if (command == NULL) {
        return NGX_ERROR;
    }

    command->handler = handler;
    command->data = data;

    if (ngx_http_track_redis_send(&command->cmd,
                                  ngx_http_track_command_replied, command,
                                  argc, argv, argvlen)
        != NGX_OK)
    {
        /* not queued: the handler is not called */
        ngx_free(command);
        ngx_http_track_redis_close("could not queue a command");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * WAIT for track_redis_wait_replicas replicas: the handler gets its reply
 * (the number of replicas that have everything written before it), or NULL.
 */

ngx_int_t
ngx_http_track_command_wait(ngx_http_track_reply_pt handler, void *data)
{
    ngx_http_track_redis_wait_t  wait;

    if (!ngx_http_track_redis_is_ready()) {
        return NGX_ERROR;
    }

    /* hiredis copies the arguments: the buffers may go with this frame */
    ngx_http_track_redis_wait_args(&wait);

    return ngx_http_track_command(3, wait.argv, wait.argvlen, handler, data);
}


static void
ngx_http_track_command_replied(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    ngx_http_track_command_t  *command = privdata;

    ngx_http_track_redis_settle(&command->cmd);

    if (command->handler && !ngx_http_track_redis_is_exiting()) {
        command->handler(reply, command->data);
    }

    ngx_free(command);
    ngx_http_track_redis_next();
}


/* the worker's argument arrays, grown to hold n arguments */

const char **
ngx_http_track_command_argv(ngx_uint_t n, size_t **argvlen)
{
    if (ngx_http_track_command_nargs < n) {
        ngx_free(ngx_http_track_command_args);
        ngx_free(ngx_http_track_command_lens);

        ngx_http_track_command_args = ngx_alloc(n * sizeof(char *),
                                                ngx_cycle->log);
        ngx_http_track_command_lens = ngx_alloc(n * sizeof(size_t),
                                                ngx_cycle->log);

        if (ngx_http_track_command_args == NULL
            || ngx_http_track_command_lens == NULL)
        {
            ngx_free(ngx_http_track_command_args);
            ngx_free(ngx_http_track_command_lens);
            ngx_http_track_command_args = NULL;
            ngx_http_track_command_lens = NULL;
            ngx_http_track_command_nargs = 0;
            return NULL;
        }

        ngx_http_track_command_nargs = n;
    }

    *argvlen = ngx_http_track_command_lens;

    return ngx_http_track_command_args;
}


void
ngx_http_track_command_exit_process(ngx_cycle_t *cycle)
{
    ngx_free(ngx_http_track_command_args);
    ngx_free(ngx_http_track_command_lens);

    ngx_http_track_command_args = NULL;
    ngx_http_track_command_lens = NULL;
    ngx_http_track_command_nargs = 0;
}
