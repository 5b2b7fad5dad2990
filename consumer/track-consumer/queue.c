/* SPDX-License-Identifier: BSD-2-Clause */
/* track-consumer: Redis side: batches move atomically to a processing list. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rc.h"

#include "queue.h"
#include "sentinel.h"

#define TC_CHECK_TIMEOUT  500       /* ms, for a sentinel between batches */


/*
 * Exactly once across a Redis failover (or a restart from an append-only
 * file that lost its last writes).
 *
 * Replication is asynchronous: the master a failover promotes holds the old
 * master's data as it was some moments before (a prefix of its writes: a
 * script is replicated whole or not at all), plus what was written to it
 * since.  So the move of a batch may be missing there (the events are back
 * in the queue), or present with the acknowledgement missing (the list is
 * still there), or the processing list may be a batch or more behind
 * MySQL's marker.  Two things keep MySQL exactly once whatever Redis says:
 *
 * 1. No event is stored twice: a batch commits its rows, its statistics
 *    (counted from the rows actually inserted) and the marker in one
 *    transaction; a batch numbered at or below the marker is not applied;
 *    and an eid already in its day table is skipped (its UNIQUE key).  An
 *    event Redis hands out again, in whatever batch, is a duplicate.
 *
 * 2. No event is lost: events leave Redis only when an acknowledgement
 *    deletes a processing list, and a list is deleted only when it holds
 *    nothing but (a part of) a committed batch:
 *    - on one Redis history the list is never numbered below the marker
 *      (acknowledging batch n numbers it n + 1 before batch n + 1 can
 *      move), and nothing joins a list numbered at or below the marker
 *      (fill_script): a list numbered the marker is the committed batch;
 *    - on a Redis that went back in time, a list numbered the marker is
 *      an earlier state of that same list (it only grew, by atomic moves,
 *      until the batch was taken): a part of the committed batch;
 *    - a list numbered below the marker exists only on a Redis that went
 *      back in time; it is not trusted: the fill renumbers it above the
 *      marker, so it is stored again (what MySQL has is skipped);
 *    - the batch in hand is deleted only if the list holds as many
 *      elements as were committed; otherwise (Redis lost or gained writes
 *      under the consumer) it is kept, renumbered and stored again.
 *
 * What Redis itself loses in a failover (writes the old master acknowledged
 * but never replicated) is outside this: the module's
 * track_redis_wait_replicas makes an acknowledged event a replicated one,
 * and events that do not make it are spooled and replayed, at worst twice,
 * and then skipped by the eid key.  In a split brain (an old master still
 * taking writes on the consumer's side of a partition) Redis loses writes
 * when the partition heals; min-replicas-to-write on the Redis side bounds
 * that.  The consumer needs no WAIT of its own: a move or acknowledgement a
 * failover loses only makes it see events again.  What can be doubled is a
 * dead letter: an invalid element handed out again is dead-lettered (and
 * counted in stats_dead_letters) again. *
 * Exactly once across a takeover (redis_cluster: a shard's processing
 * list, batch number and marker are the shard's, whoever holds its lease).
 * A new owner continues them as a restarted consumer would, so the above
 * holds, and the one new case is an old owner still alive (stalled past
 * its lease) that commits the batch in hand:
 * - the old owner commits only right after a fill that found its lease
 *   (the scripts check it), so its batch is what the list held when the
 *   lease changed hands, plus at most what its own blocked BLMOVE adds
 *   later, which no fill of its reads;
 * - the new owner takes an inherited list as it is (tc_queue_take_lease:
 *   no top-up, no linger), so it holds the same batch under the same
 *   number; whichever commits second finds the marker (TC_ALREADY) and
 *   acknowledges with the same count: the list is deleted only if it is
 *   exactly that batch, else kept and stored again;
 * - the old owner's acknowledgement is refused (LEASELOST), and it takes
 *   nothing more from that shard.
 * Only a BLMOVE of the old owner that reaches Redis more than lease_ms
 * after its send (it waits a third of that at most) could join the
 * inherited list before the new owner reads it: a network holding a
 * packet that long.
 */


/*
 * Both scripts write first what frees memory or moves it (LTRIM, DEL):
 * Redis refuses a script's first write of a command that needs memory when
 * it is above maxmemory (noeviction), but never the writes after that, so a
 * full Redis still drains and acknowledges instead of refusing the consumer
 * the very work that would free it.
 */


/*
 * With a lease (redis_cluster), both scripts first check that the shard's
 * lease (KEYS[4]) still holds this process's token (ARGV[tok]; empty
 * without a cluster) and renew it for ARGV[tok + 1] ms: a consumer whose
 * lease expired and was taken can no longer move a batch or delete one.
 */
#define LEASE_CHECK(tok)                                                     \
    "if ARGV[" tok "] ~= '' then\n"                                          \
    "  if redis.call('GET', KEYS[4]) ~= ARGV[" tok "] then\n"                \
    "    return redis.error_reply('LEASELOST the shard is not ours')\n"      \
    "  end\n"                                                                \
    "  redis.call('PEXPIRE', KEYS[4], ARGV[" tok " + 1])\n"                  \
    "end\n"


/*
 * KEYS: queue, processing list, its batch number, the lease.  ARGV: max
 * elements in the processing list, lowest acceptable batch number (last
 * committed + 1), the lease's token and lifetime, "1" to take an
 * inherited list as it is (see tc_queue_take_lease).
 * A list numbered min - 1 holds the committed batch that was not
 * acknowledged: nothing may join it.  A list numbered lower than that
 * cannot exist unless Redis went back in time: it is renumbered min and
 * stored again (see above).  Elements keep their order: the module
 * RPUSHes, so the oldest is on the left.  Returns the list's batch number
 * and length; the list itself is read by an LRANGE sent in the same round
 * trip (a Lua table of the batch would copy every element twice more in
 * Redis), from where the last fill stopped: a lingering batch grows by a
 * few elements a time, and reading it whole each time took a third of
 * Redis's time at 40k events/s.
 */
static const char  fill_script[] =
    LEASE_CHECK("3")
    "local len = redis.call('LLEN', KEYS[2])\n"
    "local cur = redis.call('GET', KEYS[3])\n"
    "local min = tonumber(ARGV[2])\n"
    "local renumber = (not cur) or tonumber(cur) < min - 1\n"
    "   or (len == 0 and tonumber(cur) < min)\n"
    "if renumber then\n"
    "  cur = ARGV[2]\n"
    "end\n"
    "local want = tonumber(ARGV[1]) - len\n"
    "if ARGV[5] == '1' and len > 0 then want = 0 end\n"
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
    "if renumber then\n"
    "  redis.call('SET', KEYS[3], cur)\n"
    "end\n"
    "return {cur, redis.call('LLEN', KEYS[2])}\n";

/*
 * KEYS: processing list, its batch number, dead-letter list, the lease.
 * ARGV: batch number acknowledged, the next one, dead-letter list limit,
 * the number of elements committed, the lease's token and lifetime, dead
 * letters.  Returns {code, list length}: 1
 * deleted, 0 acknowledged before, 2 kept (it is not the committed batch)
 * and numbered next, to be stored again (tc_ack_t has the same values).
 */
static const char  ack_script[] =
    LEASE_CHECK("5")
    "local cur = redis.call('GET', KEYS[2])\n"
    "if cur == ARGV[2] then return {0, 0} end\n"
    "if cur and cur ~= ARGV[1] then\n"
    "  return redis.error_reply('the processing list holds batch ' .. cur\n"
    "                           .. ', not ' .. ARGV[1])\n"
    "end\n"
    "local len = redis.call('LLEN', KEYS[1])\n"
    "local code = 2\n"
    "if len == 0 or len == tonumber(ARGV[4]) then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  code = 1\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "local n = #ARGV\n"
    "if n > 6 then\n"
    "  for i = 7, n, 1000 do\n"
    "    redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, n)))\n"
    "  end\n"
    "  if tonumber(ARGV[3]) > 0 then\n"
    "    redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)\n"
    "  end\n"
    "end\n"
    "return {code, len}\n";

/*
 * KEYS: the lease, processing list.  ARGV: token, lifetime.  Returns {1,
 * the list's length} when the lease was free or ours (it is now), else
 * {0, the owner's token}.
 */
static const char  take_script[] =
    "local owner = redis.call('GET', KEYS[1])\n"
    "if owner and owner ~= ARGV[1] then return {0, owner} end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return {1, redis.call('LLEN', KEYS[2])}\n";

/* KEYS: the lease.  ARGV: token, lifetime (0: give it up).  1: ours. */
static const char  renew_script[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "if ARGV[2] == '0' then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "else\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
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


/* a + b + c, malloc'ed */
static char *
concat(const char *a, const char *b, const char *c)
{
    char    *p;
    size_t   n;

    n = strlen(a) + strlen(b) + strlen(c) + 1;
    p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s%s%s", a, b, c);
    }

    return p;
}


/* Names the keys of one queue: its list, dead letters, processing list. */
static tc_rc_t
name_keys(tc_queue_t *q, const char *queue, const char *tag, const char *id)
{
    free(q->queue_key);
    free(q->dead_key);
    free(q->proc_key);
    free(q->seq_key);

    q->queue_key = strdup(queue);
    q->dead_key = concat(q->conf->dead_key, tag[0] ? ":" : "", tag);
    q->proc_key = concat(q->conf->processing_prefix, id, "");
    q->seq_key = concat(q->conf->processing_prefix, id, ":seq");

    if (q->queue_key == NULL || q->dead_key == NULL || q->proc_key == NULL
        || q->seq_key == NULL)
    {
        return TC_ERROR;
    }

    return TC_OK;
}


tc_rc_t
tc_queue_init(tc_queue_t *q, const tc_conf_t *conf)
{
    char  host[64];

    memset(q, 0, sizeof(*q));
    q->conf = conf;
    q->answered = (size_t) -1;      /* the first connect asks the first */
    q->shard = -1;
    tc_cluster_init(&q->cluster, conf);

    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "?");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(q->token, sizeof(q->token), "%s %s pid %d %ld", conf->id, host,
             (int) getpid(), (long) time(NULL));

    if (name_keys(q, conf->queue_key, "", conf->id) != TC_OK) {
        tc_queue_free(q);
        return TC_ERROR;
    }

    return TC_OK;
}


tc_rc_t
tc_queue_bind(tc_queue_t *q, size_t i)
{
    char                   addr[300];
    const char            *name;
    const tc_slot_range_t *m;

    name = q->cluster.shards[i];

    /* the shard's list is its own consumer id: the marker is the shard's */
    if (name_keys(q, name, strchr(name, '{'), name) != TC_OK) {
        return TC_ERROR;
    }

    free(q->lease_key);
    q->lease_key = concat(name, ":owner", "");
    if (q->lease_key == NULL) {
        return TC_ERROR;
    }

    q->shard = (long) i;
    q->lost = 0;
    q->inherited = 0;

    m = tc_cluster_lookup(&q->cluster, q->cluster.slots[i]);
    if (q->c != NULL
        && (m == NULL
            || strcmp(tc_addr_text(m->host, m->port, addr, sizeof(addr)),
                      q->addr) != 0))
    {
        tc_queue_close(q);
    }

    return TC_OK;
}


void
tc_queue_free(tc_queue_t *q)
{
    tc_queue_close(q);
    tc_queue_release(q);
    free(q->replies);
    free(q->items);
    free(q->queue_key);
    free(q->dead_key);
    free(q->proc_key);
    free(q->seq_key);
    free(q->lease_key);
    q->queue_key = NULL;
    q->dead_key = NULL;
    q->proc_key = NULL;
    q->seq_key = NULL;
    q->lease_key = NULL;
    tc_cluster_free(&q->cluster);
}


void
tc_queue_release(tc_queue_t *q)
{
    size_t  i;

    for (i = 0; i < q->nreplies; i++) {
        freeReplyObject(q->replies[i]);
    }
    q->nreplies = 0;
    q->n = 0;
}


/* Keeps list, an LRANGE reply, and appends its elements from skip on. */
static tc_rc_t
hold_elements(tc_queue_t *q, redisReply *list, size_t skip)
{
    size_t        i, cap;
    redisReply  **p;

    if (q->nreplies == q->replies_cap) {
        cap = q->replies_cap ? 2 * q->replies_cap : 8;
        p = realloc(q->replies, cap * sizeof(redisReply *));
        if (p == NULL) {
            return TC_ERROR;
        }
        q->replies = p;
        q->replies_cap = cap;
    }

    if (q->n + list->elements > q->items_cap) {
        for (cap = q->items_cap ? q->items_cap : 256;
             cap < q->n + list->elements; cap *= 2)
        {
            /* void */
        }
        p = realloc(q->items, cap * sizeof(redisReply *));
        if (p == NULL) {
            return TC_ERROR;
        }
        q->items = p;
        q->items_cap = cap;
    }

    q->replies[q->nreplies++] = list;
    for (i = skip; i < list->elements; i++) {
        q->items[q->n++] = list->element[i];
    }

    return TC_OK;
}


/* What the fills read survives: a batch in hand points into it. */
void
tc_queue_close(tc_queue_t *q)
{
    if (q->c != NULL) {
        redisFree(q->c);
        q->c = NULL;
    }
}


/*
 * Logs a failed command.  The context is dropped when it is unusable, or
 * when the reply says this server is not the master any more, so that the
 * next connect finds the master again.
 */
static void
failed(tc_queue_t *q, const char *what, redisReply *r)
{
    const char  *why, *next;

    next = q->conf->nsentinels ? "asking the sentinels for the master"
           : q->conf->nseeds ? "learning the slot map again"
           : "reconnecting";

    if (r != NULL && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "LEASELOST", 9) == 0)
    {
        tc_log_warn("redis: %s: the lease of shard \"%s\" is not ours any "
                    "more (it expired; another consumer may have it now): "
                    "leaving the shard", what, q->queue_key);
        q->lost = 1;
        tc_queue_close(q);
        return;
    }

    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        why = tc_redis_failover_error(r->str, r->len);
        if (why == NULL) {
            tc_log_error("redis: %s: %s", what, r->str);
            return;
        }

        tc_log_warn("redis: %s at %s: %s: %s; %s", what, q->addr, r->str,
                    why, next);
        tc_queue_close(q);
        return;
    }

    if (r != NULL) {
        tc_log_error("redis: %s: unexpected reply type %d", what, r->type);
        return;
    }

    tc_log_error("redis: %s at %s: %s; %s", what, q->addr,
                 tc_redis_context_error(q->c), next);
    tc_queue_close(q);
}


/*
 * An integer reply into *n, or failed(); the reply is freed either way.
 */
static tc_rc_t
integer_reply(tc_queue_t *q, redisReply *r, const char *what, long long *n)
{
    tc_rc_t  rc;

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        failed(q, what, r);
        rc = TC_ERROR;
    } else {
        *n = r->integer;
        rc = TC_OK;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return rc;
}


/*
 * Asks the sentinels in turn for the master's address.  After a
 * failure (connect) it starts after the one that answered last, which may
 * be stale; the periodic check (quiet) starts with that one, waits at most
 * TC_CHECK_TIMEOUT for each, and logs a sentinel that does not answer at
 * debug level only.
 */
static tc_rc_t
discover(tc_queue_t *q, char *host, size_t size, long *port, int quiet)
{
    int               level;
    long              timeout;
    int               rc;
    char              saddr[300], maddr[300];
    size_t            i, k;
    redisReply       *r;
    redisContext     *c;
    const char       *why;
    const tc_addr_t  *s;
    const tc_conf_t  *conf;

    conf = q->conf;
    level = quiet ? TC_LOG_DEBUG : TC_LOG_WARN;
    timeout = conf->redis_timeout_ms;
    if (quiet && timeout > TC_CHECK_TIMEOUT) {
        timeout = TC_CHECK_TIMEOUT;
    }

    for (i = 0; i < conf->nsentinels; i++) {
        k = (q->answered + (quiet ? 0 : 1) + i) % conf->nsentinels;
        s = &conf->sentinels[k];
        tc_addr_text(s->host, s->port, saddr, sizeof(saddr));

        c = tc_redis_open(s->host, s->port, timeout);
        if (c == NULL || c->err) {
            tc_log(level, "redis: sentinel %s: cannot connect: %s", saddr,
                   tc_redis_context_error(c));
            if (c != NULL) {
                redisFree(c);
            }
            continue;
        }

        r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
                         conf->redis_master);
        rc = tc_sentinel_master(r, host, size, port, &why);

        if (rc == TC_SENTINEL_NO_MASTER) {
            tc_log(level, "redis: sentinel %s knows no master named \"%s\"",
                   saddr, conf->redis_master);

        } else if (rc == TC_SENTINEL_BAD_REPLY) {
            tc_log(level, "redis: sentinel %s: %s", saddr,
                   r == NULL ? tc_redis_context_error(c) : why);
        }

        if (r != NULL) {
            freeReplyObject(r);
        }
        redisFree(c);

        if (rc != TC_SENTINEL_MASTER) {
            continue;
        }

        q->answered = k;

        tc_addr_text(host, *port, maddr, sizeof(maddr));

        if (strcmp(maddr, q->master) != 0) {
            if (q->master[0] == '\0') {
                tc_log_info("redis: sentinel %s names %s as master \"%s\"",
                            saddr, maddr, conf->redis_master);
            } else {
                tc_log_warn("redis: sentinel %s names %s as master \"%s\" "
                            "(it was %s: failover)", saddr, maddr,
                            conf->redis_master, q->master);
            }
            snprintf(q->master, sizeof(q->master), "%s", maddr);

        } else {
            tc_log_debug("redis: sentinel %s names %s as master \"%s\"",
                         saddr, maddr, conf->redis_master);
        }

        return TC_OK;
    }

    tc_log(quiet ? TC_LOG_DEBUG : TC_LOG_ERROR, "redis: none of the %zu "
           "sentinel(s) named a master \"%s\"", conf->nsentinels,
           conf->redis_master);

    return TC_ERROR;
}


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


tc_rc_t
tc_queue_check_master(tc_queue_t *q)
{
    char              host[256], addr[300];
    long              port;
    int64_t           now;
    const tc_conf_t  *c;

    c = q->conf;

    if (c->nsentinels == 0 || c->redis_sentinel_check_ms == 0 || q->c == NULL)
    {
        return TC_OK;
    }

    now = now_ms();
    if (now < q->next_check) {
        return TC_OK;
    }
    q->next_check = now + c->redis_sentinel_check_ms;

    /* no answer: keep the master in hand, errors will tell */
    if (discover(q, host, sizeof(host), &port, 1) != TC_OK) {
        return TC_OK;
    }

    tc_addr_text(host, port, addr, sizeof(addr));
    if (strcmp(addr, q->addr) == 0) {
        return TC_OK;
    }

    tc_log_warn("redis: leaving %s for %s, the master the sentinels name now",
                q->addr, addr);
    tc_queue_close(q);

    return TC_ERROR;
}


tc_rc_t
tc_queue_connect(tc_queue_t *q)
{
    char              host[256];
    long              port;
    redisReply             *r;
    const char             *h, *role;
    const tc_conf_t        *c;
    const tc_slot_range_t  *m;

    c = q->conf;
    tc_queue_close(q);

    if (c->nsentinels > 0) {
        if (discover(q, host, sizeof(host), &port, 0) != TC_OK) {
            return TC_ERROR;
        }
        h = host;

    } else if (c->nseeds > 0) {
        if (q->shard < 0 || tc_cluster_learn(&q->cluster) != TC_OK) {
            return TC_ERROR;
        }
        m = tc_cluster_lookup(&q->cluster, q->cluster.slots[q->shard]);
        if (m == NULL) {
            tc_log_error("redis cluster: no master serves slot %ld of "
                         "shard \"%s\" (yet)", q->cluster.slots[q->shard],
                         q->queue_key);
            return TC_ERROR;
        }
        snprintf(host, sizeof(host), "%s", m->host);
        h = host;
        port = m->port;

    } else if (c->redis_socket[0]) {
        h = c->redis_socket;
        port = 0;

    } else {
        h = c->redis_host;
        port = c->redis_port;
    }

    tc_addr_text(h, port, q->addr, sizeof(q->addr));

    q->c = tc_redis_open(h, port, c->redis_timeout_ms);

    if (q->c == NULL || q->c->err) {
        tc_log_error("redis: cannot connect to %s%s: %s", q->addr,
                     c->nsentinels ? " (the sentinels' master)" : "",
                     tc_redis_context_error(q->c));
        tc_queue_close(q);
        return TC_ERROR;
    }

    redisEnableKeepAlive(q->c);

    if (c->redis_password[0]) {
        r = redisCommand(q->c, "AUTH %s", c->redis_password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            failed(q, "AUTH", r);
            if (r != NULL) {
                freeReplyObject(r);
            }
            tc_queue_close(q);
            return TC_ERROR;
        }
        freeReplyObject(r);
    }

    if (c->nsentinels > 0) {
        /* right after a failover the sentinels may still name the old one */
        r = redisCommand(q->c, "ROLE");
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            failed(q, "ROLE", r);
            if (r != NULL) {
                freeReplyObject(r);
            }
            tc_queue_close(q);
            return TC_ERROR;
        }

        if (!tc_role_is_master(r, &role)) {
            tc_log_warn("redis: %s is a %s, not the master (yet): asking the "
                        "sentinels again", q->addr, role);
            freeReplyObject(r);
            tc_queue_close(q);
            return TC_ERROR;
        }
        freeReplyObject(r);
    }

    /* blocking pops wait up to block_ms on top of the command timeout */
    tc_redis_set_timeout(q->c, c->redis_timeout_ms + c->block_ms);
    q->next_check = now_ms() + c->redis_sentinel_check_ms;

    tc_log_info("redis: connected to %s%s%s%s; queue \"%s\", processing "
                "list \"%s\"", q->addr,
                c->nsentinels ? " (master \"" : "",
                c->nsentinels ? c->redis_master : "",
                c->nsentinels ? "\")" : "", q->queue_key, q->proc_key);

    return TC_OK;
}


static int
same_element(const redisReply *a, const redisReply *b)
{
    return a->type == REDIS_REPLY_STRING && a->len == b->len
           && memcmp(a->str, b->str, a->len) == 0;
}


tc_rc_t
tc_queue_fill(tc_queue_t *q, uint64_t min_seq, long max)
{
    char          smax[24], smin[24], sfrom[24], slease[24];
    size_t        i, from, skip;
    uint64_t      cur;
    long long     len;
    redisReply   *moved, *list;
    const char   *argv[12];
    size_t        argl[12];

    if (q->c == NULL) {
        return TC_ERROR;
    }

    snprintf(smax, sizeof(smax), "%ld", max);
    snprintf(smin, sizeof(smin), "%" PRIu64, min_seq);

    snprintf(slease, sizeof(slease), "%ld", q->conf->lease_ms);

    argv[0] = "EVAL";
    argv[1] = fill_script;
    argv[2] = "4";
    argv[3] = q->queue_key;
    argv[4] = q->proc_key;
    argv[5] = q->seq_key;
    argv[6] = q->lease_key ? q->lease_key : q->seq_key;
    argv[7] = smax;
    argv[8] = smin;
    argv[9] = q->lease_key ? q->token : "";
    argv[10] = slease;
    argv[11] = q->inherited ? "1" : "0";
    for (i = 0; i < 12; i++) {
        argl[i] = strlen(argv[i]);
    }

    /*
     * The script and the LRANGE run back to back on this connection.  The
     * LRANGE starts at the last element held, which must come back the
     * same: the list is only ever appended to while this consumer has it.
     */
    from = q->n;
    snprintf(sfrom, sizeof(sfrom), "%zu", from ? from - 1 : 0);
    if (redisAppendCommandArgv(q->c, 12, argv, argl) != REDIS_OK
        || redisAppendCommand(q->c, "LRANGE %s %s -1", q->proc_key, sfrom)
           != REDIS_OK)
    {
        failed(q, "moving a batch to the processing list", NULL);
        return TC_ERROR;
    }

    moved = NULL;
    list = NULL;
    if (redisGetReply(q->c, (void **) &moved) != REDIS_OK
        || moved == NULL || moved->type != REDIS_REPLY_ARRAY
        || moved->elements != 2
        || moved->element[0]->type != REDIS_REPLY_STRING
        || moved->element[1]->type != REDIS_REPLY_INTEGER)
    {
        failed(q, "moving a batch to the processing list", moved);
        goto fail;
    }

    cur = strtoull(moved->element[0]->str, NULL, 10);
    len = moved->element[1]->integer;

    if (redisGetReply(q->c, (void **) &list) != REDIS_OK
        || list == NULL || list->type != REDIS_REPLY_ARRAY)
    {
        failed(q, "reading the processing list", list);
        goto fail;
    }

    skip = from ? 1 : 0;
    if (from > 0 && (cur != q->seq || len < 0 || list->elements == 0
                     || (size_t) len != from - 1 + list->elements
                     || !same_element(list->element[0], q->items[from - 1])))
    {
        /* not the list whose head we hold: read it whole */
        tc_log_warn("redis: processing list \"%s\" changed between two "
                    "reads (batch %" PRIu64 ", %zu elements, now %" PRIu64
                    ", %lld); reading it again", q->proc_key, q->seq, from,
                    cur, len);
        freeReplyObject(list);
        tc_queue_release(q);
        list = redisCommand(q->c, "LRANGE %s 0 -1", q->proc_key);
        if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
            failed(q, "reading the processing list", list);
            goto fail;
        }
        skip = 0;
    }

    for (i = 0; i < list->elements; i++) {
        if (list->element[i]->type != REDIS_REPLY_STRING) {
            failed(q, "reading the processing list", list->element[i]);
            goto fail;
        }
    }

    if (hold_elements(q, list, skip) != TC_OK) {
        tc_log_error("out of memory reading the processing list");
        goto fail;
    }

    q->seq = cur;
    if (len == 0) {
        q->inherited = 0;           /* nothing came with the lease */
    }
    freeReplyObject(moved);

    return TC_OK;

fail:

    if (moved != NULL) {
        freeReplyObject(moved);
    }
    if (list != NULL) {
        freeReplyObject(list);
    }

    return TC_ERROR;
}


tc_wait_t
tc_queue_wait(tc_queue_t *q, long ms)
{
    tc_wait_t    rc;
    char         timeout[32];
    redisReply  *r;
    const char  *argv[6];
    size_t       argl[6], i;

    if (q->c == NULL) {
        return TC_WAIT_ERROR;
    }

    /* a lease is renewed by the fills: wait at most a third of it */
    if (q->lease_key != NULL && ms > q->conf->lease_ms / 3) {
        ms = q->conf->lease_ms / 3;
    }

    snprintf(timeout, sizeof(timeout), "%ld.%03ld", ms / 1000, ms % 1000);

    argv[0] = "BLMOVE";
    argv[1] = q->queue_key;
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
        rc = TC_WAIT_ERROR;
    } else {
        rc = (r->type == REDIS_REPLY_STRING) ? TC_WAIT_MOVED : TC_WAIT_TIMEOUT;
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


tc_ack_t
tc_queue_ack(tc_queue_t *q, uint64_t seq, size_t count, char **dead,
    size_t *dead_len, size_t ndead)
{
    tc_ack_t     rc;
    char         s0[24], s1[24], smax[24], scount[24], slease[24];
    redisReply  *r;
    const char  *head[13];

    if (q->c == NULL) {
        return TC_ACK_ERROR;
    }

    snprintf(s0, sizeof(s0), "%" PRIu64, seq);
    snprintf(s1, sizeof(s1), "%" PRIu64, seq + 1);
    snprintf(smax, sizeof(smax), "%ld", q->conf->dead_max);
    snprintf(scount, sizeof(scount), "%zu", count);
    snprintf(slease, sizeof(slease), "%ld", q->conf->lease_ms);

    head[0] = "EVAL";
    head[1] = ack_script;
    head[2] = "4";
    head[3] = q->proc_key;
    head[4] = q->seq_key;
    head[5] = q->dead_key;
    head[6] = q->lease_key ? q->lease_key : q->seq_key;
    head[7] = s0;
    head[8] = s1;
    head[9] = smax;
    head[10] = scount;
    head[11] = q->lease_key ? q->token : "";
    head[12] = slease;

    r = eval_with_letters(q, head, 13, dead, dead_len, ndead);

    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[0]->type == REDIS_REPLY_INTEGER
        && r->element[1]->type == REDIS_REPLY_INTEGER
        && (r->element[0]->integer == TC_ACK_DELETED
            || r->element[0]->integer == TC_ACK_BEFORE
            || r->element[0]->integer == TC_ACK_KEPT))
    {
        rc = (tc_ack_t) r->element[0]->integer;
        q->ack_len = (size_t) r->element[1]->integer;
        q->inherited = 0;           /* the next batch is this owner's */

    } else {
        failed(q, "acknowledging a batch", r);
        rc = (r != NULL && r->type == REDIS_REPLY_ERROR && q->c != NULL)
             ? TC_ACK_REFUSED : TC_ACK_ERROR;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return rc;
}


tc_rc_t
tc_queue_push_dead(tc_queue_t *q, char **dead, size_t *dead_len,
    size_t ndead)
{
    char         smax[24];
    long long    n;
    redisReply  *r;
    const char  *head[5];

    if (q->c == NULL) {
        return TC_ERROR;
    }

    snprintf(smax, sizeof(smax), "%ld", q->conf->dead_max);

    head[0] = "EVAL";
    head[1] = dead_script;
    head[2] = "1";
    head[3] = q->dead_key;
    head[4] = smax;

    r = eval_with_letters(q, head, 5, dead, dead_len, ndead);

    return integer_reply(q, r, "pushing dead letters", &n);
}


long long
tc_queue_length(tc_queue_t *q)
{
    long long    n;
    redisReply  *r;

    if (q->c == NULL) {
        return -1;
    }

    r = redisCommand(q->c, "LLEN %s", q->queue_key);

    return integer_reply(q, r, "LLEN", &n) == TC_OK ? n : -1;
}


tc_rc_t
tc_queue_take_lease(tc_queue_t *q)
{
    tc_rc_t      rc;
    char         slease[24];
    redisReply  *r;

    if (q->c == NULL && tc_queue_connect(q) != TC_OK) {
        return TC_ERROR;
    }

    snprintf(slease, sizeof(slease), "%ld", q->conf->lease_ms);

    r = redisCommand(q->c, "EVAL %s 2 %s %s %s %s", take_script,
                     q->lease_key, q->proc_key, q->token, slease);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_INTEGER)
    {
        failed(q, "taking a shard's lease", r);
        rc = TC_ERROR;

    } else if (r->element[0]->integer == 1
               && r->element[1]->type == REDIS_REPLY_INTEGER)
    {
        /*
         * A list left by the last owner is its batch in hand, which it
         * may still commit (a stalled process whose lease expired): taken
         * as it is, not topped up, this owner's batch is the same one, so
         * whichever commits second finds the marker and acknowledges the
         * same elements.  See "Exactly once across a takeover" above.
         */
        q->inherited = r->element[1]->integer > 0;
        q->lost = 0;
        tc_log_info("redis cluster: this process owns shard %ld \"%s\" now "
                    "(on %s%s)", q->shard, q->queue_key, q->addr,
                    q->inherited ? ", with the last owner's batch" : "");
        rc = TC_OK;

    } else {
        tc_log_debug("redis cluster: shard \"%s\" is owned by \"%s\"",
                     q->queue_key, r->element[1]->type == REDIS_REPLY_STRING
                     ? r->element[1]->str : "?");
        rc = TC_RETRY;
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    return rc;
}


static tc_rc_t
renew(tc_queue_t *q, const char *ms)
{
    long long    n;
    redisReply  *r;

    if (q->c == NULL || q->lease_key == NULL) {
        return TC_ERROR;
    }

    r = redisCommand(q->c, "EVAL %s 1 %s %s %s", renew_script, q->lease_key,
                     q->token, ms);

    if (integer_reply(q, r, "renewing a shard's lease", &n) != TC_OK) {
        return TC_ERROR;
    }

    if (n != 1) {
        tc_log_warn("redis cluster: the lease of shard \"%s\" is not ours "
                    "any more (it expired; another consumer may have it "
                    "now): leaving the shard", q->queue_key);
        q->lost = 1;
        return TC_ERROR;
    }

    return TC_OK;
}


tc_rc_t
tc_queue_renew_lease(tc_queue_t *q)
{
    char  slease[24];

    snprintf(slease, sizeof(slease), "%ld", q->conf->lease_ms);

    return renew(q, slease);
}


void
tc_queue_drop_lease(tc_queue_t *q)
{
    if (q->lease_key != NULL && !q->lost && renew(q, "0") == TC_OK) {
        tc_log_info("redis cluster: shard \"%s\" given up", q->queue_key);
    }
}


int
tc_queue_shard_free(tc_queue_t *q, size_t i)
{
    int                     free_;
    char                    addr[300], *key;
    redisReply             *r;
    redisContext           *c;
    const tc_slot_range_t  *m;

    m = tc_cluster_lookup(&q->cluster, q->cluster.slots[i]);
    key = concat(q->cluster.shards[i], ":owner", "");
    if (m == NULL || key == NULL) {
        free(key);
        return 0;
    }

    /* the shard's master: this lane's own connection when it is that one */
    c = q->c;
    if (c == NULL
        || strcmp(tc_addr_text(m->host, m->port, addr, sizeof(addr)),
                  q->addr) != 0)
    {
        c = tc_cluster_open(q->conf, m->host, m->port,
                            q->conf->redis_timeout_ms);
    }

    r = c ? redisCommand(c, "EXISTS %s", key) : NULL;
    free_ = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0;

    if (r != NULL) {
        freeReplyObject(r);
    }
    if (c != NULL && c != q->c) {
        redisFree(c);
    }
    free(key);

    return free_;
}
