/* logger: an app's logger, /iomux (logger.c; stage1-supervisor/README.md, "Logs"). */
#ifndef RKT_LOGGER_H
#define RKT_LOGGER_H

#include "isolate.h"

/* The descriptors the app being spawned gets as its stdin, stdout and stderr (-1: unchanged). */
extern int logger_stdio[3];

/* Starts the app's logger when it has a `log` record, and sets logger_stdio. -1 (isolate_error) on failure. */
int logger_start(const struct app *a);

/* In the app's child: the descriptors of logger_stdio become its stdio. */
void logger_dup(void);

/* In the supervisor, once the app is spawned (or failed to be): closes logger_stdio. */
void logger_spawned(void);

/* A process was reaped: forget it if it was a logger. */
void logger_reaped(pid_t pid);

/* Waits up to ms for the loggers still running (they end at EOF of the apps' pipes), then kills them. */
void logger_wait(long ms);

#endif
