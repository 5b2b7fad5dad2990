/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The replay of the disk spool into Redis (ngx_http_track_replay.c).
 */


#ifndef _NGX_HTTP_TRACK_REPLAY_H_INCLUDED_
#define _NGX_HTTP_TRACK_REPLAY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_track_module.h"


ngx_int_t ngx_http_track_replay_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf);
void ngx_http_track_replay_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_TRACK_REPLAY_H_INCLUDED_ */
