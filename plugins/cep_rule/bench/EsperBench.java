// The over-speed rule in Esper 8.9 on the same generated events as cep_bench
// (same formulas, same xorshift sequence), event time via Esper's external
// clock (advanceTimeSpan, as the conformance harness). Object-array events,
// Esper's cheapest event representation.
//
//   java -cp <esper jars>:<classes> EsperBench RULE_FILE [SECONDS=300] [CARS=10000] [PROFILE=overspeed|braking]
import com.espertech.esper.common.client.EPCompiled;
import com.espertech.esper.common.client.configuration.Configuration;
import com.espertech.esper.compiler.client.CompilerArguments;
import com.espertech.esper.compiler.client.EPCompilerProvider;
import com.espertech.esper.runtime.client.EPDeployment;
import com.espertech.esper.runtime.client.EPEventService;
import com.espertech.esper.runtime.client.EPRuntime;
import com.espertech.esper.runtime.client.EPRuntimeProvider;
import com.espertech.esper.runtime.client.EPStatement;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

public class EsperBench {
  static final long START_EPOCH_S = 1650953400L;  // 2022-04-26T06:10:00Z
  static long rows = 0;

  public static void main(String[] args) throws Exception {
    String rule = Files.readString(Path.of(args[0]));
    long seconds = args.length > 1 ? Long.parseLong(args[1]) : 300;
    int cars = args.length > 2 ? Integer.parseInt(args[2]) : 10000;
    boolean braking = args.length > 3 && args[3].equals("braking");

    Configuration config = new Configuration();
    config.getRuntime().getThreading().setInternalTimerEnabled(false);
    config.getCommon().addEventType("DriverCarInfoBean",
        new String[] {"date", "car_number", "speed_pedal", "break_pedal", "steer_angle", "direct_light", "speed", "area_number"},
        new Object[] {String.class, String.class, Long.class, Long.class, String.class, String.class, Long.class, String.class});
    EPCompiled compiled = EPCompilerProvider.getCompiler().compile(rule, new CompilerArguments(config));
    EPRuntime runtime = EPRuntimeProvider.getRuntime("bench", config);
    EPEventService events = runtime.getEventService();
    events.advanceTime(START_EPOCH_S * 1000);
    EPDeployment d = runtime.getDeploymentService().deploy(compiled);
    for (EPStatement s : d.getStatements())
      s.addListener((newEvents, oldEvents, st, rt) -> { if (newEvents != null) rows += newEvents.length; });

    String[] numbers = new String[cars], areas = new String[cars];
    long[] base = new long[cars];
    for (int c = 0; c < cars; ++c) {
      numbers[c] = String.format("%c%04d", (char) ('A' + (c * 7) % 26), c + 1);
      areas[c] = String.format("%c%02d", (char) ('A' + c % 6), 1 + c % 10);
      base[c] = c % 10 == 0 ? 160 : 60 + c % 30;
    }
    String[] steers = {"F", "L1", "L2", "L3", "R1", "R2", "R3"};
    String[] lights = {"N", "L", "R"};
    DateTimeFormatter fmt = DateTimeFormatter.ofPattern("yyyyMMddHHmmss").withZone(ZoneOffset.UTC);

    long x = 42;  // xorshift64, identical to cep_bench
    long t0 = System.nanoTime();
    for (long s = 0; s < seconds; ++s) {
      long epochS = START_EPOCH_S + s;
      String date = fmt.format(Instant.ofEpochSecond(epochS));
      if (epochS * 1000 > events.getCurrentTime()) events.advanceTimeSpan(epochS * 1000);
      for (int c = 0; c < cars; ++c) {
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
        long v = x >>> 33;
        long pedal = (v >> 6) % 6;
        long speed = base[c] + v % 41 - 20;
        if (braking && (v >> 20) % 50 == 0) speed = (v >> 24) % 30;
        Object[] ev = {date, numbers[c], pedal, pedal == 0 ? (v >> 9) % 4 : 0L, steers[(int) ((v >> 12) % 7)],
                       lights[(int) ((v >> 15) % 3)], speed, areas[c]};
        events.sendEventObjectArray(ev, "DriverCarInfoBean");
      }
    }
    double elapsed = (System.nanoTime() - t0) / 1e9;
    long hwmKb = 0;
    for (String line : Files.readAllLines(Path.of("/proc/self/status")))
      if (line.startsWith("VmHWM:")) hwmKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
    System.gc();
    Runtime r = Runtime.getRuntime();
    double liveMb = (r.totalMemory() - r.freeMemory()) / 1048576.0;
    long n = seconds * cars;
    System.out.printf("impl=esper events=%d elapsed_s=%.3f events_per_s=%.0f flagged_rows=%d peak_rss_mb=%.1f heap_after_gc_mb=%.1f%n",
        n, elapsed, n / elapsed, rows, hwmKb / 1024.0, liveMb);
  }
}
