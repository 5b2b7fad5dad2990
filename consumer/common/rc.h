/* SPDX-License-Identifier: BSD-2-Clause */
/* common: the return codes both programs' functions share. */
#ifndef TC_RC_H
#define TC_RC_H

typedef enum {
    TC_OK = 0,
    TC_ERROR = -1,          /* failed: logged, or described in err */
    TC_ALREADY = 1,         /* the batch was committed before */
    TC_RETRY,               /* transient (deadlock, race): retry soon */
    TC_DOWN                 /* connection unusable: reconnect, back off */
} tc_rc_t;

/* the exit status of both programs */
typedef enum {
    TC_EXIT_OK = 0,
    TC_EXIT_FAILURE = 1,    /* could not run or went wrong: logged */
    TC_EXIT_USAGE = 2       /* bad command line or settings */
} tc_exit_t;

#endif /* TC_RC_H */
