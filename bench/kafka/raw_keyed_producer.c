/* raw_keyed_producer — the raw-client baseline for *keyed* production, which
 * rdkafka_performance cannot do (its -k key is one fixed key, so one partition).
 *
 * Sends COUNT messages of SIZE bytes keyed by car numbers (A0001, A0002, ...,
 * cycling over CARS of them, as loggen keys its lines) with the producer
 * settings of bench/kafka/run.sh and kafka_sink: idempotent, acks=all,
 * linger.ms=5, batch.size=1000000, murmur2_random partitioner. The loop is the
 * plainest efficient use of librdkafka: rd_kafka_producev per message, polling
 * for delivery reports as it goes, waiting when the local queue is full.
 *
 *   raw_keyed_producer BOOTSTRAP TOPIC COUNT SIZE CARS
 */
#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long delivered, failed;

static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) ++failed;
  else ++delivered;
}

static void set(rd_kafka_conf_t* conf, const char* key, const char* value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "%s=%s: %s\n", key, value, err);
    exit(2);
  }
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s BOOTSTRAP TOPIC COUNT SIZE CARS\n", argv[0]);
    return 64;
  }
  long count = atol(argv[3]);
  size_t size = (size_t)atol(argv[4]);
  int cars = atoi(argv[5]);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", argv[1]);
  set(conf, "enable.idempotence", "true");
  set(conf, "acks", "all");
  set(conf, "linger.ms", "5");
  set(conf, "batch.size", "1000000");
  set(conf, "partitioner", "murmur2_random");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  char* value = malloc(size);
  memset(value, 'x', size);
  char keys[10000][8];
  if (cars < 1 || cars > 9999) cars = 1000;
  for (int i = 0; i < cars; ++i) snprintf(keys[i], sizeof keys[i], "A%04d", (i + 1) % 10000);

  for (long i = 0; i < count; ++i) {
    const char* key = keys[i % cars];
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_KEY(key, 5),
                                                RD_KAFKA_V_VALUE(value, size), RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
        return 1;
      }
      rd_kafka_poll(rk, 10); /* the local queue is full: let deliveries drain it */
    }
    if (i % 1000 == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60 * 1000);
  printf("%ld messages produced, %ld delivered, %ld failed\n", count, delivered, failed);
  rd_kafka_destroy(rk);
  free(value);
  return failed || delivered != count;
}
