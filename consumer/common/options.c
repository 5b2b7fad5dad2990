/* SPDX-License-Identifier: BSD-2-Clause */
/* common: a program's settings as a typed table with defaults, filled from
 * a config file, the environment and command-line flags. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/options.h"


#define FIELD(conf, opt, type)  ((type *) ((char *) (conf) + (opt)->offset))


static int
name_eq(const char *table_name, const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (table_name[i] == '\0'
            || (table_name[i] != name[i]
                && !((table_name[i] == '-' || table_name[i] == '_')
                     && (name[i] == '-' || name[i] == '_'))))
        {
            return 0;
        }
    }

    return table_name[len] == '\0';
}


const tc_opt_t *
tc_opt_find(const tc_opt_table_t *t, const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < t->n; i++) {
        if (name_eq(t->opts[i].name, name, len)) {
            return &t->opts[i];
        }
    }

    return NULL;
}


static tc_rc_t
opt_apply(void *conf, const tc_opt_t *opt, const char *value, char *err,
    size_t err_size)
{
    char   *end, *s;
    long    n;

    switch (opt->type) {

    case TC_OPT_STR:
        s = strdup(value);
        if (s == NULL) {
            snprintf(err, err_size, "out of memory");
            return TC_ERROR;
        }
        free(*FIELD(conf, opt, char *));
        *FIELD(conf, opt, char *) = s;
        return TC_OK;

    case TC_OPT_LONG:
        errno = 0;
        n = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0'
            || n < opt->min || n > opt->max)
        {
            snprintf(err, err_size,
                     "invalid value \"%s\" for \"%s\" (%ld..%ld)",
                     value, opt->name, opt->min, opt->max);
            return TC_ERROR;
        }
        *FIELD(conf, opt, long) = n;
        return TC_OK;

    case TC_OPT_BOOL:
        if (strcmp(value, "yes") == 0 || strcmp(value, "1") == 0
            || strcmp(value, "on") == 0 || strcmp(value, "true") == 0)
        {
            n = 1;

        } else if (strcmp(value, "no") == 0 || strcmp(value, "0") == 0
                   || strcmp(value, "off") == 0
                   || strcmp(value, "false") == 0)
        {
            n = 0;

        } else {
            snprintf(err, err_size, "invalid value \"%s\" for \"%s\" "
                     "(yes or no)", value, opt->name);
            return TC_ERROR;
        }
        *FIELD(conf, opt, long) = n;
        return TC_OK;

    case TC_OPT_LEVEL:
        n = tc_log_level_parse(value);
        if (n < 0) {
            snprintf(err, err_size, "invalid value \"%s\" for \"%s\" "
                     "(error, warn, info or debug)", value, opt->name);
            return TC_ERROR;
        }
        *FIELD(conf, opt, long) = n;
        return TC_OK;
    }

    snprintf(err, err_size, "\"%s\" has no type", opt->name);

    return TC_ERROR;
}


void
tc_opt_defaults(const tc_opt_table_t *t, void *conf)
{
    size_t  i;
    char    err[256];

    for (i = 0; i < t->n; i++) {
        if (opt_apply(conf, &t->opts[i], t->opts[i].def, err, sizeof(err))
            != TC_OK)
        {
            abort();    /* a bad default is a bug */
        }
    }
}


void
tc_opt_free(const tc_opt_table_t *t, void *conf)
{
    size_t  i;

    for (i = 0; i < t->n; i++) {
        if (t->opts[i].type == TC_OPT_STR) {
            free(*FIELD(conf, &t->opts[i], char *));
            *FIELD(conf, &t->opts[i], char *) = NULL;
        }
    }
}


tc_rc_t
tc_opt_set(const tc_opt_table_t *t, void *conf, const char *name,
    const char *value, char *err, size_t err_size)
{
    const tc_opt_t  *opt;

    opt = tc_opt_find(t, name, strlen(name));
    if (opt == NULL) {
        snprintf(err, err_size, "unknown setting \"%s\"", name);
        return TC_ERROR;
    }

    return opt_apply(conf, opt, value, err, err_size);
}


static char *
trim(char *s)
{
    char  *e;

    while (isspace((unsigned char) *s)) {
        s++;
    }

    e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1])) {
        e--;
    }
    *e = '\0';

    return s;
}


tc_rc_t
tc_opt_load_file(const tc_opt_table_t *t, void *conf, const char *path,
    char *err, size_t err_size)
{
    FILE         *f;
    char          line[4096], msg[256], *p, *name, *value;
    size_t        len;
    int           lineno;
    tc_rc_t       rc;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_size, "cannot open config file \"%s\": %s",
                 path, strerror(errno));
        return TC_ERROR;
    }

    rc = TC_OK;
    lineno = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;

        len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(err, err_size, "%s:%d: line too long", path, lineno);
            rc = TC_ERROR;
            break;
        }

        p = trim(line);
        if (*p == '\0' || *p == '#') {
            continue;
        }

        name = p;
        while (*p != '\0' && *p != '=' && !isspace((unsigned char) *p)) {
            p++;
        }

        if (*p != '\0') {
            *p++ = '\0';
        }

        value = trim(p);
        if (*value == '=') {
            value = trim(value + 1);
        }

        len = strlen(value);
        if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
            value[len - 1] = '\0';
            value++;
        }

        if (tc_opt_set(t, conf, name, value, msg, sizeof(msg))
            != TC_OK)
        {
            snprintf(err, err_size, "%s:%d: %s", path, lineno, msg);
            rc = TC_ERROR;
            break;
        }
    }

    fclose(f);

    return rc;
}


tc_rc_t
tc_opt_load_env(const tc_opt_table_t *t, void *conf, const char *prefix,
    char *err, size_t err_size)
{
    int          n;
    char         env[128], msg[256], *p;
    size_t       i;
    const char  *value;

    for (i = 0; i < t->n; i++) {
        n = snprintf(env, sizeof(env), "%s%s", prefix, t->opts[i].name);
        if (n < 0 || (size_t) n >= sizeof(env)) {
            abort();    /* a name this long is a bug */
        }

        for (p = env; *p != '\0'; p++) {
            *p = (*p == '-') ? '_' : (char) toupper((unsigned char) *p);
        }

        value = getenv(env);
        if (value != NULL
            && opt_apply(conf, &t->opts[i], value, msg, sizeof(msg))
               != TC_OK)
        {
            snprintf(err, err_size, "%s: %s", env, msg);
            return TC_ERROR;
        }
    }

    return TC_OK;
}


static int
skipped(const char *arg, const char *const *skip, int *with_value)
{
    size_t  n;

    for ( /* void */ ; skip != NULL && *skip != NULL; skip++) {
        n = strlen(*skip);

        if (strcmp(arg, *skip) == 0) {
            *with_value = 1;
            return 1;
        }

        if (strncmp(arg, *skip, n) == 0 && arg[n] == '=') {
            *with_value = 0;
            return 1;
        }
    }

    return 0;
}


tc_rc_t
tc_opt_parse_flags(const tc_opt_table_t *t, void *conf, int argc,
    char **argv, const char *const *skip, char *err, size_t err_size)
{
    int              i, with_value;
    size_t           len;
    const char      *arg, *eq, *value;
    const tc_opt_t  *opt;

    for (i = 1; i < argc; i++) {
        arg = argv[i];

        if (skipped(arg, skip, &with_value)) {
            i += with_value;
            continue;
        }

        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, err_size, "unexpected argument \"%s\" "
                     "(see --help)", arg);
            return TC_ERROR;
        }

        arg += 2;
        eq = strchr(arg, '=');
        len = eq ? (size_t) (eq - arg) : strlen(arg);

        opt = tc_opt_find(t, arg, len);
        if (opt == NULL) {
            snprintf(err, err_size, "unknown setting \"%.*s\" (see --help)",
                     (int) (len < 64 ? len : 64), arg);
            return TC_ERROR;
        }

        if (eq != NULL) {
            value = eq + 1;

        } else if (opt->type == TC_OPT_BOOL
                   && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
        {
            value = "yes";          /* a bare boolean flag */

        } else if (i + 1 < argc) {
            value = argv[++i];

        } else {
            snprintf(err, err_size, "flag \"--%s\" needs a value", opt->name);
            return TC_ERROR;
        }

        if (opt_apply(conf, opt, value, err, err_size) != TC_OK) {
            return TC_ERROR;
        }
    }

    return TC_OK;
}


/* Prints text indented, wrapped before 79 columns; '\n' counts as a space. */
static void
wrap(FILE *f, const char *text, int indent)
{
    int          col, n;
    const char  *p;

    fprintf(f, "%*s", indent, "");
    col = indent;

    for (p = text; *p != '\0'; /* void */ ) {
        n = (int) strcspn(p, " \n");

        if (col > indent && col + 1 + n > 78) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;

        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }

        fprintf(f, "%.*s", n, p);
        col += n;
        p += n;

        while (*p == ' ' || *p == '\n') {
            p++;
        }
    }

    fputc('\n', f);
}


void
tc_opt_usage(const tc_opt_table_t *t, FILE *out)
{
    size_t           i;
    const tc_opt_t  *o;

    for (i = 0; i < t->n; i++) {
        o = &t->opts[i];

        fprintf(out, "  --%s %s%s%s%s\n", o->name,
                o->arg != NULL ? o->arg
                : o->type == TC_OPT_BOOL ? "yes|no"
                : o->type == TC_OPT_LEVEL ? "LEVEL"
                : o->type == TC_OPT_LONG ? "N" : "VALUE",
                o->def[0] != '\0' ? " [" : "", o->def,
                o->def[0] != '\0' ? "]" : "");
        wrap(out, o->help, 8);
    }
}
