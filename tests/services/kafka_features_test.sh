#!/usr/bin/env bash
# The broker scripts/services/kafka.sh runs must keep every protocol feature of
# Debian's librdkafka (2.0.2) enabled: produce, then consume through a consumer group
# with debug=feature,broker, and fail on any feature the broker does not support.
set -euo pipefail
[[ -n "${KAFKA_BOOTSTRAP:-}" ]] || { echo "skipped: KAFKA_BOOTSTRAP is not set"; exit 77; }
topic=weir-features-$$
printf 'O0001:a\nO0002:b\n' | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -K:
log=$(kcat -b "$KAFKA_BOOTSTRAP" -G "features-$$" -X debug=feature,broker -X auto.offset.reset=earliest -c 2 -e "$topic" 2>&1)
enabled=$(grep -o 'enabled protocol features to [A-Za-z0-9,]*' <<<"$log" | tail -1)
echo "$enabled"
if grep -q 'NOT supported' <<<"$log"; then
  grep 'NOT supported' <<<"$log"
  echo "FAIL: the broker disables librdkafka features" >&2
  exit 1
fi
for feature in BrokerBalancedConsumer MsgVer1 ThrottleTime IdempotentProducer; do
  grep -q "$feature" <<<"$enabled" || { echo "FAIL: $feature not enabled" >&2; exit 1; }
done
echo "1 passed, 0 failed"
