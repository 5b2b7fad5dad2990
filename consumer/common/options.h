/* SPDX-License-Identifier: BSD-2-Clause */
/* common: a program's settings as a typed table with defaults, filled from
 * a config file, the environment and command-line flags. */
#ifndef TC_OPTIONS_H
#define TC_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "common/rc.h"

typedef enum {
    TC_OPT_STR,                     /* char *, strdup()ed */
    TC_OPT_LONG,                    /* long within min..max */
    TC_OPT_BOOL,                    /* long 0 or 1: yes/no, on/off, 1/0 */
    TC_OPT_LEVEL                    /* long, a log level name */
} tc_opt_type_t;

/*
 * One setting, stored at offset in the program's settings struct; the
 * program reads the struct's fields, so a misspelt name does not compile.
 * In names, '-' and '_' are the same.
 */
typedef struct {
    const char     *name;
    tc_opt_type_t   type;
    size_t          offset;
    const char     *def;
    long            min;
    long            max;
    const char     *arg;            /* the value in --help: "N", "FILE" */
    const char     *help;
} tc_opt_t;

typedef struct {
    const tc_opt_t  *opts;
    size_t           n;
} tc_opt_table_t;

#define TC_OPT_TABLE(opts)  { opts, sizeof(opts) / sizeof(opts[0]) }

/* Sets every field to its default (a bad default is a bug: abort). */
void tc_opt_defaults(const tc_opt_table_t *t, void *conf);

/* Frees the strings; the struct can be filled again by tc_opt_defaults. */
void tc_opt_free(const tc_opt_table_t *t, void *conf);

/* The setting called name (len bytes), or NULL. */
const tc_opt_t *tc_opt_find(const tc_opt_table_t *t, const char *name,
    size_t len);

/* Applies one "name value" setting. */
tc_rc_t tc_opt_set(const tc_opt_table_t *t, void *conf, const char *name,
    const char *value, char *err, size_t err_size);

/*
 * Lines "name value" or "name = value"; '#' starts a comment line; a value
 * may be wrapped in double quotes.  Errors name the file and line.
 */
tc_rc_t tc_opt_load_file(const tc_opt_table_t *t, void *conf,
    const char *path, char *err, size_t err_size);

/* Every setting from the variable prefix + NAME ('-' as '_') if it is set. */
tc_rc_t tc_opt_load_env(const tc_opt_table_t *t, void *conf,
    const char *prefix, char *err, size_t err_size);

/*
 * --name=value or --name value (a boolean may stand alone) for every
 * argument but argv[0].  skip lists flags the caller handled that take a
 * value ("-c", "--config"): they are passed over with it.
 */
tc_rc_t tc_opt_parse_flags(const tc_opt_table_t *t, void *conf,
    int argc, char **argv, const char *const *skip, char *err,
    size_t err_size);

/* "  --name ARG [default]" and the help wrapped below it, for each. */
void tc_opt_usage(const tc_opt_table_t *t, FILE *out);

#endif /* TC_OPTIONS_H */
