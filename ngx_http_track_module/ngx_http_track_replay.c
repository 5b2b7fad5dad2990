/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The replay of the disk spool into Redis, exactly once, once Redis can take
 * events again.  Only closed segments are replayed: a writer holds its
 * segment's flock() for as long as it appends (ngx_http_track_spool.c).
 *
 * One worker at a time replays (flock on replay.lock).  Each chunk goes to
 * Redis in a Lua script that pushes the chunk and moves the file's progress
 * key from the chunk's start to its end offset in one step, and does nothing
 * when the progress key is not at the chunk's start: a replay interrupted
 * anywhere (crash, reload, lost reply) resumes without a duplicate or a gap.
 */


#include "ngx_http_track_module.h"
#include "ngx_http_track_metrics.h"
#include "ngx_http_track_command.h"
#include "ngx_http_track_throttle.h"
#include "ngx_http_track_spool.h"
#include "ngx_http_track_replay.h"

#include <sys/file.h>

#include <hiredis/hiredis.h>


#define NGX_HTTP_TRACK_REPLAY_TICK      1000
#define NGX_HTTP_TRACK_REPLAY_CHUNK     (1024 * 1024)
/* a finished file's progress key is kept a week, then Redis drops it */
#define NGX_HTTP_TRACK_REPLAY_KEY_TTL   "604800"


typedef struct {
    ngx_http_track_main_conf_t  *conf;
    ngx_log_t                   *log;

    ngx_fd_t                     lock_fd;
    ngx_fd_t                     fd;
    u_char                       path[NGX_MAX_PATH];
    ngx_uint_t                   nevents;
    u_char                       start_arg[NGX_OFF_T_LEN];
    u_char                       end_arg[NGX_OFF_T_LEN];
    off_t                        size;
    off_t                        offset;
    off_t                        end_offset;
    u_char                      *buf;
    u_char                       key[NGX_MAX_PATH];
    ngx_str_t                   *list;      /* where the file goes */
    ngx_uint_t                   list_index;
    ngx_str_t                    progress_key;
    unsigned                     busy:1;

    ngx_event_t                  tick;
} ngx_http_track_replay_t;


static void ngx_http_track_replay_tick(ngx_event_t *ev);
static uint32_t ngx_http_track_replay_get32(const u_char *p);
static ngx_int_t ngx_http_track_replay_next_file(
    ngx_http_track_replay_t *replay);
static void ngx_http_track_replay_continue(ngx_http_track_replay_t *replay);
static void ngx_http_track_replay_progress(redisReply *reply, void *data);
static void ngx_http_track_replay_send_chunk(ngx_http_track_replay_t *replay);
static void ngx_http_track_replay_pushed(redisReply *reply, void *data);
static void ngx_http_track_replay_replicated(redisReply *reply, void *data);
static void ngx_http_track_replay_finish_file(ngx_http_track_replay_t *replay,
    ngx_uint_t remove);
static void ngx_http_track_replay_stop(ngx_http_track_replay_t *replay);


/* this worker's replayer; NULL without a track_spool */
static ngx_http_track_replay_t  *ngx_http_track_replayer;


/*
 * KEYS: list, progress; ARGV: start, end, events...  Returns the progress
 * and the list's length: the throttle learns what the replay pushed.
 */
static char  ngx_http_track_replay_script[] =
    "local cur = tonumber(redis.call('GET', KEYS[2]) or '0') "
    "if cur ~= tonumber(ARGV[1]) then "
        "return {cur, redis.call('LLEN', KEYS[1])} end "
    "local len = redis.call('RPUSH', KEYS[1], unpack(ARGV, 3)) "
    "redis.call('SET', KEYS[2], ARGV[2], 'EX', "
        NGX_HTTP_TRACK_REPLAY_KEY_TTL ") "
    "return {tonumber(ARGV[2]), len}";


ngx_int_t
ngx_http_track_replay_init_process(ngx_cycle_t *cycle,
    ngx_http_track_main_conf_t *tmcf)
{
    ngx_http_track_replay_t  *replay;

    if (tmcf->spool_path.len == 0) {
        return NGX_OK;
    }

    replay = ngx_pcalloc(cycle->pool, sizeof(ngx_http_track_replay_t));
    if (replay == NULL) {
        return NGX_ERROR;
    }

    replay->conf = tmcf;
    replay->log = cycle->log;
    replay->lock_fd = NGX_INVALID_FILE;
    replay->fd = NGX_INVALID_FILE;

    replay->tick.handler = ngx_http_track_replay_tick;
    replay->tick.data = replay;
    replay->tick.log = cycle->log;
    replay->tick.cancelable = 1;

    ngx_add_timer(&replay->tick, NGX_HTTP_TRACK_REPLAY_TICK);

    ngx_http_track_replayer = replay;

    return NGX_OK;
}


void
ngx_http_track_replay_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_track_replay_t  *replay = ngx_http_track_replayer;

    if (replay == NULL) {
        return;
    }

    ngx_http_track_replay_stop(replay);

    ngx_free(replay->buf);
    ngx_http_track_replayer = NULL;
}


/*
 * Once a second: a worker whose Redis is usable again closes its segment,
 * and takes the replay lock if nobody holds it.
 */

static void
ngx_http_track_replay_tick(ngx_event_t *ev)
{
    ngx_http_track_replay_t  *replay = ev->data;

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(&replay->tick, NGX_HTTP_TRACK_REPLAY_TICK);

    if (!ngx_http_track_throttle_writable()) {
        return;
    }

    ngx_http_track_spool_close_segment();

    if (replay->busy
        || ngx_http_track_stat_get(NGX_HTTP_TRACK_STAT_SPOOL_BYTES) == 0)
    {
        return;
    }

    if (replay->lock_fd == NGX_INVALID_FILE) {
        u_char  path[NGX_MAX_PATH];

        ngx_snprintf(path, NGX_MAX_PATH, "%V/replay.lock%Z",
                     &replay->conf->spool_path);

        replay->lock_fd = ngx_open_file(path, NGX_FILE_RDWR,
                                       NGX_FILE_CREATE_OR_OPEN, 0600);
        if (replay->lock_fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_CRIT, replay->log, ngx_errno,
                          "track: cannot open \"%s\"", path);
            return;
        }

        if (flock(replay->lock_fd, LOCK_EX|LOCK_NB) == -1) {
            /* another worker replays */
            ngx_close_file(replay->lock_fd);
            replay->lock_fd = NGX_INVALID_FILE;
            return;
        }
    }

    if (replay->buf == NULL) {
        replay->buf = ngx_alloc(NGX_HTTP_TRACK_REPLAY_CHUNK, replay->log);
        if (replay->buf == NULL) {
            ngx_http_track_replay_stop(replay);
            return;
        }
    }

    if (ngx_http_track_replay_next_file(replay) != NGX_OK) {
        ngx_http_track_replay_stop(replay);
    }
}


static uint32_t
ngx_http_track_replay_get32(const u_char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}


static int ngx_libc_cdecl
ngx_http_track_replay_cmp(const void *one, const void *two)
{
    const ngx_str_t  *a = one, *b = two;

    return ngx_strcmp(a->data, b->data);
}


/*
 * Opens the oldest segment that nobody writes and asks Redis how far it was
 * replayed; NGX_DONE when there is nothing to replay.
 */

static ngx_int_t
ngx_http_track_replay_next_file(ngx_http_track_replay_t *replay)
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

    path = &replay->conf->spool_path;

    pool = ngx_create_pool(4096, replay->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    names = ngx_array_create(pool, 16, sizeof(ngx_str_t));
    if (names == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    if (ngx_open_dir(path, &dir) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, replay->log, ngx_errno,
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
              ngx_http_track_replay_cmp);

    name = names->elts;
    fd = NGX_INVALID_FILE;

    for (i = 0; i < names->nelts; i++) {
        ngx_snprintf(replay->path, NGX_MAX_PATH, "%V/%V%Z",
                     path, &name[i]);

        fd = ngx_open_file(replay->path, NGX_FILE_RDONLY,
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

    replay->fd = fd;
    replay->size = ngx_file_size(&fi);
    replay->offset = 0;

    /* on a cluster the progress key shares its list's hash tag */
    replay->list = ngx_http_track_command_list(&name[i],
                                               &replay->conf->redis_key,
                                               &replay->list_index);
    if (replay->list == NULL) {
        ngx_destroy_pool(pool);
        ngx_http_track_replay_finish_file(replay, 0);
        return NGX_ERROR;
    }

    replay->progress_key.data = replay->key;
    replay->progress_key.len = ngx_snprintf(replay->key, NGX_MAX_PATH,
                                           "%V:spool:%V", replay->list,
                                           &name[i])
                              - replay->key;

    ngx_destroy_pool(pool);

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) replay->progress_key.data;
    argvlen[1] = replay->progress_key.len;

    if (ngx_http_track_command(2, argv, argvlen,
                               ngx_http_track_replay_progress, replay)
        != NGX_OK)
    {
        ngx_http_track_replay_finish_file(replay, 0);
        return NGX_ERROR;
    }

    replay->busy = 1;

    ngx_log_error(NGX_LOG_NOTICE, replay->log, 0,
                  "track: replaying spool file \"%s\" (%O bytes)",
                  replay->path, replay->size);

    return NGX_OK;
}


/* after a file: the next one, or the lock goes back */

static void
ngx_http_track_replay_continue(ngx_http_track_replay_t *replay)
{
    if (ngx_exiting || !ngx_http_track_throttle_writable()
        || ngx_http_track_replay_next_file(replay) != NGX_OK)
    {
        ngx_http_track_replay_stop(replay);
    }
}


static void
ngx_http_track_replay_progress(redisReply *reply, void *data)
{
    off_t                    offset;
    ngx_http_track_replay_t  *replay = data;

    replay->busy = 0;

    if (reply != NULL && reply->type == REDIS_REPLY_NIL) {
        offset = 0;

    } else if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        offset = ngx_atoof((u_char *) reply->str, reply->len);

    } else {
        /* Redis went away: the next tick starts over */
        ngx_http_track_replay_stop(replay);
        return;
    }

    if (offset < 0 || offset > replay->size) {
        ngx_log_error(NGX_LOG_ERR, replay->log, 0,
                      "track: progress of \"%s\" in Redis is beyond the "
                      "file; leaving the file alone", replay->path);
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_ERRORS, 1);
        ngx_http_track_replay_finish_file(replay, 2);
        ngx_http_track_replay_continue(replay);
        return;
    }

    replay->offset = offset;

    ngx_http_track_replay_send_chunk(replay);
}


/*
 * Sends the records from replay_offset on, up to batch_size of them; at the
 * end of the file, reports a torn last record and removes the file.
 */

static void
ngx_http_track_replay_send_chunk(ngx_http_track_replay_t *replay)
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

    left = replay->size - replay->offset;

    if (left == 0) {
        if (replay->conf->wait_replicas == 0) {
            ngx_http_track_replay_finish_file(replay, 1);
            ngx_http_track_replay_continue(replay);
            return;
        }

        /*
         * The file goes only once the replicas have its events: a master
         * that dies before replicating them takes them and the progress
         * key along, and the file is replayed again to its successor.
         */
        if (ngx_http_track_command_wait(replay->list, replay->conf,
                                        ngx_http_track_replay_replicated,
                                        replay)
            != NGX_OK)
        {
            ngx_http_track_replay_stop(replay);
            return;
        }

        replay->busy = 1;
        return;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = replay->fd;
    file.log = replay->log;
    file.name.data = replay->path;
    file.name.len = ngx_strlen(replay->path);

    n = (size_t) ngx_min(left, NGX_HTTP_TRACK_REPLAY_CHUNK);
    got = ngx_read_file(&file, replay->buf, n, replay->offset);

    if (got != (ssize_t) n) {
        ngx_log_error(NGX_LOG_CRIT, replay->log, 0,
                      "track: reading spool file \"%s\" failed",
                      replay->path);
        ngx_http_track_replay_stop(replay);
        return;
    }

    max = replay->conf->batch_size;

    argv = ngx_http_track_command_argv(first + max, &argvlen);
    if (argv == NULL) {
        ngx_http_track_replay_stop(replay);
        return;
    }

    argc = first;
    p = replay->buf;
    end = replay->buf + n;

    while (argc < first + max && end - p >= NGX_HTTP_TRACK_SPOOL_HEADER) {
        len = ngx_http_track_replay_get32(p);

        if (len == 0 || len > NGX_HTTP_TRACK_SPOOL_MAX_RECORD
            || (size_t) (end - p) - NGX_HTTP_TRACK_SPOOL_HEADER < len
            || ngx_crc32_long(p + NGX_HTTP_TRACK_SPOOL_HEADER, len)
               != ngx_http_track_replay_get32(p + 4))
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
            ngx_log_error(NGX_LOG_ERR, replay->log, 0,
                          "track: spool file \"%s\" has a damaged record "
                          "at offset %O, %O bytes before its end; it is "
                          "kept as \"%s.bad\"", replay->path,
                          replay->offset, left, replay->path);
            ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_ERRORS, 1);
            ngx_http_track_replay_finish_file(replay, 2);

        } else {
            ngx_log_error(NGX_LOG_WARN, replay->log, 0,
                          "track: spool file \"%s\" ends in a torn record "
                          "of %O bytes at offset %O (its writer died while "
                          "appending); it is not replayed",
                          replay->path, left, replay->offset);
            ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_TORN, 1);
            ngx_http_track_replay_finish_file(replay, 1);
        }

        ngx_http_track_replay_continue(replay);
        return;
    }

    replay->end_offset = replay->offset + (p - replay->buf);
    replay->nevents = argc - first;

    argv[0] = "EVAL";
    argvlen[0] = sizeof("EVAL") - 1;
    argv[1] = ngx_http_track_replay_script;
    argvlen[1] = sizeof(ngx_http_track_replay_script) - 1;
    argv[2] = "2";
    argvlen[2] = 1;
    argv[3] = (const char *) replay->list->data;
    argvlen[3] = replay->list->len;
    argv[4] = (const char *) replay->progress_key.data;
    argvlen[4] = replay->progress_key.len;
    argv[5] = (const char *) replay->start_arg;
    argvlen[5] = ngx_sprintf(replay->start_arg, "%O", replay->offset)
                 - replay->start_arg;
    argv[6] = (const char *) replay->end_arg;
    argvlen[6] = ngx_sprintf(replay->end_arg, "%O", replay->end_offset)
                 - replay->end_arg;

    if (ngx_http_track_command(argc, argv, argvlen,
                               ngx_http_track_replay_pushed, replay)
        != NGX_OK)
    {
        ngx_http_track_replay_stop(replay);
        return;
    }

    replay->busy = 1;
}


static void
ngx_http_track_replay_pushed(redisReply *reply, void *data)
{
    long long                 done;
    ngx_http_track_replay_t  *replay = data;

    replay->busy = 0;

    done = -1;
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[1]->type == REDIS_REPLY_INTEGER)
    {
        done = reply->element[0]->integer;
        ngx_http_track_throttle_queue_length(replay->list_index,
                                             reply->element[1]->integer);
    }

    if (done < replay->offset || done > replay->size) {
        ngx_log_error(NGX_LOG_ERR, replay->log, 0,
                      "track: replay of \"%s\" interrupted at offset %O%s%*s;"
                      " it resumes there", replay->path,
                      replay->offset,
                      reply && reply->type == REDIS_REPLY_ERROR ? ": " : "",
                      reply && reply->type == REDIS_REPLY_ERROR
                      ? (size_t) reply->len : 0,
                      reply && reply->type == REDIS_REPLY_ERROR
                      ? reply->str : "");
        ngx_http_track_replay_stop(replay);
        return;
    }

    if (done == replay->end_offset) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_EVENTS_REPLAYED,
                                replay->nevents);

    } else {
        /* an earlier attempt got further: resume where it stopped */
        ngx_log_error(NGX_LOG_NOTICE, replay->log, 0,
                      "track: \"%s\" was replayed up to offset %O already",
                      replay->path, (off_t) done);
    }

    replay->offset = done;

    /* at the ceiling a file pushed whole is still finished (removed) */
    if (ngx_exiting
        || (replay->offset < replay->size
            && !ngx_http_track_throttle_writable()))
    {
        ngx_http_track_replay_stop(replay);
        return;
    }

    ngx_http_track_replay_send_chunk(replay);
}


static void
ngx_http_track_replay_replicated(redisReply *reply, void *data)
{
    ngx_http_track_replay_t  *replay = data;

    replay->busy = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || (ngx_uint_t) reply->integer < replay->conf->wait_replicas)
    {
        /* kept: the next tick reads the progress key and asks again */
        ngx_log_error(NGX_LOG_WARN, replay->log, 0,
                      "track: replicas did not confirm the replay of "
                      "\"%s\" in time; the file is kept",
                      replay->path);
        ngx_http_track_replay_stop(replay);
        return;
    }

    ngx_http_track_replay_finish_file(replay, 1);
    ngx_http_track_replay_continue(replay);
}


/* remove: 0 keep the file, 1 delete it, 2 rename it to .bad */

static void
ngx_http_track_replay_finish_file(ngx_http_track_replay_t *replay,
    ngx_uint_t remove)
{
    u_char       bad[NGX_MAX_PATH];
    const char  *argv[2];
    size_t       argvlen[2];

    if (replay->fd == NGX_INVALID_FILE) {
        return;
    }

    if (remove == 1) {
        /* the file goes first: a key without its file is harmless */
        if (ngx_delete_file(replay->path) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, replay->log, ngx_errno,
                          ngx_delete_file_n " \"%s\" failed",
                          replay->path);
        }

        argv[0] = "DEL";
        argvlen[0] = 3;
        argv[1] = (const char *) replay->progress_key.data;
        argvlen[1] = replay->progress_key.len;
        (void) ngx_http_track_command(2, argv, argvlen, NULL, NULL);

        ngx_log_error(NGX_LOG_NOTICE, replay->log, 0,
                      "track: spool file \"%s\" replayed and removed",
                      replay->path);
    }

    if (remove == 2) {
        ngx_snprintf(bad, NGX_MAX_PATH, "%s.bad%Z", replay->path);
        if (ngx_rename_file(replay->path, bad) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, replay->log, ngx_errno,
                          ngx_rename_file_n " \"%s\" failed",
                          replay->path);
        }
    }

    if (remove) {
        ngx_http_track_stat_add(NGX_HTTP_TRACK_STAT_SPOOL_BYTES,
                                -(ngx_atomic_int_t) replay->size);
    }

    ngx_close_file(replay->fd);
    replay->fd = NGX_INVALID_FILE;
}


/* gives the replay lock back */

static void
ngx_http_track_replay_stop(ngx_http_track_replay_t *replay)
{
    ngx_http_track_replay_finish_file(replay, 0);

    if (replay->lock_fd != NGX_INVALID_FILE) {
        ngx_close_file(replay->lock_fd);
        replay->lock_fd = NGX_INVALID_FILE;
    }
}
