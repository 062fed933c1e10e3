// Small admin/test client for the local HBase started by scripts/services/hbase.sh.
// Compiled at start time against the cached HBase jars; run through `hbase.sh <command>`.
//
// Environment: HBASE_ZK_QUORUM (host:port), HBASE_THRIFT_HOST, HBASE_THRIFT_PORT (from hbase.env).
//
//   ping                          Java client (via ZooKeeper) lists tables AND Thrift2 answers a call
//   create-table NAME REGIONS CF  pre-split by RegionSplitter.HexStringSplit; exists -> ok
//   truncate NAME                 drop and re-create with the same descriptor and splits
//   count NAME                    number of rows, printed alone
//   put NAME ROW CF:QUAL VALUE    through the Thrift2 gateway
//   get NAME ROW                  through the Thrift2 gateway; prints "cf:qual=value" lines
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptorBuilder;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.ResultScanner;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.client.TableDescriptorBuilder;
import org.apache.hadoop.hbase.filter.FirstKeyOnlyFilter;
import org.apache.hadoop.hbase.thrift2.generated.TColumnValue;
import org.apache.hadoop.hbase.thrift2.generated.TGet;
import org.apache.hadoop.hbase.thrift2.generated.THBaseService;
import org.apache.hadoop.hbase.thrift2.generated.TPut;
import org.apache.hadoop.hbase.thrift2.generated.TResult;
import org.apache.hadoop.hbase.thrift2.generated.TTableName;
import org.apache.hadoop.hbase.util.RegionSplitter;
import org.apache.thrift.TConfiguration;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.protocol.TCompactProtocol;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.transport.layered.TFramedTransport;
import org.apache.thrift.transport.TSocket;
import org.apache.thrift.transport.TTransport;

public class HBaseTool {
  static String env(String k) {
    String v = System.getenv(k);
    if (v == null || v.isEmpty()) throw new IllegalStateException(k + " is not set (source hbase.env)");
    return v;
  }

  static Connection connect(boolean failFast) throws Exception {
    Configuration conf = HBaseConfiguration.create();
    conf.set("hbase.zookeeper.quorum", env("HBASE_ZK_QUORUM")); // host:port form is accepted
    if (failFast) { // a readiness probe must not sit in the client's default ~10 min of retries
      conf.setInt("hbase.client.retries.number", 2);
      conf.setInt("hbase.client.operation.timeout", 10000);
      conf.setInt("hbase.rpc.timeout", 5000);
      conf.setInt("zookeeper.recovery.retry", 1);
      conf.setInt("zookeeper.session.timeout", 10000);
    }
    return ConnectionFactory.createConnection(conf);
  }

  // Thrift2 client using the transport/protocol that hbase.sh configured and recorded.
  static TTransport thriftTransport() throws Exception {
    TTransport t = new TSocket(new TConfiguration(), env("HBASE_THRIFT_HOST"),
        Integer.parseInt(env("HBASE_THRIFT_PORT")), 10000);
    if ("framed".equals(System.getenv("HBASE_THRIFT_TRANSPORT"))) t = new TFramedTransport(t);
    t.open();
    return t;
  }

  static THBaseService.Client thrift(TTransport t) {
    TProtocol p = "compact".equals(System.getenv("HBASE_THRIFT_PROTOCOL"))
        ? new TCompactProtocol(t) : new TBinaryProtocol(t);
    return new THBaseService.Client(p);
  }

  static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }
  static ByteBuffer bb(String s) { return ByteBuffer.wrap(b(s)); }
  static String s(byte[] b) { return new String(b, StandardCharsets.UTF_8); }

  public static void main(String[] a) {
    try {
      run(a);
    } catch (Throwable e) { // one line, not a stack trace; the cause is what matters
      Throwable c = e;
      while (c.getCause() != null && c.getCause() != c) c = c.getCause();
      System.err.println("HBaseTool " + String.join(" ", a) + ": " + c);
      System.exit(1);
    }
    System.exit(0); // the HBase client leaves non-daemon threads behind
  }

  static void run(String[] a) throws Exception {
    if (a.length == 0) { System.err.println("usage: HBaseTool ping|create-table|truncate|count|put|get ..."); System.exit(2); }
    switch (a[0]) {
      case "ping": {
        try (Connection c = connect(true); Admin admin = c.getAdmin()) {
          admin.listTableNames(); // goes through ZooKeeper -> master
        }
        TTransport t = thriftTransport();
        try {
          thrift(t).tableExists(new TTableName(bb("meta")).setNs(bb("hbase"))); // round trip through the gateway
        } finally { t.close(); }
        System.out.println("ok");
        break;
      }
      case "create-table": {
        TableName tn = TableName.valueOf(a[1]);
        int regions = Integer.parseInt(a[2]);
        String cf = a[3];
        try (Connection c = connect(false); Admin admin = c.getAdmin()) {
          if (admin.tableExists(tn)) { System.out.println("exists: " + tn); break; }
          byte[][] splits = new RegionSplitter.HexStringSplit().split(regions); // regions-1 split keys
          admin.createTable(TableDescriptorBuilder.newBuilder(tn)
              .setColumnFamily(ColumnFamilyDescriptorBuilder.of(cf)).build(), splits);
          System.out.println("created: " + tn + " (" + admin.getRegions(tn).size() + " regions, family " + cf + ")");
        }
        break;
      }
      case "truncate": {
        TableName tn = TableName.valueOf(a[1]);
        try (Connection c = connect(false); Admin admin = c.getAdmin()) {
          if (admin.isTableEnabled(tn)) admin.disableTable(tn);
          admin.truncateTable(tn, true); // drop + re-create, keeping the region boundaries
          System.out.println("truncated: " + tn + " (" + admin.getRegions(tn).size() + " regions)");
        }
        break;
      }
      case "count": {
        try (Connection c = connect(false); Table tbl = c.getTable(TableName.valueOf(a[1]));
             ResultScanner rs = tbl.getScanner(new Scan().setFilter(new FirstKeyOnlyFilter()).setCaching(1000))) {
          long n = 0;
          for (Result r : rs) n++;
          System.out.println(n);
        }
        break;
      }
      case "put": {
        String[] cq = a[3].split(":", 2);
        TTransport t = thriftTransport();
        try {
          List<TColumnValue> cols = new ArrayList<>();
          cols.add(new TColumnValue().setFamily(b(cq[0])).setQualifier(b(cq[1])).setValue(b(a[4])));
          thrift(t).put(bb(a[1]), new TPut().setRow(b(a[2])).setColumnValues(cols));
        } finally { t.close(); }
        break;
      }
      case "get": {
        TTransport t = thriftTransport();
        try {
          TResult r = thrift(t).get(bb(a[1]), new TGet().setRow(b(a[2])));
          if (r.getColumnValues() != null)
            for (TColumnValue cv : r.getColumnValues())
              System.out.println(s(cv.getFamily()) + ":" + s(cv.getQualifier()) + "=" + s(cv.getValue()));
        } finally { t.close(); }
        break;
      }
      default:
        System.err.println("unknown command: " + a[0]);
        System.exit(2);
    }
  }
}
