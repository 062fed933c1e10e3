/* The few internal librdkafka helpers that examples/rdkafka_performance.c
 * (shipped as source in Debian's librdkafka-dev docs) uses, so it builds
 * against the installed library. Not librdkafka's own rd.h. */
#ifndef WEIR_RDKAFKA_SHIM_RD_H
#define WEIR_RDKAFKA_SHIM_RD_H
#include <stdint.h>
#include <stdio.h>
#include <time.h>
typedef int64_t rd_ts_t;
/* Monotonic clock in microseconds, like librdkafka's rd_clock(). */
static inline rd_ts_t rd_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
#define rd_snprintf snprintf
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
