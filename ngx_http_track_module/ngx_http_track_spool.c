
/*
 * The disk spool: where events go when Redis cannot take them, and their
 * replay into Redis, exactly once, when it can again.
 *
 * Each worker appends to a segment file of its own, locked with flock() for
 * as long as it is open, so a segment is replayable exactly when its writer
 * closed it or died.  A record is a 4-byte length, a 4-byte CRC32 of the
 * payload (both little-endian) and the event's JSON: a record torn by a
 * crash fails one of the checks and is reported, never replayed.
 *
 * One worker at a time replays (flock on replay.lock).  Each chunk goes to
 * Redis in a Lua script that pushes the chunk and moves the file's progress
 * key from the chunk's start to its end offset in one step, and does nothing
 * when the progress key is not at the chunk's start: a replay interrupted
 * anywhere (crash, reload, lost reply) resumes without a duplicate or a gap.
 */


#include "ngx_http_track_module.h"

#include <sys/file.h>
#include <sys/uio.h>

#include <hiredis/hiredis.h>


#define NGX_HTTP_TRACK_SPOOL_HEADER     8
#define NGX_HTTP_TRACK_SPOOL_SUFFIX     ".trk"
#define NGX_HTTP_TRACK_SPOOL_TICK       1000
#define NGX_HTTP_TRACK_SPOOL_CHUNK      (1024 * 1024)
/* track_max_event_size is at most 256k: a record fits in a chunk */
#define NGX_HTTP_TRACK_SPOOL_MAX_RECORD (256 * 1024)
#define NGX_HTTP_TRACK_SPOOL_IOV        64
/* a finished file's progress key is kept a week, then Redis drops it */
#define NGX_HTTP_TRACK_SPOOL_KEY_TTL    "604800"


typedef struct {
    ngx_http_track_main_conf_t  *conf;
    ngx_log_t                   *log;

    /* the segment this worker appends to */
    ngx_fd_t                     fd;
    off_t                        size;
    u_char                       name[NGX_MAX_PATH];

    /* replay */
    ngx_fd_t                     lock_fd;
    ngx_fd_t                     replay_fd;
    u_char                       replay_path[NGX_MAX_PATH];
    ngx_uint_t                   replay_events;
    u_char                       start[NGX_OFF_T_LEN];
    u_char                       end[NGX_OFF_T_LEN];
    off_t                        replay_size;
    off_t                        replay_offset;
    off_t                        replay_end;
    u_char                      *buf;
    u_char                       key[NGX_MAX_PATH];
    ngx_str_t                    progress_key;
    unsigned                     busy:1;

    ngx_event_t                  tick;
} ngx_http_track_spool_t;


static void ngx_http_track_spool_close(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_undo(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_put32(u_char *p, uint32_t v);
static uint32_t ngx_http_track_spool_get32(const u_char *p);
static ngx_uint_t ngx_http_track_spool_is_segment(u_char *name, size_t len);
static ngx_int_t ngx_http_track_spool_open(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_track_spool_next_file(ngx_http_track_spool_t *sp);
static void ngx_http_track_spool_continue(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_progress(redisReply *reply, void *data);
static void ngx_http_track_spool_send_chunk(ngx_http_track_spool_t *spool);
static void ngx_http_track_spool_pushed(redisReply *reply, void *data);
static void ngx_http_track_spool_replicated(redisReply *reply, void *data);
static void ngx_http_track_spool_finish_file(ngx_http_track_spool_t *spool,
    ngx_uint_t remove);
static void ngx_http_track_spool_stop(ngx_http_track_spool_t *spool);


static ngx_http_track_spool_t  *ngx_http_track_spool;


/* KEYS: list, progress; ARGV: start, end, events... */
static char  ngx_http_track_spool_script[] =
    "local cur = tonumber(redis.call('GET', KEYS[2]) or '0') "
    "if cur ~= tonumber(ARGV[1]) then return cur end "
    "redis.call('RPUSH', KEYS[1], unpack(ARGV, 3)) "
    "redis.call('SET', KEYS[2], ARGV[2], 'EX', "
        NGX_HTTP_TRACK_SPOOL_KEY_TTL ") "
    "return tonumber(ARGV[2])";


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
    spool->lock_fd = NGX_INVALID_FILE;
    spool->replay_fd = NGX_INVALID_FILE;

    spool->tick.handler = ngx_http_track_spool_tick;
    spool->tick.data = spool;
    spool->tick.log = cycle->log;
    spool->tick.cancelable = 1;

    ngx_add_timer(&spool->tick, NGX_HTTP_TRACK_SPOOL_TICK);

    ngx_http_track_spool = spool;

    return NGX_OK;
}


void
ngx_http_track_spool_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_track_spool_t  *spool = ngx_http_track_spool;

    if (spool == NULL) {
        return;
    }

    /* closing hands the segment to the next replaying worker */
    ngx_http_track_spool_close(spool);
    ngx_http_track_spool_stop(spool);

    ngx_free(spool->buf);
    ngx_http_track_spool = NULL;
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


/*
 * Appends the request's events.  NGX_OK: they are in the spool (and on disk
 * when fsync is on); NGX_DECLINED: no spool configured; NGX_ERROR: the
 * spool is full or cannot be written, logged.
 */

ngx_int_t
ngx_http_track_spool_write(ngx_http_track_ctx_t *ctx)
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

    spool = ngx_http_track_spool;

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


static uint32_t
ngx_http_track_spool_get32(const u_char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}


static ngx_uint_t
ngx_http_track_spool_is_segment(u_char *name, size_t len)
{
    size_t  n;

    n = sizeof(NGX_HTTP_TRACK_SPOOL_SUFFIX) - 1;

    return len > n
           && ngx_strncmp(name + len - n, NGX_HTTP_TRACK_SPOOL_SUFFIX, n)
              == 0;
}


/*
 * Once a second: a worker whose Redis is usable again closes its segment,
 * and takes the replay lock if nobody holds it.
 */

static void
ngx_http_track_spool_tick(ngx_event_t *ev)
{
    ngx_http_track_spool_t  *spool = ev->data;

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(&spool->tick, NGX_HTTP_TRACK_SPOOL_TICK);

    if (!ngx_http_track_redis_writable()) {
        return;
    }

    ngx_http_track_spool_close(spool);

    if (spool->busy || ngx_http_track_stat_get(NGX_HTTP_TRACK_STAT_SPOOL_BYTES)
                       == 0)
    {
        return;
    }

    if (spool->lock_fd == NGX_INVALID_FILE) {
        u_char  path[NGX_MAX_PATH];

        ngx_snprintf(path, NGX_MAX_PATH, "%V/replay.lock%Z",
                     &spool->conf->spool_path);

        spool->lock_fd = ngx_open_file(path, NGX_FILE_RDWR,
                                       NGX_FILE_CREATE_OR_OPEN, 0600);
        if (spool->lock_fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_CRIT, spool->log, ngx_errno,
                          "track: cannot open \"%s\"", path);
            return;
        }

        if (flock(spool->lock_fd, LOCK_EX|LOCK_NB) == -1) {
            /* another worker replays */
            ngx_close_file(spool->lock_fd);
            spool->lock_fd = NGX_INVALID_FILE;
            return;
        }
    }

    if (spool->buf == NULL) {
        spool->buf = ngx_alloc(NGX_HTTP_TRACK_SPOOL_CHUNK, spool->log);
        if (spool->buf == NULL) {
            ngx_http_track_spool_stop(spool);
            return;
        }
    }

    if (ngx_http_track_spool_next_file(spool) != NGX_OK) {
        ngx_http_track_spool_stop(spool);
    }
}


static int ngx_libc_cdecl
ngx_http_track_spool_cmp(const void *one, const void *two)
{
    const ngx_str_t  *a = one, *b = two;

    return ngx_strcmp(a->data, b->data);
}


/*
 * Opens the oldest segment that nobody writes and asks Redis how far it was
 * replayed; NGX_DONE when there is nothing to replay.
 */

static ngx_int_t
ngx_http_track_spool_next_file(ngx_http_track_spool_t *spool)
{
    size_t            len;
    ngx_fd_t          fd;
    ngx_dir_t         dir;
    ngx_str_t        *path, *name;
    ngx_uint_t        i;
    ngx_pool_t       *pool;
    ngx_array_t      *names;
    ngx_file_info_t   fi;
    const char       *argv[2];
    size_t            argvlen[2];

    path = &spool->conf->spool_path;

    pool = ngx_create_pool(4096, spool->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    names = ngx_array_create(pool, 16, sizeof(ngx_str_t));
    if (names == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    if (ngx_open_dir(path, &dir) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, spool->log, ngx_errno,
                      ngx_open_dir_n " \"%V\" failed", path);
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    while (ngx_read_dir(&dir) == NGX_OK) {
        len = ngx_de_namelen(&dir);

        if (!ngx_http_track_spool_is_segment(ngx_de_name(&dir), len)
            || path->len + 1 + len >= NGX_MAX_PATH)
        {
            continue;
        }

        name = ngx_array_push(names);
        if (name == NULL) {
            break;
        }

        name->len = len;
        name->data = ngx_pnalloc(pool, len + 1);
        if (name->data == NULL) {
            break;
        }

        ngx_cpystrn(name->data, ngx_de_name(&dir), len + 1);
    }

    ngx_close_dir(&dir);

    /* names start with the creation time: the oldest comes first */
    ngx_qsort(names->elts, names->nelts, sizeof(ngx_str_t),
              ngx_http_track_spool_cmp);

    name = names->elts;
    fd = NGX_INVALID_FILE;

    for (i = 0; i < names->nelts; i++) {
        ngx_snprintf(spool->replay_path, NGX_MAX_PATH, "%V/%V%Z",
                     path, &name[i]);

        fd = ngx_open_file(spool->replay_path, NGX_FILE_RDONLY,
                           NGX_FILE_OPEN, 0);
        if (fd == NGX_INVALID_FILE) {
            continue;
        }

        /* a writer holds its segment's lock for as long as it appends */
        if (flock(fd, LOCK_EX|LOCK_NB) == 0 && ngx_fd_info(fd, &fi) == 0) {
            break;
        }

        ngx_close_file(fd);
        fd = NGX_INVALID_FILE;
    }

    if (fd == NGX_INVALID_FILE) {
        ngx_destroy_pool(pool);
        return NGX_DONE;
    }

    spool->replay_fd = fd;
    spool->replay_size = ngx_file_size(&fi);
    spool->replay_offset = 0;

    spool->progress_key.data = spool->key;
    spool->progress_key.len = ngx_snprintf(spool->key, NGX_MAX_PATH,
                                           "%V:spool:%V",
                                           &spool->conf->redis_key,
                                           &name[i])
                              - spool->key;

    ngx_destroy_pool(pool);

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) spool->progress_key.data;
    argvlen[1] = spool->progress_key.len;

    if (ngx_http_track_redis_command(2, argv, argvlen,
                                     ngx_http_track_spool_progress, spool)
        != NGX_OK)
    {
        ngx_http_track_spool_finish_file(spool, 0);
        return NGX_ERROR;
    }

    spool->busy = 1;

    ngx_log_error(NGX_LOG_NOTICE, spool->log, 0,
                  "track: replaying spool file \"%s\" (%O bytes)",
                  spool->replay_path, spool->replay_size);

    return NGX_OK;
}


/* after a file: the next one, or the lock goes back */

static void
ngx_http_track_spool_continue(ngx_http_track_spool_t *spool)
{
    if (ngx_exiting || !ngx_http_track_redis_writable()
        || ngx_http_track_spool_next_file(spool) != NGX_OK)
    {
        ngx_http_track_spool_stop(spool);
    }
}


static void
ngx_http_track_spool_progress(redisReply *reply, void *data)
{
    off_t                    offset;
    ngx_http_track_spool_t  *spool = data;

    spool->busy = 0;

    if (reply != NULL && reply->type == REDIS_REPLY_NIL) {
        offset = 0;

    } else if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        offset = ngx_atoof((u_char *) reply->str, reply->len);

    } else {
        /* Redis went away: the next tick starts over */
        ngx_http_track_spool_stop(spool);
        return;
    }

    if (offset < 0 || offset > spool->replay_size) {
        ngx_log_error(NGX_LOG_ERR, spool->log, 0,
                      "track: progress of \"%s\" in Redis is beyond the "
                      "file; leaving the file alone", spool->replay_path);
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_ERRORS, 1);
        ngx_http_track_spool_finish_file(spool, 2);
        ngx_http_track_spool_continue(spool);
        return;
    }

    spool->replay_offset = offset;

    ngx_http_track_spool_send_chunk(spool);
}


/*
 * Sends the records from replay_offset on, up to batch_size of them; at the
 * end of the file, reports a torn last record and removes the file.
 */

static void
ngx_http_track_spool_send_chunk(ngx_http_track_spool_t *spool)
{
    u_char       *p, *end;
    off_t         left;
    size_t        len, n, *argvlen;
    ssize_t       got;
    ngx_uint_t    argc, max;
    ngx_file_t    file;
    const char  **argv;

    /* the events follow the script, its keys and the two offsets */
    static const ngx_uint_t  first = 7;

    left = spool->replay_size - spool->replay_offset;

    if (left == 0) {
        if (spool->conf->wait_replicas == 0) {
            ngx_http_track_spool_finish_file(spool, 1);
            ngx_http_track_spool_continue(spool);
            return;
        }

        /*
         * The file goes only once the replicas have its events: a master
         * that dies before replicating them takes them and the progress
         * key along, and the file is replayed again to its successor.
         */
        if (ngx_http_track_redis_wait(ngx_http_track_spool_replicated, spool)
            != NGX_OK)
        {
            ngx_http_track_spool_stop(spool);
            return;
        }

        spool->busy = 1;
        return;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = spool->replay_fd;
    file.log = spool->log;
    file.name.data = spool->replay_path;
    file.name.len = ngx_strlen(spool->replay_path);

    n = (size_t) ngx_min(left, NGX_HTTP_TRACK_SPOOL_CHUNK);
    got = ngx_read_file(&file, spool->buf, n, spool->replay_offset);

    if (got != (ssize_t) n) {
        ngx_log_error(NGX_LOG_CRIT, spool->log, 0,
                      "track: reading spool file \"%s\" failed",
                      spool->replay_path);
        ngx_http_track_spool_stop(spool);
        return;
    }

    max = spool->conf->batch_size;

    argv = ngx_http_track_redis_argv(first + max, &argvlen);
    if (argv == NULL) {
        ngx_http_track_spool_stop(spool);
        return;
    }

    argc = first;
    p = spool->buf;
    end = spool->buf + n;

    while (argc < first + max && end - p >= NGX_HTTP_TRACK_SPOOL_HEADER) {
        len = ngx_http_track_spool_get32(p);

        if (len == 0 || len > NGX_HTTP_TRACK_SPOOL_MAX_RECORD
            || (size_t) (end - p) - NGX_HTTP_TRACK_SPOOL_HEADER < len
            || ngx_crc32_long(p + NGX_HTTP_TRACK_SPOOL_HEADER, len)
               != ngx_http_track_spool_get32(p + 4))
        {
            break;
        }

        argv[argc] = (const char *) p + NGX_HTTP_TRACK_SPOOL_HEADER;
        argvlen[argc] = len;
        argc++;
        p += NGX_HTTP_TRACK_SPOOL_HEADER + len;
    }

    if (argc == first) {
        /*
         * No whole record from here on.  A living writer appends records
         * whole, so at the end of the file this is what a crash cut short;
         * anywhere else the file is damaged.
         */
        if (n < (size_t) left) {
            ngx_log_error(NGX_LOG_ERR, spool->log, 0,
                          "track: spool file \"%s\" has a damaged record "
                          "at offset %O, %O bytes before its end; it is "
                          "kept as \"%s.bad\"", spool->replay_path,
                          spool->replay_offset, left, spool->replay_path);
            ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_ERRORS, 1);
            ngx_http_track_spool_finish_file(spool, 2);

        } else {
            ngx_log_error(NGX_LOG_WARN, spool->log, 0,
                          "track: spool file \"%s\" ends in a torn record "
                          "of %O bytes at offset %O (its writer died while "
                          "appending); it is not replayed",
                          spool->replay_path, left, spool->replay_offset);
            ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_TORN, 1);
            ngx_http_track_spool_finish_file(spool, 1);
        }

        ngx_http_track_spool_continue(spool);
        return;
    }

    spool->replay_end = spool->replay_offset + (p - spool->buf);
    spool->replay_events = argc - first;

    argv[0] = "EVAL";
    argvlen[0] = sizeof("EVAL") - 1;
    argv[1] = ngx_http_track_spool_script;
    argvlen[1] = sizeof(ngx_http_track_spool_script) - 1;
    argv[2] = "2";
    argvlen[2] = 1;
    argv[3] = (const char *) spool->conf->redis_key.data;
    argvlen[3] = spool->conf->redis_key.len;
    argv[4] = (const char *) spool->progress_key.data;
    argvlen[4] = spool->progress_key.len;
    argv[5] = (const char *) spool->start;
    argvlen[5] = ngx_sprintf(spool->start, "%O", spool->replay_offset)
                 - spool->start;
    argv[6] = (const char *) spool->end;
    argvlen[6] = ngx_sprintf(spool->end, "%O", spool->replay_end)
                 - spool->end;

    if (ngx_http_track_redis_command(argc, argv, argvlen,
                                     ngx_http_track_spool_pushed, spool)
        != NGX_OK)
    {
        ngx_http_track_spool_stop(spool);
        return;
    }

    spool->busy = 1;
}


static void
ngx_http_track_spool_pushed(redisReply *reply, void *data)
{
    ngx_http_track_spool_t  *spool = data;

    spool->busy = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || reply->integer < spool->replay_offset
        || reply->integer > spool->replay_size)
    {
        ngx_log_error(NGX_LOG_ERR, spool->log, 0,
                      "track: replay of \"%s\" interrupted at offset %O%s%*s;"
                      " it resumes there", spool->replay_path,
                      spool->replay_offset,
                      reply && reply->type == REDIS_REPLY_ERROR ? ": " : "",
                      reply && reply->type == REDIS_REPLY_ERROR
                      ? (size_t) reply->len : 0,
                      reply && reply->type == REDIS_REPLY_ERROR
                      ? reply->str : "");
        ngx_http_track_spool_stop(spool);
        return;
    }

    if (reply->integer == spool->replay_end) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_REPLAYED,
                                spool->replay_events);

    } else {
        /* an earlier attempt got further: resume where it stopped */
        ngx_log_error(NGX_LOG_NOTICE, spool->log, 0,
                      "track: \"%s\" was replayed up to offset %O already",
                      spool->replay_path, (off_t) reply->integer);
    }

    spool->replay_offset = reply->integer;

    if (ngx_exiting || !ngx_http_track_redis_writable()) {
        ngx_http_track_spool_stop(spool);
        return;
    }

    ngx_http_track_spool_send_chunk(spool);
}


static void
ngx_http_track_spool_replicated(redisReply *reply, void *data)
{
    ngx_http_track_spool_t  *spool = data;

    spool->busy = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || (ngx_uint_t) reply->integer < spool->conf->wait_replicas)
    {
        /* kept: the next tick reads the progress key and asks again */
        ngx_log_error(NGX_LOG_WARN, spool->log, 0,
                      "track: replicas did not confirm the replay of "
                      "\"%s\" in time; the file is kept",
                      spool->replay_path);
        ngx_http_track_spool_stop(spool);
        return;
    }

    ngx_http_track_spool_finish_file(spool, 1);
    ngx_http_track_spool_continue(spool);
}


/* remove: 0 keep the file, 1 delete it, 2 rename it to .bad */

static void
ngx_http_track_spool_finish_file(ngx_http_track_spool_t *spool,
    ngx_uint_t remove)
{
    u_char       bad[NGX_MAX_PATH];
    const char  *argv[2];
    size_t       argvlen[2];

    if (spool->replay_fd == NGX_INVALID_FILE) {
        return;
    }

    if (remove == 1) {
        /* the file goes first: a key without its file is harmless */
        if (ngx_delete_file(spool->replay_path) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, spool->log, ngx_errno,
                          ngx_delete_file_n " \"%s\" failed",
                          spool->replay_path);
        }

        argv[0] = "DEL";
        argvlen[0] = 3;
        argv[1] = (const char *) spool->progress_key.data;
        argvlen[1] = spool->progress_key.len;
        (void) ngx_http_track_redis_command(2, argv, argvlen, NULL, NULL);

        ngx_log_error(NGX_LOG_NOTICE, spool->log, 0,
                      "track: spool file \"%s\" replayed and removed",
                      spool->replay_path);
    }

    if (remove == 2) {
        ngx_snprintf(bad, NGX_MAX_PATH, "%s.bad%Z", spool->replay_path);
        if (ngx_rename_file(spool->replay_path, bad) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, spool->log, ngx_errno,
                          ngx_rename_file_n " \"%s\" failed",
                          spool->replay_path);
        }
    }

    if (remove) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_BYTES,
                                -(ngx_atomic_int_t) spool->replay_size);
    }

    ngx_close_file(spool->replay_fd);
    spool->replay_fd = NGX_INVALID_FILE;
}


/* gives the replay lock back */

static void
ngx_http_track_spool_stop(ngx_http_track_spool_t *spool)
{
    ngx_http_track_spool_finish_file(spool, 0);

    if (spool->lock_fd != NGX_INVALID_FILE) {
        ngx_close_file(spool->lock_fd);
        spool->lock_fd = NGX_INVALID_FILE;
    }
}
