#include "param_values.hpp"
#include "pipeline_config.hpp"

#include <gtest/gtest.h>

#include <weir_test.hpp>

namespace weir {
namespace {

TEST(PipelineConfig, InterpolatesEnvironmentWithDefaults) {
  testing::TempDir dir;
  setenv("WEIR_TEST_HOST", "10.1.2.3", 1);
  unsetenv("WEIR_TEST_MISSING");
  std::string file = dir.write("p.toml",
                               "[nodes.a]\nplugin = \"x\"\nhost = \"${WEIR_TEST_HOST}:${WEIR_TEST_PORT:-6379}\"\n");
  Diagnostics diags;
  auto cfg = load_pipeline(file, {}, diags);
  ASSERT_TRUE(cfg);
  ASSERT_TRUE(diags.empty());
  ASSERT_EQ(cfg->nodes.size(), 1u);
  EXPECT_EQ(cfg->nodes[0].params[0].second->value<std::string>(), "10.1.2.3:6379");
}

TEST(PipelineConfig, PipelineDirIsBuiltIn) {
  testing::TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.a]\nplugin = \"x\"\nrules = \"${WEIR_PIPELINE_DIR}/r.epl\"\n");
  Diagnostics diags;
  auto cfg = load_pipeline(file, {}, diags);
  ASSERT_TRUE(cfg && diags.empty());
  EXPECT_EQ(cfg->nodes[0].params[0].second->value<std::string>(), std::filesystem::absolute(dir.path()).string() + "/r.epl");
}

TEST(PipelineConfig, UnsetVariableWithoutDefaultIsAnErrorAtItsPosition) {
  testing::TempDir dir;
  unsetenv("WEIR_TEST_MISSING");
  std::string file = dir.write("p.toml", "[nodes.a]\nplugin = \"x\"\nhost = \"${WEIR_TEST_MISSING}\"\n");
  Diagnostics diags;
  load_pipeline(file, {}, diags);
  ASSERT_EQ(diags.items().size(), 1u);
  EXPECT_EQ(diags.items()[0].str(), file + ":3:8: environment variable 'WEIR_TEST_MISSING' is not set (use ${WEIR_TEST_MISSING:-default})");
}

TEST(PipelineConfig, BatchSizeOfThePipelineIsRefusedWithWhereItBelongs) {
  // It was parsed and documented, and nothing read it: a setting that does nothing is refused.
  testing::TempDir dir;
  std::string file = dir.write("p.toml", "[pipeline]\nbatch_size = 512\n[nodes.a]\nplugin = \"x\"\n");
  Diagnostics diags;
  load_pipeline(file, {}, diags);
  ASSERT_EQ(diags.items().size(), 1u);
  EXPECT_EQ(diags.items()[0].str().rfind(file + ":2:14: pipeline.batch_size is not a setting", 0), 0u) << diags.items()[0].str();
}

TEST(PipelineConfig, OverridesReplaceParametersAsTomlOrText) {
  testing::TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.a]\nplugin = \"x\"\ncount = 1\n");
  Diagnostics diags;
  auto cfg = load_pipeline(file, {{"a", "count", "42"}, {"a", "name", "plain text"}}, diags);
  ASSERT_TRUE(cfg && diags.empty());
  std::map<std::string, const toml::node*> params(cfg->nodes[0].params.begin(), cfg->nodes[0].params.end());
  EXPECT_EQ(params.at("count")->value<int64_t>(), 42);
  EXPECT_EQ(params.at("name")->value<std::string>(), "plain text");
}

TEST(ParamValues, NestedTablesFlattenToDottedKeys) {
  toml::table t = toml::parse(std::string_view("v = { fetch.wait.max.ms = 100, \"security.protocol\" = \"SSL\" }"));
  weir_param_spec spec{"rdkafka", WEIR_PARAM_TABLE, nullptr, 0, nullptr, "client settings"};
  ParamValues values;
  ASSERT_EQ(values.add(spec, *t.get("v")), "");
  EXPECT_EQ(values.text(0), "{ fetch.wait.max.ms = \"100\", security.protocol = \"SSL\" }");
}

TEST(PipelineConfig, OverrideOfUnknownNodeIsReported) {
  testing::TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.a]\nplugin = \"x\"\n");
  Diagnostics diags;
  load_pipeline(file, {{"b", "count", "1"}}, diags);
  ASSERT_EQ(diags.items().size(), 1u);
  EXPECT_EQ(diags.items()[0].str(), "--set: no node named 'b' to set 'count' on");
}

TEST(PipelineConfig, ParseOverrideNeedsNodeDotParamEqualsValue) {
  std::string err;
  EXPECT_FALSE(parse_override("nodot=1", err));
  EXPECT_FALSE(parse_override("a.b", err));
  auto o = parse_override("gen.rate=5=6", err);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->node, "gen");
  EXPECT_EQ(o->param, "rate");
  EXPECT_EQ(o->value, "5=6");
}

}  // namespace
}  // namespace weir
