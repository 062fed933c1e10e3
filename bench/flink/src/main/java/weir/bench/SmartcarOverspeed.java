package weir.bench;

import java.io.BufferedWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.LocalDate;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;

/**
 * The smart-car over-speed rule (rules/overspeed.epl) on Flink, the peer of weir's
 * kafka_source -> csv_decode -> cep_rule: per car, 30 s tumbling event-time windows aligned
 * on the epoch (Esper's time_batch(30 sec, 0L)), and when a window's average speed exceeds
 * the threshold, every line of that car in the window is flagged, as "CAR-yyyyMMddHHmmss"
 * (the Redis member of the smart-car flow), one per line of the output file.
 *
 * The topic is read from its start to the end offsets it has when the job starts (a bounded
 * KafkaSource: at its end the final watermark closes every window, as weir's end_at_eof
 * does), with watermarks per Kafka partition (event time = the line's own timestamp, in
 * order within a partition), in a local in-process MiniCluster.
 *
 * Usage: SmartcarOverspeed BOOTSTRAP TOPIC GROUP OUT_FILE [PARALLELISM=2] [THRESHOLD=80]
 * Prints one line: flagged=N job_ms=... (submit to last result) net_runtime_ms=... (Flink's
 * own figure) start_ms=... (JVM start to main()).
 */
public final class SmartcarOverspeed {
  /** A data line (14 digits first, as the Flume leg passes them) -> (car, date, speed). */
  static final class Decode implements FlatMapFunction<String, Tuple3<String, String, Integer>> {
    @Override
    public void flatMap(String line, Collector<Tuple3<String, String, Integer>> out) {
      if (!isDataLine(line)) return;
      String[] f = line.split(",", -1);
      if (f.length < 8) return;
      out.collect(Tuple3.of(f[1], f[0], Integer.parseInt(f[6])));
    }
  }

  /** Every line of a car's window whose average speed exceeds the threshold. */
  static final class Overspeed
      extends ProcessWindowFunction<Tuple3<String, String, Integer>, String, String, TimeWindow> {
    private final double threshold;

    Overspeed(double threshold) {
      this.threshold = threshold;
    }

    @Override
    public void process(String car, Context ctx, Iterable<Tuple3<String, String, Integer>> lines,
                        Collector<String> out) {
      long sum = 0, count = 0;
      for (Tuple3<String, String, Integer> l : lines) {
        sum += l.f2;
        ++count;
      }
      if (count == 0 || (double) sum / count <= threshold) return;
      for (Tuple3<String, String, Integer> l : lines) out.collect(car + "-" + l.f1);
    }
  }

  static final class ByCar implements KeySelector<Tuple3<String, String, Integer>, String> {
    @Override
    public String getKey(Tuple3<String, String, Integer> t) {
      return t.f0;
    }
  }

  static boolean isDataLine(String line) {
    if (line.length() < 14) return false;
    for (int i = 0; i < 14; ++i)
      if (line.charAt(i) < '0' || line.charAt(i) > '9') return false;
    return true;
  }

  /** yyyyMMddHHmmss (UTC) at the start of a line -> epoch milliseconds. */
  static long eventMillis(String line) {
    if (!isDataLine(line)) return Long.MIN_VALUE;  // a header line: moves no watermark
    int y = Integer.parseInt(line, 0, 4, 10), mo = Integer.parseInt(line, 4, 6, 10);
    int d = Integer.parseInt(line, 6, 8, 10), h = Integer.parseInt(line, 8, 10, 10);
    int mi = Integer.parseInt(line, 10, 12, 10), s = Integer.parseInt(line, 12, 14, 10);
    return (LocalDate.of(y, mo, d).toEpochDay() * 86400L + h * 3600L + mi * 60L + s) * 1000L;
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: SmartcarOverspeed BOOTSTRAP TOPIC GROUP OUT_FILE [PARALLELISM=2] [THRESHOLD=80]");
      System.exit(64);
    }
    long mainAt = System.currentTimeMillis();
    int parallelism = args.length > 4 ? Integer.parseInt(args[4]) : 2;
    double threshold = args.length > 5 ? Double.parseDouble(args[5]) : 80;

    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, new Configuration());
    KafkaSource<String> source = KafkaSource.<String>builder()
        .setBootstrapServers(args[0])
        .setTopics(args[1])
        .setGroupId(args[2])
        .setStartingOffsets(OffsetsInitializer.earliest())
        .setBounded(OffsetsInitializer.latest())  // the end offsets when the job starts
        .setValueOnlyDeserializer(new SimpleStringSchema())
        .setProperty("commit.offsets.on.checkpoint", "false")
        .setProperty("client.id.prefix", args[2])
        .build();
    // In fromSource the strategy runs inside the source, one watermark per Kafka partition.
    WatermarkStrategy<String> watermarks =
        WatermarkStrategy.<String>forMonotonousTimestamps().withTimestampAssigner((line, ts) -> eventMillis(line));
    DataStream<String> flagged = env.fromSource(source, watermarks, "kafka")
        .flatMap(new Decode())
        .name("decode")
        .keyBy(new ByCar())
        .window(TumblingEventTimeWindows.of(Duration.ofSeconds(30)))  // offset 0: aligned on the epoch
        .process(new Overspeed(threshold))
        .name("overspeed");

    long submitAt = System.currentTimeMillis();
    long count = 0;
    JobClient job;
    try (CloseableIterator<String> rows = flagged.collectAsync();
         BufferedWriter out = Files.newBufferedWriter(Paths.get(args[3]), StandardCharsets.UTF_8)) {
      job = env.executeAsync("smartcar-overspeed");
      while (rows.hasNext()) {
        out.write(rows.next());
        out.write('\n');
        ++count;
      }
    }
    JobExecutionResult result = job.getJobExecutionResult().get();
    long doneAt = System.currentTimeMillis();
    long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
    System.out.printf("flagged=%d job_ms=%d net_runtime_ms=%d start_ms=%d%n", count, doneAt - submitAt,
                      result.getNetRuntime(), mainAt - jvmStart);
    System.exit(0);  // Kafka admin/consumer threads of the finished job need not be waited for
  }
}
