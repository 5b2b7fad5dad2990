/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The disk spool's writing side: where events go when Redis cannot take
 * them (ngx_http_track_replay.c sends them on later).
 *
 * Each worker appends to a segment file of its own, locked with flock() for
 * as long as it is open, so a segment is replayable exactly when its writer
 * closed it or died.  A record is a 4-byte length, a 4-byte CRC32 of the
 * payload (both little-endian) and the event's JSON: a record torn by a
 * crash fails one of the checks and is reported, never replayed.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_spool.h"

#include <sys/file.h>
#include <sys/uio.h>


#define NGX_HTTP_TRACK_SPOOL_IOV        64


typedef struct {
    ngx_http_track_main_conf_t  *conf;
    ngx_log_t                   *log;

    /* the segment this worker appends to */
    ngx_fd_t                     fd;
    off_t                        size;
    u_char                       name[NGX_MAX_PATH];
} ngx_http_track_spool_t;


static ngx_int_t ngx_http_track_spool_open(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_close(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_undo(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_put32(u_char *p, uint32_t v);


/* this worker's writer; NULL without a track_spool */
static ngx_http_track_spool_t  *ngx_http_track_spool_writer;


/* in the master: the directory exists, and the shared size is what it holds */

ngx_int_t
ngx_http_track_spool_init_module(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf)
{
    off_t             total;
    u_char            path[NGX_MAX_PATH];
    ngx_err_t         err;
    ngx_dir_t         dir;
    ngx_file_info_t   fi;
    ngx_core_conf_t  *ccf;

    if (tmcf->spool_path.len == 0) {
        return NGX_OK;
    }

    if (ngx_create_dir(tmcf->spool_path.data, 0700) == NGX_FILE_ERROR) {
        err = ngx_errno;
        if (err != NGX_EEXIST) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                          ngx_create_dir_n " \"%V\" failed",
                          &tmcf->spool_path);
            return NGX_ERROR;
        }
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (geteuid() == 0
        && chown((char *) tmcf->spool_path.data, ccf->user, -1) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "chown(\"%V\") failed", &tmcf->spool_path);
        return NGX_ERROR;
    }

    if (ngx_open_dir(&tmcf->spool_path, &dir) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_open_dir_n " \"%V\" failed", &tmcf->spool_path);
        return NGX_ERROR;
    }

    total = 0;

    while (ngx_read_dir(&dir) == NGX_OK) {

        if (!ngx_http_track_spool_is_segment(ngx_de_name(&dir),
                                             ngx_de_namelen(&dir)))
        {
            continue;
        }

        ngx_snprintf(path, NGX_MAX_PATH, "%V/%s%Z", &tmcf->spool_path,
                     ngx_de_name(&dir));

        if (ngx_file_info(path, &fi) == 0) {
            total += ngx_file_size(&fi);
        }
    }

    ngx_close_dir(&dir);

    ngx_http_track_stat_set(NGX_HTTP_TRACK_STAT_SPOOL_BYTES,
                            (ngx_atomic_uint_t) total);

    if (total) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "track: spool \"%V\" holds %O bytes to replay",
                      &tmcf->spool_path, total);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_track_spool_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf)
{
    ngx_http_track_spool_t  *spool;

    if (tmcf->spool_path.len == 0) {
        return NGX_OK;
    }

    spool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_track_spool_t));
    if (spool == NULL) {
        return NGX_ERROR;
    }

    spool->conf = tmcf;
    spool->log = cycle->log;
    spool->fd = NGX_INVALID_FILE;

    ngx_http_track_spool_writer = spool;

    return NGX_OK;
}


void
ngx_http_track_spool_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_track_spool_t  *spool = ngx_http_track_spool_writer;

    if (spool == NULL) {
        return;
    }

    /* closing hands the segment to the next replaying worker */
    ngx_http_track_spool_close(spool);

    ngx_http_track_spool_writer = NULL;
}


static ngx_int_t
ngx_http_track_spool_open(ngx_http_track_spool_t *spool)
{
    ngx_fd_t     fd;
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    /* names sort by creation time: replay follows that order */
    ngx_snprintf(spool->name, NGX_MAX_PATH, "%V/%012xL-%04xL-%06xL%s%Z",
                 &spool->conf->spool_path,
                 (uint64_t) tp->sec * 1000 + tp->msec,
                 (uint64_t) spool->conf->node_id,
                 (uint64_t) (ngx_pid & 0xffffff),
                 NGX_HTTP_TRACK_SPOOL_SUFFIX);

    fd = ngx_open_file(spool->name, NGX_FILE_APPEND,
                       NGX_FILE_CREATE_OR_OPEN, 0600);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, spool->log, ngx_errno,
                      "track: cannot create spool file \"%s\"", spool->name);
        return NGX_ERROR;
    }

    if (flock(fd, LOCK_EX|LOCK_NB) == -1) {
        ngx_log_error(NGX_LOG_CRIT, spool->log, ngx_errno,
                      "track: cannot lock spool file \"%s\"", spool->name);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    spool->fd = fd;
    spool->size = 0;

    ngx_log_error(NGX_LOG_WARN, spool->log, 0,
                  "track: spooling events to \"%s\"", spool->name);

    return NGX_OK;
}


static void
ngx_http_track_spool_close(ngx_http_track_spool_t *spool)
{
    if (spool->fd == NGX_INVALID_FILE) {
        return;
    }

    if (ngx_close_file(spool->fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, spool->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", spool->name);
    }

    spool->fd = NGX_INVALID_FILE;

    ngx_log_error(NGX_LOG_NOTICE, spool->log, 0,
                  "track: spool file \"%s\" closed with %O bytes, "
                  "ready for replay", spool->name, spool->size);
}


/* Redis is back: the segment goes to the replay */

void
ngx_http_track_spool_close_segment(void)
{
    if (ngx_http_track_spool_writer) {
        ngx_http_track_spool_close(ngx_http_track_spool_writer);
    }
}


/*
 * Appends the request's events.  NGX_OK: they are in the spool (and on disk
 * when fsync is on); NGX_DECLINED: no spool configured; NGX_ERROR: the
 * spool is full or cannot be written, logged.
 */

ngx_int_t
ngx_http_track_spool_append(ngx_http_track_ctx_t *ctx)
{
    u_char                  *h;
    off_t                    total, chunk;
    size_t                   i, n, first;
    ssize_t                  written;
    uint32_t                 crc;
    ngx_log_t               *log;
    struct iovec             iov[NGX_HTTP_TRACK_SPOOL_IOV];
    ngx_http_track_spool_t  *spool;
    u_char                   headers[NGX_HTTP_TRACK_SPOOL_IOV / 2
                                     * NGX_HTTP_TRACK_SPOOL_HEADER];

    spool = ngx_http_track_spool_writer;

    if (spool == NULL) {
        return NGX_DECLINED;
    }

    log = ctx->request ? ctx->request->connection->log : spool->log;
    total = 0;

    for (i = 0; i < ctx->nevents; i++) {
        total += NGX_HTTP_TRACK_SPOOL_HEADER + ctx->events[i].len;
    }

    /* workers race here: the limit may be passed by one request each */
    if ((off_t) ngx_http_track_stat_get(NGX_HTTP_TRACK_STAT_SPOOL_BYTES)
        + total > spool->conf->spool_max_size)
    {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_ERRORS, 1);
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "track: spool \"%V\" is full (max_size=%O), "
                      "answering 503", &spool->conf->spool_path,
                      spool->conf->spool_max_size);
        return NGX_ERROR;
    }

    if (spool->fd == NGX_INVALID_FILE
        && ngx_http_track_spool_open(spool) != NGX_OK)
    {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_ERRORS, 1);
        return NGX_ERROR;
    }

    for (first = 0; first < ctx->nevents; first += n / 2) {
        chunk = 0;

        for (n = 0;
             first + n / 2 < ctx->nevents && n < NGX_HTTP_TRACK_SPOOL_IOV;
             n += 2)
        {
            i = first + n / 2;
            h = headers + n / 2 * NGX_HTTP_TRACK_SPOOL_HEADER;
            crc = ngx_crc32_long(ctx->events[i].data, ctx->events[i].len);

            ngx_http_track_spool_put32(h, (uint32_t) ctx->events[i].len);
            ngx_http_track_spool_put32(h + 4, crc);

            iov[n].iov_base = h;
            iov[n].iov_len = NGX_HTTP_TRACK_SPOOL_HEADER;
            iov[n + 1].iov_base = ctx->events[i].data;
            iov[n + 1].iov_len = ctx->events[i].len;
            chunk += NGX_HTTP_TRACK_SPOOL_HEADER + ctx->events[i].len;
        }

        written = writev(spool->fd, iov, n);

        if (written != chunk) {
            ngx_log_error(NGX_LOG_CRIT, log, written == -1 ? ngx_errno : 0,
                          "track: writing spool file \"%s\" failed, "
                          "answering 503", spool->name);
            ngx_http_track_spool_undo(spool);
            return NGX_ERROR;
        }
    }

    if (spool->conf->spool_fsync && fdatasync(spool->fd) == -1) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "track: fdatasync(\"%s\") failed, answering 503",
                      spool->name);
        ngx_http_track_spool_undo(spool);
        return NGX_ERROR;
    }

    spool->size += total;

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_BYTES, total);
    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_SPOOLED,
                            ctx->nevents);

    if (spool->size >= spool->conf->spool_segment_size) {
        ngx_http_track_spool_close(spool);
    }

    return NGX_OK;
}


/* a failed append: no torn record and no half-stored request stays behind */

static void
ngx_http_track_spool_undo(ngx_http_track_spool_t *spool)
{
    if (ftruncate(spool->fd, spool->size) == -1) {
        ngx_log_error(NGX_LOG_ALERT, spool->log, ngx_errno,
                      "ftruncate(\"%s\") failed", spool->name);
    }

    ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_ERRORS, 1);
    ngx_http_track_spool_close(spool);
}


static void
ngx_http_track_spool_put32(u_char *p, uint32_t v)
{
    p[0] = (u_char) v;
    p[1] = (u_char) (v >> 8);
    p[2] = (u_char) (v >> 16);
    p[3] = (u_char) (v >> 24);
}


ngx_uint_t
ngx_http_track_spool_is_segment(u_char *name, size_t len)
{
    size_t  n;

    n = sizeof(NGX_HTTP_TRACK_SPOOL_SUFFIX) - 1;

    return len > n
           && ngx_strncmp(name + len - n, NGX_HTTP_TRACK_SPOOL_SUFFIX, n)
              == 0;
}
