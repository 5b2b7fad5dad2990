/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Single Redis commands for the spool's replay and the queue watch
 * (ngx_http_track_command.c).
 */


#ifndef _NGX_HTTP_TRACK_COMMAND_H_INCLUDED_
#define _NGX_HTTP_TRACK_COMMAND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_track_module.h"


struct redisReply;

/* gets a command's reply, or NULL when the connection went away */
typedef void (*ngx_http_track_reply_pt)(struct redisReply *reply, void *data);


ngx_int_t ngx_http_track_command(ngx_uint_t argc, const char **argv,
    size_t *argvlen, ngx_http_track_reply_pt handler, void *data);
ngx_uint_t ngx_http_track_command_ready(void);
ngx_str_t *ngx_http_track_command_list(ngx_str_t *name, ngx_str_t *key,
    ngx_uint_t *index);
ngx_int_t ngx_http_track_command_wait(ngx_str_t *list,
    ngx_http_track_main_conf_t *conf, ngx_http_track_reply_pt handler,
    void *data);
const char **ngx_http_track_command_argv(ngx_uint_t n, size_t **argvlen);
void ngx_http_track_command_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_TRACK_COMMAND_H_INCLUDED_ */
