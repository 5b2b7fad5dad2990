/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Single Redis commands whose reply goes to a handler (the spool's replay,
 * the queue watch), pipelined with the pushes under the same reply
 * deadline, and the worker's argument arrays for long commands.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_redis.h"
#include "ngx_http_track_cluster.h"
#include "ngx_http_track_command.h"


typedef struct {
    ngx_http_track_redis_cmd_t   cmd;
    ngx_http_track_reply_pt      handler;
    void                        *data;
} ngx_http_track_command_t;


static ngx_int_t ngx_http_track_command_to(ngx_str_t *key, ngx_uint_t argc,
    const char **argv, size_t *argvlen, ngx_http_track_reply_pt handler,
    void *data);
static ngx_int_t ngx_http_track_command_routed(ngx_str_t *key,
    ngx_uint_t argc, const char **argv, size_t *argvlen,
    ngx_http_track_command_t *command);
static void ngx_http_track_command_replied(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_track_command_answered(redisReply *reply, void *data);


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
    return ngx_http_track_command_to(NULL, argc, argv, argvlen, handler,
                                     data);
}


/* on a cluster, to the master of key (NULL: the command's own key) */

static ngx_int_t
ngx_http_track_command_to(ngx_str_t *key, ngx_uint_t argc,
    const char **argv, size_t *argvlen, ngx_http_track_reply_pt handler,
    void *data)
{
    ngx_http_track_command_t  *command;

    if (!ngx_http_track_command_ready()) {
        return NGX_ERROR;
    }

    command = ngx_alloc(sizeof(ngx_http_track_command_t), ngx_cycle->log);
    if (command == NULL) {
        return NGX_ERROR;
    }

    command->handler = handler;
    command->data = data;

    if (ngx_http_track_cluster_is_on()) {
        return ngx_http_track_command_routed(key, argc, argv, argvlen,
                                             command);
    }

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
 * On a cluster, to the master of key, or of the command's key: the first
 * argument, or for EVAL the first of the script's keys (every key of a
 * script here shares its hash tag).
 */

static ngx_int_t
ngx_http_track_command_routed(ngx_str_t *key, ngx_uint_t argc,
    const char **argv, size_t *argvlen, ngx_http_track_command_t *command)
{
    ngx_str_t   own;
    ngx_uint_t  i;

    if (key == NULL) {
        i = (argvlen[0] == 4 && ngx_strncasecmp((u_char *) argv[0],
                                                (u_char *) "EVAL", 4) == 0)
            ? 3 : 1;

        if (i >= argc) {
            ngx_free(command);
            return NGX_ERROR;
        }

        own.data = (u_char *) argv[i];
        own.len = argvlen[i];
        key = &own;
    }

    if (ngx_http_track_cluster_send(key, argc, argv, argvlen,
                                    ngx_http_track_command_answered, NULL,
                                    command)
        != NGX_OK)
    {
        ngx_free(command);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Redis can take a command: connected, or every slot of the cluster */

ngx_uint_t
ngx_http_track_command_ready(void)
{
    return ngx_http_track_cluster_is_on() ? ngx_http_track_cluster_is_whole()
                                          : ngx_http_track_redis_is_ready();
}


/*
 * The list spool file name replays into: track_redis_key, or on a cluster
 * one of the shard lists, the same for the same file; *index is the list's
 * number for ngx_http_track_throttle_queue_length().
 */

ngx_str_t *
ngx_http_track_command_list(ngx_str_t *name, ngx_str_t *key,
    ngx_uint_t *index)
{
    ngx_uint_t  nshards;

    if (!ngx_http_track_cluster_is_on()) {
        *index = 0;
        return key;
    }

    nshards = ngx_http_track_cluster_nshards();
    if (nshards == 0) {
        return NULL;
    }

    *index = ngx_crc32_short(name->data, name->len) % nshards;

    return ngx_http_track_cluster_shard(*index);
}


/*
 * WAIT for track_redis_wait_replicas replicas: the handler gets its reply
 * (the number of replicas that have everything written before it), or NULL.
 * On a cluster it goes to the master of list, which took the writes.
 */

ngx_int_t
ngx_http_track_command_wait(ngx_str_t *list, ngx_http_track_main_conf_t *conf,
    ngx_http_track_reply_pt handler, void *data)
{
    ngx_http_track_redis_wait_t  wait;

    /* hiredis copies the arguments: the buffers may go with this frame */
    ngx_http_track_redis_wait_args(conf, &wait);

    return ngx_http_track_command_to(list, 3, wait.argv, wait.argvlen,
                                     handler, data);
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


static void
ngx_http_track_command_answered(redisReply *reply, void *data)
{
    ngx_http_track_command_t  *command = data;

    if (command->handler && !ngx_http_track_cluster_is_exiting()) {
        command->handler(reply, command->data);
    }

    ngx_free(command);
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
