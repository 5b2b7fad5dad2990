/* track-consumer: Redis side: batches move atomically to a processing list. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "queue.h"


/*
 * KEYS: queue, processing list, its batch number.  ARGV: max elements in the
 * processing list, lowest acceptable batch number (last committed + 1).
 * A list numbered below that holds a committed batch that was not
 * acknowledged: nothing may join it.  Elements keep their order: the module
 * RPUSHes, so the oldest is on the left.
 */
static const char  fill_script[] =
    "local len = redis.call('LLEN', KEYS[2])\n"
    "local cur = redis.call('GET', KEYS[3])\n"
    "local min = tonumber(ARGV[2])\n"
    "if (not cur) or (len == 0 and tonumber(cur) < min) then\n"
    "  cur = ARGV[2]\n"
    "  redis.call('SET', KEYS[3], cur)\n"
    "end\n"
    "local want = tonumber(ARGV[1]) - len\n"
    "if want > 0 and tonumber(cur) >= min then\n"
    "  local items = redis.call('LRANGE', KEYS[1], 0, want - 1)\n"
    "  local n = #items\n"
    "  if n > 0 then\n"
    "    redis.call('LTRIM', KEYS[1], n, -1)\n"
    "    for i = 1, n, 1000 do\n"
    "      redis.call('RPUSH', KEYS[2],\n"
    "                 unpack(items, i, math.min(i + 999, n)))\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {cur, redis.call('LRANGE', KEYS[2], 0, -1)}\n";

/*
 * KEYS: processing list, its batch number, dead-letter list.  ARGV: batch
 * number acknowledged, the next one, dead-letter list limit, dead letters.
 */
static const char  ack_script[] =
    "local cur = redis.call('GET', KEYS[2])\n"
    "if cur == ARGV[2] then return 0 end\n"
    "if cur and cur ~= ARGV[1] then\n"
    "  return redis.error_reply('the processing list holds batch ' .. cur\n"
    "                           .. ', not ' .. ARGV[1])\n"
    "end\n"
    "local n = #ARGV\n"
    "if n > 3 then\n"
    "  for i = 4, n, 1000 do\n"
    "    redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, n)))\n"
    "  end\n"
    "  if tonumber(ARGV[3]) > 0 then\n"
    "    redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "return 1\n";

/* KEYS: dead-letter list.  ARGV: its limit, dead letters. */
static const char  dead_script[] =
    "local n = #ARGV\n"
    "for i = 2, n, 1000 do\n"
    "  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, n)))\n"
    "end\n"
    "if tonumber(ARGV[1]) > 0 then\n"
    "  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)\n"
    "end\n"
    "return n - 1\n";


int
tc_queue_init(tc_queue_t *q, const tc_conf_t *conf)
{
    size_t  n;

    memset(q, 0, sizeof(*q));
    q->conf = conf;

    n = strlen(conf->processing_prefix) + strlen(conf->id) + 1;
    q->proc_key = malloc(n);
    q->seq_key = malloc(n + 4);
    if (q->proc_key == NULL || q->seq_key == NULL) {
        tc_queue_free(q);
        return -1;
    }

    snprintf(q->proc_key, n, "%s%s", conf->processing_prefix, conf->id);
    snprintf(q->seq_key, n + 4, "%s:seq", q->proc_key);

    return 0;
}


void
tc_queue_free(tc_queue_t *q)
{
    tc_queue_close(q);
    tc_queue_release(q);
    free(q->proc_key);
    free(q->seq_key);
    q->proc_key = NULL;
    q->seq_key = NULL;
}


void
tc_queue_release(tc_queue_t *q)
{
    if (q->reply != NULL) {
        freeReplyObject(q->reply);
        q->reply = NULL;
    }
    q->items = NULL;
    q->n = 0;
}


/* The last fill's reply survives: a batch in hand points into it. */
void
tc_queue_close(tc_queue_t *q)
{
    if (q->c != NULL) {
        redisFree(q->c);
        q->c = NULL;
    }
}


static const char *
where(const tc_conf_t *c, char *buf, size_t size)
{
    if (c->redis_socket[0]) {
        return c->redis_socket;
    }

    snprintf(buf, size, "%s:%ld", c->redis_host, c->redis_port);

    return buf;
}


/* Logs a failed command; the context is dropped when it is unusable. */
static void
failed(tc_queue_t *q, const char *what, redisReply *r)
{
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        tc_log_error("redis: %s: %s", what, r->str);
        return;
    }

    if (r != NULL) {
        tc_log_error("redis: %s: unexpected reply type %d", what, r->type);
        return;
    }

    tc_log_error("redis: %s: %s", what,
                 q->c->errstr[0] ? q->c->errstr : "connection lost");
    tc_queue_close(q);
}


int
tc_queue_connect(tc_queue_t *q)
{
    char             addr[300];
    long             ms;
    struct timeval   tv;
    redisReply      *r;
    const tc_conf_t *c;

    c = q->conf;
    tc_queue_close(q);

    ms = c->redis_timeout_ms;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    if (c->redis_socket[0]) {
        q->c = redisConnectUnixWithTimeout(c->redis_socket, tv);
    } else {
        q->c = redisConnectWithTimeout(c->redis_host, (int) c->redis_port, tv);
    }

    if (q->c == NULL || q->c->err) {
        tc_log_error("redis: cannot connect to %s: %s",
                     where(c, addr, sizeof(addr)),
                     q->c ? q->c->errstr : "out of memory");
        tc_queue_close(q);
        return -1;
    }

    /* blocking pops wait up to block_ms on top of the command timeout */
    ms = c->redis_timeout_ms + c->block_ms;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    redisSetTimeout(q->c, tv);
    redisEnableKeepAlive(q->c);

    if (c->redis_password[0]) {
        r = redisCommand(q->c, "AUTH %s", c->redis_password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            failed(q, "AUTH", r);
            if (r != NULL) {
                freeReplyObject(r);
            }
            tc_queue_close(q);
            return -1;
        }
        freeReplyObject(r);
    }

    tc_log_info("redis: connected to %s; queue \"%s\", processing list "
                "\"%s\"", where(c, addr, sizeof(addr)), c->queue_key,
                q->proc_key);

    return 0;
}


int
tc_queue_fill(tc_queue_t *q, uint64_t min_seq, long max)
{
    char         smax[24], smin[24];
    size_t       i;
    redisReply  *r, *list;
    const char  *argv[8];
    size_t       argl[8];

    tc_queue_release(q);

    if (q->c == NULL) {
        return -1;
    }

    snprintf(smax, sizeof(smax), "%ld", max);
    snprintf(smin, sizeof(smin), "%" PRIu64, min_seq);

    argv[0] = "EVAL";
    argv[1] = fill_script;
    argv[2] = "3";
    argv[3] = q->conf->queue_key;
    argv[4] = q->proc_key;
    argv[5] = q->seq_key;
    argv[6] = smax;
    argv[7] = smin;
    for (i = 0; i < 8; i++) {
        argl[i] = strlen(argv[i]);
    }

    r = redisCommandArgv(q->c, 8, argv, argl);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_ARRAY)
    {
        failed(q, "moving a batch to the processing list", r);
        if (r != NULL) {
            freeReplyObject(r);
        }
        return -1;
    }

    list = r->element[1];
    for (i = 0; i < list->elements; i++) {
        if (list->element[i]->type != REDIS_REPLY_STRING) {
            failed(q, "reading the processing list", list->element[i]);
            freeReplyObject(r);
            return -1;
        }
    }

    q->reply = r;
    q->seq = strtoull(r->element[0]->str, NULL, 10);
    q->n = list->elements;
    q->items = list->element;

    return 0;
}


int
tc_queue_wait(tc_queue_t *q, long ms)
{
    int          rc;
    char         timeout[32];
    redisReply  *r;
    const char  *argv[6];
    size_t       argl[6], i;

    if (q->c == NULL) {
        return -1;
    }

    snprintf(timeout, sizeof(timeout), "%ld.%03ld", ms / 1000, ms % 1000);

    argv[0] = "BLMOVE";
    argv[1] = q->conf->queue_key;
    argv[2] = q->proc_key;
    argv[3] = "LEFT";
    argv[4] = "RIGHT";
    argv[5] = timeout;
    for (i = 0; i < 6; i++) {
        argl[i] = strlen(argv[i]);
    }

    r = redisCommandArgv(q->c, 6, argv, argl);

    if (r == NULL || (r->type != REDIS_REPLY_NIL
                      && r->type != REDIS_REPLY_STRING))
    {
        failed(q, "waiting for events (BLMOVE)", r);
        rc = -1;
    } else {
        rc = (r->type == REDIS_REPLY_STRING);
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return rc;
}


static redisReply *
eval_with_letters(tc_queue_t *q, const char **head, size_t nhead,
    char **dead, size_t *dead_len, size_t ndead)
{
    size_t        i, n;
    redisReply   *r;
    const char  **argv;
    size_t       *argl;

    n = nhead + ndead;
    argv = malloc(n * sizeof(char *));
    argl = malloc(n * sizeof(size_t));
    if (argv == NULL || argl == NULL) {
        free(argv);
        free(argl);
        return NULL;
    }

    for (i = 0; i < nhead; i++) {
        argv[i] = head[i];
        argl[i] = strlen(head[i]);
    }
    for (i = 0; i < ndead; i++) {
        argv[nhead + i] = dead[i];
        argl[nhead + i] = dead_len[i];
    }

    r = redisCommandArgv(q->c, (int) n, argv, argl);

    free(argv);
    free(argl);

    return r;
}


int
tc_queue_ack(tc_queue_t *q, uint64_t seq, char **dead, size_t *dead_len,
    size_t ndead)
{
    int          rc;
    char         s0[24], s1[24], smax[24];
    redisReply  *r;
    const char  *head[9];

    if (q->c == NULL) {
        return -1;
    }

    snprintf(s0, sizeof(s0), "%" PRIu64, seq);
    snprintf(s1, sizeof(s1), "%" PRIu64, seq + 1);
    snprintf(smax, sizeof(smax), "%ld", q->conf->dead_max);

    head[0] = "EVAL";
    head[1] = ack_script;
    head[2] = "3";
    head[3] = q->proc_key;
    head[4] = q->seq_key;
    head[5] = q->conf->dead_key;
    head[6] = s0;
    head[7] = s1;
    head[8] = smax;

    r = eval_with_letters(q, head, 9, dead, dead_len, ndead);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        failed(q, "acknowledging a batch", r);
        rc = (r != NULL && r->type == REDIS_REPLY_ERROR) ? -2 : -1;
    } else {
        rc = (int) r->integer;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return rc;
}


int
tc_queue_push_dead(tc_queue_t *q, char **dead, size_t *dead_len,
    size_t ndead)
{
    int          rc;
    char         smax[24];
    redisReply  *r;
    const char  *head[5];

    if (q->c == NULL) {
        return -1;
    }

    snprintf(smax, sizeof(smax), "%ld", q->conf->dead_max);

    head[0] = "EVAL";
    head[1] = dead_script;
    head[2] = "1";
    head[3] = q->conf->dead_key;
    head[4] = smax;

    r = eval_with_letters(q, head, 5, dead, dead_len, ndead);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        failed(q, "pushing dead letters", r);
        rc = -1;
    } else {
        rc = 0;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return rc;
}


long long
tc_queue_length(tc_queue_t *q)
{
    long long    n;
    redisReply  *r;

    if (q->c == NULL) {
        return -1;
    }

    r = redisCommand(q->c, "LLEN %s", q->conf->queue_key);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        failed(q, "LLEN", r);
        n = -1;
    } else {
        n = r->integer;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return n;
}
