package weir.cepconf;

import com.espertech.esper.common.client.EPCompiled;
import com.espertech.esper.common.client.EventBean;
import com.espertech.esper.common.client.configuration.Configuration;
import com.espertech.esper.common.client.hook.exception.ExceptionHandler;
import com.espertech.esper.common.client.hook.exception.ExceptionHandlerFactory;
import com.espertech.esper.common.client.hook.exception.ExceptionHandlerFactoryContext;
import com.espertech.esper.common.client.module.Module;
import com.espertech.esper.common.client.module.ModuleItem;
import com.espertech.esper.common.client.util.StatementProperty;
import com.espertech.esper.compiler.client.CompilerArguments;
import com.espertech.esper.compiler.client.EPCompileException;
import com.espertech.esper.compiler.client.EPCompiler;
import com.espertech.esper.compiler.client.EPCompilerProvider;
import com.espertech.esper.runtime.client.EPDeployment;
import com.espertech.esper.runtime.client.EPEventService;
import com.espertech.esper.runtime.client.EPRuntime;
import com.espertech.esper.runtime.client.EPRuntimeProvider;
import com.espertech.esper.runtime.client.EPStatement;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reference side of weir's cep_rule conformance suite: runs one or more case directories through
 * real Esper and writes each case's expected.txt. The case format, the time protocol and the exact
 * output format are specified in tests/cep_conformance/README.md; keep the two in step.
 *
 * Usage: Harness OUT_ROOT CASE_DIR... -> writes OUT_ROOT/basename(CASE_DIR)/expected.txt.
 * Exit status 1 if any case failed (its expected.txt is then left untouched).
 */
public final class Harness {
    /** Significant decimal digits that doubles are rounded to (README: "Number formatting"). */
    static final int DOUBLE_SIG_DIGITS = 9;

    private static final Pattern DIRECTIVE =
            Pattern.compile("^--\\s*(stream|end_ms|start_ms|var|desc|observe)\\s*:\\s*(.*?)\\s*$");
    private static final Pattern VAR = Pattern.compile(
            "^([A-Za-z_][A-Za-z0-9_]*)\\s*:\\s*(long|double|string|boolean)\\s*=\\s*(.*)$");
    private static final Pattern IDENT = Pattern.compile("^[A-Za-z_][A-Za-z0-9_]*$");

    /**
     * Esper catches exceptions thrown while evaluating a statement (and in listeners), logs them and
     * carries on; the harness must not silently lose rows that way, so every such exception is
     * collected here and fails the case.
     */
    static final List<String> RUNTIME_ERRORS = new ArrayList<>();

    public static final class FailingExceptionHandlerFactory implements ExceptionHandlerFactory {
        @Override
        public ExceptionHandler getHandler(ExceptionHandlerFactoryContext context) {
            return ctx -> RUNTIME_ERRORS.add("statement '" + ctx.getStatementName() + "': " + ctx.getThrowable());
        }
    }

    /** Parsed case.epl. */
    static final class CaseSpec {
        String stream = "Ev";
        Long endMs = null;
        long startMs = 0;
        String observe = null; // the @name of the observed statement; null: the last statement
        final Map<String, Object[]> vars = new LinkedHashMap<>(); // name -> {Class, value}
        final List<String> statements = new ArrayList<>();
        String moduleText;
    }

    /** Parsed events.csv. */
    static final class Events {
        final LinkedHashMap<String, String> columns = new LinkedHashMap<>(); // name -> type
        final List<LinkedHashMap<String, Object>> rows = new ArrayList<>();
        final List<Long> times = new ArrayList<>();
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Harness OUT_ROOT CASE_DIR...");
            System.exit(2);
        }
        Path outRoot = Paths.get(args[0]);
        EPCompiler compiler = EPCompilerProvider.getCompiler();
        int failed = 0;
        for (int i = 1; i < args.length; i++) {
            Path caseDir = Paths.get(args[i]);
            String name = caseDir.getFileName().toString();
            try {
                List<String> lines = runCase(compiler, caseDir, name);
                Path outDir = outRoot.resolve(name);
                Files.createDirectories(outDir);
                Path tmp = outDir.resolve("expected.txt.tmp");
                StringBuilder sb = new StringBuilder();
                for (String l : lines) sb.append(l).append('\n');
                Files.write(tmp, sb.toString().getBytes(StandardCharsets.UTF_8));
                Files.move(tmp, outDir.resolve("expected.txt"), StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.ATOMIC_MOVE);
            } catch (Exception e) {
                failed++;
                System.err.println("FAILED " + name + ": " + describe(e));
            }
        }
        if (failed > 0) {
            System.err.println(failed + " case(s) failed");
            System.exit(1);
        }
    }

    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        return root == e ? e.toString() : e.getMessage() + "\n  root cause: " + root;
    }

    // ------------------------------------------------------------------ case.epl

    static CaseSpec parseEpl(Path file) throws IOException {
        CaseSpec spec = new CaseSpec();
        StringBuilder body = new StringBuilder();
        for (String raw : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String line = raw.strip();
            if (line.startsWith("--")) {
                Matcher m = DIRECTIVE.matcher(line);
                if (m.matches()) applyDirective(spec, m.group(1), m.group(2));
                continue; // directive or full-line comment: never part of the EPL text
            }
            if (raw.contains("--")) {
                throw new IllegalArgumentException("case.epl: only full-line '--' comments are allowed: " + raw);
            }
            body.append(raw).append('\n');
        }
        // Statements are separated by ';' (a trailing ';' after the last one is optional).
        // The text between separators, stripped, is one statement; empty pieces are ignored.
        for (String piece : body.toString().split(";", -1)) {
            String s = piece.strip();
            if (!s.isEmpty()) spec.statements.add(s);
        }
        if (spec.statements.isEmpty()) throw new IllegalArgumentException("case.epl: no statement");
        spec.moduleText = String.join(";\n", spec.statements) + "\n";
        return spec;
    }

    private static void applyDirective(CaseSpec spec, String key, String value) {
        switch (key) {
            case "stream":
                if (!IDENT.matcher(value).matches()) throw new IllegalArgumentException("bad stream name: " + value);
                spec.stream = value;
                break;
            case "end_ms":
                spec.endMs = Long.parseLong(value);
                break;
            case "start_ms":
                spec.startMs = Long.parseLong(value);
                break;
            case "var": {
                Matcher m = VAR.matcher(value);
                if (!m.matches()) throw new IllegalArgumentException("bad var directive: " + value);
                String type = m.group(2);
                spec.vars.put(m.group(1), new Object[] {javaType(type), parseValue(type, m.group(3))});
                break;
            }
            case "observe":
                if (!IDENT.matcher(value).matches()) throw new IllegalArgumentException("bad statement name: " + value);
                spec.observe = value;
                break;
            case "desc":
                break;
            default:
                throw new IllegalStateException(key);
        }
    }

    // ------------------------------------------------------------------ events.csv

    static Events parseEvents(Path file) throws IOException {
        Events ev = new Events();
        List<String> lines = new ArrayList<>();
        for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (l.isBlank() || l.startsWith("#")) continue;
            lines.add(l);
        }
        if (lines.isEmpty()) throw new IllegalArgumentException("events.csv: no header");
        for (String col : lines.get(0).split(",", -1)) {
            int colon = col.indexOf(':');
            if (colon < 0) throw new IllegalArgumentException("events.csv: header cell without type: " + col);
            String n = col.substring(0, colon), t = col.substring(colon + 1);
            if (!IDENT.matcher(n).matches()) throw new IllegalArgumentException("events.csv: bad column " + n);
            javaType(t);
            if (ev.columns.put(n, t) != null) throw new IllegalArgumentException("events.csv: duplicate " + n);
        }
        if (!"long".equals(ev.columns.get("ts"))) {
            throw new IllegalArgumentException("events.csv: a column 'ts:long' is required");
        }
        List<String> names = new ArrayList<>(ev.columns.keySet());
        long prev = Long.MIN_VALUE;
        for (int i = 1; i < lines.size(); i++) {
            String[] cells = lines.get(i).split(",", -1);
            if (cells.length != names.size()) {
                throw new IllegalArgumentException("events.csv line " + (i + 1) + ": " + cells.length
                        + " cells, header has " + names.size());
            }
            LinkedHashMap<String, Object> row = new LinkedHashMap<>();
            for (int c = 0; c < cells.length; c++) {
                row.put(names.get(c), parseValue(ev.columns.get(names.get(c)), cells[c]));
            }
            Object ts = row.get("ts");
            if (ts == null) throw new IllegalArgumentException("events.csv line " + (i + 1) + ": ts is null");
            long t = (Long) ts;
            if (t < prev) throw new IllegalArgumentException("events.csv line " + (i + 1) + ": ts goes backwards");
            prev = t;
            ev.rows.add(row);
            ev.times.add(t);
        }
        return ev;
    }

    static Class<?> javaType(String t) {
        switch (t) {
            case "long": return Long.class;
            case "double": return Double.class;
            case "string": return String.class;
            case "boolean": return Boolean.class;
            default: throw new IllegalArgumentException("unknown type '" + t + "' (long|double|string|boolean)");
        }
    }

    static Object parseValue(String type, String cell) {
        if (cell.equals("null")) return null;
        switch (type) {
            case "long": return Long.parseLong(cell);
            case "double": return Double.parseDouble(cell);
            case "boolean":
                if (cell.equals("true")) return Boolean.TRUE;
                if (cell.equals("false")) return Boolean.FALSE;
                throw new IllegalArgumentException("bad boolean: " + cell);
            case "string":
                checkString(cell);
                return cell;
            default: throw new IllegalArgumentException(type);
        }
    }

    /** Strings never need escaping in expected.txt: these characters are refused everywhere. */
    static void checkString(String s) {
        for (char ch : s.toCharArray()) {
            if (ch == ',' || ch == '"' || ch == '=' || ch == '\\' || ch < 0x20) {
                throw new IllegalArgumentException("string value contains a forbidden character: " + s);
            }
        }
    }

    // ------------------------------------------------------------------ running

    static List<String> runCase(EPCompiler compiler, Path caseDir, String name) throws Exception {
        CaseSpec spec = parseEpl(caseDir.resolve("case.epl"));
        Events events = parseEvents(caseDir.resolve("events.csv"));

        Configuration config = new Configuration();
        config.getRuntime().getThreading().setInternalTimerEnabled(false);
        config.getRuntime().getExceptionHandling().addClass(FailingExceptionHandlerFactory.class);
        RUNTIME_ERRORS.clear();
        Map<String, Object> typeDef = new LinkedHashMap<>();
        for (Map.Entry<String, String> c : events.columns.entrySet()) typeDef.put(c.getKey(), javaType(c.getValue()));
        config.getCommon().addEventType(spec.stream, typeDef);
        for (Map.Entry<String, Object[]> v : spec.vars.entrySet()) {
            config.getCommon().addVariable(v.getKey(), (Class<?>) v.getValue()[0], v.getValue()[1]);
        }

        // Our ';' split must agree with Esper's own module parser, so that a C++ runner can use it.
        Module module = compiler.parseModule(spec.moduleText);
        List<ModuleItem> items = new ArrayList<>();
        for (ModuleItem it : module.getItems()) if (!it.isCommentOnly()) items.add(it);
        if (items.size() != spec.statements.size()) {
            throw new IllegalStateException("statement split disagrees with Esper's module parser: "
                    + spec.statements.size() + " vs " + items.size());
        }

        EPCompiled compiled;
        try {
            compiled = compiler.compile(module, new CompilerArguments(config));
        } catch (EPCompileException e) {
            throw new IllegalArgumentException("Esper refused the EPL: " + e.getMessage(), e);
        }

        EPRuntime runtime = EPRuntimeProvider.getRuntime("cepconf-" + name, config);
        try {
            EPEventService svc = runtime.getEventService();
            // The runtime's clock starts at start_ms before anything is deployed.
            svc.advanceTime(spec.startMs);
            EPDeployment dep = runtime.getDeploymentService().deploy(compiled);
            EPStatement[] stmts = dep.getStatements();
            if (stmts.length != spec.statements.size()) {
                throw new IllegalStateException("deployed " + stmts.length + " statements, expected "
                        + spec.statements.size());
            }
            String lastEpl = items.get(items.size() - 1).getExpression().strip();
            EPStatement target = null;
            for (EPStatement s : stmts) {
                Object epl = s.getProperty(StatementProperty.EPL);
                boolean observed = spec.observe != null ? s.getName().equals(spec.observe)
                                                        : epl != null && epl.toString().strip().equals(lastEpl);
                if (observed) {
                    if (target != null) throw new IllegalStateException("the observed statement is not unique");
                    target = s;
                }
            }
            if (target == null) throw new IllegalStateException("cannot find the observed statement");

            String[] props = target.getEventType().getPropertyNames();
            List<String> out = new ArrayList<>();
            target.addListener((newEvents, oldEvents, stmt, rt) -> {
                try {
                    int n = (newEvents == null ? 0 : newEvents.length) + (oldEvents == null ? 0 : oldEvents.length);
                    if (n == 0) return; // a delivery without rows is not recorded
                    long now = rt.getEventService().getCurrentTime();
                    out.add("U " + now);
                    if (newEvents != null) for (EventBean b : newEvents) out.add(row("I", now, props, b));
                    if (oldEvents != null) for (EventBean b : oldEvents) out.add(row("R", now, props, b));
                } catch (RuntimeException e) {
                    RUNTIME_ERRORS.add("listener: " + e);
                }
            });

            long last = spec.startMs;
            for (int i = 0; i < events.rows.size(); i++) {
                long ts = events.times.get(i);
                if (ts < svc.getCurrentTime()) {
                    throw new IllegalArgumentException("event ts " + ts + " is before start_ms " + spec.startMs);
                }
                if (ts > svc.getCurrentTime()) svc.advanceTimeSpan(ts);
                svc.sendEventMap(new LinkedHashMap<>(events.rows.get(i)), spec.stream);
                last = ts;
            }
            long end = spec.endMs != null ? spec.endMs : last;
            if (end < svc.getCurrentTime()) throw new IllegalArgumentException("end_ms " + end + " is before the last event");
            if (end > svc.getCurrentTime()) svc.advanceTimeSpan(end);
            if (!RUNTIME_ERRORS.isEmpty()) {
                throw new IllegalStateException("Esper raised during processing: " + String.join("; ", RUNTIME_ERRORS));
            }
            return out;
        } finally {
            runtime.destroy();
        }
    }

    static String row(String kind, long now, String[] props, EventBean b) {
        StringBuilder sb = new StringBuilder();
        sb.append(kind).append(' ').append(now).append(' ');
        for (int i = 0; i < props.length; i++) {
            if (i > 0) sb.append(',');
            String p = props[i];
            if (p.indexOf(',') >= 0 || p.indexOf('=') >= 0 || p.indexOf('\n') >= 0) {
                throw new IllegalStateException("column name needs an alias (contains ',' or '='): " + p);
            }
            sb.append(p).append('=').append(format(b.get(p)));
        }
        return sb.toString();
    }

    /** The value format of expected.txt; README "Number formatting" specifies it for the C++ side. */
    public static String format(Object v) {
        if (v == null) return "null";
        if (v instanceof Double || v instanceof Float) return formatDouble(((Number) v).doubleValue());
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte
                || v instanceof BigInteger) {
            return v.toString();
        }
        if (v instanceof BigDecimal) return ((BigDecimal) v).toPlainString();
        if (v instanceof Boolean) return v.toString();
        if (v instanceof String) {
            checkString((String) v);
            return (String) v;
        }
        throw new IllegalStateException("unsupported output value type " + v.getClass().getName() + ": " + v);
    }

    public static String formatDouble(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == 0.0) return "0.0"; // also -0.0
        BigDecimal exact = new BigDecimal(d); // the exact binary value
        BigDecimal r = exact.round(new MathContext(DOUBLE_SIG_DIGITS, RoundingMode.HALF_EVEN)).stripTrailingZeros();
        String s = r.toPlainString();
        if (s.indexOf('.') < 0) s = s + ".0";
        return s;
    }
}
